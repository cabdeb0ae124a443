"""Hardware keys and passkeys (WebAuthn) for console users, with the ``webauthn`` library.

A user registers and removes their own keys on the console's Keys page. A key is then
asked for after every other console sign-in of that user (a token, an OpenID provider):
a second factor. A key can also sign its user in alone, with user verification (the
key's PIN or biometric). A member may require keys (``vigil member set MEMBER
--require-webauthn``): a user of such a member without a key registers one after the
first factor, before the console session opens.

Each ceremony is a step kept in the store (only a hash of its random id) with its
challenge, used once, for ``STEP_TTL`` seconds; a step opened by a first factor holds
the user and, for SSO, the provider's ID token for the session to come.

The relying party (the origin the browser must report and the RP id keys are bound to)
comes only from the node's ``public_url``, never from the request's Host header, which a
client chooses: without ``public_url`` every ceremony is refused (``passkey.no_public_url``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vigil import clock
from vigil.errors import AuthError, InputError, NotFound, VigilError
from vigil.model import Actor, User
from vigil.node.exchange import Exchange
from vigil.node.tokens import hash_token
from vigil.signin import audit
from vigil.storage import signin as stored
from vigil.storage.base import Sql

STEP_TTL = 300
MAX_KEYS = 20


@dataclass(frozen=True, slots=True)
class Key:
    id: str  # the credential id, base64url
    name: str
    created: str


@dataclass(frozen=True, slots=True)
class Step:
    user: str | None
    challenge: bytes
    method: str  # register | passkey | a first factor's method (token, sso)
    issuer: str | None
    id_token: str | None


@dataclass(frozen=True, slots=True)
class Relying:
    """Who asks for the key: the console's origin and its host name (the RP id)."""
    origin: str
    rp_id: str
    name: str


class NoPublicUrl(VigilError):
    code = "passkey.no_public_url"
    status = 503


def relying_party(public_url: str, node_name: str) -> Relying:
    """The relying party of the console at ``public_url`` (the node's configuration):
    origin ``scheme://host[:port]`` and RP id the host name. Refused without an http(s)
    ``public_url`` that names a host."""
    public = public_url.strip()
    if not public:
        raise NoPublicUrl("security keys need the node's public_url (vigil.toml or "
                          "VIGIL_PUBLIC_URL): the address browsers reach the console at, "
                          "which keys are bound to")
    try:
        parts = urlsplit(public)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not host:
        raise NoPublicUrl(f"security keys need an http(s) public_url naming a host, "
                          f"not {public[:200]!r}")
    netloc = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[parts.scheme]  # browsers leave it out
    origin = f"{parts.scheme}://{netloc}" + (f":{port}" if port not in (None, default) else "")
    return Relying(origin, host, f"vigil {node_name}")


def keys(ex: Exchange, user: str) -> list[Key]:
    rows = ex.store.read(lambda sql: stored.passkeys_of(sql, user))
    return [Key(r[0], r[1], r[2]) for r in rows]


def required(ex: Exchange, member: str) -> bool:
    return ex.store.read(lambda sql: stored.keys_required(sql, member))


def set_required(ex: Exchange, member_ref: str, on: bool) -> None:
    member = ex.member(member_ref)

    ex.store.write(lambda sql: stored.set_keys_required(sql, member.id, on))


def needed(ex: Exchange, actor: Actor) -> bool:
    """Whether a console sign-in of this actor also needs a key."""
    return actor.user is not None and (bool(keys(ex, actor.user))
                                       or required(ex, actor.member))


def _expiry() -> str:
    return clock.fmt(datetime.now(UTC) + timedelta(seconds=STEP_TTL))


def open_step(ex: Exchange, user: str | None, method: str, *, issuer: str | None = None,
              id_token: str | None = None) -> str:
    """A new step; its id (shown once: only a hash is kept)."""
    sid, challenge = secrets.token_urlsafe(32), secrets.token_bytes(32)

    row = (hash_token(sid), user, bytes_to_base64url(challenge), method, issuer, id_token,
           _expiry())
    ex.store.write(lambda sql: stored.insert_step(sql, row, clock.now()))
    return sid


def peek(ex: Exchange, step_id: str) -> Step | None:
    row = ex.store.read(lambda sql: stored.step_row(sql, hash_token(step_id), clock.now())) \
        if step_id else None
    return None if row is None else Step(row[0], base64url_to_bytes(row[1]), row[2], row[3],
                                         row[4])


def take(ex: Exchange, step_id: str) -> Step:
    """A step, used once; AuthError when unknown or stale."""
    got = peek(ex, step_id)
    if got is None or not ex.store.write(
            lambda sql: stored.delete_step(sql, hash_token(step_id))):
        raise AuthError("this key sign-in is unknown or took too long; start again",
                        code="auth.key_step")
    return got


