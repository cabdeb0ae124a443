"""A node's log in its store: appends in the caller's transaction, proofs, checkpoints.

Leaves live in ``log_leaves`` and every perfect subtree hash in ``log_nodes`` (the
layout of :mod:`vigil.log.merkle`), so a proof costs one batched read of at most
``2 * log2 n`` nodes. :meth:`StoredLog.append` runs inside the transaction of the event
it records (a share, a channel change, a receipt ...) and takes the store's write-order
lock first, so log indexes are handed out and become visible in commit order on every
backend. Each leaf row also keeps the root of the tree it completed and its inclusion
proof in that tree, which is what a share carries when it is delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.crypto.encoding import b64u
from vigil.crypto.keys import SignPrivate
from vigil.errors import InputError, NotFound
from vigil.log.checkpoint import Checkpoint, log_origin, sign_checkpoint
from vigil.log.entries import entry_bytes, share_of
from vigil.log.merkle import (
    EMPTY_ROOT,
    HASH_LEN,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    subtree_root,
)
from vigil.lru import Lru
from vigil.storage import logtree
from vigil.storage.base import Sql, Store, serialize_writes
from vigil.storage.logtree import Key, Leaf, Node


@dataclass(frozen=True, slots=True)
class LogRef:
    """Where an entry sits: its index, and its inclusion proof in the tree of ``size``
    leaves (``index + 1`` for the tree the entry completed, or a later one), whose
    signed checkpoint is ``checkpoint`` (signed when first asked for, off the writer's
    path; the same tree head always gets the same note)."""

    index: int
    size: int
    root: bytes
    proof: tuple[bytes, ...]
    signer: Callable[[int, bytes], str] = field(compare=False, repr=False)

    @property
    def checkpoint(self) -> str:
        return self.signer(self.size, self.root)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "root": b64u(self.root),
                "proof": [b64u(h) for h in self.proof], "checkpoint": self.checkpoint}


def compact_range(size: int) -> list[Key]:
    """The perfect subtrees that make up ``[0, size)``, left to right."""
    keys: list[Key] = []
    pos = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, pos >> level))
            pos += 1 << level
    return keys


def split_proof(blob: bytes) -> tuple[bytes, ...]:
    return tuple(bytes(blob[i : i + HASH_LEN]) for i in range(0, len(blob), HASH_LEN))


class _Recorder:
    """A NodeSource that notes which nodes a computation reads (values are dummies)."""

    def __init__(self) -> None:
        self.keys: list[Key] = []

    def get(self, level: int, index: int) -> bytes:
        self.keys.append((level, index))
        return b"\x00" * HASH_LEN


class _Nodes:
    def __init__(self, nodes: Mapping[Key, bytes]) -> None:
        self.nodes = nodes

    def get(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[(level, index)]
        except KeyError:
            raise NotFound(f"log node ({level}, {index}) is missing",
                           code="log.missing_node") from None


class _Step:
    """One append computed from the compact range of the tree before it: the nodes it
    creates, the new compact range, the new root and the leaf's inclusion proof."""

    def __init__(self, size: int, frontier: list[tuple[int, int, bytes]], lh: bytes,
                 data: bytes, entry: Mapping[str, Any]) -> None:
        self.size = size
        self.leaf_hash = lh
        created: list[Node] = [(0, size, lh)]
        sibs: list[bytes] = []
        frontier.append((0, size, lh))
        while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
            right = frontier.pop()
            left = frontier.pop()
            sibs.append(left[2])
            merged = (right[0] + 1, right[1] >> 1, node_hash(left[2], right[2]))
            frontier.append(merged)
            created.append(merged)
        # the proof of the newest leaf: siblings inside its perfect subtree, then the
        # roots of the subtrees to its left, nearest first (RFC 9162 PATH)
        self.proof = sibs + [h for _, _, h in reversed(frontier[:-1])]
        root = frontier[-1][2]
        for _, _, h in reversed(frontier[:-1]):
            root = node_hash(h, root)
        self.root = root
        self.frontier = frontier
        self.created = created
        self.leaf: Leaf = (size, str(entry["kind"]), share_of(entry), data, root,
                           b"".join(self.proof))



def _fetch(sql: Sql, keys: Iterable[Key]) -> dict[Key, bytes]:
    return logtree.fetch_nodes(lambda q, p: sql.execute(q, p).fetchall(), sql.dialect, keys)


