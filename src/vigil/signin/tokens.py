"""A user's API token: its scope, its expiry, issuing, listing and rotating it.

Each user holds one live token. Its scope is what the token may do, each scope
including the ones before it:

- ``read``: read shares, channels, the log, correlations; hand in log checkpoints;
- ``publish``: also publish (shares, envelopes, TAXII objects), recall, receipts,
  sightings, blind channel keys;
- ``admin``: also channels (create, add and remove members), warninglists, feeds, users and
  their tokens, the member's sign-in events, deactivating the member.

The route → scope table is ``vigil.web.scopes``. A token past its expiry answers 401
like an unknown one. Only a hash of the token and its first ``TOKEN_PREFIX``
characters (its name in listings and events) are kept. Rotating a token gives the user
a new one and ends the old one, its console sessions and its open streams at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil import clock
from vigil.errors import Conflict
from vigil.model import User
from vigil.node.exchange import Exchange
from vigil.node.tokens import SCOPES, TOKEN_PREFIX, check_scope, hash_token, new_token
from vigil.signin import audit
from vigil.signin.users import _user_id, bump_epoch
from vigil.storage import signin as stored
from vigil.storage.base import Sql

__all__ = ["SCOPES", "TokenInfo", "allows", "issue", "rotate", "tokens"]


def allows(held: str, needed: str) -> bool:
    """Whether a token of scope ``held`` may do what needs ``needed``."""
    return held in SCOPES and SCOPES.index(held) >= SCOPES.index(needed)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    user: str
    name: str
    prefix: str
    scope: str
    created: str
    expires: str | None
    revoked: bool

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= clock.now()

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "name": self.name, "prefix": self.prefix,
                "scope": self.scope, "created": self.created, "expires": self.expires,
                "expired": self.expired, "revoked": self.revoked}


def tokens(ex: Exchange, member_ref: str, user_ref: str | None = None) -> list[TokenInfo]:
    """The tokens of a member's users (or of one user), revoked and expired ones too."""
    member = ex.member(member_ref)

    def read(sql: Sql) -> list[Any]:
        if user_ref is not None:
            uid = _user_id(sql, member.id, user_ref)
            return stored.token_rows(sql, user=uid)
        return stored.token_rows(sql, member=member.id)

    return [TokenInfo(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]))
            for r in ex.store.read(read)]


def issue(ex: Exchange, member_ref: str, user_name: str, scope: str = "admin",
          expires: str | None = None, by: str | None = None,
          address: str = "") -> tuple[User, str]:
    """A new user with a token of ``scope`` expiring at ``expires`` (recorded)."""
    user, token = ex.add_user(member_ref, user_name, scope, expires)
    audit.record(ex, user.member_id, user.id, "token.created",
                 _detail(token, scope, expires, by), address)
    return user, token


def rotate(ex: Exchange, member_ref: str, user_ref: str, *, scope: str | None = None,
           expires: str | None = None, keep_expiry: bool = True, by: str | None = None,
           address: str = "") -> tuple[str, str]:
    """Give a user a new token (optionally with another scope or expiry) and end the
    old one with its sessions and open streams; (user id, new token). A revoked user
    stays revoked (``user.not_found`` is not raised for it: rotate does not revive)."""
    member = ex.member(member_ref)
    if scope is not None:
        check_scope(scope)
    token = new_token()

    def write(sql: Sql) -> tuple[str, str]:
        uid = _user_id(sql, member.id, user_ref)
        row = stored.token_state(sql, uid)
        if bool(row[2]):
            raise Conflict(f"user {user_ref!r} is revoked", code="user.revoked")
        new_scope = scope or str(row[0])
        new_expires = row[1] if keep_expiry and expires is None else expires
        stored.set_token(sql, uid, hash_token(token), token[:TOKEN_PREFIX], new_scope,
                         new_expires)
        stored.end_sessions(sql, uid)
        bump_epoch(sql)
        audit.record_in(sql, member.id, uid, "token.rotated",
                        _detail(token, new_scope, new_expires, by), address)
        return uid, token

    return ex.store.write(write)


def _detail(token: str, scope: str, expires: str | None, by: str | None) -> str:
    parts = [f"token {token[:TOKEN_PREFIX]}…", f"scope {scope}",
             f"expires {expires or 'never'}"]
    if by:
        parts.append(f"by {by}")
    return ", ".join(parts)
