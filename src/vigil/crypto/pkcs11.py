"""Keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2 in tests).

A token is named by an RFC 7512 ``pkcs11:`` URI, e.g.
``pkcs11:token=vigil;object=alpha?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin``.
Path attributes used: ``token`` (label), ``serial``, ``manufacturer``, ``model`` (to
pick the token) and ``object`` (the label prefix of the member's keys). Query
attributes: ``module-path`` (else ``$VIGIL_PKCS11_MODULE``), ``pin-value`` or
``pin-source`` (``file:`` path; else ``$VIGIL_PKCS11_PIN``).

A member's token keys are two key pairs made inside the token, never extractable:
``<object>/sign`` (Ed25519, ``CKM_EDDSA``) and ``<object>/enc`` (X25519, derived with
``CKM_ECDH1_DERIVE``). Signing sends the message to the token. Unwrapping runs HPKE
(RFC 9180) base mode DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM -- the
``x25519`` suite -- with the one Diffie-Hellman step done by the token: the shared
secret leaves the token (as it must for HPKE), the private key never does.

Tokens in the field (and SoftHSM2 2.6) have no ML-DSA or ML-KEM mechanisms, so token
keys use the classical suites; asking for the hybrid suites raises
``hsm.unsupported``. Keys exist only as handles here: nothing in this module can
read a private value.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from vigil.errors import CryptoError

MODULE_ENV = "VIGIL_PKCS11_MODULE"
PIN_ENV = "VIGIL_PKCS11_PIN"
ED25519_OID = "1.3.101.112"
X25519_OID = "1.3.101.110"
_TOKEN_ATTRS = ("token", "serial", "manufacturer", "model")


class TokenError(CryptoError):
    code = "hsm.token"


@dataclass(frozen=True, slots=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI (only the attributes vigil uses)."""

    path: Mapping[str, str]
    query: Mapping[str, str]

    @property
    def object(self) -> str:
        return self.path.get("object", "")

    def module(self) -> str:
        got = self.query.get("module-path") or os.environ.get(MODULE_ENV, "")
        if not got:
            raise TokenError("the pkcs11 URI names no module-path (nor is "
                             f"{MODULE_ENV} set)", code="hsm.bad_uri")
        return got

    def pin(self) -> str | None:
        if "pin-value" in self.query:
            return self.query["pin-value"]
        source = self.query.get("pin-source")
        if source:
            path = source.removeprefix("file:")
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read().strip()
            except OSError as e:
                raise TokenError(f"cannot read the token PIN from {path}: {e.strerror}",
                                 code="hsm.bad_uri") from e
        return os.environ.get(PIN_ENV)

    def without_secrets(self) -> str:
        """The URI with ``pin-value`` left out (what may be written to a file)."""
        return format_uri(self.path, {k: v for k, v in self.query.items() if k != "pin-value"})


def _pct(value: str) -> str:
    out = []
    for ch in value:
        if ch.isalnum() or ch in "-._~:[]@!$'()*+,=&/":
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def format_uri(path: Mapping[str, str], query: Mapping[str, str]) -> str:
    text = "pkcs11:" + ";".join(f"{k}={_pct(v).replace(';', '%3B')}" for k, v in path.items())
    if query:
        text += "?" + "&".join(f"{k}={_pct(v).replace('&', '%26')}" for k, v in query.items())
    return text


