"""The signed messages a link sends, built from the store: batches of outbox rows (push
and pull alike) and heartbeats; the sizes of a round's batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vigil import clock
from vigil.federation import codec, outbox
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.storage.base import Sql

BATCH = 500
FIRST = 25  # items in a round's first batch; each next one twice the one before, to BATCH

__all__ = ["BATCH", "FIRST", "build_batch", "consecutive", "grown", "heartbeat_body"]


def consecutive(rows: Sequence[tuple[int, str, str, str]]) -> list[tuple[int, str, str, str]]:
    """The outbox rows up to the first hole in their dseqs: a batch holds consecutive
    dseqs only, so a row missing from the outbox ends the batch before it, and the next
    batch starts at the hole, where the destination sees the gap (and flags it)."""
    out: list[tuple[int, str, str, str]] = []
    for row in rows:
        if out and row[0] != out[-1][0] + 1:
            break
        out.append(row)
    return out


def grown(limit: int) -> int:
    """The size of a round's batch after one of ``limit`` items."""
    return min(BATCH, limit * 2)


def build_batch(ex: Exchange, dest: str, after: int, limit: int = BATCH) -> dict[str, Any]:
    """The signed batch of ``dest``'s outbox rows after ``after`` (push and pull alike)."""
    def run(sql: Sql) -> list[tuple[int, str, Mapping[str, Any]]]:
        return outbox.bodies(ex, sql, consecutive(q.pending(sql, dest, after, limit)))

    items = outbox.with_proofs(ex, ex.store.read(run), dest)
    _, note = ex.log.checkpoint()
    return codec.make_batch(ex.node_key, ex.node_id, dest, items, note)


def heartbeat_body(ex: Exchange, dest: str, head: int, acked: int,
                   extra: Callable[[str], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A signed heartbeat: this node's head for ``dest``, its latest revocations, and
    the parts others add (``extra``: vigil.federation.trust's witness part)."""
    revoked = ex.store.read(lambda sql: outbox.revocations(ex, sql))
    more = dict(extra(dest)) if extra is not None else {}
    return codec.make_signed(ex.node_key, codec.TAG_HEARTBEAT, "heartbeat", {
        **more, "v": codec.VERSION, "kind": "fed-heartbeat", "origin": ex.node_id,
        "dest": dest, "head": head, "acked": acked, "at": clock.now(), "revocations": revoked})
