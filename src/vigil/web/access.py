"""REST API for taking access away: a member's admin revokes its users' tokens or
deactivates the member; any user may revoke its own token. Open push streams and
console sessions of the revoked credential end at once (``vigil.signin.users``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vigil.errors import VigilError
from vigil.model import Actor
from vigil.signin import users as access
from vigil.web.analysis import notice_bell
from vigil.web.deps import ActorDep, State, StateDep

router = APIRouter(tags=["access"])


class NotAdmin(VigilError):
    code = "user.not_admin"
    status = 403


async def _admin(st: State, actor: Actor) -> None:
    if not await st.read(access.is_admin, st.exchange, actor):
        raise NotAdmin("only an admin user of the member may do this")


async def _wake(st: State, member: str) -> None:
    """Wake the member's open streams: each checks its credential and ends if revoked."""
    await st.bus.ring([member, notice_bell(member)])


@router.get("/users")
async def users(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The users of the caller's member, revoked ones included (admin only)."""
    await _admin(st, actor)
    found = await st.read(access.users, st.exchange, actor.member)
    return {"users": [{"id": u.id, "name": u.name, "created": u.created, "admin": u.admin,
                       "revoked": u.revoked} for u in found]}


@router.post("/users/{user}/revoke")
async def revoke_user(user: str, request: Request, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Revoke a user's token (by name or id): the caller's own, or, for an admin, any
    user's of its member. Its open streams and console sessions end at once. A user of
    another member is `user.not_found`."""
    own = await st.read(access.users, st.exchange, actor.member)
    target = next((u for u in own if user in (u.name, u.id)), None)
    if target is None or target.id != actor.user:
        await _admin(st, actor)
    uid = await st.write(access.revoke_user, st.exchange, actor.member, user, actor.user,
                         request.client.host if request.client else "")
    await _wake(st, actor.member)
    return {"revoked": uid}


@router.post("/member/deactivate")
async def deactivate_member(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Deactivate the caller's member (admin only): none of its users authenticates
    any longer, and its open streams and console sessions end at once; only the
    node's operator reactivates it
    (`vigil member activate`)."""
    await _admin(st, actor)
    member = await st.write(access.set_member_active, st.exchange, actor.member, False)
    await _wake(st, actor.member)
    return {"deactivated": member}
