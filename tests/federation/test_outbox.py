"""Bodies of outbox items as a batch carries them: the shares of a batch and their log
leaves are read together, and each body is what it is when built alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.federation.pairs import Node, publish, sync

from vigil.federation import outbox
from vigil.node import accountability
from vigil.storage import federation as q
from vigil.storage import outgoing
from vigil.storage.base import Sql

TO = ["member:bravo@berlin"]


def test_a_batch_reads_its_shares_together_and_each_body_is_as_alone(
        pair: tuple[Node, Node]) -> None:
    """``bodies`` (the shares of a batch and their leaves read in one statement each)
    gives every item the body ``body`` gives it alone: a stored share its envelope and
    log place, a recalled one ``gone``, and the recall its entry."""
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(5)]
    accountability.recall(a.ex, a.id("alpha"), sids[2])
    sync(a, b)
    dest = b.ex.node_id

    def read(sql: Sql) -> tuple[list[tuple[int, str, str, str]],
                                list[Mapping[str, Any]], list[dict[str, Any]]]:
        rows = q.pending(sql, dest, 0, 1000)
        together = [got for _, _, got in outbox.bodies(a.ex, sql, rows)]
        alone = [outbox.body(a.ex, sql, k, r) for _, k, r, _ in rows]
        return rows, together, alone

    rows, together, alone = a.ex.store.read(read)
    shares = {row[2]: got for row, got in zip(rows, together, strict=True)
              if row[1] == "share"}
    assert set(sids) <= set(shares)
    assert shares[sids[2]] == {"share": sids[2], "gone": True}
    for sid in sids[:2] + sids[3:]:
        assert shares[sid]["envelope"]["header"]["id"] == sid
    assert "recall" in [row[1] for row in rows]
    for row, got, one in zip(rows, together, alone, strict=True):
        # the log parts differ in their tree (one checkpoint per batch): the rest of
        # the body and the leaf's index are the same
        assert {x: v for x, v in got.items() if x != "log"} == \
            {x: v for x, v in one.items() if x != "log"}, row
        if "log" in one:
            assert got["log"]["index"] == one["log"]["index"], row


def test_shares_and_leaves_read_together_match_one_by_one(pair: tuple[Node, Node]) -> None:
    a, _ = pair
    sids = [publish(a, "alpha", TO) for _ in range(3)]
    accountability.recall(a.ex, a.id("alpha"), sids[0])

    def read(sql: Sql) -> None:
        many = outgoing.shares_to_send(sql, [*sids, sids[1], "share--none"])
        assert set(many) == set(sids[1:])  # recalled, unknown: left out
        for sid in sids[1:]:
            assert many[sid] == outgoing.share_to_send(sql, sid)
        for kind in ("share", "recall"):
            leaves = q.leaves_of(sql, [*sids, "share--none"], kind)
            assert leaves == {s: got for s in sids
                              if (got := q.leaf_of(sql, s, kind)) is not None}
        assert set(q.leaves_of(sql, sids, "recall")) == {sids[0]}

    a.ex.store.read(read)
