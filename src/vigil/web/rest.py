"""REST API: members, channels, preview, publish, inbox, shares."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from vigil.consent import service as consent
from vigil.crypto.keys import alg_of
from vigil.errors import NotFound, VigilError
from vigil.intel import evaluation as intel_evaluation
from vigil.intel import legal as intel_legal
from vigil.intel.handling import OPEN, require_purpose
from vigil.intel.themes import matches
from vigil.log.note import vkey
from vigil.log.tree import LogRef, StoredLog
from vigil.model import (
    Channel,
    ChannelKind,
    Decision,
    Envelope,
    Member,
    ShareRequest,
    ShareState,
)
from vigil.node.accountability import recall_notice
from vigil.node.hooks import Claim, Committed, Published
from vigil.node.members import member_identity
from vigil.protocol.envelope import envelope_from_json, envelope_to_json
from vigil.stix import strictjson
from vigil.stix.tlp import parse_tlp
from vigil.web.deps import ActorDep, State, StateDep, number, read_body
from vigil.web.idempotency import publish_once

router = APIRouter()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def member_json(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "display_name": m.display_name,
        "country": m.country,
        "kind": m.kind.value,
        "active": m.active,
        "sign_key": {"id": m.sign_key_id, "alg": alg_of(m.sign_key_id),
                     "public": b64(m.sign_key)},
        "enc_key": {"id": m.enc_key_id, "alg": alg_of(m.enc_key_id), "public": b64(m.enc_key)},
        "identity": member_identity(m),
    }


def channel_json(c: Channel, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "kind": c.kind.value,
        "owner": c.owner,
        "members": sorted(c.members) if c.kind is not ChannelKind.COMMUNITY else None,
        "member_names": sorted(names.get(m, m) for m in c.members)
        if c.kind is not ChannelKind.COMMUNITY else None,
        "created": c.created,
    }


def share_json(env: Envelope, state: ShareState, log: LogRef | None = None) -> dict[str, Any]:
    out = envelope_to_json(env)
    out["state"] = {"recalled": state.recalled, "purged": state.purged}
    if log is not None:
        out["log"] = log.to_json()
    return out


def published_json(p: Published) -> dict[str, Any]:
    h = p.envelope.header
    return {
        "id": p.envelope.id,
        "new": p.new,
        "recipients": list(p.recipients),
        "form": h["payload"]["form"],
        "provenance": h["provenance"],
        "created": h["created"],
    }


# -- node and members ----------------------------------------------------------

@router.get("/node", tags=["node"])
async def node(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """This node: its id, name and signing key (for checking attested shares)."""
    ex = st.exchange
    return {
        "id": ex.node_id,
        "name": st.settings.node_name,
        "sign_key": {"id": ex.node_key_id, "alg": "ed25519", "public": b64(ex.node_key_raw)},
        "log": {"origin": ex.log.origin, "key_name": ex.log.key_name,
                "vkey": vkey(ex.log.key_name, ex.log.public_raw)},
    }


@router.get("/me", tags=["members"])
async def me(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The authenticated member and user."""
    m = st.exchange.directory().members[actor.member]
    return {"member": member_json(m), "user": actor.user, "scope": actor.scope,
            "node_holds_keys": actor.member in st.exchange.held}


def key_proofs(log: StoredLog, ids: list[str]) -> dict[str, dict[str, Any]]:
    """For each member, its latest key entry in the log with the inclusion proof of
    that entry in the latest checkpoint (what a client needs to trust the keys)."""
    entries = log.key_entries()
    cp, note = log.checkpoint()
    out: dict[str, dict[str, Any]] = {}
    for m in ids:
        got = entries.get(m)
        if got is not None and got[0] < cp.size:
            proof = log.inclusion(got[0], cp.size)
            out[m] = {"index": got[0], "size": cp.size, "entry": got[1],
                      "proof": [b64(h) for h in proof], "checkpoint": note}
    return out


