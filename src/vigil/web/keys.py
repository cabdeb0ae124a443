"""REST API of the key life cycle (``vigil.node.keylife``): a member's client rotates its
keys, registers a recovery key and recovers with it, each with a signed statement; a
member revokes its own keys on compromise; anyone reads a member's key history; a
member stores content keys it wrapped again to its new key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from vigil.errors import NotFound
from vigil.node import keylife as actions
from vigil.web.deps import ActorDep, StateDep

router = APIRouter(tags=["keys"])
JsonBody = Annotated[Any, Body()]


@router.post("/keys/rotate")
async def rotate(st: StateDep, actor: ActorDep, request: Request,
                 body: JsonBody) -> dict[str, Any]:
    """Replace the member's keys: `{statement, signatures: {old, new}}` (docs/keys.md).
    The old keys stay good for what they signed and sealed before. On a federating
    node, `directory` (`{entry, sig}`: the member's `rotate` directory entry to the same
    keys, signed by the old key) enters the key directory in the same transaction, so
    peers take the new keys (docs/federation.md)."""
    trust = getattr(request.app.state, "trust", None)
    entry = body.pop("directory", None) if isinstance(body, dict) else None
    if entry is None or trust is None:
        m = await st.write(actions.rotate, st.exchange, actor.member, body)
    else:
        m = await st.write(trust.rotate, actor.member, body, entry)
    return {"sign_key": m.sign_key_id, "enc_key": m.enc_key_id}


@router.post("/keys/recovery")
async def recovery(st: StateDep, actor: ActorDep, body: JsonBody) -> dict[str, Any]:
    """Register the member's recovery key: `{statement, signatures: {old, new}}`."""
    kid = await st.write(actions.register_recovery_key, st.exchange, actor.member, body)
    return {"recovery_key": kid}


@router.post("/keys/recover")
async def recover(st: StateDep, actor: ActorDep, body: JsonBody) -> dict[str, Any]:
    """Replace the member's keys on a statement signed by its recovery key:
    `{statement, signatures: {recovery, new}}`."""
    m = await st.write(actions.recover, st.exchange, actor.member, body)
    return {"sign_key": m.sign_key_id, "enc_key": m.enc_key_id}


@router.post("/keys/revoke")
async def revoke(st: StateDep, actor: ActorDep, body: JsonBody = None) -> dict[str, Any]:
    """Revoke the member's current keys on compromise: `{since}` (optional; a time or a
    span back such as 2d) is the revocation point. A member with entries in the node's
    key directory gets the home's `revoke` entry there in the same transaction."""
    since = body.get("since") if isinstance(body, dict) else None
    rec = await st.write(actions.revoke, st.exchange, actor.member,
                         since=str(since) if since else None)
    return rec.to_json()


@router.get("/members/{ref}/keys")
async def keys(ref: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """A member's keys: the current ones and every retired, expiring or revoked one."""
    return {"keys": await st.read(actions.history, st.exchange, ref)}


@router.post("/rewraps")
async def rewraps(st: StateDep, actor: ActorDep, body: JsonBody) -> dict[str, Any]:
    """Store content keys the member wrapped again to its current key:
    `{rewraps: [{share, key, blob}]}`."""
    items = body.get("rewraps") if isinstance(body, dict) else None
    n = await st.write(actions.put_rewraps, st.exchange, actor.member, items)
    return {"stored": n}


@router.get("/shares/{share_id}/rewrap")
async def rewrap(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The member's re-wrapped content key of a share it may read, for its current key."""
    from vigil.policy.access import Access

    gate = Access(st.exchange, actor.member)
    got = await st.read(gate.fetch, share_id)
    found = await st.read(actions.rewrap_of, st.exchange, actor.member, share_id) \
        if got is not None and gate.readable(got[1]) else None
    if found is None:
        raise NotFound(f"no share {share_id}", code="share.not_found")
    return found
