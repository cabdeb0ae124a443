"""Checkpoints members hand back, in the ``log_gossip`` table, on SQLite and PostgreSQL."""

from __future__ import annotations

from vigil.storage import Store
from vigil.storage.gossip import checkpoints, keep_checkpoint

AT = "2026-11-29T08:00:00.000Z"


def test_the_first_copy_of_each_size_and_root_is_kept(store: Store) -> None:
    assert store.read(checkpoints) == []
    store.write(lambda sql: keep_checkpoint(sql, 5, b"r" * 32, "note a", "alpha", AT))
    store.write(lambda sql: keep_checkpoint(sql, 5, b"r" * 32, "note b", "bravo", AT))
    store.write(lambda sql: keep_checkpoint(sql, 5, b"s" * 32, "fork", "bravo", AT))
    store.write(lambda sql: keep_checkpoint(sql, 2, b"t" * 32, "older", "alpha", AT))
    assert store.read(checkpoints) == [(2, b"t" * 32, "older"), (5, b"r" * 32, "note a"),
                                       (5, b"s" * 32, "fork")]
