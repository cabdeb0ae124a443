"""The use cases of consent grants over an Exchange (no HTTP).

* ``ask``: a member that may read a share asks its originator for a use the share's
  handling forbids (``forward``, ``court``, ``retain``), with a reason. Logged.
* ``answer``: the originator signs a grant or a refusal (tag ``vigil/consent/v1``); the
  node checks the signature against the originator's key and logs it. A grant may end
  (``until``).
* ``use``: a member declares a use of a share (with a purpose); allowed only when the
  policy allows it (a forbidden use needs a grant in force: ``policy.grant_required``);
  recorded and logged, so the originator sees every use of its share.

A share the member may not read, or a request it is not party to, answers 404 as if it
did not exist. The tables are ``vigil.storage.intel``'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.sign import verify
from vigil.errors import Conflict, InputError, NotFound, PolicyDenied
from vigil.intel.handling import OPEN, USES
from vigil.node.exchange import Exchange
from vigil.policy.access import Access
from vigil.protocol.consent import ANSWER_FIELDS, TAG_CONSENT, answer_object, sign_answer
from vigil.protocol.header_form import TIME_RE
from vigil.storage import intel as db
from vigil.storage.base import Sql

PENDING, GRANTED, REFUSED = "pending", "granted", "refused"
ANSWERS = {"grant": GRANTED, "refuse": REFUSED}
MAX_REASON = 1024


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    id: str
    share: str  # the share (or, for ``disclose``, the match query) it is about
    asker: str
    originator: str
    use: str
    reason: str
    created: str
    state: str
    answered: str | None = None
    until: str | None = None
    answer: dict[str, Any] | None = None
    signature: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "share": self.share, "asker": self.asker,
                "originator": self.originator, "use": self.use, "reason": self.reason,
                "created": self.created, "state": self.state, "answered": self.answered,
                "until": self.until, "answer": self.answer, "signature": self.signature}

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.share, self.asker, self.originator, self.use, self.reason,
                self.created, self.state, None, None, None, None)


def _row(r: Any) -> ConsentRequest:
    return ConsentRequest(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]),
                          str(r[6]), str(r[7]), r[8], r[9],
                          None if r[10] is None else orjson.loads(r[10]), r[11])


def _missing() -> NotFound:
    return NotFound("no such consent request", code="consent.not_found")


def _share_missing(share_id: str) -> NotFound:
    return NotFound(f"no share {share_id[:80]!r}", code="share.not_found")


def _check_use(use: Any, pointer: str = "/use") -> str:
    if use not in USES:
        raise InputError(f"use must be one of {', '.join(USES)}", code="consent.bad_use",
                         pointer=pointer)
    return str(use)


def check_reason(reason: Any, pointer: str = "/reason") -> str:
    text = str(reason).strip()
    if not text or len(text) > MAX_REASON:
        raise InputError(f"a reason of 1..{MAX_REASON} characters is required",
                         code="consent.malformed", pointer=pointer)
    return text


def entry(req: ConsentRequest, event: str) -> dict[str, Any]:
    """The log entry of a request or its answer (seen by the asker and the originator)."""
    e: dict[str, Any] = {"v": 1, "kind": "consent", "event": event, "request": req.id,
                         "share": req.share, "asker": req.asker,
                         "originator": req.originator, "use": req.use}
    if event == "request":
        e["at"] = req.created
    else:
        e["answer"] = req.answer
        e["signature"] = req.signature
    return e


def record(ex: Exchange, req: ConsentRequest) -> ConsentRequest:
    """Store and log a new request, or answer the pending one of the same asker, subject,
    use and originator again (idempotent)."""
    def tx(sql: Sql) -> ConsentRequest:
        old = db.consent_pending(sql, req.share, req.asker, what=req.use,
                                 originator=req.originator)
        if old is not None:
            return _row(old)
        db.consent_insert(sql, req.row())
        ex.log.append(sql, entry(req, "request"))
        return req

    return ex.store.write(tx)


def ask(ex: Exchange, member: str, share_id: str, use: str, reason: str) -> ConsentRequest:
    """Ask the originator of a share the member may read for a use its handling forbids."""
    use = _check_use(use)
    reason = check_reason(reason)
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.read(got[1]):
        raise _share_missing(share_id)
    env, view = got
    if env.originator == member:
        raise Conflict("the originator needs no consent for its own share",
                       code="consent.not_needed")
    if gate.use(view, use):
        raise Conflict(f"the use {use!r} is already allowed", code="consent.not_needed")
    return record(ex, ConsentRequest(f"consent--{uuid.uuid4()}", env.id, member,
                                     env.originator, use, reason, clock.now(), PENDING))


def get(ex: Exchange, member: str, request_id: str) -> ConsentRequest:
    """A request the member is party to (asker or originator); else 404."""
    got = db.consent_get(ex.store, str(request_id))
    if got is None:
        raise _missing()
    req = _row(got)
    if member not in (req.asker, req.originator):
        raise _missing()
    return req


def listing(ex: Exchange, member: str, *, role: str = "any", state: str | None = None,
            limit: int = 100) -> list[ConsentRequest]:
    """The requests the member made (``asker``), received (``originator``) or both."""
    return [_row(r) for r in db.consent_list(ex.store, member, role, state, limit)]


def _check_answer(req: ConsentRequest, obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != ANSWER_FIELDS:
        raise InputError("the answer must hold exactly " + ", ".join(sorted(ANSWER_FIELDS)),
                         code="consent.malformed", pointer="/answer")
    for k, want in (("v", 1), ("kind", "consent"), ("request", req.id), ("share", req.share),
                    ("asker", req.asker), ("originator", req.originator), ("use", req.use)):
        if obj[k] != want:
            raise InputError(f"the answer's {k} must be {want!r}", code="consent.malformed",
                             pointer=f"/answer/{k}")
    if obj["answer"] not in ANSWERS:
        raise InputError('answer must be "grant" or "refuse"', code="consent.malformed",
                         pointer="/answer/answer")
    for k in ("at", "until"):
        v = obj[k]
        if (k == "at" or v is not None) and not (isinstance(v, str) and TIME_RE.fullmatch(v)):
            raise InputError(f"{k} must be RFC 3339 UTC with milliseconds",
                             code="consent.malformed", pointer=f"/answer/{k}")
    if obj["until"] is not None and obj["answer"] != "grant":
        raise InputError("only a grant has an end", code="consent.malformed",
                         pointer="/answer/until")
    return obj


def answer(ex: Exchange, member: str, request_id: str, obj: Any | None,
           signature: bytes | None, *, grant: bool | None = None,
           until: str | None = None) -> ConsentRequest:
    """Record the originator's signed answer. With no object, the node signs for a
    member whose keyring it holds (``grant`` says which answer)."""
    req = get(ex, member, request_id)
    if req.originator != member:
        raise _missing()
    if req.state != PENDING:
        raise Conflict("this request was already answered", code="consent.answered")
    m = ex.directory().members[member]
    if obj is None:
        kr = ex.held.get(member)
        if kr is None or grant is None:
            raise InputError("sign the answer with the member's key (the node does not "
                             "hold it)", code="consent.malformed", pointer="/answer")
        obj = answer_object(req.to_json(), "grant" if grant else "refuse", kr.sign_key_id,
                            until=until)
        signature = sign_answer(obj, kr.sign_private)
    checked = _check_answer(req, obj)
    if checked["key"] != m.sign_key_id or signature is None:
        raise PolicyDenied("the answer must be signed with the originator's current key",
                           code="consent.wrong_key", pointer="/answer/key")
    verify(TAG_CONSENT, checked, signature, m.sign_key)
    done = ConsentRequest(req.id, req.share, req.asker, req.originator, req.use, req.reason,
                          req.created, ANSWERS[checked["answer"]], clock.now(),
                          checked["until"], checked, b64u(signature))

    def tx(sql: Sql) -> ConsentRequest:
        assert done.answered is not None and done.signature is not None
        if not db.consent_answer(sql, req.id, done.state, done.answered, done.until,
                                 orjson.dumps(checked).decode(), done.signature):
            raise Conflict("this request was already answered", code="consent.answered")
        ex.log.append(sql, entry(done, done.state))
        return done

    return ex.store.write(tx)


def decode_signature(text: Any) -> bytes:
    try:
        return b64u_decode(str(text))
    except ValueError:
        raise InputError("the signature must be base64url", code="consent.malformed",
                         pointer="/signature") from None


def use(ex: Exchange, member: str, share_id: str, what: str, purpose: str) -> dict[str, Any]:
    """Declare a use of a share: refused with the policy's code (``policy.grant_required``
    for a use its handling forbids without a grant), else recorded and logged for the
    originator. ``open`` records the purpose for which a member opens a share holding
    personal data (allowed whenever it may read the share)."""
    what = OPEN if what == OPEN else _check_use(what)
    purpose = check_reason(purpose, "/purpose")
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.read(got[1]):
        raise _share_missing(share_id)
    env, view = got
    dec = gate.read(view) if what == OPEN else gate.use(view, what)
    if not dec:
        raise PolicyDenied(f"this use needs the originator's consent: {dec.reason}",
                           code=dec.reason)
    at = clock.now()
    e = {"v": 1, "kind": "use", "share": env.id, "originator": env.originator,
         "member": member, "use": what, "purpose": purpose, "at": at, "reason": dec.reason}

    def tx(sql: Sql) -> None:
        db.use_insert(sql, env.id, member, what, purpose, at)
        ex.log.append(sql, e)

    ex.store.write(tx)
    return {"share": env.id, "use": what, "allowed": True, "reason": dec.reason, "at": at}


def uses_of(ex: Exchange, member: str, share_id: str) -> list[dict[str, str]]:
    """Every recorded use of the member's own share (the originator's receipts)."""
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.own(got[1]):
        raise _share_missing(share_id)
    return [{"member": str(m), "use": str(w), "purpose": str(p), "at": str(a)}
            for m, w, p, a in db.uses_of(ex.store, share_id)]
