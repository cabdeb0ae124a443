"""Taking access away: revoking a user's token, deactivating a member, and the admin
role of a member's users that may do either through the API.

Every change here also moves the node's credential epoch (``meta`` key
``credentials``) in the same transaction. An open push stream reads the epoch after
each read of its inbox, and re-authenticates its credential when the epoch moved: so a
stream opened before the revocation delivers nothing stored after it, in any worker
and whichever process made the change (the CLI included). Console sessions look their
user up afresh on every use; the revoked user's sessions are deleted too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vigil import clock
from vigil.errors import Conflict, NotFound
from vigil.log.entries import member_entry
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.node.tokens import TOKEN_PREFIX
from vigil.signin import audit
from vigil.storage import signin as stored
from vigil.storage.base import Sql

EPOCH_KEY = "credentials"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    name: str
    created: str
    admin: bool
    revoked: bool


def bump_epoch(sql: Sql) -> None:
    """Move the credential epoch (inside the transaction that takes access away)."""
    stored.set_meta(sql, EPOCH_KEY, uuid.uuid4().hex)


def epoch(ex: Exchange) -> str:
    """The credential epoch: it changes whenever a credential may have been revoked."""
    return ex.store.get_meta(EPOCH_KEY) or ""


def users(ex: Exchange, member_ref: str) -> list[UserInfo]:
    """A member's users, revoked ones included."""
    member = ex.member(member_ref)
    rows = ex.store.read(lambda sql: stored.users_of(sql, member.id))
    return [UserInfo(r[0], r[1], r[2], bool(r[3]), bool(r[4])) for r in rows]


def _user_id(sql: Sql, member_id: str, user_ref: str) -> str:
    """A user of the member by name, id, or the token it holds: the token itself or
    the first ``TOKEN_PREFIX`` characters shown in listings, events and logs (what an
    operator has of a leaked token)."""
    row = stored.user_named(sql, member_id, user_ref)
    if row is None and user_ref.startswith("vgl_") and len(user_ref) >= TOKEN_PREFIX:
        rows = stored.users_by_prefix(sql, member_id, user_ref[:TOKEN_PREFIX])
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} users hold tokens starting {user_ref[:TOKEN_PREFIX]}: "
                           "name the user", code="user.ambiguous")
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no user {user_ref!r} of this member", code="user.not_found")
    return row


def set_admin(ex: Exchange, member_ref: str, user_ref: str, admin: bool = True) -> None:
    """Grant (or take back) a user's admin role: revoking the member's users and
    deactivating the member through the API."""
    member = ex.member(member_ref)

    def write(sql: Sql) -> None:
        uid = _user_id(sql, member.id, user_ref)
        stored.set_admin(sql, uid, admin)

    ex.store.write(write)


def is_admin(ex: Exchange, actor: Actor) -> bool:
    """An administrator of its member: a user with the admin role acting with an
    admin-scope token (vigil.signin.tokens)."""
    user = actor.user
    if actor.scope != "admin" or user is None:
        return False
    return ex.store.read(lambda sql: stored.is_admin(sql, user, actor.member))


def revoke_user(ex: Exchange, member_ref: str, user_ref: str, by: str | None = None,
                address: str = "") -> str:
    """Revoke a user's token (by user name or id) and end its console sessions
    (recorded in the member's sign-in events); the user's id. ``user.not_found``;
    ``user.revoked`` if it already was."""
    member = ex.member(member_ref)

    def write(sql: Sql) -> str:
        uid = _user_id(sql, member.id, user_ref)
        if not stored.revoke(sql, uid):
            raise Conflict(f"user {user_ref!r} is already revoked", code="user.revoked")
        stored.end_sessions(sql, uid)
        bump_epoch(sql)
        audit.record_in(sql, member.id, uid, "token.revoked", f"by {by}" if by else "",
                        address)
        return uid

    return ex.store.write(write)


def set_member_active(ex: Exchange, member_ref: str, active: bool) -> str:
    """Deactivate (or reactivate) a member: while inactive, none of its users
    authenticates and it receives nothing new; the change is logged. The member's id."""
    member = ex.member(member_ref)

    def also(sql: Sql) -> None:
        ex.log.append(sql, member_entry(member.id, "activate" if active else "deactivate",
                                        member.sign_key_id, member.enc_key_id, clock.now()))
        if not active:
            stored.end_member_sessions(sql, member.id)
        bump_epoch(sql)

    ex.store.set_member_active(member.id, active, also)
    return member.id
