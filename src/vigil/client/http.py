"""Python SDK over HTTP. Signs and seals on the client when it holds the member's keyring.

    from vigil.client import Client
    with Client("http://127.0.0.1:8470", token, keyring=load_keyring(path, passphrase)) as c:
        receipt = c.publish(bundle_bytes, tlp="amber", to=["ops-group"])
        for item in c.inbox():
            share = c.get(item.share_id)     # verified, decrypted
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson

from vigil.client.keys import open_held, signing_key
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keyring import Keyring
from vigil.crypto.keys import enc_alg_of_public, key_id, sign_alg_of_public
from vigil.errors import (
    AuthError,
    Conflict,
    CryptoError,
    InputError,
    KeyringError,
    NotFound,
    PolicyDenied,
    StixError,
    Unavailable,
    VigilError,
)
from vigil.log.checkpoint import Checkpoint
from vigil.log.note import parse_vkey
from vigil.log.verifier import LogVerifier
from vigil.model import Audience, ChannelKind, Envelope, Form, Handling, Provenance, Tlp
from vigil.policy.decide import WIDE_TLPS, share_form
from vigil.policy.suites import SUITE_REQUIRED, meets_hybrid
from vigil.protocol.envelope import (
    build_share,
    envelope_from_json,
    envelope_to_json,
    verify_envelope,
    verify_header,
)

# log entries of a member that name its current keys (docs/protocol.md, "Key events")
KEY_EVENTS = ("add", "activate", "rotate", "recover", "recovery-key", "expiry", "revoke")

_log = logging.getLogger(__name__)

T = TypeVar("T")


class ServerError(VigilError):
    """The node failed on its side (HTTP 5xx other than 503); the request may or may
    not have taken effect."""

    code = "server.error"
    status = 500


# How a node's HTTP error becomes a VigilError here: by the error's code family first,
# then by status. Every class keeps the node's stable `code`, `status` and `pointer`.
_BY_STATUS: dict[int, type[VigilError]] = {
    400: InputError, 401: AuthError, 403: PolicyDenied, 404: NotFound, 409: Conflict,
    413: InputError, 422: InputError, 429: Unavailable, 502: Unavailable,
    503: Unavailable, 504: Unavailable,
}
_BY_CODE: dict[str, type[VigilError]] = {"stix": StixError, "crypto": CryptoError,
                                        "keyring": KeyringError}


class Refused(CryptoError):
    """The node delivered something this client will not take: a share without a valid
    log proof, or a stream event replayed or out of order. ``seq`` and ``share_id`` name
    the delivery; ``cause`` is the check that failed (its code is this error's code)."""

    def __init__(self, cause: VigilError, seq: int, share_id: str) -> None:
        super().__init__(f"inbox {seq} ({share_id}) refused: {cause.message}",
                         code=cause.code, status=cause.status)
        self.cause = cause
        self.seq = seq
        self.share_id = share_id


def _order(seq: int, cursor: int, share_id: str) -> None:
    """A node hands out inbox entries in strictly increasing seq after the cursor."""
    if seq <= cursor:
        raise Refused(CryptoError(f"seq {seq} is not after {cursor}: replayed or reordered",
                                  code="client.stream_order"), seq, share_id)


def error_class(status: int, code: str) -> type[VigilError]:
    """The VigilError subclass for a node's error answer."""
    by_code = _BY_CODE.get(code.split(".", 1)[0])
    if by_code is not None:
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else VigilError


_ENVELOPE_FIELDS = frozenset({"header", "signature", "payload", "wraps"})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _envelope(doc: dict[str, Any]) -> Envelope:
    """The envelope of an API share document (which also carries what the node adds:
    its `state`, and whatever else a newer node sends beside the envelope)."""
    return envelope_from_json({k: v for k, v in doc.items() if k in _ENVELOPE_FIELDS})


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        code, message, pointer = err["code"], err["message"], err.get("pointer")
    except Exception:
        code, message, pointer = "http.error", resp.text[:200] or resp.reason_phrase, None
    detail = None
    with contextlib.suppress(Exception):
        detail = resp.json()["error"].get("detail")
    cls = error_class(resp.status_code, str(code))
    raise cls(message, code=code, status=resp.status_code, pointer=pointer, detail=detail)


@dataclass(frozen=True, slots=True)
class Share:
    """A share as a member sees it: verified envelope and, when it could be opened, the
    plaintext STIX bundle."""

    envelope: Envelope
    state: dict[str, Any]
    signer: str  # plain words: who signed and how
    verified: bool
    bundle: bytes | None  # None: sealed and no key to open it here
    opened_by: str | None  # "client" | "node" | None
    log_index: int | None = None  # its entry in the node's log, proof checked

    @property
    def id(self) -> str:
        return self.envelope.id

    def stix(self) -> dict[str, Any] | None:
        if self.bundle is None:
            return None
        doc: dict[str, Any] = orjson.loads(self.bundle)
        return doc


@dataclass(frozen=True, slots=True)
class InboxItem:
    seq: int
    share_id: str
    added: str
    envelope: Envelope
    state: dict[str, Any]
    log_index: int | None = None  # its entry in the node's log, proof checked


class Inbox(Iterator[InboxItem]):
    """Iterate a member's inbox page by page; ``cursor`` says where to resume."""

    def __init__(self, client: Client, after: int, page: int) -> None:
        self.client = client
        self.cursor = after
        self.page = page
        self._items: list[InboxItem] = []
        self._next_cursor = after
        self._done = False

    def __iter__(self) -> Inbox:
        return self

    def __next__(self) -> InboxItem:
        while not self._items:
            if self._done:
                raise StopIteration
            items, nxt = self.client.inbox_page(self.cursor, self.page)
            if nxt == self.cursor:
                self._done = True
            self._items = items
            self._next_cursor = nxt
            if not items:
                self.cursor = nxt
        item = self._items.pop(0)
        _order(item.seq, self.cursor, item.share_id)
        self.cursor = self._next_cursor if not self._items else item.seq
        self.client._delivered(item)
        return item


class _Follow(AsyncIterator[T]):
    """A Server-Sent Events resource of the node followed across reconnects with
    Last-Event-ID; ``cursor`` is the last event's seq. Subclasses name the path and
    turn each event into an item."""

    path = ""

    def __init__(self, client: Client, after: int) -> None:
        self.client = client
        self.cursor = after
        self.reconnects = 0
        self._gen: AsyncIterator[T] | None = None

    def __aiter__(self) -> _Follow[T]:
        return self

    async def __anext__(self) -> T:
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()  # type: ignore[attr-defined]

    async def _item(self, event: dict[str, Any]) -> T:
        raise NotImplementedError

    async def _run(self) -> AsyncIterator[T]:
        c = self.client
        backoff = 0.5
        async with httpx.AsyncClient(base_url=c.url, timeout=httpx.Timeout(
                30.0, read=None), headers=c.auth_headers,
                transport=c.async_transport) as http:
            while True:
                try:
                    async with http.stream("GET", self.path, headers={
                            "Last-Event-ID": str(self.cursor)}) as resp:
                        if resp.status_code >= 400:
                            await resp.aread()
                            _raise_for(resp)
                        data: list[str] = []
                        async for line in resp.aiter_lines():
                            if line.startswith("data:"):
                                data.append(line[5:].lstrip())
                            elif line == "" and data:
                                e = orjson.loads("\n".join(data))
                                data = []
                                item = await self._item(e)
                                self.cursor = int(e["seq"])
                                backoff = 0.5
                                yield item
                except (httpx.TransportError, Unavailable):
                    # dropped, or the node's store or bus is down: keep the cursor, retry
                    pass
                self.reconnects += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)