def parse_uri(text: str) -> Pkcs11Uri:
    """Parse a ``pkcs11:`` URI (``hsm.bad_uri`` if it is not one)."""
    if not isinstance(text, str) or not text.startswith("pkcs11:"):
        raise TokenError("a token is named by a pkcs11: URI (RFC 7512)", code="hsm.bad_uri")
    body = text[len("pkcs11:"):]
    path_part, _, query_part = body.partition("?")

    def pairs(part: str, sep: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in filter(None, part.split(sep)):
            name, eq, value = item.partition("=")
            if not eq or not name or name in out:
                raise TokenError(f"malformed pkcs11 URI attribute {item!r}",
                                 code="hsm.bad_uri")
            out[name] = unquote(value)
        return out

    path, query = pairs(path_part, ";"), pairs(query_part, "&")
    if not path.get("object"):
        raise TokenError("the pkcs11 URI must name an object (the key label)",
                         code="hsm.bad_uri")
    return Pkcs11Uri(path, query)


_libs: dict[str, Any] = {}
_lock = threading.RLock()


class Token:
    """A logged-in session on one token, shared by the keys on it (PKCS#11 sessions are
    not safe for concurrent use, so each call holds a lock)."""

    def __init__(self, uri: Pkcs11Uri) -> None:
        try:
            import pkcs11
        except ImportError as e:  # pragma: no cover - python-pkcs11 is a dependency
            raise TokenError("python-pkcs11 is not installed", code="hsm.unavailable") from e
        self._p11 = pkcs11
        module = uri.module()
        with _lock:
            lib = _libs.get(module)
            if lib is None:
                try:
                    lib = _libs[module] = pkcs11.lib(module)
                except (RuntimeError, OSError, pkcs11.PKCS11Error) as e:
                    raise TokenError(f"cannot load the PKCS#11 module {module}",
                                     code="hsm.unavailable") from e
        want = {("label" if k == "token" else k): v for k, v in uri.path.items()
                if k in _TOKEN_ATTRS}
        tokens = [t for t in lib.get_tokens()
                  if all(str(getattr(t, k, "")).strip() == v for k, v in want.items())]
        if len(tokens) != 1:
            raise TokenError(f"{len(tokens)} tokens match {want}", code="hsm.no_token")
        try:
            try:
                self.session = tokens[0].open(user_pin=uri.pin(), rw=True)
            except pkcs11.UserAlreadyLoggedIn:  # another session of this process is
                self.session = tokens[0].open(rw=True)
        except pkcs11.PKCS11Error as e:
            raise TokenError(f"cannot log in to the token: {type(e).__name__}",
                             code="hsm.login") from e
        self.lock = threading.RLock()

    @contextmanager
    def calls(self) -> Iterator[Any]:
        with self.lock:
            try:
                yield self.session
            except self._p11.PKCS11Error as e:
                raise TokenError(f"the token refused: {type(e).__name__}",
                                 code="hsm.token") from e

    def find(self, label: str, cls: Any) -> Any:
        with self.calls() as s:
            found = list(s.get_objects({self._p11.Attribute.LABEL: label,
                                        self._p11.Attribute.CLASS: cls}))
        if len(found) != 1:
            raise TokenError(f"{len(found)} objects labelled {label!r} on the token",
                             code="hsm.no_key")
        return found[0]

    def generate(self, label: str, curve_oid: str, *, derive: bool) -> bytes:
        """A new key pair in the token (private part sensitive, never extractable); its
        raw 32-byte public key."""
        p11 = self._p11
        from pkcs11.util.ec import encode_named_curve_parameters

        Attr = p11.Attribute
        for cls in (p11.ObjectClass.PUBLIC_KEY, p11.ObjectClass.PRIVATE_KEY):
            with self.calls() as s:
                if list(s.get_objects({Attr.LABEL: label, Attr.CLASS: cls})):
                    raise TokenError(f"the token already holds a key labelled {label!r}",
                                     code="hsm.exists")
        caps = p11.MechanismFlag.DERIVE if derive else \
            p11.MechanismFlag.SIGN | p11.MechanismFlag.VERIFY
        with self.calls() as s:
            params = s.create_domain_parameters(
                p11.KeyType.EC_EDWARDS,
                {Attr.EC_PARAMS: encode_named_curve_parameters(curve_oid)}, local=True)
            pub, _ = params.generate_keypair(
                store=True, label=label, capabilities=caps,
                private_template={Attr.SENSITIVE: True, Attr.EXTRACTABLE: False})
            point = bytes(pub[Attr.EC_POINT])
        return _raw_point(point)

    def has(self, label: str) -> bool:
        """Does the token hold a key pair labelled ``label``?"""
        p11 = self._p11
        with self.calls() as s:
            return all(list(s.get_objects({p11.Attribute.LABEL: label,
                                           p11.Attribute.CLASS: cls}))
                       for cls in (p11.ObjectClass.PUBLIC_KEY, p11.ObjectClass.PRIVATE_KEY))

    def public_raw(self, label: str) -> bytes:
        pub = self.find(label, self._p11.ObjectClass.PUBLIC_KEY)
        with self.calls():
            return _raw_point(bytes(pub[self._p11.Attribute.EC_POINT]))


def _raw_point(point: bytes) -> bytes:
    # CKA_EC_POINT is a DER OCTET STRING (04 20 || 32 bytes) on most tokens
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise TokenError("the token's public key is not a 32-byte curve point",
                     code="hsm.token")


_tokens: dict[str, Token] = {}


def token(uri: Pkcs11Uri) -> Token:
    """One logged-in session per token per process."""
    key = repr(sorted((k, v) for k, v in uri.path.items() if k in _TOKEN_ATTRS)) \
        + uri.module()
    with _lock:
        got = _tokens.get(key)
        if got is None:
            got = _tokens[key] = Token(uri)
        return got


def sign_label(uri: Pkcs11Uri) -> str:
    return uri.object + "/sign"


def enc_label(uri: Pkcs11Uri) -> str:
    return uri.object + "/enc"


@dataclass(frozen=True, slots=True)
class RawPublic:
    raw: bytes

    def public_bytes_raw(self) -> bytes:
        return self.raw


@dataclass(frozen=True, slots=True)
class TokenSignKey:
    """An Ed25519 signing key in a token: :class:`vigil.crypto.keys.SignPrivate`."""

    tok: Token = field(repr=False)
    label: str
    public_raw: bytes

    def sign(self, data: bytes) -> bytes:
        key = self.tok.find(self.label, self.tok._p11.ObjectClass.PRIVATE_KEY)
        with self.tok.calls():
            sig = key.sign(bytes(data), mechanism=self.tok._p11.Mechanism.EDDSA)
        return bytes(sig)

    def public_key(self) -> RawPublic:
        return RawPublic(self.public_raw)


@dataclass(frozen=True, slots=True)
class TokenEncKey:
    """An X25519 recipient key in a token: opens ``x25519`` HPKE wraps."""

    tok: Token = field(repr=False)
    label: str
    public_raw: bytes

    def public_key(self) -> RawPublic:
        return RawPublic(self.public_raw)

    def exchange(self, peer_public: bytes) -> bytes:
        """X25519(private, peer_public), computed by the token."""
        p11 = self.tok._p11
        key = self.tok.find(self.label, p11.ObjectClass.PRIVATE_KEY)
        with self.tok.calls():
            secret = key.derive_key(
                p11.KeyType.GENERIC_SECRET, 256, mechanism=p11.Mechanism.ECDH1_DERIVE,
                mechanism_param=(p11.KDF.NULL, None, bytes(peer_public)),
                store=False,
                template={p11.Attribute.SENSITIVE: False, p11.Attribute.EXTRACTABLE: True})
            value = bytes(secret[p11.Attribute.VALUE])
        if len(value) != 32 or value == bytes(32):
            raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed")
        return value

    def hpke_open(self, blob: bytes, info: bytes) -> bytes:
        return hpke_x25519_open(blob, self.exchange, self.public_raw, info)


# -- RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM ------------
_KEM_ID, _KDF_ID, _AEAD_ID = 0x0020, 0x0001, 0x0001
_KEM_SUITE = b"KEM" + _KEM_ID.to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + _KEM_ID.to_bytes(2, "big") + _KDF_ID.to_bytes(2, "big") \
    + _AEAD_ID.to_bytes(2, "big")


def _extract(salt: bytes, ikm: bytes) -> bytes:
    h = hmac.HMAC(salt or bytes(32), hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, n.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info, n)


def hpke_x25519_open(blob: bytes, dh: Any, recipient_public: bytes, info: bytes) -> bytes:
    """Open ``enc || ciphertext`` (the ``x25519`` suite) with ``dh(enc)`` computing the
    recipient's X25519 shared secret (a token, or a key in memory for the tests)."""
    if len(blob) < 32 + 16:
        raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed")
    enc, ct = bytes(blob[:32]), bytes(blob[32:])
    shared_dh = dh(enc)
    kem_context = enc + bytes(recipient_public)
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", shared_dh)
    shared = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", kem_context, 32)
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", bytes(info))
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 16)
    nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    try:
        return AESGCM(key).decrypt(nonce, ct, b"")
    except InvalidTag as e:
        raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed") from e