@router.get("/members", tags=["members"])
async def members(st: StateDep, actor: ActorDep,
                  log: Annotated[bool, Query(description="add each key entry's log proof")]
                  = False) -> dict[str, Any]:
    """Every member of the exchange with its public keys (the directory is public to
    members); with `log=true`, each with the log proof of its key entry (`log`)."""
    d = await st.read(st.exchange.directory)
    ms = sorted(d.members.values(), key=lambda m: m.name)
    proofs = await st.read(key_proofs, st.exchange.log, [m.id for m in ms]) if log else {}
    return {"members": [member_json(m) | ({"log": proofs.get(m.id)} if log else {})
                        for m in ms]}


@router.get("/members/{ref}", tags=["members"])
async def member(ref: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """One member, by id or name, with `log`: its latest key entry in the node's log
    and that entry's inclusion proof in the latest checkpoint (clients take a member's
    keys only with it)."""
    m = st.exchange.member(ref)
    proofs = await st.read(key_proofs, st.exchange.log, [m.id])
    return member_json(m) | {"log": proofs.get(m.id)}


# -- channels -------------------------------------------------------------------

class ChannelIn(BaseModel):
    name: str = Field(description="lower-case name, a-z 0-9 . _ -")
    kind: ChannelKind
    members: list[str] = Field(default_factory=list, description="member ids or names")


class MemberRef(BaseModel):
    member: str = Field(description="member id or name")


def _names(st: State) -> dict[str, str]:
    return {m.id: m.name for m in st.exchange.directory().members.values()}


@router.get("/channels", tags=["channels"])
async def channels(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The channels the caller is in."""
    chs = await st.read(st.exchange.channels, actor.member)
    names = _names(st)
    return {"channels": [channel_json(c, names) for c in chs]}


@router.post("/channels", tags=["channels"], status_code=201)
async def create_channel(body: ChannelIn, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Create a channel owned by the caller (who is always a member of it)."""
    ch = await st.write(st.exchange.create_channel, actor.member, body.name, body.kind,
                        body.members)
    return channel_json(ch, _names(st))


@router.get("/channels/{ref}", tags=["channels"])
async def channel(ref: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """One channel the caller is in, with its join/leave history."""
    ch = await st.read(st.exchange.channel, actor.member, ref)
    out = channel_json(ch, _names(st))
    out["events"] = await st.read(st.exchange.channel_events, actor.member, ch.id)
    return out


@router.post("/channels/{ref}/members", tags=["channels"])
async def channel_add(ref: str, body: MemberRef, st: StateDep, actor: ActorDep
                      ) -> dict[str, Any]:
    """Add a member to a group channel (owner only)."""
    ch = await st.write(st.exchange.change_channel, actor.member, ref, body.member, add=True)
    return channel_json(ch, _names(st))


@router.delete("/channels/{ref}/members/{member_ref}", tags=["channels"])
async def channel_remove(ref: str, member_ref: str, st: StateDep, actor: ActorDep
                         ) -> dict[str, Any]:
    """Remove a member from a group channel (owner only)."""
    ch = await st.write(st.exchange.change_channel, actor.member, ref, member_ref, add=False)
    return channel_json(ch, _names(st))


# -- publish -----------------------------------------------------------------------

class AudienceIn(BaseModel):
    tlp: str = Field(description="clear, green, amber, amber+strict or red")
    to: list[str] = Field(default_factory=list,
                          description="a channel (name or id) and/or member:NAME entries")
    purpose: str | None = None
    no_onward: bool = False
    codes: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    expires: str | None = Field(default=None, description="RFC 3339 time or a span like 30d")
    evaluation: str | None = Field(default=None, description="B2 (Admiralty) or 4x4:B2")
    legal_basis: str | None = Field(default=None, description="the instrument allowing it")
    legal_purposes: list[str] = Field(default_factory=list)
    personal_data: bool = Field(default=False, description="the share holds personal data")


def lint_bundle(ex: Any, raw: bytes, declared: bool) -> None:
    """Parse and validate the bundle, then refuse undeclared personal data
    (``422 input.personal_data`` with every finding); in a worker when it is large."""
    ex.bundles.check(raw, ex.max_body, declared=declared)


def intel_json(req: ShareRequest) -> dict[str, Any]:
    """A request's evaluation, legal basis and personal data, as a preview names them."""
    return {"evaluation": None if req.evaluation is None else intel_evaluation.to_header(
                req.evaluation),
            "legal": None if req.legal is None else intel_legal.to_header(
                req.legal, req.personal_data),
            "personal_data": req.personal_data}


def decision_json(st: State, dec: Decision, req: Any) -> dict[str, Any]:
    d = st.exchange.directory()
    return {
        "allow": dec.allow,
        "reason": dec.reason,
        "form": dec.form.value if dec.form else None,
        "audience": {"tlp": req.audience.tlp.value, "channel": req.audience.channel},
        "recipients": [
            {"id": r, "name": d.members[r].name, "display_name": d.members[r].display_name,
             "country": d.members[r].country,
             "enc_key": {"id": d.members[r].enc_key_id, "public": b64(d.members[r].enc_key)}}
            for r in dec.recipients
        ],
        "handling": {"purpose": req.handling.purpose, "no_onward": req.handling.no_onward,
                     "codes": list(req.handling.codes)},
        "themes": list(req.themes),
        "regions": list(req.regions),
        "expires": req.expires,
        **intel_json(req),
        "community_rule": st.exchange.preview_delays(req, dec),
    }


def _request(st: State, actor: Any, a: AudienceIn) -> Any:
    return st.exchange.make_request(
        actor.member, tlp=parse_tlp(a.tlp), to=a.to, purpose=a.purpose, no_onward=a.no_onward,
        codes=a.codes, themes=a.themes, regions=a.regions, expires=a.expires,
        evaluation=a.evaluation, legal_basis=a.legal_basis, legal_purposes=a.legal_purposes,
        personal_data=a.personal_data)


@router.post("/preview", tags=["shares"])
async def preview(body: AudienceIn, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """A dry run: exactly who would receive a share with this audience, and whether
    its payload would be sealed. Clients that sign and seal use the recipients' keys
    returned here."""
    req = _request(st, actor, body)
    dec = st.exchange.preview(req)
    return decision_json(st, dec, req)


@router.post(
    "/shares",
    tags=["shares"],
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/stix+json": {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}}}}},
)
async def publish(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    tlp: Annotated[str, Query(description="TLP level")],
    to: Annotated[list[str] | None, Query(description="channel and/or member:NAME")] = None,
    purpose: str | None = None,
    no_onward: bool = False,
    code: Annotated[list[str] | None, Query()] = None,
    theme: Annotated[list[str] | None, Query()] = None,
    region: Annotated[list[str] | None, Query()] = None,
    expires: str | None = None,
    dry_run: bool = False,
    evaluation: str | None = None,
    legal_basis: str | None = None,
    legal_purpose: Annotated[list[str] | None, Query()] = None,
    personal_data: bool = False,
) -> Response:
    """Publish a STIX 2.1 bundle posted as the body. The node signs it with the
    member's keyring when it holds it, and otherwise attests it (provenance
    "attested": received from this member, authenticated as this user)."""
    raw = await read_body(request, int(st.settings.max_body))
    req = _request(st, actor, AudienceIn(
        tlp=tlp, to=to or [], purpose=purpose, no_onward=no_onward, codes=code or [],
        themes=theme or [], regions=region or [], expires=expires, evaluation=evaluation,
        legal_basis=legal_basis, legal_purposes=legal_purpose or [],
        personal_data=personal_data))
    # the personal-data lint: the member confirms (personal_data) or redacts; a publish
    # lints with the bundle's one check
    if dry_run:
        await st.heavy(actor.member, lint_bundle, st.exchange, raw, req.personal_data)
        dec = st.exchange.preview(req)
        return JSONResponse(decision_json(st, dec, req))
    def run(claim: Claim | None, committed: Committed) -> Published:
        return st.exchange.publish_bundle(actor, raw, req, lint=True, claim=claim,
                                          committed=committed)

    return await publish_once(request, st, actor.member, raw, run, published_json)


@router.post("/envelopes", tags=["shares"], status_code=201)
async def publish_envelope(request: Request, st: StateDep, actor: ActorDep) -> Response:
    """Publish a share signed (and sealed) by the member's own client. The node checks
    the signature, the audience against the policy, and the wraps; it cannot read a
    sealed payload."""
    raw = await read_body(request, int(st.settings.max_body) * 2)

    def accept(claim: Claim | None, committed: Committed) -> Published:
        doc = strictjson.loads(raw, max_bytes=int(st.settings.max_body) * 2)
        return st.exchange.accept_envelope(actor, envelope_from_json(doc), claim, committed)

    return await publish_once(request, st, actor.member, raw, accept, published_json)


# -- reading ----------------------------------------------------------------------------

@router.get("/inbox", tags=["inbox"])
async def inbox(
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0, description="cursor: the last seq already read"),
                     number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
    theme: Annotated[list[str] | None, Query(description="only shares of these themes "
                                                         "(a theme includes its theme/sub)")
                     ] = None,
) -> dict[str, Any]:
    """The caller's inbox after a cursor, in order. Resume with `after=<next>` (with a
    ``theme`` filter the page may hold fewer entries than ``limit``)."""
    rows, cursor, _ = await st.read(st.exchange.inbox_page, actor.member, after, limit,
                                    notices=True)
    if theme:
        wanted = [t.strip().lower() for t in theme]
        rows = [r for r in rows if matches(r[1].header.get("themes", []), wanted)]
    return {
        "entries": [{"seq": e.seq, "share_id": e.share_id, "added": e.added,
                     "envelope": share_json(env, s, st.exchange.log.refs.get(e.share_id))}
                    for e, env, s in rows],
        "next": cursor,
    }


@router.get("/sent", tags=["inbox"])
async def sent(
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0), number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> dict[str, Any]:
    """Shares the caller published."""
    rows, cursor = await st.read(st.exchange.sent_page, actor.member, after, limit)
    return {"shares": [{"seq": seq, "envelope": share_json(env, s)} for seq, env, s in rows],
            "next": cursor}


@router.get("/shares/{share_id}", tags=["shares"])
async def get_share(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """One share's envelope (signed header, payload, wraps). 404 if the caller may not
    read it, exactly as if it did not exist. A recipient of a recalled share gets its
    recall notice: the signed header, no payload, state recalled."""
    try:
        env, state = await st.read(st.exchange.share, actor.member, share_id)
        await st.write(st.exchange.record_opened, actor.member, env)  # may write: off the loop
    except NotFound:
        env, state = await st.read(recall_notice, st.exchange, actor.member, share_id)
    refs = await st.read(st.exchange.log.share_refs, [share_id])
    return share_json(env, state, refs.get(share_id))


@router.get("/shares/{share_id}/content", tags=["shares"],
            responses={200: {"content": {"application/stix+json": {}}}})
async def share_content(share_id: str, st: StateDep, actor: ActorDep,
                        purpose: str | None = None) -> Response:
    """The verified STIX bundle of a share: plain shares, and sealed shares of members
    whose keyring this node holds. A sealed share for a member whose keys live in its
    clients answers 409 share.sealed: open it with `vigil show` or the SDK. A share that
    holds personal data is opened only with a ``purpose``, recorded for its originator
    (400 share.purpose_required without one)."""
    env, state = await st.read(st.exchange.share, actor.member, share_id)
    if require_purpose(env.header, actor.member, purpose):
        await st.write(consent.use, st.exchange, actor.member, share_id, OPEN, str(purpose))
    await st.write(st.exchange.record_opened, actor.member, env)  # may write: off the loop
    if state.recalled:  # only its originator gets here: the payload is gone
        raise VigilError("this share was recalled; the node removed its payload",
                         code="share.recalled", status=410)
    plain = await st.write(st.exchange.open, actor.member, env)
    if plain is None:
        raise VigilError(
            "this share is sealed to the member's own keys, which this node does not hold; "
            "open it with `vigil show SHARE_ID --keyring FILE` or the Python SDK",
            code="share.sealed", status=409)
    return Response(plain, media_type="application/stix+json;version=2.1")