class Stream(_Follow[InboxItem]):
    """The live inbox; reconnects with Last-Event-ID; ``cursor`` is the last seq. Every
    share's log proof is checked as in ``inbox()``; an event out of order, a share
    delivered twice, or a share whose proof fails raises :class:`Refused` (the cursor
    stays before it)."""

    path = "/api/v1/stream"

    def __init__(self, client: Client, after: int) -> None:
        super().__init__(client, after)
        self._seen: set[str] = set()

    async def _item(self, event: dict[str, Any]) -> InboxItem:
        seq, share_id = int(event["seq"]), str(event["share_id"])
        _order(seq, self.cursor, share_id)
        doc = event["envelope"]
        state = doc["state"]
        withdrawn = bool(state.get("recalled") or state.get("purged"))
        if not withdrawn and share_id in self._seen:
            raise Refused(CryptoError("this share was delivered already: a replay",
                                      code="client.stream_replay"), seq, share_id)
        try:
            env = _envelope(doc)
            if env.id != share_id:
                raise CryptoError("the event names another share than its envelope",
                                  code="client.stream_mismatch")
            logged = await asyncio.to_thread(self.client._logged, env, doc.get("log"))
        except VigilError as exc:
            raise Refused(exc, seq, share_id) from exc
        self._seen.add(share_id)
        item = InboxItem(seq, share_id, event["added"], env, state, logged)
        await asyncio.to_thread(self.client._delivered, item)
        return item


