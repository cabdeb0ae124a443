"""C2SP ``cosignature/v1`` (https://c2sp.org/tlog-cosignature), Ed25519 only.

A cosignature is a signed-note signature line ``— <name> base64(key id || timestamp ||
signature)`` on a checkpoint:

- key id = ``SHA-256(name || "\\n" || 0x04 || 32-byte public key)[:4]``;
- ``timestamp`` = u64 big-endian POSIX seconds (at most 2^63 - 1);
- ``signature`` = Ed25519 over ``"cosignature/v1\\ntime <T>\\n" || note body`` (the whole
  checkpoint text, final newline included, no signature lines).

The statement: "at time T, the largest consistent tree I have seen of this origin has
this root". Verifier keys (vkeys) use signature type 0x04.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidSignature

from vigil.crypto.keys import SignPrivate, ed25519_public
from vigil.errors import CryptoError, InputError
from vigil.log.note import (
    KEY_ID_LEN,
    NoteSignature,
    b64_decode_strict,
    check_key_name,
    check_text,
    parse_note,
)

SIG_TYPE_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = (1 << 63) - 1
SIG_LEN = 8 + 64

__all__ = [
    "cosign",
    "cosignature_key_id",
    "cosignature_timestamp",
    "cosignature_vkey",
    "cosigned_message",
    "cosigners",
    "node_of_origin",
    "parse_cosignature_vkey",
    "verify_cosignature",
]


def node_of_origin(origin: str) -> str:
    """The node a log origin names: its last path segment (``node--<uuid>``)."""
    return origin.rsplit("/", 1)[-1]


def cosignature_key_id(name: str, public_raw: bytes) -> bytes:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""
    check_key_name(name)
    public = ed25519_public(public_raw).public_bytes_raw()
    digest = hashlib.sha256(
        name.encode() + b"\n" + bytes([SIG_TYPE_COSIGNATURE_V1]) + public).digest()
    return digest[:KEY_ID_LEN]


def cosignature_vkey(name: str, public_raw: bytes) -> str:
    """The verifier key of a cosigner: ``<name>+<hex key id>+<base64(0x04 || pub)>``."""
    import base64

    key_id = cosignature_key_id(name, public_raw)
    material = base64.b64encode(bytes([SIG_TYPE_COSIGNATURE_V1]) + bytes(public_raw))
    return f"{name}+{key_id.hex()}+{material.decode('ascii')}"


def parse_cosignature_vkey(text: str) -> tuple[str, bytes]:
    """``(name, raw public key)`` of a cosignature/v1 verifier key (type 0x04)."""
    parts = text.split("+", 2) if isinstance(text, str) else []
    bad = InputError("bad cosigner verifier key", code="witness.bad_key")
    if len(parts) != 3 or len(parts[1]) != 2 * KEY_ID_LEN:
        raise bad
    name, key_hex, material = parts
    try:
        key = b64_decode_strict(material)
        key_id = bytes.fromhex(key_hex)
    except ValueError as e:
        raise bad from e
    if key_hex != key_id.hex() or len(key) != 33 or key[0] != SIG_TYPE_COSIGNATURE_V1:
        raise bad
    if cosignature_key_id(name, key[1:]) != key_id:
        raise bad
    return name, key[1:]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The signed bytes: the header line, ``time <T>``, then the checkpoint text."""
    check_text(body)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) \
            or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InputError(f"bad cosignature timestamp {timestamp!r}", code="witness.bad_time")
    return f"{HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, name: str, private: SignPrivate, timestamp: int) -> NoteSignature:
    """The cosignature of checkpoint text ``body`` by ``(name, private)`` at ``timestamp``."""
    public = private.public_key().public_bytes_raw()
    sig = private.sign(cosigned_message(body, timestamp))
    return NoteSignature(name, cosignature_key_id(name, public),
                         struct.pack(">Q", timestamp) + sig)


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The timestamp a cosignature carries (not verified)."""
    if len(sig.signature) != SIG_LEN:
        raise CryptoError("not a cosignature/v1 signature", code="witness.bad_cosignature")
    value: int = struct.unpack(">Q", sig.signature[:8])[0]
    if value > MAX_TIMESTAMP:
        raise CryptoError("cosignature timestamp out of range", code="witness.bad_cosignature")
    return value


def verify_cosignature(body: str, sig: NoteSignature, name: str, public_raw: bytes) -> int:
    """Check that ``sig`` is ``(name, public_raw)``'s cosignature on ``body``; its time."""
    if sig.name != name or sig.key_id != cosignature_key_id(name, public_raw):
        raise CryptoError(f"not a cosignature by {name}", code="witness.bad_cosignature")
    timestamp = cosignature_timestamp(sig)
    try:
        ed25519_public(public_raw).verify(sig.signature[8:], cosigned_message(body, timestamp))
    except InvalidSignature as e:
        raise CryptoError(f"bad cosignature by {name}", code="witness.bad_cosignature") from e
    return timestamp


def cosigners(note: str | bytes | tuple[str, Sequence[NoteSignature]],
              witnesses: Mapping[str, bytes]) -> dict[str, int]:
    """The witnesses (``{name: public key}``) with a valid cosignature on ``note``, each
    with its timestamp. Lines of unknown keys are ignored, as the spec says; a line that
    names a known witness but does not verify is ignored too (it proves nothing)."""
    body, sigs = parse_note(note) if not isinstance(note, tuple) else note
    found: dict[str, int] = {}
    for sig in sigs:
        public = witnesses.get(sig.name)
        if public is None or sig.name in found:
            continue
        try:
            found[sig.name] = verify_cosignature(body, sig, sig.name, public)
        except CryptoError:
            continue
    return found
