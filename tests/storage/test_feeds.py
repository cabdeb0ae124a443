"""The feed tables (``vigil.storage.feeds``), on SQLite and PostgreSQL: a feed row as
written, its lease taken by compare-and-set, a pull's counts added, the (object, version)
pairs a feed published or a push delivered (asked in chunks), refusals kept once per pair
(the latest), and a feed removed with what it saw."""

from __future__ import annotations

import pytest
from tests.storage.conftest import member

from vigil.storage import Store
from vigil.storage import feeds as f
from vigil.storage.base import Sql


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f, "CHUNK", 2)


def feed(store: Store, name: str) -> str:
    m = member(name)
    store.add_member(m)
    values = {
        "name": name,
        "url": f"https://{name}.example/taxii2/",
        "collection": "c1",
        "member_id": m.id,
        "tlp": "green",
        "audience": "all",
        "every_s": 3600,
        "auth": "",
        "cursor": None,
        "created": "t0",
        "last_pull": None,
        "last_error": None,
        "lease_until": None,
        "fetched": 0,
        "published": 0,
        "shares": 0,
        "duplicates": 0,
        "rejected": 0,
        "cursor_keys": None,
        "lease_owner": None,
        "kind": "taxii",
    }
    row = [values[c.strip()] for c in f.COLUMNS.split(",")]
    store.write(lambda sql: f.insert_feed(sql, row))
    return m.id


def column(store: Store, name: str, col: str) -> object:
    row = store.read(lambda sql: f.feed_row(sql, name))
    return row[[c.strip() for c in f.COLUMNS.split(",")].index(col)]


def test_a_feed_its_lease_and_its_pulls(store: Store) -> None:
    feed(store, "misp")
    feed(store, "abuse")
    assert store.read(lambda sql: f.feed_exists(sql, "misp"))
    assert not store.read(lambda sql: f.feed_exists(sql, "none"))
    assert store.read(lambda sql: f.feed_row(sql, "none")) is None
    assert [r[0] for r in store.read(f.feed_rows)] == ["abuse", "misp"]
    assert store.write(lambda sql: f.take_lease(sql, "misp", "t5", "worker-1", None))
    assert not store.write(lambda sql: f.take_lease(sql, "misp", "t6", "worker-2", None))
    assert not store.write(lambda sql: f.take_lease(sql, "misp", "t6", "worker-2", "t4"))
    assert store.write(lambda sql: f.take_lease(sql, "misp", "t7", "worker-2", "t5"))
    assert column(store, "misp", "lease_owner") == "worker-2"
    for counts in ((10, 8, 2, 1, 1), (5, 5, 1, 0, 0)):
        store.write(lambda sql, c=counts: f.end_pull(sql, "misp", "t8", None, c))
    assert column(store, "misp", "lease_until") is None
    assert [
        column(store, "misp", c)
        for c in ("fetched", "published", "shares", "duplicates", "rejected")
    ] == [15, 13, 3, 1, 1]
    store.write(lambda sql: f.end_pull(sql, "misp", "t9", "feed.unreachable", (0,) * 5))
    assert column(store, "misp", "last_error") == "feed.unreachable"
    store.write(lambda sql: f.update_cursor(sql, "misp", "2026-11-29", '["k"]'))
    assert column(store, "misp", "cursor") == "2026-11-29"
    assert column(store, "misp", "cursor_keys") == '["k"]'


def test_pairs_seen_pushed_and_refused(store: Store) -> None:
    feed(store, "misp")
    keys = [(f"indicator--{i}", f"v{i % 2}") for i in range(5)]

    def seen(sql: Sql) -> None:
        f.insert_seen(sql, [("misp", o, v, "share--1") for o, v in keys[:3]])
        f.insert_seen(sql, [("misp", *keys[0], "share--2")])  # seen before: kept
        f.insert_seen(sql, [("other", *keys[4], "share--3")])
        f.insert_pushed(sql, [("peer", *keys[3]), ("peer", *keys[3])])

    store.write(seen)
    ask = [*keys, ("indicator--0", "v9")]  # a known id in another version
    assert store.read(lambda sql: f.seen_pairs(sql, "misp", ask)) == set(keys[:3])
    assert store.read(lambda sql: f.pushed_pairs(sql, "peer", ask)) == {keys[3]}
    assert store.read(lambda sql: f.pushed_pairs(sql, "misp", ask)) == set()
    # only the versions asked for: the id alone is not enough
    assert store.read(lambda sql: f.seen_pairs(sql, "misp", [("indicator--0", "v9")])) == set()

    def rejects(sql: Sql) -> None:
        f.upsert_rejects(
            sql,
            [
                ("misp", "indicator--9", "v1", "stix.id", "/id", "bad", "t1"),
                ("misp", "indicator--8", "v1", "stix.x", "/x", "bad", "t2"),
            ],
        )
        f.upsert_rejects(
            sql, [("misp", "indicator--9", "v1", "stix.pattern", "/pattern", "worse", "t3")]
        )

    store.write(rejects)
    got = store.read(lambda sql: f.reject_rows(sql, "misp", 10))
    assert [(r[0], r[2], r[5]) for r in got] == [
        ("indicator--9", "stix.pattern", "t3"),
        ("indicator--8", "stix.x", "t2"),
    ]
    store.write(lambda sql: f.delete_feed(sql, "misp"))
    assert not store.read(lambda sql: f.feed_exists(sql, "misp"))
    assert store.read(lambda sql: f.seen_pairs(sql, "misp", keys)) == set()
    assert store.read(lambda sql: f.reject_rows(sql, "misp", 10)) == []
    assert store.read(lambda sql: f.seen_pairs(sql, "other", keys)) == {keys[4]}