class StoredLog:
    """The log of one node over a Store."""

    def __init__(self, store: Store, node_id: str, node_key: SignPrivate) -> None:
        self.store = store
        self.origin = log_origin(node_id)
        self.key_name = self.origin
        self._key = node_key
        self.public_raw = node_key.public_key().public_bytes_raw()
        self._lock = threading.Lock()
        # (size, last leaf hash, compact range hashes): skips a read per append while
        # this process is the only writer; checked against the store every time.
        self._frontier: tuple[int, bytes, list[tuple[int, int, bytes]]] | None = None
        self._notes: Lru[tuple[int, bytes], str] = Lru(4096)
        self.refs: Lru[str, LogRef] = Lru(8192)
        # member id -> (index, entry) of its latest key entry, and the log size read
        self._keys: tuple[int, dict[str, tuple[int, dict[str, Any]]]] = (0, {})

    # -- appending ---------------------------------------------------------------
    def append(self, sql: Sql, entry: Mapping[str, Any], *, locked: bool = False,
               data: bytes | None = None) -> LogRef:
        """Append ``entry`` in the caller's transaction; its place and proof.
        ``locked``: the caller already holds the write-order lock (a share's
        transaction does); ``data``: ``entry_bytes(entry)``, when the caller made them
        already (a received share's, for its proof)."""
        if not locked:
            serialize_writes(sql)
        if data is None:
            data = entry_bytes(entry)
        lh = leaf_hash(data)
        with self._lock:
            cached = self._frontier
        if sql.dialect == "postgresql" and cached is not None:
            # Optimistic: build on this process's frontier and let the INSERT itself
            # check, in the same round trip, that the log still ends where it did.
            size, last = cached[0], cached[1]
            step = _Step(size, list(cached[2]), lh, data, entry)
            if logtree.append_if_last(sql, size, last, step.created, step.leaf):
                return self._done(step)
        size, last = logtree.end(sql)
        frontier = _frontier_of(sql, size, last, cached)
        step = _Step(size, frontier, lh, data, entry)
        logtree.append(sql, step.created, step.leaf)
        return self._done(step)

    def append_many(self, sql: Sql, entries: Sequence[tuple[Mapping[str, Any], bytes | None]],
                    *, locked: bool = False, one_tree: bool = False) -> list[LogRef]:
        """``append`` for several entries in order, in the caller's transaction, with
        one read of where the log ends and one write for all of them; their places and
        proofs. Each entry comes with its ``entry_bytes`` if the caller made them
        (else None). ``one_tree``: every proof is in the tree the last entry completes,
        so one checkpoint (signed once) serves them all; else each is in the tree its
        own entry completes, as ``append`` gives it."""
        if not entries:
            return []
        if not locked:
            serialize_writes(sql)
        with self._lock:
            cached = self._frontier
        size, last = logtree.end(sql)
        frontier = _frontier_of(sql, size, last, cached)
        before = {(lv, ix): h for lv, ix, h in frontier}
        steps: list[_Step] = []
        for entry, data in entries:
            if data is None:
                data = entry_bytes(entry)
            # each step grows the same compact range (its ``frontier``) in place
            steps.append(_Step(size + len(steps), frontier, leaf_hash(data), data, entry))
        logtree.append_many(sql, [n for st in steps for n in st.created],
                            [st.leaf for st in steps])
        last_step = steps[-1]
        with self._lock:
            self._frontier = (last_step.size + 1, last_step.leaf_hash, list(frontier))
        if one_tree:
            # a new leaf's proof in the tree of ``end`` reads only nodes the appends made
            # and the compact range of the tree before them (every perfect node left of
            # a new leaf's path and wholly older than it is one of those)
            end = last_step.size + 1
            nodes = _Nodes({**before, **{(lv, ix): h for st in steps
                                         for lv, ix, h in st.created}})
            folds: dict[tuple[int, int], bytes] = {}
            return [LogRef(st.size, end, last_step.root,
                           tuple(inclusion_proof(st.size, end, nodes, folds)), self.note)
                    for st in steps]
        return [LogRef(st.size, st.size + 1, st.root, tuple(st.proof), self.note)
                for st in steps]

    def _done(self, step: _Step) -> LogRef:
        with self._lock:
            self._frontier = (step.size + 1, step.leaf_hash, step.frontier)
        return LogRef(step.size, step.size + 1, step.root, tuple(step.proof), self.note)

    # -- reading -----------------------------------------------------------------
    def size(self) -> int:
        return self.store.read(self._size)

    @staticmethod
    def _size(sql: Sql) -> int:
        return logtree.end(sql)[0]

    def note(self, size: int, root: bytes) -> str:
        """The signed checkpoint of ``(size, root)`` (Ed25519 is deterministic, so the
        same tree head always gets the same note)."""
        note = self._notes.get((size, root))
        if note is None:
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.key_name,
                                   self._key)
            self._notes.put((size, root), note)
        return note

    def checkpoint(self, size: int | None = None) -> tuple[Checkpoint, str]:
        """The signed checkpoint of the latest tree, or of an earlier ``size``."""

        def run(sql: Sql) -> tuple[int, bytes]:
            n = self._size(sql)
            want = n if size is None else size
            if not 0 <= want <= n:
                raise NotFound(f"the log has {n} entries, not {want}", code="log.bad_size")
            return want, self._root(sql, want)

        n, root = self.store.read(run)
        return Checkpoint(self.origin, n, root), self.note(n, root)

    @staticmethod
    def _root(sql: Sql, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        keys = compact_range(size)
        return subtree_root(_Nodes(_fetch(sql, keys)), 0, size)

    def root(self, size: int) -> bytes:
        return self.store.read(lambda sql: self._root(sql, size))

    def _proof_nodes(self, keys: list[Key], size: int) -> _Nodes:
        """The nodes a proof reads, in one statement with no transaction (nodes never
        change once written), with the last leaf of ``size`` to show the log has it."""
        nodes = logtree.fetch_nodes(self.store.query, self.store.dialect, [*keys, (0, size - 1)])
        if (0, size - 1) not in nodes:
            raise NotFound(f"the log has fewer than {size} entries", code="log.bad_size")
        return _Nodes(nodes)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise InputError(f"no entry {index} in a tree of {size}", code="log.bad_range")
        rec = _Recorder()
        inclusion_proof(index, size, rec)
        return inclusion_proof(index, size, self._proof_nodes(rec.keys, size))

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        if not 0 < size1 <= size2:
            raise InputError(f"no consistency proof from size {size1} to {size2}",
                             code="log.bad_range")
        rec = _Recorder()
        consistency_proof(size1, size2, rec)
        return consistency_proof(size1, size2, self._proof_nodes(rec.keys, size2))

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """``(index, leaf data)`` for ``start <= index < end``."""
        return self.store.read(lambda sql: logtree.entries(sql, start, end))

    def share_refs(self, share_ids: Sequence[str]) -> dict[str, LogRef]:
        """The log place of each share's ``share`` entry (cached; one read for misses)."""
        out: dict[str, LogRef] = {}
        missing = []
        for sid in share_ids:
            ref = self.refs.get(sid)
            if ref is None:
                missing.append(sid)
            else:
                out[sid] = ref
        if missing:
            rows = self.store.read(lambda sql: logtree.share_leaves(sql, missing))
            for sid, idx, root, proof in rows:
                ref = self.ref_of(idx, root, proof)
                self.refs.put(sid, ref)
                out[sid] = ref
        return out

    def refs_in(self, sql: Sql, indexes: Iterable[int]) -> dict[int, LogRef]:
        """Each entry's place and inclusion proof in the log's tree as ``sql`` sees it
        now, so that they all rest on one checkpoint (signed once, verified once by a
        receiver). The nodes the proofs read come in a few batched statements."""
        idx = sorted(set(indexes))
        size = logtree.end(sql)[0]
        if not idx:
            return {}
        if idx[-1] >= size:
            raise NotFound(f"no log entry {idx[-1]} in a tree of {size}",
                           code="log.bad_size")
        rec = _Recorder()
        seen: dict[tuple[int, int], bytes] = {}  # a range read once is noted once
        for i in idx:
            inclusion_proof(i, size, rec, seen)
        keys = sorted(set(rec.keys) | set(compact_range(size)))
        got: dict[Key, bytes] = {}
        for k in range(0, len(keys), 200):  # SQLite's expression depth
            got.update(_fetch(sql, keys[k : k + 200]))
        nodes = _Nodes(got)
        root = subtree_root(nodes, 0, size)
        folds: dict[tuple[int, int], bytes] = {}
        return {i: LogRef(i, size, root, tuple(inclusion_proof(i, size, nodes, folds)),
                          self.note) for i in idx}

    def ref_of(self, index: int, root: bytes, proof: bytes) -> LogRef:
        """The LogRef of a stored leaf row (index, root, proof)."""
        return LogRef(index, index + 1, root, split_proof(proof), self.note)

    def key_entries(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each member's latest key entry (``kind: member``) and its index. Reads only
        the leaves appended since the last call (by index, the primary key)."""
        with self._lock:
            upto, known = self._keys

        def run(sql: Sql) -> tuple[int, list[tuple[int, bytes]]]:
            n = self._size(sql)
            return n, logtree.entries(sql, upto, n, kind="member")

        size, rows = self.store.read(run)
        if rows or size > upto:
            known = dict(known)
            for idx, data in rows:
                entry: dict[str, Any] = orjson.loads(data)
                known[str(entry["member"])] = (idx, entry)
            with self._lock:
                if size > self._keys[0]:
                    self._keys = (size, known)
        return known

    def entry_indexes(self, share_id: str) -> list[tuple[int, str]]:
        """``(index, kind)`` of every entry about a share."""
        return self.store.read(lambda sql: logtree.share_entry_kinds(sql, share_id))


Frontier = list[tuple[int, int, bytes]]


def _frontier_of(sql: Sql, size: int, last: bytes,
                 cached: tuple[int, bytes, Frontier] | None) -> Frontier:
    """The frontier of a log of ``size`` entries ending in ``last``: the cached one if it
    is of that log, else read from the stored tree."""
    if cached is not None and cached[0] == size and cached[1] == last:
        return list(cached[2])
    keys = compact_range(size)
    got_nodes = _fetch(sql, keys)
    return [(lv, ix, got_nodes[(lv, ix)]) for lv, ix in keys]
