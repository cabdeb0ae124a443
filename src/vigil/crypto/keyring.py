"""A member's keyring file: its signing key and its encryption key, encrypted under a
passphrase. New keyrings hold hybrid keys (``ed25519+mldsa65`` and ``mlkem768x25519``);
keyrings with classical keys (``ed25519`` and ``x25519``) are read as before.

File (UTF-8 JSON, mode 0600)::

    {"type": "vigil-keyring", "v": 1, "member": "identity--…",
     "sign_key": {"id": "ed25519+mldsa65:…", "public": b64u},
     "enc_key":  {"id": "mlkem768x25519:…",  "public": b64u},
     "kdf": {"name": "argon2id", "salt": b64u(16), "memory_kib": 19456,
             "iterations": 2, "lanes": 1},
     "cipher": {"name": "aes-256-gcm", "nonce": b64u(12), "ciphertext": b64u}}

``ciphertext = AES-256-GCM(kdf(passphrase), nonce, sign_private || enc_private,
aad = b"vigil/keyring/v1\\0" + JCS(file without "cipher"))``, each private key in the
raw form of its algorithm (named by its key id): ed25519 32 bytes, ed25519+mldsa65 64
(ML-DSA-65 seed || Ed25519), x25519 32, mlkem768x25519 96 (ML-KEM-768 seed || X25519).
``kdf`` may also be ``{"name": "scrypt", "salt", "n", "r", "p"}`` (written only where
``cryptography`` lacks Argon2id). The passphrase is UTF-8 after Unicode NFC
normalisation. An empty passphrase must be allowed explicitly (``allow_empty=True``),
e.g. for a keyring held by a demo node; services read the passphrase from the
environment variable ``VIGIL_KEYRING_PASSPHRASE`` (:func:`passphrase_from_env`).

Files are written atomically (a 0600 temporary file in the same directory, fsync,
then link or rename) and a file that grants any permission to group or others
(``mode & 0o077``) is refused on load with ``keyring.permissions``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.kem import load_enc_private
from vigil.crypto.keys import (
    ENC_ALGS,
    SIGN_ALGS,
    EncPrivate,
    SignPrivate,
    alg_of,
    enc_key_id,
    enc_public_raw,
    generate_enc_key,
    generate_sign_key,
    is_key_id,
    load_sign_private,
    sign_key_id,
    sign_public_raw,
)
from vigil.crypto.secretfile import write_secret_file
from vigil.errors import CryptoError, KeyringError

PASSPHRASE_ENV = "VIGIL_KEYRING_PASSPHRASE"
KEYRING_TYPE = "vigil-keyring"
KEYRING_AAD_PREFIX = b"vigil/keyring/v1\0"

# Argon2id at the OWASP baseline (19 MiB, 2 passes, 1 lane): ~60 ms here.
ARGON2_MEMORY_KIB = 19456
ARGON2_ITERATIONS = 2
ARGON2_LANES = 1
# Fallback when Argon2id is unavailable: ~130 ms here.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1

MAX_FILE_BYTES = 64 * 1024
_MEMBER_RE = re.compile(r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Keyring:
    """A member's private keys, decrypted."""

    member_id: str
    sign_private: SignPrivate = field(repr=False, compare=False)
    enc_private: EncPrivate = field(repr=False, compare=False)

    @classmethod
    def generate(cls, member_id: str, *, hybrid: bool = True) -> Keyring:
        """Fresh keys: hybrid (``ed25519+mldsa65``, ``mlkem768x25519``) unless
        ``hybrid`` is false (classical ``ed25519``, ``x25519``)."""
        _check_member(member_id)
        return cls(member_id, generate_sign_key(hybrid), generate_enc_key(hybrid))

    @property
    def sign_public(self) -> bytes:
        return sign_public_raw(self.sign_private)

    @property
    def sign_key_id(self) -> str:
        return sign_key_id(self.sign_private)

    @property
    def enc_public(self) -> bytes:
        return enc_public_raw(self.enc_private)

    @property
    def enc_key_id(self) -> str:
        return enc_key_id(self.enc_private)


