"""Roster statements (``vigil/roster/v1``), one chain every node holds the same.

Statement::

    {"v": 1, "kind": "genesis" | "admit" | "expel" | "rekey", "seq": n,
     "prev": "sha256:<hex of the previous signed statement>" | null,
     "node": node id | null,        # the node admitted, expelled or rekeyed
     "key": b64u Ed25519 | null,    # its (new) node key: admit, rekey
     "nodes": {node id: b64u key} | null,   # genesis: the founding nodes
     "at": RFC 3339}

Signed statement = ``{"statement", "signatures": {node id: b64u signature}}``, each
signature Ed25519 over ``"vigil/roster/v1" || 0x00 || JCS(statement)`` by that node's
current key. Genesis is signed by every founding node; every later statement by at
least ceil(2n/3) of the n nodes on the roster before it (signatures of other nodes,
or of an expelled one, do not count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil import clock
from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.sign import sign, verify
from vigil.errors import CryptoError

TAG_ROSTER = "vigil/roster/v1"
KINDS = ("genesis", "admit", "expel", "rekey")

__all__ = ["SignedStatement", "statement", "threshold"]


def threshold(n: int) -> int:
    """ceil(2n/3) of n nodes."""
    return -(-2 * n // 3)


@dataclass(frozen=True, slots=True)
class SignedStatement:
    statement: dict[str, Any]
    signatures: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "signatures": self.signatures}

    def data(self) -> bytes:
        return canonical(self.to_json())

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data()).hexdigest()

    @classmethod
    def from_json(cls, obj: Any) -> SignedStatement:
        if not isinstance(obj, Mapping) or set(obj) != {"statement", "signatures"} \
                or not isinstance(obj["statement"], Mapping) \
                or not isinstance(obj["signatures"], Mapping):
            raise CryptoError("not a roster statement", code="roster.bad_statement")
        return cls(dict(obj["statement"]), {str(k): str(v)
                                            for k, v in obj["signatures"].items()})

    def cosign(self, node: str, key: Ed25519PrivateKey) -> SignedStatement:
        sigs = dict(self.signatures)
        sigs[node] = b64u(sign(TAG_ROSTER, self.statement, key))
        return SignedStatement(self.statement, sigs)

    def signers(self, keys: Mapping[str, bytes]) -> set[str]:
        """The nodes of ``keys`` whose signature on this statement verifies."""
        ok: set[str] = set()
        for node, sig in self.signatures.items():
            public = keys.get(node)
            if public is None:
                continue
            try:
                verify(TAG_ROSTER, self.statement, b64u_decode(sig), public)
            except (CryptoError, ValueError):
                continue
            ok.add(node)
        return ok


def statement(kind: str, seq: int, prev: str | None, *, node: str | None = None,
              key: bytes | None = None, nodes: Mapping[str, bytes] | None = None
              ) -> SignedStatement:
    if kind not in KINDS:
        raise CryptoError(f"unknown roster statement {kind!r}", code="roster.bad_statement")
    body = {"v": 1, "kind": kind, "seq": seq, "prev": prev, "node": node,
            "key": b64u(key) if key is not None else None,
            "nodes": {n: b64u(k) for n, k in nodes.items()} if nodes is not None else None,
            "at": clock.now()}
    return SignedStatement(body, {})
