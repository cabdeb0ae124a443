"""The shares a member may read, as one SQL query (``storage/readable.py``): it selects
exactly what the access gate's rule in Python reads (``Access.read``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from tests.policy.community import build

from vigil import clock
from vigil.model import ShareState
from vigil.policy.access import Access

LATER = "2999-01-01T00:00:00.000Z"


@pytest.mark.parametrize("seed", [3, 11])
def test_the_sql_rule_selects_what_the_python_rule_reads(tmp_path: Path, seed: int) -> None:
    """``Access.readable_sql`` against ``Access.read`` for every member of a random
    community (holds, recalls, purges, expiries), at several instants."""
    c = build(random.Random(seed), tmp_path / "node", None, 24)
    try:
        ex = c.ex
        ex.store.set_member_active(c.members()[-1], False)  # refused by both rules
        rows = ex.store.read(lambda sql: sql.execute(
            "SELECT id, header, recalled, purged FROM shares").fetchall())
        shares = [(sid, orjson.loads(bytes(h)), ShareState(bool(r), bool(p)))
                  for sid, h, r, p in rows]
        compared = 0
        for now in (clock.now(), c.now, LATER, *sorted(set(c.holds.values()))):
            with mock.patch.object(clock, "now", lambda now=now: now):
                for m in c.members():
                    gate = Access(ex, m)
                    select, params = gate.readable_sql()
                    chosen: set[Any] = {r[0] for r in ex.store.read(
                        lambda sql, s=select, p=params: sql.execute(s, p).fetchall())}
                    assert chosen == gate.readable_ids(shares), (now, m)
                    compared += len(shares)
        assert compared >= 400
    finally:
        c.ex.store.close()
