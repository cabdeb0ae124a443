"""vigil.log.merkle: proofs from the perfect-node layout against a recursive transcription
of RFC 9162, O(log n) reads, and property tests over random trees (sizes 1..300):
every honest proof verifies; any bit flip in proof, root or leaf, any index or size off
by one, a truncated or extended proof fails."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import CryptoError, InputError
from vigil.log.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaves,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

MAX = 300
PROPS = settings(max_examples=300, deadline=None)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(b"leaf %d" % i) for i in range(n)]


@cache
def big_tree() -> MemoryTree:
    """One tree of MAX + 1 leaves: every size 1..MAX+1 is a prefix of it."""
    return MemoryTree(leaves(MAX + 1))


# ---------------------------------------------------- RFC 9162 §2.1, straight from the text


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), root_from_leaves(d[k:])]
    return [*ref_path(m - k, d[k:]), root_from_leaves(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [root_from_leaves(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), root_from_leaves(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), root_from_leaves(d[:k])]


def test_hash_primitives() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_from_leaves([])
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    left, right = b"l" * 32, b"r" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert MemoryTree().root() == EMPTY_ROOT
    assert MemoryTree().size == 0


def test_proofs_equal_the_rfc_definitions_exhaustively() -> None:
    d = leaves(40)
    tree = MemoryTree(d)
    for n in range(1, 41):
        assert tree.root(n) == root_from_leaves(d[:n])
        for m in range(n):
            assert inclusion_proof(m, n, tree) == ref_path(m, d[:n])
        for m in range(1, n + 1):
            assert consistency_proof(m, n, tree) == ref_subproof(m, d[:n], True)


def test_honest_proofs_verify_exhaustively() -> None:
    tree = MemoryTree(leaves(70))
    for n in range(1, 71):
        root = tree.root(n)
        for m in range(n):
            verify_inclusion(tree.get(0, m), m, n, tree.inclusion_proof(m, n), root)
        for m in range(1, n + 1):
            verify_consistency(m, n, tree.consistency_proof(m, n), tree.root(m), root)


class CountingSource:
    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.tree.get(level, index)


def test_proofs_take_logarithmic_reads() -> None:
    tree = MemoryTree(leaves(5000))
    src = CountingSource(tree)
    for n in [*range(1, 300), 1023, 1024, 1025, 4095, 4096, 4097, 5000]:
        bound = 2 * max(1, math.ceil(math.log2(n)))
        for m in {0, 1, n // 3, n // 2, n - 2, n - 1} & set(range(n)):
            src.reads = 0
            proof = inclusion_proof(m, n, src)
            assert src.reads <= bound
            assert len(proof) <= bound
        for m in {1, 2, n // 3, n // 2, n - 1, n} & set(range(1, n + 1)):
            src.reads = 0
            consistency_proof(m, n, src)
            assert src.reads <= bound
        src.reads = 0
        subtree_root(src, 0, n)
        assert src.reads == bin(n).count("1")


def test_append_returns_every_perfect_node_once() -> None:
    tree = MemoryTree()
    seen: dict[tuple[int, int], bytes] = {}
    for i, h in enumerate(leaves(1000), start=1):
        created = tree.append(h)
        assert created[0] == (0, i - 1, h)
        assert len(created) == (i & -i).bit_length() <= i.bit_length()  # 1 + trailing 0s of i
        for level, index, node in created:
            assert (level, index) not in seen
            assert tree.get(level, index) == node
            seen[(level, index)] = node
    n = tree.size
    expected = {(lvl, i) for lvl in range(n.bit_length()) for i in range(n >> lvl)}
    assert set(seen) == expected
    assert len(seen) == 2 * n - bin(n).count("1")
    # a store that persisted only what append returned serves the same proofs and roots
    stored = dict(seen)

    class Store:
        def get(self, level: int, index: int) -> bytes:
            return stored[(level, index)]

    assert subtree_root(Store(), 0, 777) == tree.root(777)
    assert inclusion_proof(500, 777, Store()) == tree.inclusion_proof(500, 777)
    assert consistency_proof(300, 777, Store()) == tree.consistency_proof(300, 777)


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (inclusion_proof, (0, 0)),
        (inclusion_proof, (5, 5)),
        (inclusion_proof, (-1, 5)),
        (consistency_proof, (0, 5)),
        (consistency_proof, (0, 0)),
        (consistency_proof, (6, 5)),
        (consistency_proof, (-1, 5)),
    ],
)
def test_bad_proof_requests(fn: Callable[..., object], args: tuple[int, int]) -> None:
    with pytest.raises(InputError) as e:
        fn(*args, MemoryTree(leaves(8)))
    assert e.value.code == "log.bad_range"


def test_bad_ranges_and_nodes() -> None:
    tree = MemoryTree(leaves(8))
    for args in [(1, 3), (2, 8), (3, 2), (-1, 2)]:  # misaligned or empty-reversed
        with pytest.raises(InputError) as e:
            subtree_root(tree, *args)
        assert e.value.code == "log.bad_range"
    assert subtree_root(tree, 4, 4) == EMPTY_ROOT
    assert subtree_root(tree, 4, 7) == root_from_leaves(leaves(8)[4:7])
    for level, index in [(0, 8), (3, 1), (4, 0), (-1, 0), (0, -1)]:
        with pytest.raises(InputError) as e:
            tree.get(level, index)
        assert e.value.code == "log.bad_range"
    for size in (9, -1):
        with pytest.raises(InputError):
            tree.root(size)
    for bad in (b"short", b"x" * 33, "x" * 32):
        with pytest.raises(InputError) as e:
            tree.append(bad)  # type: ignore[arg-type]
        assert e.value.code == "log.bad_hash"
        with pytest.raises(InputError):
            root_from_leaves([bad])  # type: ignore[list-item]
    assert tree.size == 8


def test_size_is_bound_to_root_only_by_the_checkpoint() -> None:
    """Documented RFC 9162 behaviour: leaf 0's proof in a tree of 3 is also a valid
    proof for "leaf 0 of a tree of 4" *with the 3-leaf root* -- the path has the same
    shape. So size and root must come from one signed checkpoint; with the real
    4-leaf root it fails."""
    tree = MemoryTree(leaves(4))
    proof = tree.inclusion_proof(0, 3)
    verify_inclusion(tree.get(0, 0), 0, 4, proof, tree.root(3))
    with pytest.raises(CryptoError):
        verify_inclusion(tree.get(0, 0), 0, 4, proof, tree.root(4))


# ------------------------------------------------------------------------- properties


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def fails(code: str, fn: Callable[..., None], *args: object) -> bool:
    try:
        fn(*args)
    except CryptoError as e:
        assert e.code == code
        return True
    return False


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return draw(st.integers(0, size - 1)), size


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, MAX))
    return draw(st.integers(1, size2)), size2


@PROPS
@given(inclusion_case(), st.integers(0, 2**16))
def test_inclusion_properties(case: tuple[int, int], bit: int) -> None:
    index, size = case
    tree = big_tree()
    leaf, root = tree.get(0, index), tree.root(size)
    proof = tree.inclusion_proof(index, size)
    assert root == root_from_leaves([tree.get(0, i) for i in range(size)])
    verify_inclusion(leaf, index, size, proof, root)

    bad = "log.bad_inclusion"
    assert fails(bad, verify_inclusion, flip(leaf, bit), index, size, proof, root)
    assert fails(bad, verify_inclusion, leaf, index, size, proof, flip(root, bit))
    if proof:
        k = bit % len(proof)
        flipped = [*proof[:k], flip(proof[k], bit // 7), *proof[k + 1 :]]
        assert fails(bad, verify_inclusion, leaf, index, size, flipped, root)
        assert fails(bad, verify_inclusion, leaf, index, size, proof[:-1], root)
        assert fails(bad, verify_inclusion, leaf, index, size, proof[1:], root)
    assert fails(bad, verify_inclusion, leaf, index, size, [*proof, root], root)
    assert fails(bad, verify_inclusion, leaf, index, size, [root, *proof], root)
    for other in (index - 1, index + 1):  # the leaf claimed at a neighbouring index
        assert fails(bad, verify_inclusion, leaf, other, size, proof, root)
    for other in (size - 1, size + 1):  # the tree of a neighbouring size, with its root
        if other > index:
            assert fails(bad, verify_inclusion, leaf, index, other, proof, tree.root(other))
    if size > 1:  # a different leaf of the same tree
        other_leaf = tree.get(0, (index + 1) % size)
        assert fails(bad, verify_inclusion, other_leaf, index, size, proof, root)


@PROPS
@given(consistency_case(), st.integers(0, 2**16))
def test_consistency_properties(case: tuple[int, int], bit: int) -> None:
    size1, size2 = case
    tree = big_tree()
    root1, root2 = tree.root(size1), tree.root(size2)
    proof = tree.consistency_proof(size1, size2)
    verify_consistency(size1, size2, proof, root1, root2)

    bad = "log.bad_consistency"
    assert fails(bad, verify_consistency, size1, size2, proof, flip(root1, bit), root2)
    assert fails(bad, verify_consistency, size1, size2, proof, root1, flip(root2, bit))
    if proof:
        k = bit % len(proof)
        flipped = [*proof[:k], flip(proof[k], bit // 7), *proof[k + 1 :]]
        assert fails(bad, verify_consistency, size1, size2, flipped, root1, root2)
        assert fails(bad, verify_consistency, size1, size2, proof[:-1], root1, root2)
        assert fails(bad, verify_consistency, size1, size2, proof[1:], root1, root2)
        assert fails(bad, verify_consistency, size1, size2, proof, root2, root1)
    assert fails(bad, verify_consistency, size1, size2, [*proof, root1], root1, root2)
    assert fails(bad, verify_consistency, size1, size2, [root1, *proof], root1, root2)
    # neighbouring sizes, each with the real root of that size
    for other in (size1 - 1, size1 + 1):
        if 0 < other <= size2:
            assert fails(bad, verify_consistency, other, size2, proof, tree.root(other), root2)
    for other in (size2 - 1, size2 + 1):
        if other >= size1:
            assert fails(bad, verify_consistency, size1, other, proof, root1, tree.root(other))
    # a tree that differs in one leaf below size1 is not consistent with root1
    changed = bit % size1
    fork = MemoryTree([flip(tree.get(0, i), 0) if i == changed else tree.get(0, i)
                       for i in range(size2)])
    assert fails(bad, verify_consistency, size1, size2, fork.consistency_proof(size1, size2),
                 root1, fork.root(size2))


@PROPS
@given(st.integers(1, MAX), st.data())
def test_proofs_sharing_their_folds_are_the_proofs(n: int, data: st.DataObject) -> None:
    """``inclusion_proof`` with ``folds`` kept across leaves of one tree gives every leaf
    the proof it gets alone, in any order of leaves."""
    tree = MemoryTree()
    for h in leaves(n):
        tree.append(h)
    order = data.draw(st.permutations(range(n)))
    folds: dict[tuple[int, int], bytes] = {}
    for i in order:
        assert inclusion_proof(i, n, tree, folds) == inclusion_proof(i, n, tree)
