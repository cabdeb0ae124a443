"""RFC 9162 Merkle tree: hashes, proofs from a store of perfect subtrees, verification.

Hashes are SHA-256 with RFC 9162 domain separation: a leaf is ``H(0x00 || data)``, an
interior node ``H(0x01 || left || right)``, the empty tree ``H()``.

**Storage layout.** A store keeps the hash of every *perfect* subtree, addressed by
``(level, index)``: level 0 holds the leaf hashes, and node ``(level, index)`` is the root
of the ``2**level`` leaves ``[index << level, (index + 1) << level)``. For ``n`` leaves
exactly the nodes with ``index < n >> level`` exist, and a node never changes once it
exists, so one table serves every past tree size. Appending a leaf creates the leaf node
plus one node per level it completes (amortised 2, at most ``log2 n + 1``;
:meth:`MemoryTree.append` returns them so a store can write them in the same transaction
as the leaf). The root of any range that proofs need is folded from at most ``log2 n``
perfect nodes (:func:`subtree_root`), so an inclusion or consistency proof costs
O(log n) node reads (at most ``2 * log2 n``).

**Verification** follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) and
raises ``CryptoError`` with code ``log.bad_inclusion`` / ``log.bad_consistency``. Every
hash in a proof, a leaf hash and a root that is recomputed must be 32 bytes.

**Consistency from size 0.** A proof from the empty tree proves nothing (every tree
extends it), and RFC 9162 defines consistency proofs only for ``0 < m``: vigil follows
transparency-dev/merkle and *rejects* ``size1 == 0`` (including ``0 -> 0``), where C2SP
CCTV accepts an empty proof. A verifier that has no earlier checkpoint has nothing to
check against; it must say so itself (trust on first use) rather than get a success
from :func:`verify_consistency` that looks like an audit. :func:`consistency_proof`
likewise refuses ``m == 0``.

**What a proof binds.** A proof ties a leaf (or an old root) to a ``(size, root)``
pair; nothing in RFC 9162 ties that size to that root except the log's signature over
both, i.e. the signed checkpoint (:mod:`vigil.log.checkpoint`). For example the proof
for leaf 0 in a tree of 3 also "verifies" as leaf 0 of a tree of 4 *with the 3-leaf
root*; always take ``size`` and ``root`` from one verified checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from vigil.errors import CryptoError, InputError

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"

__all__ = [
    "EMPTY_ROOT",
    "HASH_LEN",
    "MemoryTree",
    "Node",
    "NodeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of a leaf holding ``data``."""
    return hashlib.sha256(_LEAF + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(_NODE + left + right).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_LEN


def _check_hash(value: object, what: str) -> bytes:
    if isinstance(value, bytes) and len(value) == HASH_LEN:
        return value
    raise InputError(f"{what} must be {HASH_LEN} bytes", code="log.bad_hash")


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


Node = tuple[int, int, bytes]
"""``(level, index, hash)``: perfect node ``(level, index)``, the root of leaves
``[index << level, (index + 1) << level)``, and its hash."""


class NodeSource(Protocol):
    """Where proofs read perfect-subtree hashes from (a store, or :class:`MemoryTree`)."""

    def get(self, level: int, index: int) -> bytes:
        """The hash of perfect node ``(level, index)``; level 0 is the leaf hashes."""
        ...


def subtree_root(source: NodeSource, start: int, end: int) -> bytes:
    """The Merkle tree hash of leaves ``[start, end)``, from at most ``log2 n`` reads.

    The range is split into perfect subtrees, largest first, and folded right to left
    (exactly RFC 9162's MTH). ``start`` must be a multiple of the largest power of two
    not above ``end - start`` -- true of every range a proof needs, and of ``[0, n)``.
    An empty range is the empty tree.
    """
    if not (_is_size(start) and _is_size(end)) or start > end:
        raise InputError(f"bad leaf range [{start}, {end})", code="log.bad_range")
    if start == end:
        return EMPTY_ROOT
    width = end - start
    if start & ((1 << (width.bit_length() - 1)) - 1):
        raise InputError(
            f"leaf range [{start}, {end}) is not aligned to its subtrees", code="log.bad_range"
        )
    return _fold(source, start, end)


def _fold(source: NodeSource, start: int, end: int) -> bytes:
    """:func:`subtree_root` of a valid, non-empty, aligned range (proofs only make those)."""
    level = (end - start).bit_length() - 1
    root = source.get(level, start >> level)
    pos = start + (1 << level)
    if pos == end:
        return root
    parts = [root]
    while pos < end:
        level = (end - pos).bit_length() - 1
        parts.append(source.get(level, pos >> level))
        pos += 1 << level
    root = parts.pop()
    while parts:
        root = node_hash(parts.pop(), root)
    return root


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH of a list of leaf hashes (the empty list gives :data:`EMPTY_ROOT`).

    A direct transcription of the RFC's recursive definition, independent of the
    perfect-node layout (tests use it as the reference).
    """
    hashes = [_check_hash(h, "leaf hash") for h in leaf_hashes]

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return hashes[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(hashes)) if hashes else EMPTY_ROOT


def inclusion_proof(index: int, size: int, source: NodeSource,
                    folds: dict[tuple[int, int], bytes] | None = None) -> list[bytes]:
    """RFC 9162 ``PATH(index, D[size])``: sibling hashes from the leaf up to the root.
    ``folds``: the subtree hashes made for earlier proofs in the same tree, by leaf
    range, kept and reused (neighbouring leaves share most of their path).

    Raises ``log.bad_range`` unless ``0 <= index < size``.
    """
    if not (_is_size(index) and _is_size(size)) or index >= size:
        raise InputError(f"no leaf {index} in a tree of {size}", code="log.bad_range")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        a, b = (mid, hi) if index < mid else (lo, mid)
        if folds is None:
            path.append(_fold(source, a, b))
        else:
            h = folds.get((a, b))
            if h is None:
                h = folds[(a, b)] = _fold(source, a, b)
            path.append(h)
        if index < mid:
            hi = mid
        else:
            lo = mid
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, source: NodeSource) -> list[bytes]:
    """RFC 9162 ``PROOF(size1, D[size2])`` (empty when the sizes are equal).

    Raises ``log.bad_range`` unless ``0 < size1 <= size2`` (a proof from the empty tree
    proves nothing; see the module docstring).
    """
    if not (_is_size(size1) and _is_size(size2)) or not 0 < size1 <= size2:
        raise InputError(
            f"no consistency proof from size {size1} to {size2}", code="log.bad_range"
        )
    proof: list[bytes] = []
    lo, hi = 0, size2
    whole = True  # RFC 9162 SUBPROOF's b: still on the path of the original old root
    while True:
        if size1 == hi:
            if not whole:
                proof.append(_fold(source, lo, hi))
            break
        k = _split(hi - lo)
        if size1 - lo <= k:
            proof.append(_fold(source, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_fold(source, lo, lo + k))
            lo += k
            whole = False
    proof.reverse()
    return proof


class MemoryTree:
    """An append-only tree in memory that keeps every perfect node (a :class:`NodeSource`).

    Each level is one ``bytearray`` of 32-byte hashes (about 64 bytes per leaf in all).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_LEN

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add a leaf (its hash, see :func:`leaf_hash`); return the perfect nodes it created.

        The first node is the leaf itself (level 0), then one per completed level.
        """
        h = _check_hash(leaf_hash, "leaf hash")
        levels = self._levels
        index = len(levels[0]) // HASH_LEN
        levels[0] += h
        created: list[Node] = [(0, index, h)]
        level = 0
        while index & 1:
            row = levels[level]
            h = hashlib.sha256(_NODE + row[-2 * HASH_LEN :]).digest()
            level += 1
            index >>= 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
            created.append((level, index, h))
        return created

    def get(self, level: int, index: int) -> bytes:
        """The hash of perfect node ``(level, index)`` (``log.bad_range`` if it doesn't exist)."""
        if 0 <= level < len(self._levels) and index >= 0:
            row = self._levels[level]
            start = index * HASH_LEN
            end = start + HASH_LEN
            if end <= len(row):
                return bytes(row[start:end])
        raise InputError(f"no node ({level}, {index}) in a tree of {self.size}",
                         code="log.bad_range")

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all of them)."""
        n = self.size if size is None else size
        if not _is_size(n) or n > self.size:
            raise InputError(f"no tree of size {size} (have {self.size})", code="log.bad_range")
        return subtree_root(self, 0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """:func:`inclusion_proof` of leaf ``index`` in the tree of ``size`` (default: all)."""
        return inclusion_proof(index, self.size if size is None else size, self)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """:func:`consistency_proof` from ``size1`` to ``size2`` (default: all)."""
        return consistency_proof(size1, self.size if size2 is None else size2, self)


def _bad_inclusion(why: str) -> CryptoError:
    return CryptoError(f"inclusion proof does not verify: {why}", code="log.bad_inclusion")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Raises ``CryptoError`` ``log.bad_inclusion`` otherwise.
    """
    if not (_is_size(index) and _is_size(size)) or index >= size:
        raise _bad_inclusion(f"no leaf {index} in a tree of {size}")
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        raise _bad_inclusion(f"leaf hash and root must be {HASH_LEN} bytes")
    if not all(_is_hash(p) for p in proof):
        raise _bad_inclusion(f"every proof hash must be {HASH_LEN} bytes")
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise _bad_inclusion("proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad_inclusion("proof is too short")
    if r != root:
        raise _bad_inclusion("root mismatch")


def _bad_consistency(why: str) -> CryptoError:
    return CryptoError(f"consistency proof does not verify: {why}", code="log.bad_consistency")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1``/``root1``.

    RFC 9162 §2.1.4.2, with the cases the RFC leaves out made explicit: equal sizes need
    an empty proof and equal roots; ``size1 == 0`` is rejected (module docstring).
    Raises ``CryptoError`` ``log.bad_consistency`` otherwise.
    """
    if not (_is_size(size1) and _is_size(size2)) or size1 > size2:
        raise _bad_consistency(f"size {size2} does not extend size {size1}")
    if size1 == 0:
        raise _bad_consistency("a proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise _bad_consistency("equal sizes need an empty proof")
        if not isinstance(root1, bytes) or root1 != root2:
            raise _bad_consistency("equal sizes but different roots")
        return
    if not proof:
        raise _bad_consistency("empty proof")
    if not (_is_hash(root1) and _is_hash(root2)):
        raise _bad_consistency(f"roots must be {HASH_LEN} bytes")
    if not all(_is_hash(p) for p in proof):
        raise _bad_consistency(f"every proof hash must be {HASH_LEN} bytes")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is on the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _bad_consistency("proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad_consistency("proof is too short")
    if fr != root1:
        raise _bad_consistency("old root mismatch")
    if sr != root2:
        raise _bad_consistency("new root mismatch")
