"""The directory log of one node: every entry about the keys of the members it hosts.

An RFC 9162 tree over the signed entries' bytes (``dir_entries``), with C2SP
checkpoints signed by the node key under its own origin
``<authority>/directory/<node id>``, so peers witness it exactly like the main log
(:class:`vigil.witness.collector.WitnessedLog`). Entries are checked against the
member's chain before they are appended (:func:`vigil.directory.entries.step`); the
tree is small (members, not shares) and kept in memory, rebuilt from the store when
another writer appended.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TypeVar

from vigil.crypto.keys import SignPrivate
from vigil.directory.entries import MemberKeys, SignedEntry, directory_origin, fold, step
from vigil.errors import InputError, NotFound
from vigil.log.checkpoint import Checkpoint, sign_checkpoint
from vigil.log.merkle import MemoryTree, leaf_hash
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store, serialize_writes

__all__ = ["DirectoryLog", "directory_origin"]

T = TypeVar("T")


class DirectoryLog:
    def __init__(self, store: Store, node_id: str, node_key: SignPrivate) -> None:
        self.store = store
        self.node_id = node_id
        self.origin = directory_origin(node_id)
        self.key_name = self.origin
        self._key = node_key
        self.public_raw = node_key.public_key().public_bytes_raw()
        self._lock = threading.Lock()
        self._tree = MemoryTree()
        self._entries: list[SignedEntry] = []
        self._notes: dict[tuple[int, bytes], str] = {}
        self.store.read(self._load)

    def _load(self, sql: Sql) -> None:
        for idx, raw in q.dir_entries(sql, len(self._entries)):
            if idx != len(self._entries):
                raise InputError("the directory log has a gap", code="dir.broken")
            self._entries.append(SignedEntry.from_json(json.loads(raw)))
            self._tree.append(leaf_hash(raw))

    # -- writing ----------------------------------------------------------------------
    def append(self, signed: SignedEntry, also: Callable[[Sql], object] | None = None) -> int:
        """Check ``signed`` against its member's chain and append it; its index. ``also``
        runs in the same transaction (what the entry changes elsewhere in the store):
        both commit, or neither."""
        def run(sql: Sql) -> int:
            idx = self.append_in(sql, signed)
            if also is not None:
                also(sql)
            return idx
        return self.write(run)

    def append_in(self, sql: Sql, signed: SignedEntry) -> int:
        """:meth:`append` inside the caller's write transaction (run it through
        :meth:`write`, which forgets the entry if the transaction rolls back)."""
        serialize_writes(sql)
        with self._lock:
            self._load(sql)
            mine = [e for e in self._entries if e.member == signed.member]
            state = fold(mine, self.node_id, self.public_raw) if mine else None
            step(state, signed, self.node_id, self.public_raw)
            return self._put(sql, signed)

    def _put(self, sql: Sql, signed: SignedEntry) -> int:
        """Store ``signed`` as the next entry and add it to the tree (the lock held)."""
        idx = len(self._entries)
        data = signed.data()
        q.add_dir_entry(sql, idx, signed.member, signed.kind, data)
        self._entries.append(signed)
        self._tree.append(leaf_hash(data))
        return idx

    def write(self, run: Callable[[Sql], T]) -> T:
        """``store.write(run)`` for a transaction that appends with :meth:`append_in`:
        if it fails, the entries it appended are forgotten here too."""
        try:
            return self.store.write(run)
        except Exception:
            self.reload()  # the transaction rolled back: forget what it added
            raise

    def reload(self) -> None:
        """Read the log again from the store (after a transaction that appended with
        :meth:`append_in` rolled back)."""
        with self._lock:
            self._entries.clear()
            self._tree = MemoryTree()
            self.store.read(self._load)

    def append_unchecked(self, signed: SignedEntry) -> int:
        """Append without the chain rules: what a *misbehaving* home node can do. The
        tests use it to play a rogue node; nothing in vigil calls it."""
        def run(sql: Sql) -> int:
            serialize_writes(sql)
            with self._lock:
                self._load(sql)
                return self._put(sql, signed)
        return self.store.write(run)

    # -- reading ----------------------------------------------------------------------
    def refresh(self) -> None:
        with self._lock:
            self.store.read(self._load)

    def size(self) -> int:
        self.refresh()
        return self._tree.size

    def checkpoint(self, size: int | None = None) -> tuple[Checkpoint, str]:
        self.refresh()
        size = self._tree.size if size is None else size
        if not 0 <= size <= self._tree.size:
            raise NotFound(f"the directory log has no size {size}", code="log.bad_size")
        root = self._tree.root(size)
        cp = Checkpoint(self.origin, size, root)
        note = self._notes.get((size, root))
        if note is None:
            note = self._notes[(size, root)] = sign_checkpoint(cp, self.key_name, self._key)
        return cp, note

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        self.refresh()
        return self._tree.consistency_proof(size1, size2)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        self.refresh()
        return self._tree.inclusion_proof(index, size)

    def entries(self, start: int = 0, end: int | None = None) -> list[tuple[int, SignedEntry]]:
        self.refresh()
        end = len(self._entries) if end is None else end
        return list(enumerate(self._entries))[start:end]

    def member_entries(self, member: str, size: int | None = None
                       ) -> list[tuple[int, SignedEntry]]:
        return [(i, e) for i, e in self.entries(0, size) if e.member == member]

    def keys(self, member: str) -> MemberKeys:
        mine = [e for _, e in self.member_entries(member)]
        return fold(mine, self.node_id, self.public_raw)

    def keys_in(self, sql: Sql, member: str) -> MemberKeys | None:
        """A member's keys as its chain stands in the caller's write transaction (None
        when it has no entry), read under the write-order lock :meth:`append_in` takes,
        so an entry made from them is the next of the chain."""
        serialize_writes(sql)
        with self._lock:
            self._load(sql)
            mine = [e for e in self._entries if e.member == member]
        return fold(mine, self.node_id, self.public_raw) if mine else None