def passphrase_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The passphrase in ``VIGIL_KEYRING_PASSPHRASE``, or None if the variable is unset."""
    return (os.environ if env is None else env).get(PASSPHRASE_ENV)


def _check_member(member_id: str) -> None:
    if not isinstance(member_id, str) or not _MEMBER_RE.fullmatch(member_id):
        raise KeyringError(
            f"member id must be identity--<uuid>, got {member_id!r}", code="keyring.malformed"
        )


def _passphrase_bytes(passphrase: str | bytes, allow_empty: bool) -> bytes:
    if isinstance(passphrase, str):
        data = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    elif isinstance(passphrase, bytes):
        data = passphrase
    else:
        raise KeyringError("passphrase must be str or bytes", code="keyring.bad_passphrase")
    if not data and not allow_empty:
        raise KeyringError(
            "empty keyring passphrase (pass allow_empty=True to allow it)",
            code="keyring.empty_passphrase",
        )
    return data


def _new_kdf_params() -> dict[str, Any]:
    salt = b64u(secrets.token_bytes(16))
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        Argon2id(salt=b"\0" * 16, length=32, iterations=1, lanes=1, memory_cost=8)
    except (ImportError, UnsupportedAlgorithm):
        return {"name": "scrypt", "salt": salt, "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
    return {
        "name": "argon2id",
        "salt": salt,
        "memory_kib": ARGON2_MEMORY_KIB,
        "iterations": ARGON2_ITERATIONS,
        "lanes": ARGON2_LANES,
    }


def _int_in(params: Mapping[str, Any], name: str, lo: int, hi: int) -> int:
    v = params.get(name)
    if type(v) is not int or not lo <= v <= hi:
        raise KeyringError(f"keyring kdf.{name} out of range", code="keyring.malformed")
    return v


def _derive(params: Mapping[str, Any], passphrase: bytes) -> bytes:
    """The 32-byte file key; parameter bounds stop a crafted file from costing too much."""
    try:
        salt = b64u_decode(params["salt"])
    except (KeyError, ValueError) as e:
        raise KeyringError("keyring kdf.salt malformed", code="keyring.malformed") from e
    if not 16 <= len(salt) <= 64:
        raise KeyringError("keyring kdf.salt malformed", code="keyring.malformed")
    name = params.get("name")
    if name == "argon2id" and set(params) == {"name", "salt", "memory_kib", "iterations", "lanes"}:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        try:
            return Argon2id(
                salt=salt,
                length=32,
                iterations=_int_in(params, "iterations", 1, 16),
                lanes=_int_in(params, "lanes", 1, 8),
                memory_cost=_int_in(params, "memory_kib", 8 * 8, 1024 * 1024),
            ).derive(passphrase)
        except UnsupportedAlgorithm as e:
            raise KeyringError("Argon2id is unavailable here", code="keyring.unsupported") from e
    if name == "scrypt" and set(params) == {"name", "salt", "n", "r", "p"}:
        n = _int_in(params, "n", 2**10, 2**20)
        if n & (n - 1):
            raise KeyringError("keyring kdf.n must be a power of 2", code="keyring.malformed")
        return Scrypt(
            salt=salt, length=32, n=n, r=_int_in(params, "r", 1, 32), p=_int_in(params, "p", 1, 4)
        ).derive(passphrase)
    raise KeyringError("keyring kdf unknown or malformed", code="keyring.malformed")


def _aad(public_part: Mapping[str, Any]) -> bytes:
    return KEYRING_AAD_PREFIX + canonical(public_part)


PRIVATE_LENS: dict[str, int] = {"ed25519": 32, "ed25519+mldsa65": 64, "x25519": 32,
                                "mlkem768x25519": 96}


def _private_raw(private: SignPrivate | EncPrivate) -> bytes:
    raw = getattr(private, "private_bytes_raw", None)
    if raw is None:
        raise KeyringError("a key held in a token cannot be written to a keyring file",
                           code="keyring.unsupported")
    data = raw()
    assert isinstance(data, bytes)
    return data


def _encode(keyring: Keyring, passphrase: bytes) -> bytes:
    public_part: dict[str, Any] = {
        "type": KEYRING_TYPE,
        "v": 1,
        "member": keyring.member_id,
        "sign_key": {"id": keyring.sign_key_id, "public": b64u(keyring.sign_public)},
        "enc_key": {"id": keyring.enc_key_id, "public": b64u(keyring.enc_public)},
        "kdf": _new_kdf_params(),
    }
    file_key = _derive(public_part["kdf"], passphrase)
    nonce = secrets.token_bytes(12)
    secret = _private_raw(keyring.sign_private) + _private_raw(keyring.enc_private)
    ct = AESGCM(file_key).encrypt(nonce, secret, _aad(public_part))
    doc = dict(public_part)
    doc["cipher"] = {"name": "aes-256-gcm", "nonce": b64u(nonce), "ciphertext": b64u(ct)}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _malformed(what: str) -> KeyringError:
    return KeyringError(f"keyring file malformed: {what}", code="keyring.malformed")


def _decode(data: bytes, passphrase: bytes) -> Keyring:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _malformed("not JSON") from e
    want = {"type", "v", "member", "sign_key", "enc_key", "kdf", "cipher"}
    if not isinstance(doc, dict) or set(doc) != want:
        raise _malformed("fields")
    if doc["type"] != KEYRING_TYPE or type(doc["v"]) is not int or doc["v"] != 1:
        raise _malformed("type or version")
    _check_member(doc["member"])
    for name in ("sign_key", "enc_key", "kdf", "cipher"):
        if not isinstance(doc[name], dict):
            raise _malformed(name)
    cipher = doc["cipher"]
    if set(cipher) != {"name", "nonce", "ciphertext"} or cipher["name"] != "aes-256-gcm":
        raise _malformed("cipher")
    try:
        nonce = b64u_decode(cipher["nonce"])
        ct = b64u_decode(cipher["ciphertext"])
        publics = {}
        for name in ("sign_key", "enc_key"):
            if set(doc[name]) != {"id", "public"}:
                raise _malformed(name)
            publics[name] = b64u_decode(doc[name]["public"])
    except ValueError as e:
        raise _malformed("base64url") from e
    sign_id, enc_id = doc["sign_key"]["id"], doc["enc_key"]["id"]
    if not (is_key_id(sign_id) and alg_of(sign_id) in SIGN_ALGS
            and is_key_id(enc_id) and alg_of(enc_id) in ENC_ALGS):
        raise _malformed("key ids")
    sign_len = PRIVATE_LENS[alg_of(sign_id)]
    if len(nonce) != 12 or len(ct) != sign_len + PRIVATE_LENS[alg_of(enc_id)] + 16:
        raise _malformed("cipher lengths")
    public_part = {k: v for k, v in doc.items() if k != "cipher"}
    file_key = _derive(doc["kdf"], passphrase)
    try:
        secret = AESGCM(file_key).decrypt(nonce, ct, _aad(public_part))
    except InvalidTag as e:
        raise KeyringError(
            "wrong keyring passphrase (or the file was altered)", code="keyring.bad_passphrase"
        ) from e
    try:
        ring = Keyring(
            doc["member"],
            load_sign_private(alg_of(sign_id), secret[:sign_len]),
            load_enc_private(alg_of(enc_id), secret[sign_len:]),
        )
    except CryptoError as e:
        raise _malformed("private keys") from e
    if (
        publics["sign_key"] != ring.sign_public
        or publics["enc_key"] != ring.enc_public
        or doc["sign_key"]["id"] != ring.sign_key_id
        or doc["enc_key"]["id"] != ring.enc_key_id
    ):
        raise _malformed("public keys do not match the private keys")
    return ring


def write_keyring(
    path: PathLike,
    keyring: Keyring,
    passphrase: str | bytes,
    *,
    allow_empty: bool = False,
    overwrite: bool = False,
) -> None:
    """Encrypt ``keyring`` under ``passphrase`` and write it to ``path`` (mode 0600).

    Atomic: a reader sees the old file or the new one, never a partial one. Without
    ``overwrite`` an existing file is left alone (``keyring.exists``).
    """
    _check_member(keyring.member_id)
    data = _encode(keyring, _passphrase_bytes(passphrase, allow_empty))
    try:
        write_secret_file(path, data, overwrite=overwrite)
    except FileExistsError as e:
        raise KeyringError(f"keyring {os.path.abspath(os.fspath(path))} already exists",
                           code="keyring.exists") from e
    except OSError as e:
        raise KeyringError(f"cannot write keyring: {e.strerror}", code="keyring.io") from e


def create_keyring(
    path: PathLike, member_id: str, passphrase: str | bytes, *, allow_empty: bool = False,
    hybrid: bool = True,
) -> Keyring:
    """Generate fresh keys for ``member_id`` (hybrid unless ``hybrid`` is false) and
    write them to a new file at ``path``."""
    ring = Keyring.generate(member_id, hybrid=hybrid)
    write_keyring(path, ring, passphrase, allow_empty=allow_empty)
    return ring


def load_keyring(path: PathLike, passphrase: str | bytes, *, allow_empty: bool = False) -> Keyring:
    """Read and decrypt a keyring file.

    Errors: ``keyring.not_found``, ``keyring.permissions`` (not a regular file, or any
    group/other permission bit set), ``keyring.malformed``, ``keyring.bad_passphrase``,
    ``keyring.empty_passphrase``, ``keyring.io``.
    A keyring whose keys live in a PKCS#11 token (``vigil-token-keyring``) needs no
    passphrase: it holds only the token's URI and the public keys.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as e:
        raise KeyringError(f"no keyring at {name}", code="keyring.not_found") from e
    except OSError as e:
        raise KeyringError(f"cannot read keyring: {e.strerror}", code="keyring.io") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyringError(f"{name} is not a regular file", code="keyring.permissions")
        if os.name == "posix" and st.st_mode & 0o077:
            raise KeyringError(
                f"keyring {name} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it",
                code="keyring.permissions",
            )
        if st.st_size > MAX_FILE_BYTES:
            raise _malformed("too large")
        chunks = []
        while chunk := os.read(fd, MAX_FILE_BYTES + 1):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_FILE_BYTES:
                raise _malformed("too large")
        data = b"".join(chunks)
    except OSError as e:
        raise KeyringError(f"cannot read keyring: {e.strerror}", code="keyring.io") from e
    finally:
        os.close(fd)
    if b'"vigil-token-keyring"' in data:
        return _decode_token(data)
    return _decode(data, _passphrase_bytes(passphrase, allow_empty))