class NoticeStream(_Follow[dict[str, Any]]):
    """The member's correlation notices as the node finds them (the objects of
    ``correlations()``); reconnects with Last-Event-ID; ``cursor`` is the last seq."""

    path = "/api/v1/correlations/stream"

    async def _item(self, event: dict[str, Any]) -> dict[str, Any]:
        return event


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An entry of the node's log about this member, its inclusion proven: a key entry
    in its name (``foreign``: keys its keyring did not make), or the recall or purge of
    a share addressed to it."""

    index: int
    entry: dict[str, Any]
    foreign: bool = False

    @property
    def kind(self) -> str:
        return str(self.entry["kind"])


@dataclass(frozen=True, slots=True)
class LogWatch:
    events: list[LogEvent]
    next: int  # where the next watch starts

    @property
    def foreign(self) -> list[LogEvent]:
        return [e for e in self.events if e.foreign]


class Client:
    def __init__(self, url: str, token: str, keyring: Keyring | None = None, *,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 log_state: str | Path | None = None, verify_log: bool = True,
                 receipts: bool = True, require_hybrid: bool = False,
                 async_transport: httpx.AsyncBaseTransport | None = None,
                 cert: str | None = None, key: str | None = None, ca: str | None = None,
                 pin: str | None = None, publish_retries: int = 3) -> None:
        """``token`` may be empty when a client certificate (``cert``, ``key``) signs
        the user in; ``ca`` is the CA to trust for the node's certificate, or ``pin``
        the node's key (``sha256/…``, see vigil.client.tls). A publish whose answer is
        lost (the connection drops, the node answers 429, 502, 503 or 504) is sent again up to
        ``publish_retries`` times with the same ``Idempotency-Key``, so that it is
        stored once (docs/api.md)."""
        self.url = url.rstrip("/")
        self.token = token
        self.keyring = keyring
        if (cert or ca or pin) and transport is None:
            from vigil.client.tls import transports
            transport, tls_async = transports(ca, cert, key, pin)
            async_transport = async_transport or tls_async
        self.auth_headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers=self.auth_headers)
        self.async_transport = async_transport
        # members whose keys were proven by their log entry, by id and by name
        self._keys: dict[str, dict[str, Any]] = {}
        self._node: dict[str, Any] | None = None
        # the node's log as this member has checked it (docs/log.md)
        self.verify_log = verify_log
        self.log_state = Path(log_state) if log_state is not None else None
        self._log: LogVerifier | None = None
        self._channel_keys: dict[tuple[str, int], bytes] = {}
        # signed receipts (docs/accountability.md): sent on delivery and on opening
        # when the client holds the keyring; on_recall callbacks drop the copies an
        # application keeps of a share its originator recalled
        self.send_receipts = receipts
        # the member's own rule: shares not signed (and sealed) in the hybrid suites are
        # refused here, whatever the node accepted (docs/protocol.md)
        self.require_hybrid = require_hybrid
        self._receipted: set[tuple[str, str]] = set()
        self.on_recall: list[Callable[[str], None]] = []
        # the member's keys before its last rotations, kept until its shares are
        # wrapped again to the new key (vigil.client.keys)
        self.retired_keyrings: list[Keyring] = []
        self.publish_retries = publish_retries
        self.retry_pause = 0.25  # seconds before the first retry, doubled for each next

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.url}: {exc}", code="client.unreachable") \
                from exc
        _raise_for(resp)
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def _publish_call(self, path: str, **kw: Any) -> dict[str, Any]:
        """POST a publish with an Idempotency-Key, sent again with the same key while
        its answer is lost (unreachable node, dropped connection, 429/502/503/504)."""
        headers = {**kw.pop("headers", {}), "Idempotency-Key": uuid.uuid4().hex}
        pause = self.retry_pause
        for attempt in range(self.publish_retries + 1):
            try:
                out: dict[str, Any] = self._call("POST", path, headers=headers, **kw)
                return out
            except Unavailable:
                if attempt == self.publish_retries:
                    raise
            time.sleep(pause)
            pause *= 2
        raise AssertionError("unreachable")

    # -- directory -------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/me")
        return out

    def members(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/members")["members"]
        return out

    def member(self, ref: str) -> dict[str, Any]:
        """A member with its public keys, taken only with proof: the node's log holds
        its key entry (naming exactly these keys) in a checkpoint consistent with every
        one this client accepted (``log.missing_proof``, ``log.key_mismatch``, ...)."""
        if ref not in self._keys:
            return self._proven(self._call("GET", f"/api/v1/members/{ref}"))
        return self._keys[ref]

    def _proven(self, m: dict[str, Any]) -> dict[str, Any]:
        if self.verify_log:
            entry = (m.get("log") or {}).get("entry")
            if not isinstance(entry, dict):
                raise CryptoError(f"member {m.get('name')!r} came without the log proof of "
                                  "its keys", code="log.missing_proof")
            try:
                sign_raw, enc_raw = _unb64(m["sign_key"]["public"]), _unb64(m["enc_key"]["public"])
                sign_id = key_id(sign_alg_of_public(sign_raw), sign_raw)
                enc_id = key_id(enc_alg_of_public(enc_raw), enc_raw)
            except (KeyError, TypeError, ValueError) as exc:
                raise CryptoError("a member's keys are malformed",
                                  code="crypto.bad_key") from exc
            if (entry.get("kind") != "member" or entry.get("member") != m["id"]
                    or entry.get("event") not in KEY_EVENTS
                    or entry.get("sign_key") != sign_id or m["sign_key"]["id"] != sign_id
                    or entry.get("enc_key") != enc_id or m["enc_key"]["id"] != enc_id):
                raise CryptoError(f"member {m.get('name')!r}: the keys served are not the "
                                  "ones its log entry names", code="log.key_mismatch")
            self.log_verifier().verify_entry(entry, m["log"])
        self._keys[m["id"]] = m
        self._keys[m["name"]] = m
        return m

    def forget_member(self, ref: str) -> None:
        """Drop what this client knows of a member's keys (after a key event)."""
        m = self._keys.pop(ref, None)
        if m is not None:
            self._keys.pop(m["id"], None)
            self._keys.pop(m["name"], None)

    def proven_members(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``member()`` for several members: those not known yet one by one when they are
        few, else with one request for the whole directory with its proofs."""
        unknown = [i for i in ids if i not in self._keys]
        if len(unknown) <= 2:
            for i in unknown:
                self.member(i)
        else:
            want = set(unknown)
            for m in self._call("GET", "/api/v1/members", params={"log": "true"})["members"]:
                if m.get("id") in want and m.get("id") not in self._keys:
                    self._proven(m)
        missing = [i for i in ids if i not in self._keys]
        if missing:
            raise CryptoError(f"no proven keys for {', '.join(missing)}",
                              code="log.missing_proof")
        return {i: self._keys[i] for i in ids}

    def node(self) -> dict[str, Any]:
        if self._node is None:
            self._node = self._call("GET", "/api/v1/node")
        assert self._node is not None
        return self._node

    def channels(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/channels")["channels"]
        return out

    def channel(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/channels/{ref}")
        return out

    def create_channel(self, name: str, kind: str, members: Sequence[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", "/api/v1/channels",
                                         json={"name": name, "kind": kind,
                                               "members": list(members)})
        return out

    def channel_add(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"/api/v1/channels/{ref}/members",
                                         json={"member": member})
        return out

    def channel_remove(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("DELETE", f"/api/v1/channels/{ref}/members/{member}")
        return out

    # -- publishing ----------------------------------------------------------------
    def preview(self, *, tlp: str, to: Sequence[str] = (), purpose: str | None = None,
                no_onward: bool = False, codes: Sequence[str] = (), themes: Sequence[str] = (),
                regions: Sequence[str] = (), expires: str | None = None,
                evaluation: str | None = None, legal_basis: str | None = None,
                legal_purposes: Sequence[str] = (), personal_data: bool = False
                ) -> dict[str, Any]:
        """Who exactly would receive a share with this audience (a dry run).
        ``evaluation`` (``B2``, ``4x4:B2``), ``legal_basis`` and ``legal_purposes`` are
        required for terrorism and organised crime; ``personal_data`` says the share
        holds some (then a legal basis is required)."""
        out: dict[str, Any] = self._call("POST", "/api/v1/preview", json={
            "tlp": tlp, "to": list(to), "purpose": purpose, "no_onward": no_onward,
            "codes": list(codes), "themes": list(themes), "regions": list(regions),
            "expires": expires, "evaluation": evaluation, "legal_basis": legal_basis,
            "legal_purposes": list(legal_purposes), "personal_data": personal_data})
        return out

    def publish(self, bundle: bytes, *, tlp: str, to: Sequence[str] = (),
                purpose: str | None = None, no_onward: bool = False, codes: Sequence[str] = (),
                themes: Sequence[str] = (), regions: Sequence[str] = (),
                expires: str | None = None, blind: bool = True, evaluation: str | None = None,
                legal_basis: str | None = None, legal_purposes: Sequence[str] = (),
                personal_data: bool = False) -> dict[str, Any]:
        """Publish a STIX bundle. With a keyring the share is signed and sealed here and
        the node sees only the signed header and ciphertext; without one the node
        attests it. A sealed share to a channel carries blind tokens of its observables
        (``blind=False`` leaves them out), so the node can match it without reading it."""
        if self.keyring is None:
            params: list[tuple[str, str]] = [("tlp", tlp)]
            params += [("to", t) for t in to] + [("code", c) for c in codes]
            params += [("theme", t) for t in themes] + [("region", r) for r in regions]
            if purpose:
                params.append(("purpose", purpose))
            if no_onward:
                params.append(("no_onward", "true"))
            if expires:
                params.append(("expires", expires))
            if evaluation:
                params.append(("evaluation", evaluation))
            if legal_basis:
                params.append(("legal_basis", legal_basis))
            params += [("legal_purpose", p) for p in legal_purposes]
            if personal_data:
                params.append(("personal_data", "true"))
            return self._publish_call("/api/v1/shares", params=params, content=bundle,
                                      headers={"Content-Type": "application/stix+json"})
        from vigil.intel import evaluation as intel_evaluation
        from vigil.intel import legal as intel_legal
        from vigil.intel import personal
        from vigil.stix import strictjson
        from vigil.stix.validate import validate_bundle

        parsed = strictjson.loads(bundle)
        validate_bundle(parsed)
        personal.check(parsed, personal_data)  # the member's own lint, before sealing
        pv = self.preview(tlp=tlp, to=to, purpose=purpose, no_onward=no_onward, codes=codes,
                          themes=themes, regions=regions, expires=expires,
                          evaluation=evaluation, legal_basis=legal_basis,
                          legal_purposes=legal_purposes, personal_data=personal_data)
        # the evaluation and legal basis signed are the member's own words, never the
        # node's echo of them
        ev = intel_evaluation.parse(evaluation) if evaluation else None
        legal = intel_legal.legal_basis(legal_basis, legal_purposes) if legal_basis else None
        kr = self.keyring
        form = self.check_preview(pv, tlp=tlp, to=to, purpose=purpose, no_onward=no_onward,
                                   codes=codes)
        recipients = [str(r["id"]) for r in pv["recipients"]]
        keys: dict[str, tuple[str, bytes]] = {}
        if form is Form.SEALED:
            proven = self.proven_members(recipients)
            for r in pv["recipients"]:
                m = proven[r["id"]]
                if r["enc_key"] != {"id": m["enc_key"]["id"], "public": m["enc_key"]["public"]}:
                    raise CryptoError(f"the preview's key for {r['name']!r} is not the one "
                                      "the log holds", code="client.key_swapped")
                keys[m["id"]] = (m["enc_key"]["id"], _unb64(m["enc_key"]["public"]))
            keys[kr.member_id] = (kr.enc_key_id, kr.enc_public)
        h = pv["handling"]
        env = build_share(
            plaintext=bundle,
            originator=kr.member_id,
            audience=Audience(Tlp(pv["audience"]["tlp"]), pv["audience"]["channel"],
                              tuple(recipients)),
            recipients=recipients,
            form=form,
            handling=Handling(h["purpose"], bool(h["no_onward"]), tuple(h["codes"])),
            themes=tuple(pv["themes"]),
            regions=tuple(pv["regions"]),
            expires=pv["expires"],
            signer_private=kr.sign_private,
            signer_key_id=kr.sign_key_id,
            recipient_keys=keys,
            evaluation=ev,
            legal=legal,
            personal_data=personal_data,
        )
        if blind and form is Form.SEALED and pv["audience"]["channel"]:
            return self._publish_blind(env, bundle, str(pv["audience"]["channel"]))
        return self._publish_call("/api/v1/envelopes",
                                  content=orjson.dumps(envelope_to_json(env)),
                                  headers={"Content-Type": "application/json"})

    def check_preview(self, pv: dict[str, Any], *, tlp: str, to: Sequence[str],
                       purpose: str | None, no_onward: bool, codes: Sequence[str]) -> Form:
        """The form this client decides for the share (``share_form``: plain only for a
        community-wide TLP:CLEAR/GREEN share), after checking that the node's preview
        keeps the marking, handling and named recipients asked for. A preview that
        would send a sealed-level share in plain is refused (``client.form_downgrade``)."""
        from vigil.stix.tlp import parse_tlp

        want = parse_tlp(tlp)
        aud = pv["audience"]
        named = [t for t in to if t.startswith(("member:", "identity--"))]
        channels = [t for t in to if t not in named]
        h = pv["handling"]
        if (aud["tlp"] != want.value or bool(aud["channel"]) != bool(channels)
                or bool(h["no_onward"]) != bool(no_onward) or (h["purpose"] or None) !=
                (purpose or None) or sorted(h["codes"]) != sorted(set(codes))):
            raise CryptoError("the node's preview changed the marking, audience or handling "
                              "asked for", code="client.preview_mismatch")
        if named:
            me = self.keyring.member_id if self.keyring else None
            want_names = {t.removeprefix("member:") for t in named if t.startswith("member:")}
            want_ids = {t for t in named if t.startswith("identity--")} - {me}
            got = {(str(r["id"]), str(r["name"])) for r in pv["recipients"]}
            own = self.me()["member"]["name"] if want_names else None
            # exactly the members named (less this one): none added, none left out
            if not (all(i in want_ids or n in want_names for i, n in got)
                    and want_ids <= {i for i, _ in got}
                    and want_names - {own} <= {n for _, n in got}):
                raise CryptoError("the node's preview names other recipients than asked for",
                                  code="client.preview_mismatch")
        kind: ChannelKind | None = None
        if channels and not named and want in WIDE_TLPS:  # else sealed, whatever its kind
            kind = ChannelKind(self.channel(str(aud["channel"]))["kind"])
        elif channels:
            kind = ChannelKind.GROUP
        form = share_form(want, explicit=bool(named), channel_kind=kind)
        if form is Form.SEALED and pv["form"] != Form.SEALED.value:
            raise CryptoError(f"the node asked for a TLP:{want.value.upper()} share in "
                              f"{pv['form']}; this client seals it", code="client.form_downgrade")
        return form

    # -- channel keys and blind tokens ------------------------------------------------
    def channel_key(self, ref: str, *, create: bool = True) -> tuple[str, int, bytes]:
        """(channel id, epoch, key): the channel's current key, opened with the keyring.
        With ``create``, makes and stores a new epoch when the channel has none or a
        holder of the current one has left it. ``blind.no_copy`` when no member has
        sealed the current key to this member yet (``share_channel_key`` by a holder)."""
        from vigil.protocol.blind import new_channel_key, open_channel_key

        kr = self._need_keyring()
        for _ in range(3):
            st = self._call("GET", f"/api/v1/channels/{ref}/key")
            if create and (st["epoch"] == 0 or st["rotate"]):
                try:
                    self._put_channel_key(st, st["epoch"] + 1, new_channel_key(),
                                          [m["id"] for m in st["members"]])
                except VigilError as exc:
                    if exc.code != "blind.epoch_exists":
                        raise
                continue
            if st["sealed"] is None:
                raise NotFound(f"no copy of channel {ref}'s key epoch {st['epoch']} is "
                               "sealed to this member yet", code="blind.no_copy")
            got = (str(st["channel"]), int(st["epoch"]))
            if got not in self._channel_keys:
                self._channel_keys[got] = open_channel_key(
                    _unb64(st["sealed"]["blob"]), got[0], got[1], kr.member_id,
                    kr.enc_private)
            return got[0], got[1], self._channel_keys[got]
        raise VigilError("the channel key kept changing; try again", code="blind.busy",
                         status=409)

    def share_channel_key(self, ref: str) -> list[str]:
        """Seal the current channel key to the channel members lacking it (new members);
        returns their ids."""
        _, epoch, key = self.channel_key(ref, create=False)
        st = self._call("GET", f"/api/v1/channels/{ref}/key")
        if st["epoch"] != epoch or not st["missing"]:
            return []
        self._put_channel_key(st, epoch, key, st["missing"])
        return list(st["missing"])

    def _put_channel_key(self, st: dict[str, Any], epoch: int, key: bytes,
                         members: Sequence[str]) -> None:
        from vigil.crypto.encoding import b64u
        from vigil.protocol.blind import seal_channel_key

        proven = self.proven_members([str(m["id"]) for m in st["members"]])
        keys = {m: proven[m]["enc_key"] for m in proven}
        sealed = [{"member": m, "key": keys[m]["id"],
                   "blob": b64u(seal_channel_key(key, st["channel"], epoch, m, keys[m]["id"],
                                                 _unb64(keys[m]["public"])))}
                  for m in members]
        self._call("POST", f"/api/v1/channels/{st['channel']}/keys",
                   json={"epoch": epoch, "sealed": sealed})
        self._channel_keys[(str(st["channel"]), epoch)] = key

    def _need_keyring(self) -> Keyring:
        if self.keyring is None:
            raise InputError("channel keys are opened with the member's keyring",
                             code="keyring.required")
        return self.keyring

    def _publish_blind(self, env: Envelope, bundle: bytes, channel: str) -> dict[str, Any]:
        from vigil.client.blind import bundle_tokens
        from vigil.crypto.encoding import b64u

        body: dict[str, Any] = {"envelope": envelope_to_json(env)}
        try:
            channel_id, epoch, key = self.channel_key(channel)
        except NotFound as exc:
            if exc.code != "blind.no_copy":
                raise
        else:
            body["blind"] = {"channel": channel_id, "epoch": epoch,
                             "tokens": [b64u(t) for t in bundle_tokens(key, bundle)]}
        out: dict[str, Any] = self._call(
            "POST", "/api/v1/blind/envelopes", content=orjson.dumps(body),
            headers={"Content-Type": "application/json"})
        return out

    def blind_matches(self, after: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Blind-match notices between shares this member may read."""
        doc = self._call("GET", "/api/v1/blind/matches", params={"after": after, "limit": limit})
        return list(doc["matches"]), int(doc["next"])

    # -- sightings and the ledger ----------------------------------------------------------
    def sight(self, share_id: str, indicator: str, verdict: str = "sighted", *, count: int = 1,
              first_seen: str | None = None, last_seen: str | None = None,
              disclose: bool = False) -> dict[str, Any]:
        """Report a sighting (or a false positive, or an expiry) of an indicator."""
        body: dict[str, Any] = {"indicator": indicator, "verdict": verdict, "count": count,
                                "disclose": disclose}
        if first_seen is not None:
            body["first_seen"] = first_seen
        if last_seen is not None:
            body["last_seen"] = last_seen
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share_id}/sightings",
                                         json=body)
        return out

    def sightings(self, share_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share_id}/sightings")
        return out

    def ledger(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/ledger")
        return out

    # -- reading ------------------------------------------------------------------------
    def inbox_page(self, after: int = 0, limit: int = 100) -> tuple[list[InboxItem], int]:
        doc = self._call("GET", "/api/v1/inbox", params={"after": after, "limit": limit})
        items = [self._item(e) for e in doc["entries"]]
        return items, int(doc["next"])

    def _item(self, e: dict[str, Any]) -> InboxItem:
        env = _envelope(e["envelope"])
        return InboxItem(e["seq"], e["share_id"], e["added"], env, e["envelope"]["state"],
                         self._logged(env, e["envelope"].get("log")))

    def inbox(self, after: int = 0, page: int = 100) -> Inbox:
        """Every inbox entry after a cursor, in order. The returned iterator's
        ``cursor`` is where to resume from later (``client.inbox(after=cursor)``): the
        last entry handed out, or further when the node skipped entries this member may
        no longer read."""
        return Inbox(self, after, page)

    def stream(self, after: int = 0) -> Stream:
        """The live inbox as an async iterator (Server-Sent Events): the backlog after
        the cursor, then every new share as it arrives. It reconnects on its own with
        ``Last-Event-ID`` (back-off up to 15 s) when the connection drops or the node is
        unavailable; its ``cursor`` is the last seq received."""
        return Stream(self, after)

    def notices_stream(self, after: int = 0) -> NoticeStream:
        """This member's correlation notices as an async iterator (Server-Sent Events):
        those after the cursor, then each one as soon as the node finds the match;
        reconnects as ``stream`` does."""
        return NoticeStream(self, after)

    def envelope(self, share_id: str) -> tuple[Envelope, dict[str, Any]]:
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        return _envelope(doc), doc["state"]

    # -- the node's log -------------------------------------------------------------
    def log_verifier(self) -> LogVerifier:
        """The checker of this node's log, holding the checkpoints accepted so far."""
        if self._log is None:
            info = self.node()["log"]
            name, public = parse_vkey(info["vkey"])
            self._log = LogVerifier(info["origin"], name, public, self._consistency,
                                    self.log_state)
        return self._log

    def _consistency(self, first: int, second: int) -> list[bytes]:
        doc = self._call("GET", "/api/v1/log/consistency",
                         params={"from": first, "to": second})
        return [b64u_decode(h) for h in doc["proof"]]

    def checkpoint(self) -> Checkpoint:
        """The node's latest signed checkpoint, accepted only if it extends the last one
        this client accepted (CryptoError log.rollback / log.fork otherwise)."""
        doc = self._call("GET", "/api/v1/log/checkpoint")
        return self.log_verifier().accept(doc["checkpoint"], latest=True)

    def watch_log(self, after: int | None = None) -> LogWatch:
        """The log entries about this member from index ``after`` (default: where the
        last watch kept in the checkpoint state stopped) to the node's latest
        checkpoint, each proven by an inclusion proof in it: key entries in this
        member's name (``foreign`` when they name keys its keyring did not make) and the
        recalls and purges of shares addressed to it. Needs the keyring."""
        from vigil.crypto.encoding import b64u
        from vigil.log.entries import entry_bytes
        from vigil.log.merkle import leaf_hash, verify_inclusion

        kr = self._need_keyring()
        me = kr.member_id
        v = self.log_verifier()
        start = v.marks.get("watch", 0) if after is None else after
        cp = self.checkpoint()
        events: list[LogEvent] = []
        while start < cp.size:
            doc = self._call("GET", "/api/v1/log/entries",
                             params={"start": start, "end": min(cp.size, start + 5000)})
            for k, item in enumerate(doc["entries"]):
                index = int(item["index"])
                if index != start + k:  # every leaf, hidden ones as their hash only
                    raise CryptoError(f"the node left log entry {start + k} out",
                                      code="log.missing_entries")
                e = item.get("entry")
                if not isinstance(e, dict):
                    continue
                leaf = leaf_hash(entry_bytes(e))
                if b64u(leaf) != item.get("leaf_hash"):
                    raise CryptoError(f"log entry {index} does not hash to its leaf",
                                      code="log.bad_entry")
                about = e.get("member") == me if e.get("kind") == "member" else \
                    e.get("kind") in ("recall", "purge") and me in (e.get("to") or [])
                if not about:
                    continue
                proof = self._call("GET", "/api/v1/log/inclusion",
                                   params={"index": index, "size": cp.size})["proof"]
                verify_inclusion(leaf, index, cp.size, [b64u_decode(h) for h in proof],
                                 cp.root)
                own = [(k.sign_key_id, k.enc_key_id) for k in (kr, *self.retired_keyrings)]
                foreign = e["kind"] == "member" and e.get("event") != "revoke" and (
                    (e.get("sign_key"), e.get("enc_key")) not in own)
                events.append(LogEvent(index, e, foreign))
            nxt = start + len(doc["entries"])
            if nxt == start:
                raise CryptoError("the node's log entries stop before its checkpoint",
                                  code="log.missing_entries")
            start = nxt
        v.mark("watch", max(start, cp.size))
        return LogWatch(events, max(start, cp.size))

    def _logged(self, env: Envelope, log: dict[str, Any] | None) -> int | None:
        """The share's log index, its inclusion proof checked. A page or an event that
        came without the proof (a node's cache may miss it) asks for it once more."""
        if not self.verify_log:
            return None
        if not log:
            log = self._call("GET", f"/api/v1/shares/{env.id}").get("log")
        return self.log_verifier().verify_share(env, log)

    def verify(self, env: Envelope, *, header_only: bool = False) -> str:
        """Check the envelope's signature against the signer's published key; return who
        signed, in plain words. Raises CryptoError if it does not verify.
        ``header_only``: a recalled or purged share, whose payload is gone."""
        check = verify_header if header_only else verify_envelope
        h = env.header
        if self.require_hybrid and not meets_hybrid(h):
            raise PolicyDenied("the share is not signed and sealed in the hybrid suites",
                               code=SUITE_REQUIRED)
        if h.get("provenance") == Provenance.ATTESTED.value:
            node = self.node()
            if node["sign_key"]["id"] != h["key"] or (self.verify_log and _unb64(
                    node["sign_key"]["public"]) != self.log_verifier().public_raw):
                # the node attests with the key that signs its log checkpoints, which
                # the checkpoint state pins
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            check(env, _unb64(node["sign_key"]["public"]))
            posted = h.get("posted_by") or {}
            who = self.member(str(posted.get("member", env.originator)))
            return (f"attested by node {node['name']} ({node['id']}): received from "
                    f"{who['display_name']} (member:{who['name']}), verified")
        m = self.member(env.originator)
        public, note = signing_key(self, m, env)
        check(env, public)
        return (f"signed by {m['display_name']} (member:{m['name']}, {h['key']}), verified"
                + (f", {note}" if note else ""))

    def get(self, share_id: str, *, purpose: str | None = None) -> Share:
        """Fetch a share, verify its signature, and open it: with the keyring here, or
        through the node when the node holds this member's keys. A share holding
        personal data opens only with a ``purpose``, recorded for its originator."""
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        env, state = _envelope(doc), doc["state"]
        if state.get("recalled") or state.get("purged"):
            if state.get("recalled"):
                self._recalled(env)
            return Share(env, state, "withdrawn: the node removed its payload", False, None,
                         None, self._logged(env, doc.get("log")))
        signer = self.verify(env)
        logged = self._logged(env, doc.get("log"))
        bundle: bytes | None = None
        opened: str | None = None
        from vigil.intel.handling import OPEN, personal_data, require_purpose
        if personal_data(env.header):
            me = self.keyring.member_id if self.keyring is not None \
                else str(self.me()["member"]["id"])
            local = env.form is Form.PLAIN or self.keyring is not None
            if require_purpose(env.header, me, purpose) and local:
                self._call("POST", f"/api/v1/shares/{share_id}/uses",
                           json={"use": OPEN, "purpose": purpose})
        if env.form is Form.PLAIN:
            bundle, opened = env.payload, "plain"
        elif self.keyring is not None:
            bundle, opened = open_held(self, env), "client"
        else:
            try:
                bundle = self._call("GET", f"/api/v1/shares/{share_id}/content",
                                    params={"purpose": purpose} if purpose else None)
                opened = "node"
            except VigilError as exc:
                if exc.code != "share.sealed":
                    raise
        if bundle is not None and opened != "node":
            self._auto_receipt(env, "opened")
        return Share(env, state, signer, True, bundle, opened, logged)

    # -- receipts and recall (docs/accountability.md) ---------------------------------
    def receipt(self, share: str, what: str) -> dict[str, Any]:
        """Sign and send this member's receipt of a share: ``received``, ``opened`` or
        ``recall-ack``. Idempotent at the node."""
        from vigil.crypto.encoding import b64u
        from vigil.protocol.receipts import receipt_object, sign_receipt

        kr = self.keyring
        if kr is None:
            raise InputError("receipts are signed with the member's keyring",
                             code="keyring.required")
        obj = receipt_object(share, kr.member_id, what, kr.sign_key_id)
        out: dict[str, Any] = self._call(
            "POST", f"/api/v1/shares/{share}/receipts",
            json={"receipt": obj, "signature": b64u(sign_receipt(obj, kr.sign_private))})
        self._receipted.add((share, what))
        return out

    def receipts(self, share: str) -> dict[str, Any]:
        """For a share this member published: who received, opened and (after a
        recall) acknowledged it, and who has not."""
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share}/receipts")
        return out

    def recall(self, share: str) -> dict[str, Any]:
        """Recall a share this member published: signed here with the keyring, or
        (without one) by the node with the keyring it holds or, for a share it attested,
        its own key."""
        body: dict[str, Any] | None = None
        if self.keyring is not None:
            from vigil.crypto.encoding import b64u
            from vigil.protocol.receipts import recall_object, sign_recall

            kr = self.keyring
            obj = recall_object(share, kr.member_id, kr.sign_key_id)
            body = {"recall": obj, "signature": b64u(sign_recall(obj, kr.sign_private))}
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share}/recall", json=body)
        return out

    def _auto_receipt(self, env: Envelope, what: str) -> None:
        if self.keyring is None or not self.send_receipts or (env.id, what) in self._receipted \
                or env.originator == self.keyring.member_id:
            return
        try:
            self.receipt(env.id, what)
        except VigilError:
            _log.warning("could not send the %s receipt of %s", what, env.id, exc_info=True)

    def _delivered(self, item: InboxItem) -> None:
        """A share reached this client: say so; a recalled one: drop it, acknowledge."""
        if item.state.get("recalled"):
            self._recalled(item.envelope)
        else:
            self._auto_receipt(item.envelope, "received")

    def _recalled(self, env: Envelope) -> None:
        """Its originator recalled this share: drop every copy here, acknowledge."""
        for drop in self.on_recall:
            drop(env.id)
        self._auto_receipt(env, "recall-ack")
