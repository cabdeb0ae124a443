"""The stored log agrees with the in-memory reference tree on every backend."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import CryptoError, InputError, NotFound
from vigil.log.checkpoint import verify_checkpoint
from vigil.log.entries import channel_entry, entry_bytes
from vigil.log.merkle import (
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from vigil.log.tree import StoredLog, compact_range
from vigil.storage import Store, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (f"sqlite:///{tmp_path / 'vigil.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()


def node_log(store: Store) -> StoredLog:
    return StoredLog(store, f"node--{uuid.uuid4()}", Ed25519PrivateKey.generate())


def entry(i: int) -> dict[str, object]:
    return channel_entry(f"channel--{i}", f"identity--{i}", "join", "identity--x",
                         f"2026-11-29T08:00:{i % 60:02d}.000Z")


def test_compact_range() -> None:
    assert compact_range(0) == []
    assert compact_range(1) == [(0, 0)]
    assert compact_range(6) == [(2, 0), (1, 2)]
    assert compact_range(7) == [(2, 0), (1, 2), (0, 6)]


def test_appends_match_the_reference_tree(store: Store) -> None:
    log = node_log(store)
    ref = MemoryTree()
    for i in range(70):
        e = entry(i)
        got = store.write(lambda sql, e=e: log.append(sql, e))  # type: ignore[misc]
        ref.append(leaf_hash(entry_bytes(e)))
        assert got.index == i and got.size == i + 1
        assert got.root == ref.root()
        assert list(got.proof) == ref.inclusion_proof(i, i + 1)
        verify_inclusion(leaf_hash(entry_bytes(e)), i, i + 1, got.proof, got.root)
        cp = verify_checkpoint(got.checkpoint, log.key_name, log.public_raw, origin=log.origin)
        assert (cp.size, cp.root) == (i + 1, got.root)
    assert log.size() == 70
    rng = random.Random(7)
    for _ in range(40):
        size = rng.randint(1, 70)
        index = rng.randrange(size)
        assert log.inclusion(index, size) == ref.inclusion_proof(index, size)
        a = rng.randint(1, size)
        assert log.consistency(a, size) == ref.consistency_proof(a, size)
        verify_consistency(a, size, log.consistency(a, size), log.root(a), log.root(size))
    cp, _ = log.checkpoint()
    assert cp.size == 70 and cp.root == ref.root()
    assert log.checkpoint(33)[0].root == ref.root(33)
    assert [i for i, _ in log.entries(10, 13)] == [10, 11, 12]


def test_a_proof_for_one_entry_fails_for_another(store: Store) -> None:
    log = node_log(store)
    refs = [store.write(lambda sql, i=i: log.append(sql, entry(i))) for i in range(5)]  # type: ignore[misc]
    with pytest.raises(CryptoError):
        verify_inclusion(leaf_hash(entry_bytes(entry(1))), 2, 3, refs[2].proof, refs[2].root)


def test_bad_sizes_and_ranges(store: Store) -> None:
    log = node_log(store)
    store.write(lambda sql: log.append(sql, entry(0)))
    with pytest.raises(NotFound):
        log.inclusion(0, 5)
    with pytest.raises(InputError):
        log.inclusion(3, 2)
    with pytest.raises(InputError):
        log.consistency(0, 1)
    with pytest.raises(NotFound):
        log.checkpoint(2)


def test_a_rolled_back_append_leaves_no_trace(store: Store) -> None:
    log = node_log(store)
    store.write(lambda sql: log.append(sql, entry(0)))

    def fails(sql: object) -> None:
        log.append(sql, entry(1))  # type: ignore[arg-type]
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.write(fails)  # type: ignore[arg-type]
    # another writer (a second log object: another worker) appends a different entry
    other = StoredLog(store, log.origin.rsplit("/", 1)[1], Ed25519PrivateKey.generate())
    store.write(lambda sql: other.append(sql, entry(2)))
    got = store.write(lambda sql: log.append(sql, entry(3)))
    ref = MemoryTree([leaf_hash(entry_bytes(entry(i))) for i in (0, 2, 3)])
    assert got.index == 2 and got.root == ref.root()


def test_concurrent_appends_keep_one_history(store: Store) -> None:
    logs = [node_log(store) for _ in range(3)]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            for i in range(15):
                store.write(lambda sql, i=i: logs[k].append(sql, entry(k * 100 + i)))  # type: ignore[misc]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    leaves = [leaf_hash(d) for _, d in logs[0].entries(0, 45)]
    assert len(leaves) == 45
    assert logs[0].checkpoint()[0].root == MemoryTree(leaves).root()


def test_key_entries_are_each_members_latest_read_incrementally(store: Store) -> None:
    from vigil.log.entries import member_entry

    log = node_log(store)

    def add(e: dict[str, object]) -> int:
        return store.write(lambda sql: log.append(sql, e)).index

    a1 = add(member_entry("identity--a", "add", "ed25519:1", "x25519:1", "t1"))
    add(entry(1))
    b1 = add(member_entry("identity--b", "add", "ed25519:2", "x25519:2", "t2"))
    assert {m: i for m, (i, _) in log.key_entries().items()} == {
        "identity--a": a1, "identity--b": b1}
    a2 = add(member_entry("identity--a", "add", "ed25519:3", "x25519:3", "t3"))
    got = log.key_entries()
    assert got["identity--a"][0] == a2 and got["identity--a"][1]["sign_key"] == "ed25519:3"
    assert got["identity--b"][0] == b1
    # another process's log object (no cache) reads the same
    other = node_log(store)
    assert {m: i for m, (i, _) in other.key_entries().items()} == {
        "identity--a": a2, "identity--b": b1}


def test_appends_in_one_tree_prove_each_entry_in_the_last_tree(store: Store) -> None:
    """``append_many(one_tree=True)``: every entry's proof is in the tree the last entry
    completes (one checkpoint for them all), and verifies against its root, whatever
    the sizes before and of the run."""
    log = node_log(store)
    ref = MemoryTree()
    rng = random.Random(12)
    n = 0
    for run in [1, 2, 3, 1, 7, 8, 5, 16, 33, 1, 64, 9]:
        es = [entry(n + k) for k in range(run)]
        got = store.write(lambda sql, es=es: log.append_many(  # type: ignore[misc]
            sql, [(e, None) for e in es], locked=False, one_tree=True))
        for e in es:
            ref.append(leaf_hash(entry_bytes(e)))
        end = n + run
        assert [r.index for r in got] == list(range(n, end))
        assert {(r.size, r.root) for r in got} == {(end, ref.root())}
        assert len({r.checkpoint for r in got}) == 1
        cp = verify_checkpoint(got[0].checkpoint, log.origin, log.public_raw)
        assert (cp.size, cp.root) == (end, ref.root())
        for r in rng.sample(got, min(run, 6)):
            assert list(r.proof) == ref.inclusion_proof(r.index, end)
            verify_inclusion(leaf_hash(entry_bytes(es[r.index - n])), r.index, end,
                             list(r.proof), cp.root)
        n = end