# -- keys in a PKCS#11 token ------------------------------------------------------------
TOKEN_KEYRING_TYPE = "vigil-token-keyring"


def create_token_keyring(path: PathLike, member_id: str, uri: str, *,
                         hybrid: bool = False) -> Keyring:
    """Make a member's keys inside the PKCS#11 token ``uri`` names (RFC 7512) and write
    a keyring file that holds only the URI (without ``pin-value``) and the public keys::

        {"type": "vigil-token-keyring", "v": 1, "member": "identity--…",
         "uri": "pkcs11:token=…;object=…", "sign_key": {"id", "public"},
         "enc_key": {"id", "public"}}
    """
    from vigil.crypto import pkcs11

    _check_member(member_id)
    sign, enc = pkcs11.create_keys(uri, hybrid=hybrid)
    ring = Keyring(member_id, sign, enc)
    doc = {"type": TOKEN_KEYRING_TYPE, "v": 1, "member": member_id,
           "uri": pkcs11.parse_uri(uri).without_secrets(),
           "sign_key": {"id": ring.sign_key_id, "public": b64u(ring.sign_public)},
           "enc_key": {"id": ring.enc_key_id, "public": b64u(ring.enc_public)}}
    try:
        write_secret_file(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    except FileExistsError as e:
        raise KeyringError(f"keyring {os.path.abspath(os.fspath(path))} already exists",
                           code="keyring.exists") from e
    return ring


def is_token_keyring(path: PathLike) -> bool:
    """Is the file at ``path`` a keyring whose keys live in a token (no passphrase)?"""
    try:
        with open(path, "rb") as f:
            return b'"vigil-token-keyring"' in f.read(MAX_FILE_BYTES)
    except OSError:
        return False


def _decode_token(data: bytes) -> Keyring:
    from vigil.crypto import pkcs11

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _malformed("not JSON") from e
    if not isinstance(doc, dict) or set(doc) != {"type", "v", "member", "uri", "sign_key",
                                                 "enc_key"} or doc["v"] != 1:
        raise _malformed("fields")
    _check_member(doc["member"])
    sign, enc = pkcs11.open_keys(str(doc["uri"]))  # the PIN: pin-source or the environment
    ring = Keyring(doc["member"], sign, enc)
    if doc["sign_key"].get("id") != ring.sign_key_id or \
            doc["enc_key"].get("id") != ring.enc_key_id:
        raise _malformed("the token's keys are not the ones the file names")
    return ring
