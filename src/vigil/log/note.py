"""C2SP signed notes (https://c2sp.org/signed-note), Ed25519 signatures only.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more
signature lines ``— <key name> <base64(key id || signature)>``. The key id is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` and the Ed25519 signature is
over the note text bytes, final newline included. This module is byte-for-byte
compatible with Go's ``golang.org/x/mod/sumdb/note`` (tested against its vectors), so
any signed-note tool can check what vigil signs.

Parsing is strict: valid UTF-8, no control character but newline, no NUL (which is what
keeps note signatures apart from vigil's tagged signatures, see
:mod:`vigil.log.checkpoint`), canonical base64, at most :data:`MAX_SIGNATURES`
signatures. Verification follows the spec: signature lines of other keys are ignored;
every line that names the expected key (name and key id) must verify, and at least one
must be there.

Errors: ``InputError`` ``log.bad_note`` for malformed notes, names and keys;
``CryptoError`` ``log.bad_signature`` when a signature of the expected key fails and
``log.unsigned`` when the note carries none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from vigil.crypto.keys import SignPrivate, ed25519_public
from vigil.errors import CryptoError, InputError

SIG_TYPE_ED25519 = 0x01
KEY_ID_LEN = 4
ED25519_SIG_LEN = 64
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
SIG_PREFIX = "\u2014 "  # em dash, space

__all__ = [
    "MAX_SIGNATURES",
    "NoteSignature",
    "b64_decode_strict",
    "check_key_name",
    "check_signatures",
    "check_text",
    "format_note",
    "note_key_id",
    "parse_note",
    "parse_vkey",
    "sign_note",
    "verify_note",
    "vkey",
]


def _malformed(why: str) -> InputError:
    return InputError(f"malformed signed note: {why}", code="log.bad_note")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64_decode_strict(text: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), only its one canonical form.

    Raises ``ValueError`` otherwise (no whitespace, no junk bits, no missing padding).
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise ValueError("not base64") from e
    if _b64(data) != text:
        raise ValueError("non-canonical base64")
    return data


def check_key_name(name: object) -> str:
    """A key name: non-empty, no Unicode space, no ``+``, no control character."""
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(c.isspace() or c < " " or c == "\x7f" or "\ud800" <= c <= "\udfff" for c in name)
    ):
        raise _malformed(f"bad key name {name!r}")
    return name


def check_text(text: object) -> str:
    """A note text: non-empty UTF-8 ending in a newline, no control character but newline."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise _malformed("the text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise _malformed("control character in the text")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise _malformed("the text is not valid UTF-8") from e
    if size > MAX_NOTE_BYTES:
        raise _malformed("note too large")
    return text


def note_key_id(name: str, public_raw: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 note key: ``SHA-256(name || 0x0A || 0x01 || pub)[:4]``."""
    check_key_name(name)
    public = ed25519_public(public_raw).public_bytes_raw()
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([SIG_TYPE_ED25519]) + public).digest()
    return digest[:KEY_ID_LEN]


def vkey(name: str, public_raw: bytes) -> str:
    """The verifier key string other tools take: ``<name>+<hex key id>+<base64(0x01 || pub)>``."""
    key_id = note_key_id(name, public_raw)
    return f"{name}+{key_id.hex()}+{_b64(bytes([SIG_TYPE_ED25519]) + bytes(public_raw))}"


def parse_vkey(text: str) -> tuple[str, bytes]:
    """Parse a verifier key string (Ed25519 only) into ``(name, raw public key)``."""
    parts = text.split("+", 2) if isinstance(text, str) else []
    if len(parts) != 3 or len(parts[1]) != 2 * KEY_ID_LEN:
        raise _malformed("bad verifier key")
    name, key_hex, material = parts
    try:
        key = b64_decode_strict(material)
        key_id = bytes.fromhex(key_hex)
    except ValueError as e:
        raise _malformed("bad verifier key") from e
    if key_hex != key_id.hex() or len(key) != 33 or key[0] != SIG_TYPE_ED25519:
        raise _malformed("bad verifier key (only Ed25519 keys are supported)")
    public = key[1:]
    if note_key_id(name, public) != key_id:
        raise _malformed("verifier key id does not match its name and key")
    return name, public


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the key name, the 4-byte key id and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, with its final newline."""
        return f"{SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


def format_note(text: str, signatures: Sequence[NoteSignature]) -> str:
    """The signed note: ``text``, a blank line, the signature lines."""
    check_text(text)
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise _malformed(f"a note needs 1 to {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(s.line() for s in signatures)


def sign_note(text: str, key_name: str, private: SignPrivate) -> NoteSignature:
    """Sign the note ``text`` (Ed25519 over its UTF-8 bytes) as key ``key_name``."""
    check_text(text)
    key_id = note_key_id(key_name, private.public_key().public_bytes_raw())
    return NoteSignature(key_name, key_id, private.sign(text.encode("utf-8")))


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        raise _malformed("a signature line must start with an em dash and a space")
    name, sep, blob = line[len(SIG_PREFIX) :].partition(" ")
    if not sep:
        raise _malformed("bad signature line")
    check_key_name(name)
    try:
        raw = b64_decode_strict(blob)
    except ValueError as e:
        raise _malformed("bad signature encoding") from e
    if len(raw) <= KEY_ID_LEN:
        raise _malformed("signature too short")
    return NoteSignature(name, raw[:KEY_ID_LEN], raw[KEY_ID_LEN:])


def parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its signatures, checking syntax only.

    Nothing is verified: the text must be ignored unless :func:`verify_note` accepts it.
    """
    if isinstance(note, bytes | bytearray):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as e:
            raise _malformed("not valid UTF-8") from e
    if not isinstance(note, str):
        raise _malformed("a note is text")
    if len(note) > MAX_NOTE_BYTES:
        raise _malformed("note too large")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise _malformed("no blank line before the signatures")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    check_text(text)
    if not sigs.endswith("\n") or any(c < " " and c != "\n" for c in sigs):
        raise _malformed("bad signature lines")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature(line) for line in lines]


def verify_note(note: str | bytes, key_name: str, public_raw: bytes) -> str:
    """Return the text of ``note`` if it is signed by the Ed25519 key ``(key_name, public_raw)``.

    Signatures of other keys are ignored; every signature of this key must verify.
    """
    text, signatures = parse_note(note)
    check_signatures(text, signatures, key_name, public_raw)
    return text


def check_signatures(
    text: str, signatures: Sequence[NoteSignature], key_name: str, public_raw: bytes
) -> None:
    """Check the signatures of a parsed note (:func:`parse_note`) as :func:`verify_note` does."""
    public = ed25519_public(public_raw)
    key_id = note_key_id(key_name, public_raw)
    data = text.encode("utf-8")
    found = False
    for sig in signatures:
        if sig.name != key_name or sig.key_id != key_id:
            continue
        found = True
        if len(sig.signature) != ED25519_SIG_LEN:
            raise CryptoError(f"bad signature by {key_name}", code="log.bad_signature")
        try:
            public.verify(sig.signature, data)
        except InvalidSignature as e:
            raise CryptoError(f"bad signature by {key_name}", code="log.bad_signature") from e
    if not found:
        raise CryptoError(f"the note is not signed by {key_name}", code="log.unsigned")
