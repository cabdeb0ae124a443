"""The directory of a node: its members, their users and tokens, console sessions,
and which shares revoked keys mark."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil import clock
from vigil.crypto.keyring import Keyring, create_keyring, create_token_keyring
from vigil.errors import AuthError, Conflict, InputError, NotFound
from vigil.log.entries import member_entry
from vigil.model import (
    Actor,
    Directory,
    Member,
    MemberKind,
    User,
)
from vigil.node.inputs import check_name, region
from vigil.node.state import ExchangeState
from vigil.node.tokens import TOKEN_PREFIX, check_scope, hash_token, new_token


def member_identity(member: Member) -> dict[str, Any]:
    """The member as a STIX 2.1 identity object."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": member.id,
        "created": member.created,
        "modified": member.created,
        "name": member.display_name,
        "identity_class": "organization",
        "sectors": ["government-national" if member.kind != MemberKind.REGIONAL_ORG
                    else "government-regional"],
        "x_vigil_name": member.name,
        "x_vigil_country": member.country,
        "x_vigil_kind": member.kind.value,
        "x_vigil_sign_key": member.sign_key_id,
        "x_vigil_enc_key": member.enc_key_id,
    }


class Members(ExchangeState):
    """Members, users and sessions of an exchange."""

    # -- directory -----------------------------------------------------------
    def directory(self) -> Directory:
        return self.store.directory()

    def member(self, ref: str) -> Member:
        """A member by id or name (members are public to every member of the node)."""
        d = self.directory()
        if ref in d.members:
            return d.members[ref]
        name = ref.removeprefix("member:")
        for m in d.members.values():
            if m.name == name:
                return m
        raise NotFound(f"no member {ref!r}", code="member.not_found")

    def add_member(
        self,
        name: str,
        *,
        country: str,
        kind: MemberKind,
        display_name: str | None = None,
        keyring_path: Path,
        passphrase: str,
        hold: bool = False,
        hybrid: bool = True,
        pkcs11: str | None = None,
    ) -> tuple[Member, Keyring]:
        """A new member with fresh keys: in a keyring file under ``passphrase``, or made
        inside the PKCS#11 token the ``pkcs11`` URI names (classical suites only)."""
        check_name(name, "member")
        normal = region(country)
        if normal is None:
            raise InputError(f"country {country.strip()!r} must be an ISO 3166 code",
                             code="input.country")
        country = normal
        if any(m.name == name for m in self.directory().members.values()):
            raise Conflict(f"a member named {name!r} already exists", code="member.exists")
        member_id = f"identity--{uuid.uuid4()}"
        kr = create_token_keyring(keyring_path, member_id, pkcs11, hybrid=False) \
            if pkcs11 else create_keyring(keyring_path, member_id, passphrase, hybrid=hybrid)
        member = Member(
            id=member_id,
            name=name,
            display_name=display_name or name,
            country=country,
            kind=kind,
            sign_key=kr.sign_public,
            sign_key_id=kr.sign_key_id,
            enc_key=kr.enc_public,
            enc_key_id=kr.enc_key_id,
            created=clock.now(),
        )
        try:
            self.store.add_member(member, lambda sql: self._log(sql, member_entry(
                member.id, "add", member.sign_key_id, member.enc_key_id, member.created)))
        except BaseException:
            keyring_path.unlink(missing_ok=True)
            raise
        if hold:
            self.held[member_id] = kr
        return member, kr

    # -- users and authentication -------------------------------------------
    def add_user(self, member_ref: str, user_name: str, scope: str = "admin",
                 expires: str | None = None) -> tuple[User, str]:
        """Issue a user's token with a scope (read | publish | admin, see vigil.signin.tokens)
        and an optional expiry; the token is shown once and only its hash is kept."""
        member = self.member(member_ref)
        check_name(user_name, "user")
        check_scope(scope)
        token = new_token()
        user = User(id=f"user--{uuid.uuid4()}", member_id=member.id, name=user_name,
                    created=clock.now(), scope=scope, expires=expires)
        self.store.add_user(user, hash_token(token), token[:TOKEN_PREFIX])
        return user, token

    def authenticate(self, token: str) -> Actor:
        user = self.store.user_by_token_hash(hash_token(token)) if token else None
        return self._actor_of(user, "token")

    def _actor_of(self, user: User | None, what: str) -> Actor:
        # an expired credential answers like an unknown one
        if user is None or (user.expires is not None and user.expires <= clock.now()):
            raise AuthError(f"unknown or revoked {what}", code=f"auth.bad_{what}")
        m = self.directory().members.get(user.member_id)
        if m is None or not m.active:
            raise AuthError(f"the member of this {what} is not active", code="auth.inactive")
        return Actor(member=user.member_id, user=user.id, scope=user.scope)

    def open_session(self, token: str, ttl_seconds: int) -> tuple[str, str]:
        """Sign a user in for the web console: (session id, CSRF token). Only a hash of
        the session id is stored, so every worker of the node shares the session."""
        self.authenticate(token)
        user = self.store.user_by_token_hash(hash_token(token))
        assert user is not None
        return self.open_user_session(user.id, ttl_seconds)

    def open_user_session(self, user_id: str, ttl_seconds: int) -> tuple[str, str]:
        """A console session for a user who signed in another way (SSO, a passkey)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = clock.fmt(datetime.now(UTC) + timedelta(seconds=ttl_seconds))
        self.store.add_session(hash_token(sid), user_id, csrf, expires)
        return sid, csrf

    def session(self, session_id: str) -> tuple[Actor, str]:
        """The actor and CSRF token of a live console session."""
        got = self.store.get_session(hash_token(session_id), clock.now()) if session_id \
            else None
        if got is None:
            raise AuthError("no such session, or it expired", code="auth.bad_session")
        return self._actor_of(self.store.user_by_id(got[0]), "session"), got[1]

    def close_session(self, session_id: str) -> None:
        self.store.drop_session(hash_token(session_id), clock.now())

    def revoked_shares(self, share_ids: Iterable[str], directory: Directory | None = None
                       ) -> set[str]:
        """The ids among ``share_ids`` signed with a revoked key at or after its
        revocation point (the access gate refuses them), as of ``directory`` (the
        current one if None)."""
        return self.keybook.marked(directory or self.directory(), share_ids)