def memory_dh(private: X25519PrivateKey) -> Any:
    """``dh`` for :func:`hpke_x25519_open` with a key in memory (tests, vectors)."""
    return lambda enc: private.exchange(X25519PublicKey.from_public_bytes(enc))


def create_keys(uri_text: str, *, hybrid: bool = False) -> tuple[TokenSignKey, TokenEncKey]:
    """A member's two key pairs in the token the URI names: made there, or, when the
    token already holds both (made or imported by its own tools), taken as they are."""
    if hybrid:
        raise CryptoError("PKCS#11 tokens here have no ML-DSA or ML-KEM mechanisms: token "
                          "keys use the classical suites (ed25519, x25519)",
                          code="hsm.unsupported")
    uri = parse_uri(uri_text)
    tok = token(uri)
    have = [tok.has(label) for label in (sign_label(uri), enc_label(uri))]
    if all(have):  # keys the token's own tools made (or imported): taken as they are
        return open_keys(uri_text)
    if any(have):
        raise TokenError(f"the token holds only one of {uri.object}/sign and "
                         f"{uri.object}/enc", code="hsm.exists")
    sign_pub = tok.generate(sign_label(uri), ED25519_OID, derive=False)
    enc_pub = tok.generate(enc_label(uri), X25519_OID, derive=True)
    return (TokenSignKey(tok, sign_label(uri), sign_pub),
            TokenEncKey(tok, enc_label(uri), enc_pub))


def open_keys(uri_text: str) -> tuple[TokenSignKey, TokenEncKey]:
    """A member's two keys in the token the URI names (found by label)."""
    uri = parse_uri(uri_text)
    tok = token(uri)
    return (TokenSignKey(tok, sign_label(uri), tok.public_raw(sign_label(uri))),
            TokenEncKey(tok, enc_label(uri), tok.public_raw(enc_label(uri))))


def open_sign_key(uri_text: str) -> TokenSignKey:
    uri = parse_uri(uri_text)
    tok = token(uri)
    return TokenSignKey(tok, sign_label(uri), tok.public_raw(sign_label(uri)))


def create_sign_key(uri_text: str) -> TokenSignKey:
    uri = parse_uri(uri_text)
    tok = token(uri)
    return TokenSignKey(tok, sign_label(uri),
                        tok.generate(sign_label(uri), ED25519_OID, derive=False))


def forget_tokens() -> None:
    """Close every token session this process opened (tests; a token re-initialised)."""
    with _lock:
        for tok in _tokens.values():
            with contextlib.suppress(Exception):
                tok.session.close()
        _tokens.clear()
