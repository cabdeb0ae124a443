"""Signed checkpoints of a vigil log, in the C2SP tlog-checkpoint form, and fork evidence.

A checkpoint is a C2SP signed note (:mod:`vigil.log.note`) whose text is exactly::

    <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n

followed by a blank line and signature lines ``— <key name> <base64(key id || sig)>``
(https://c2sp.org/tlog-checkpoint). vigil writes no extension lines and accepts none.

**Signed bytes and domain separation: the decision.** Every other vigil signature is
Ed25519 over ``tag || 0x00 || JCS(obj)`` (:mod:`vigil.crypto.sign`). A checkpoint is
*not* signed that way: its Ed25519 signature is over the note text exactly as C2SP
signed-note specifies, with no vigil prefix, so that existing transparency-log tooling
(Go ``sumdb/note``, transparency-dev witnesses and monitors) can verify vigil
checkpoints with nothing more than the node's verifier key (:func:`vigil.log.note.vkey`).
Prefixing ``vigil/checkpoint/v1\\0`` would break exactly that. Domain separation holds
all the same, by construction:

1. *Against vigil's other signatures.* A note text may not contain any control
   character but newline, so never a 0x00 byte (enforced when signing and verifying),
   while every tagged message contains one right after its tag. No byte string is both,
   so a checkpoint signature can never be presented as a share, receipt, recall, key or
   membership signature, nor the other way round. ``TAG_CHECKPOINT`` stays reserved for
   a JCS-encoded checkpoint object should one ever be needed.
2. *Against other logs and other note signers.* The first signed line is the origin,
   and vigil signs and accepts only vigil origins: ``<authority>/node--<uuid>``
   (:func:`log_origin`, e.g. ``vigil.example/node--6f1c…``), naming the node whose log
   it is. A checkpoint of one node's log cannot pass for another's, nor for any other
   signed-note application's text. Give the expected origin to
   :func:`verify_checkpoint` to pin it; by C2SP convention the key name equals the
   origin.

Errors: ``InputError`` ``log.bad_checkpoint`` (malformed text or fields),
``log.bad_note`` (malformed note), ``log.origin_mismatch``; ``CryptoError``
``log.bad_signature`` / ``log.unsigned`` (see :mod:`vigil.log.note`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from vigil.crypto.keys import SignPrivate
from vigil.errors import InputError
from vigil.log.merkle import HASH_LEN
from vigil.log.note import (
    NoteSignature,
    b64_decode_strict,
    check_signatures,
    format_note,
    parse_note,
    sign_note,
)

DEFAULT_AUTHORITY = "vigil.example"
MAX_TREE_SIZE = (1 << 63) - 1

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_AUTHORITY = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?"
NODE_ID_RE = re.compile(rf"^node--{_UUID}$")
AUTHORITY_RE = re.compile(rf"^{_AUTHORITY}$")
ORIGIN_RE = re.compile(rf"^{_AUTHORITY}(?:/[a-z0-9._~-]+)*/node--{_UUID}$")
_SIZE_RE = re.compile(r"^(?:0|[1-9][0-9]{0,18})$")

__all__ = [
    "Checkpoint",
    "ForkEvidence",
    "check_fork",
    "log_origin",
    "parse_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
]


def _bad(why: str) -> InputError:
    return InputError(f"bad checkpoint: {why}", code="log.bad_checkpoint")


def log_origin(node_id: str, authority: str = DEFAULT_AUTHORITY) -> str:
    """The origin line of node ``node_id``'s log: ``f"{authority}/{node_id}"``."""
    if not isinstance(node_id, str) or not NODE_ID_RE.fullmatch(node_id):
        raise _bad(f"bad node id {node_id!r}")
    if not isinstance(authority, str) or not AUTHORITY_RE.fullmatch(authority):
        raise _bad(f"bad origin authority {authority!r}")
    return f"{authority}/{node_id}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's ``origin``, the tree ``size`` and its Merkle ``root``."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not ORIGIN_RE.fullmatch(self.origin):
            raise _bad(f"origin {self.origin!r} is not a vigil log origin")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise _bad(f"bad tree size {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_LEN:
            raise _bad(f"the root must be {HASH_LEN} bytes")

    def body(self) -> str:
        """The note text: origin, size and base64 root, one per line."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a note text made by :meth:`body` (exactly three lines)."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise _bad("the text must be exactly origin, size and root lines")
        origin, size, root = lines[:3]
        if not _SIZE_RE.fullmatch(size):
            raise _bad(f"bad tree size {size!r}")
        try:
            root_hash = b64_decode_strict(root)
        except ValueError as e:
            raise _bad("the root is not canonical base64") from e
        return cls(origin, int(size), root_hash)


def sign_checkpoint(cp: Checkpoint, key_name: str, private: SignPrivate) -> str:
    """The signed note of ``cp``, signed by ``private`` under ``key_name``."""
    text = cp.body()
    return format_note(text, [sign_note(text, key_name, private)])


def parse_checkpoint(text: str | bytes) -> tuple[Checkpoint, list[NoteSignature]]:
    """Parse a signed checkpoint *without verifying it*: the checkpoint and its signatures."""
    body, signatures = parse_note(text)
    return Checkpoint.from_body(body), signatures


def verify_checkpoint(
    text: str | bytes, key_name: str, public_raw: bytes, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in ``text`` if the Ed25519 key ``(key_name, public_raw)`` signed it.

    With ``origin``, the checkpoint must also be of that log (``log.origin_mismatch``).
    """
    body, signatures = parse_note(text)
    cp = Checkpoint.from_body(body)
    check_signatures(body, signatures, key_name, public_raw)
    if origin is not None and cp.origin != origin:
        raise InputError(
            f"checkpoint of {cp.origin!r}, expected {origin!r}", code="log.origin_mismatch"
        )
    return cp


@dataclass(frozen=True, slots=True)
class ForkEvidence:
    """Two checkpoints signed by one log key for one size with different roots.

    Anyone holding the log's public key can re-check it with :func:`check_fork`.
    """

    origin: str
    size: int
    root_a: bytes
    root_b: bytes
    checkpoint_a: str
    checkpoint_b: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "fork",
            "origin": self.origin,
            "size": self.size,
            "checkpoints": [self.checkpoint_a, self.checkpoint_b],
        }


def _as_text(note: str | bytes) -> str:
    return note if isinstance(note, str) else bytes(note).decode("utf-8")


def check_fork(
    cp_a: str | bytes, cp_b: str | bytes, key_name: str, public_raw: bytes
) -> ForkEvidence | None:
    """Fork evidence if two checkpoints, both validly signed, disagree on one tree size.

    Same origin, same size, different roots: the log showed two histories, and the two
    texts prove it (returned as :class:`ForkEvidence`). Same size and root: ``None``.
    Different sizes: ``None`` too -- checkpoints of different sizes are compared with a
    consistency proof (:func:`vigil.log.merkle.verify_consistency`), not here. Both
    must verify (``CryptoError`` otherwise); different origins raise
    ``log.origin_mismatch``.
    """
    a = verify_checkpoint(cp_a, key_name, public_raw)
    b = verify_checkpoint(cp_b, key_name, public_raw, origin=a.origin)
    if a.size != b.size or a.root == b.root:
        return None
    return ForkEvidence(a.origin, a.size, a.root, b.root, _as_text(cp_a), _as_text(cp_b))
