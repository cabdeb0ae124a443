"""The member's side of private selector matching (its client): the member's OPRF key,
kept in a file of its own (mode 0600) that never leaves the client, its index, the
evaluation of others' queries, and asking.

``MatchKey.load(path)`` reads (or, with ``create=True``, makes) a 32-byte seed; the
OPRF key is ``DeriveKeyPair(seed, "vigil/match/v1")`` (RFC 9497, 3.2.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vigil.crypto import oprf
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.secretfile import write_secret_file
from vigil.errors import KeyringError
from vigil.match.selectors import oprf_input

KEY_INFO = b"vigil/match/v1"


@dataclass(frozen=True, slots=True)
class MatchKey:
    key: bytes = field(repr=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> MatchKey:
        return cls(oprf.derive_key(seed, KEY_INFO))

    @classmethod
    def load(cls, path: str | Path, *, create: bool = False) -> MatchKey:
        p = Path(path)
        if not p.exists() and create:
            write_secret_file(p, secrets.token_bytes(oprf.NS))
        try:
            seed = p.read_bytes()
        except OSError as e:
            raise KeyringError(f"cannot read the matching key {p}: {e}",
                               code="keyring.invalid") from e
        if len(seed) != oprf.NS:
            raise KeyringError(f"{p} is not a matching key", code="keyring.invalid")
        return cls.from_seed(seed)

    def index(self, selectors: Iterable[tuple[str, str]]) -> list[str]:
        """The member's index: the OPRF output of each (kind, value), base64url."""
        return sorted({b64u(oprf.evaluate(self.key, oprf_input(k, v))) for k, v in selectors})

    def evaluate(self, blinded: str) -> str:
        """Evaluate another member's blinded selector (it learns nothing of it)."""
        return b64u(oprf.blind_evaluate(self.key, b64u_decode(blinded)))


@dataclass(frozen=True, slots=True)
class Blinded:
    """An asker's selector blinded for one query: ``blinded`` goes to the node, the
    rest stays with the asker."""

    value: bytes = field(repr=False)
    blind: bytes = field(repr=False)
    blinded: str

    @classmethod
    def of(cls, kind: str, value: str) -> Blinded:
        v = oprf_input(kind, value)
        r, b = oprf.blind(v)
        return cls(v, r, b64u(b))

    def output(self, evaluated: str) -> str:
        """One holder's OPRF output of the selector, from its evaluation."""
        return b64u(oprf.finalize(self.value, self.blind, b64u_decode(evaluated)))
