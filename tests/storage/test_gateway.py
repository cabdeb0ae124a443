"""The member-side gateway's own SQLite file (``vigil.storage.gateway``): opened objects
with their first and last versions, the inbox cursor moved by each share stored, withheld,
refused or withdrawn, alerts noted once in a row, expiries, and the object reads by
filter and version."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from vigil.storage.gateway import GatewayDb


@pytest.fixture
def db(tmp_path: Path) -> Iterator[GatewayDb]:
    g = GatewayDb(tmp_path / "gateway.db")
    try:
        yield g
    finally:
        g.close()


def ind(n: int, modified: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{n}",
        "modified": modified,
    }


def by_modified(obj: dict[str, Any], added: str) -> str:
    return str(obj.get("modified", added))


def test_objects_versions_and_the_cursor(db: GatewayDb) -> None:
    assert stat.S_IMODE(db.path.stat().st_mode) == 0o600
    assert db.cursor() == 0
    new = db.add_share(
        3,
        "share--1",
        "identity--a",
        [ind(1, "v1"), ind(2, "v1"), "not an object", {"no": "id"}],
        version=by_modified,
    )
    assert new == 2 and db.cursor() == 3
    assert (
        db.add_share(
            5,
            "share--2",
            "identity--a",
            [ind(1, "v2"), ind(2, "v1")],
            "2026-12-01T00:00:00.000Z",
            version=by_modified,
        )
        == 1
    )
    rows = db.object_rows(0, None, [], ["all"], 10)
    assert [(r[1], r[3]) for r in rows] == [
        ("indicator--1", "v1"),
        ("indicator--2", "v1"),
        ("indicator--1", "v2"),
    ]
    assert orjson.loads(rows[0][6]) == ind(1, "v1")
    last = db.object_rows(0, None, [], ["last"], 10)
    assert [(r[1], r[3]) for r in last] == [("indicator--2", "v1"), ("indicator--1", "v2")]
    first = db.object_rows(0, None, [("object_id", ["indicator--1"])], ["first"], 10)
    assert [r[3] for r in first] == ["v1"]
    assert [r[3] for r in db.object_rows(0, None, [("type", ["indicator"])], ["v2"], 10)] == ["v2"]
    assert db.object_rows(0, None, [("type", ["malware"])], ["all"], 10) == []
    assert db.object_rows(rows[1][0], rows[1][5], [], ["all"], 10)[0][3] == "v2"
    assert [r[1] for r in db.object_rows(0, rows[0][5], [], ["all"], 10)] == ["indicator--1"]
    with pytest.raises(ValueError):
        db.object_rows(0, None, [("body", ["x"])], ["all"], 10)
    assert db.expired("2026-11-30T00:00:00.000Z") == []
    assert db.expired("2026-12-01T00:00:00.000Z") == ["share--2"]

    # withdrawn: its versions go and the flags follow
    assert db.withdraw(6, "share--2") == 1
    assert db.cursor() == 6 and db.expired("2027-01-01T00:00:00.000Z") == []
    last = db.object_rows(0, None, [("object_id", ["indicator--1"])], ["last"], 10)
    assert [r[3] for r in last] == ["v1"]
    assert db.counts() == {
        "shares": 1,
        "objects": 2,
        "refused": 0,
        "withheld": 0,
        "alerts": 0,
        "cursor": 6,
    }


def test_withheld_refused_and_alerts(db: GatewayDb) -> None:
    db.withhold(2, "share--w", "identity--a", "keep-internal", b"{}", "2026-12-01T00:00:00Z")
    assert db.cursor() == 2
    assert [(w["share"], w["inbox_seq"], w["reason"]) for w in db.withheld()] == [
        ("share--w", 2, "keep-internal")
    ]
    db.refuse(4, "share--r", "share.signature", "bad signature")
    db.refuse(4, "share--r", "share.signature", "bad signature")  # once per inbox entry
    assert db.cursor() == 4
    for code in ("key.foreign", "key.foreign", "node.hostile", "key.foreign"):
        db.alert(code, "look")
    assert [a["code"] for a in db.alerts()] == ["key.foreign", "node.hostile", "key.foreign"]
    db.set_meta("node", "node-1")
    assert db.meta("node") == "node-1" and db.meta("nothing") is None
    assert db.withdraw(None, "share--w") == 0
    assert db.withheld() == [] and db.cursor() == 4
    counts = db.counts()
    assert (counts["refused"], counts["alerts"], counts["withheld"]) == (1, 3, 0)


def test_the_file_outlives_the_process(tmp_path: Path) -> None:
    g = GatewayDb(tmp_path / "gateway.db")
    g.add_share(9, "share--1", "identity--a", [ind(1, "v1")], version=by_modified)
    g.close()
    again = GatewayDb(tmp_path / "gateway.db")
    try:
        assert again.cursor() == 9
        assert again.counts()["objects"] == 1
    finally:
        again.close()