def _user(ex: Exchange, user_id: str) -> User:
    user = ex.store.user_by_id(user_id)
    if user is None:
        raise AuthError("unknown or revoked user", code="auth.bad_key")
    return user


def registration_options(ex: Exchange, step: Step, rp: Relying) -> str:
    """The browser's ``navigator.credentials.create`` options for the step's user."""
    assert step.user is not None
    user = _user(ex, step.user)
    member = ex.directory().members[user.member_id]
    opts = generate_registration_options(
        rp_id=rp.rp_id, rp_name=rp.name, user_id=user.id.encode(),
        user_name=f"{user.name}@{member.name}", challenge=step.challenge,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.id))
                             for k in keys(ex, user.id)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED))
    return options_to_json(opts)


def authentication_options(ex: Exchange, step: Step, rp: Relying) -> str:
    """``navigator.credentials.get`` options: the step user's keys, or (a key alone)
    any passkey of this node, with user verification."""
    allow = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.id))
             for k in keys(ex, step.user)] if step.user else []
    opts = generate_authentication_options(
        rp_id=rp.rp_id, challenge=step.challenge, allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED if step.user is None
        else UserVerificationRequirement.PREFERRED)
    return options_to_json(opts)


def register(ex: Exchange, step_id: str, user_id: str, credential: Any, name: str,
             rp: Relying, address: str = "", *, methods: tuple[str, ...] = ("register",)
             ) -> Key:
    """Verify a new key's attestation and keep it for the step's user (recorded). The
    step must have been opened for that user by one of ``methods`` (the Keys page's
    ``register``, or a first factor when the member requires keys)."""
    step = take(ex, step_id)
    if step.user != user_id or step.method not in methods:
        raise AuthError("this key sign-in is unknown or took too long; start again",
                        code="auth.key_step")
    name = " ".join(name.split())[:64] or "security key"
    user = _user(ex, user_id)
    if len(keys(ex, user.id)) >= MAX_KEYS:
        raise InputError(f"a user may hold at most {MAX_KEYS} keys", code="input.keys")
    try:
        got = verify_registration_response(
            credential=credential, expected_challenge=step.challenge,
            expected_rp_id=rp.rp_id, expected_origin=rp.origin)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise AuthError(f"the key's answer does not verify: {exc}",
                        code="auth.bad_key") from None
    key = Key(bytes_to_base64url(got.credential_id), name, clock.now())

    def write(sql: Sql) -> None:
        if stored.passkey_exists(sql, key.id):
            raise InputError("this key is registered already", code="input.keys")
        stored.insert_passkey(sql, (key.id, user.id, name, got.credential_public_key,
                                    got.sign_count, key.created))
        audit.record_in(sql, user.member_id, user.id, "key.added", f"key {name}", address)

    ex.store.write(write)
    return key


def remove(ex: Exchange, user_id: str, key_id: str, address: str = "") -> None:
    user = _user(ex, user_id)

    def write(sql: Sql) -> None:
        name = stored.passkey_name(sql, key_id, user.id)
        if name is None:
            raise NotFound("no such key", code="passkey.not_found")
        stored.delete_passkey(sql, key_id)
        audit.record_in(sql, user.member_id, user.id, "key.removed", f"key {name}", address)

    ex.store.write(write)


def authenticate(ex: Exchange, step_id: str, credential: Any, rp: Relying,
                 address: str = "") -> tuple[Actor, Step]:
    """Verify a key's assertion for a step: the actor it signs in, and the step."""
    step = take(ex, step_id)
    if step.method == "register":
        raise AuthError("this key sign-in is unknown or took too long; start again",
                        code="auth.key_step")
    got_id = credential.get("id") if isinstance(credential, dict) else None
    cred_id = got_id if isinstance(got_id, str) else ""
    row = ex.store.read(lambda sql: stored.passkey_row(sql, cred_id)) if cred_id else None
    if row is None or (step.user is not None and row[0] != step.user):
        if step.user is not None:
            user = ex.store.user_by_id(step.user)
            if user is not None:
                audit.record(ex, user.member_id, user.id, "signin.failed",
                             "auth.bad_key unknown key", address)
        raise AuthError("this key is not registered for this user", code="auth.bad_key")
    try:
        got = verify_authentication_response(
            credential=credential, expected_challenge=step.challenge,
            expected_rp_id=rp.rp_id, expected_origin=rp.origin,
            credential_public_key=bytes(row[1]), credential_current_sign_count=int(row[2]),
            require_user_verification=step.user is None)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        user = ex.store.user_by_id(str(row[0]))
        if user is not None:
            audit.record(ex, user.member_id, user.id, "signin.failed",
                         "auth.bad_key the key's answer does not verify", address)
        raise AuthError(f"the key's answer does not verify: {exc}",
                        code="auth.bad_key") from None
    ex.store.write(lambda sql: stored.set_sign_count(sql, cred_id, got.new_sign_count))
    return ex._actor_of(_user(ex, str(row[0])), "token"), step
