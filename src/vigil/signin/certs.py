"""Client certificates standing for users, as agencies do with smart cards.

A node that terminates TLS itself (``vigil serve --tls-cert … --tls-key …
--tls-client-ca …``) asks clients for a certificate issued by the client CA; a
certificate it verified identifies a user when a mapping names it, by the SHA-256 pin
of its public key (``sha256/<base64>``, as HTTP public-key pinning writes it) or by its
subject (RFC 4514, e.g. ``CN=ops,O=CERT-EE``). The user acts with its token's scope and
expiry; a revoked mapping, a revoked user or an inactive member answers 401 like an
unknown token. An Authorization header, when sent, is used instead of the certificate.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from vigil import clock
from vigil.crypto.pins import spki_pin
from vigil.errors import AuthError, Conflict, InputError, NotFound
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.signin import audit
from vigil.signin.users import _user_id, bump_epoch
from vigil.storage import signin as stored
from vigil.storage.base import Sql

KINDS = ("spki", "subject")


@dataclass(frozen=True, slots=True)
class CertMapping:
    id: str
    user: str
    kind: str
    value: str
    created: str
    revoked: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "kind": self.kind, "value": self.value,
                "created": self.created, "revoked": self.revoked}


def subject_of(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _check(kind: str, value: str) -> str:
    if kind == "spki":
        raw = value.removeprefix("sha256/")
        try:
            ok = len(base64.b64decode(raw, validate=True)) == 32
        except ValueError:
            ok = False
        if not ok:
            raise InputError("an SPKI pin is sha256/<base64 of 32 bytes>",
                             code="input.spki_pin", pointer="/spki_pin")
        return "sha256/" + raw
    if kind == "subject":
        try:
            return x509.Name.from_rfc4514_string(value).rfc4514_string()
        except ValueError as exc:
            raise InputError(f"{value!r} is not an RFC 4514 name", code="input.subject",
                             pointer="/subject") from exc
    raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}", code="input.cert_kind")


def add(ex: Exchange, member_ref: str, user_ref: str, kind: str, value: str,
        by: str | None = None) -> str:
    """Map a certificate (by SPKI pin or subject) to a user; the mapping's id."""
    member = ex.member(member_ref)
    value = _check(kind, value)
    cid = f"cert--{uuid.uuid4()}"

    def write(sql: Sql) -> str:
        uid = _user_id(sql, member.id, user_ref)
        if stored.cert_taken(sql, kind, value):
            raise Conflict(f"that {kind} already stands for a user", code="cert.exists")
        stored.insert_cert(sql, cid, uid, kind, value, clock.now())
        audit.record_in(sql, member.id, uid, "certificate.added",
                        f"{kind} {value}" + (f", by {by}" if by else ""))
        return cid

    return ex.store.write(write)


def revoke(ex: Exchange, member_ref: str, cert_id: str, by: str | None = None) -> None:
    """Revoke a certificate mapping: the certificate no longer signs anyone in."""
    member = ex.member(member_ref)

    def write(sql: Sql) -> None:
        uid = stored.live_cert_user(sql, cert_id, member.id)
        if uid is None:
            raise NotFound(f"no live certificate mapping {cert_id}", code="cert.not_found")
        stored.revoke_cert(sql, cert_id)
        bump_epoch(sql)
        audit.record_in(sql, member.id, uid, "certificate.revoked",
                        cert_id + (f", by {by}" if by else ""))

    ex.store.write(write)


def mappings(ex: Exchange, member_ref: str) -> list[CertMapping]:
    member = ex.member(member_ref)
    rows = ex.store.read(lambda sql: stored.certs_of(sql, member.id))
    return [CertMapping(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


def authenticate(ex: Exchange, der: bytes) -> Actor:
    """The actor a verified client certificate (DER) stands for."""
    cert = x509.load_der_x509_certificate(der)
    keys = (("spki", spki_pin(cert)), ("subject", subject_of(cert)))
    token_hash = ex.store.read(lambda sql: stored.token_hash_for_cert(sql, keys))
    if token_hash is None:
        raise AuthError("no user for this client certificate", code="auth.bad_cert")
    user = ex.store.user_by_token_hash(token_hash)
    return ex._actor_of(user, "cert")
