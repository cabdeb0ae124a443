"""REST API of a member's tokens and sign-in events, for its administrators (admin
role, admin-scope token): issuing users with scoped, expiring tokens, listing and
rotating them, and reading the member's sign-in events. Another member's user is
`user.not_found`; a caller that is not an administrator is refused (403)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from vigil import clock
from vigil.signin import audit, tokens
from vigil.web.access import _admin, _wake
from vigil.web.deps import ActorDep, StateDep

router = APIRouter(tags=["access"])


class NewUser(BaseModel):
    name: str = Field(description="the user's name, unique in the member")
    scope: str = Field("read", description="read | publish | admin")
    expires: str | None = Field(None, description="RFC 3339 time or a span such as 90d")


class Rotation(BaseModel):
    scope: str | None = Field(None, description="a new scope (default: keep)")
    expires: str | None = Field(None, description="a new expiry (default: keep)")


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/users", status_code=201)
async def add_user(body: NewUser, request: Request, st: StateDep, actor: ActorDep
                   ) -> dict[str, Any]:
    """Issue a user of the caller's member with a token of a scope (default `read`)
    and optional expiry; the token is in this answer only."""
    await _admin(st, actor)
    expires = clock.parse_expiry(body.expires) if body.expires else None
    user, token = await st.write(tokens.issue, st.exchange, actor.member, body.name,
                                 body.scope, expires, actor.user, _address(request))
    return {"id": user.id, "name": user.name, "scope": user.scope,
            "expires": user.expires, "token": token}


@router.get("/users/{user}/tokens")
async def user_tokens(user: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """A user's token: its prefix, scope, creation, expiry and whether it is revoked."""
    await _admin(st, actor)
    found = await st.read(tokens.tokens, st.exchange, actor.member, user)
    return {"tokens": [t.to_dict() for t in found]}


@router.post("/users/{user}/rotate")
async def rotate(user: str, body: Rotation, request: Request, st: StateDep,
                 actor: ActorDep) -> dict[str, Any]:
    """Give a user a new token (in this answer only); the old one, its console
    sessions and its open streams end at once."""
    await _admin(st, actor)
    expires = clock.parse_expiry(body.expires) if body.expires else None
    uid, token = await st.write(tokens.rotate, st.exchange, actor.member, user,
                                scope=body.scope, expires=expires, by=actor.user,
                                address=_address(request))
    await _wake(st, actor.member)
    return {"id": uid, "token": token}


@router.get("/audit")
async def events(st: StateDep, actor: ActorDep, after: int = Query(0, ge=0),
                 limit: int = Query(100, ge=1, le=audit.MAX_PAGE)) -> dict[str, Any]:
    """The member's sign-in events after `after`, oldest first: sign-ins, failed
    sign-ins, tokens created, rotated and revoked."""
    await _admin(st, actor)
    found = await st.read(audit.events, st.exchange, actor.member, after, limit)
    return {"events": [e.to_dict() for e in found],
            "next": found[-1].seq if found else after}
