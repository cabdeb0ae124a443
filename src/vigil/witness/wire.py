"""The bodies of C2SP ``add-checkpoint`` (https://c2sp.org/tlog-witness).

Request::

    old <size>\\n
    <base64 hash>\\n        (0 to 63 consistency proof lines)
    \\n
    <signed checkpoint note>

Responses: 200 with one or more cosignature lines; 409 ``text/x.tlog.size`` with the
witness's held size and a newline; 400 malformed; 403 no trusted signature; 404 unknown
origin; 422 a consistency proof that does not verify.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from vigil.errors import InputError
from vigil.log.merkle import HASH_LEN
from vigil.log.note import NoteSignature, b64_decode_strict, parse_note

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
NOTE_CONTENT_TYPE = "text/plain; charset=utf-8"
MAX_REQUEST_BYTES = 1 << 16
_SIZE_RE = re.compile(r"^(?:0|[1-9][0-9]{0,18})$")

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "format_cosignatures",
    "format_request",
    "format_size",
    "parse_cosignatures",
    "parse_request",
    "parse_size",
]


def _bad(why: str) -> InputError:
    return InputError(f"bad add-checkpoint request: {why}", code="witness.bad_request")


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed request: the old size, the proof, and the checkpoint note as sent."""

    old: int
    proof: tuple[bytes, ...]
    note: str


def format_request(old: int, proof: Sequence[bytes], note: str) -> bytes:
    if len(proof) > MAX_PROOF_LINES:
        raise _bad(f"more than {MAX_PROOF_LINES} proof lines")
    lines = [f"old {old}\n"] + [base64.b64encode(h).decode("ascii") + "\n" for h in proof]
    return ("".join(lines) + "\n" + note).encode("utf-8")


def _size(text: str) -> int:
    if not _SIZE_RE.fullmatch(text) or int(text) > (1 << 63) - 1:
        raise _bad(f"bad size {text!r}")
    return int(text)


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse the request syntax; the checkpoint's signatures are not checked here."""
    if len(body) > MAX_REQUEST_BYTES:
        raise _bad("too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad("not UTF-8") from e
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise _bad("no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise _bad("the first line must be 'old <size>'")
    old = _size(lines[0][4:])
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise _bad(f"more than {MAX_PROOF_LINES} proof lines")
    proof: list[bytes] = []
    for line in proof_lines:
        try:
            h = b64_decode_strict(line)
        except ValueError as e:
            raise _bad("a proof line is not base64") from e
        if len(h) != HASH_LEN:
            raise _bad("a proof line is not a hash")
        proof.append(h)
    if old == 0 and proof:
        raise _bad("the proof must be empty when the old size is zero")
    parse_note(note)  # syntax only
    return AddCheckpoint(old, tuple(proof), note)


def format_size(size: int) -> bytes:
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    text = body.decode("ascii", "replace")
    if not text.endswith("\n"):
        raise _bad("a size body ends with a newline")
    return _size(text[:-1])


def format_cosignatures(sigs: Sequence[NoteSignature]) -> bytes:
    return "".join(s.line() for s in sigs).encode("utf-8")


def parse_cosignatures(body: bytes, checkpoint_text: str) -> list[NoteSignature]:
    """The signature lines of a 200 answer, parsed by appending them to the checkpoint
    text as the spec suggests (so the same strict note parser applies)."""
    try:
        lines = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad("the answer is not UTF-8") from e
    _, sigs = parse_note(checkpoint_text + "\n" + lines)
    return sigs
