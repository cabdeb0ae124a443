"""The ``sightings`` table, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from vigil.storage import Store
from vigil.storage.sightings import COLUMNS, insert_sighting, sightings_of


def row(n: int, share: str = "share--1", verdict: str = "true-positive") -> tuple[object, ...]:
    return (f"sighting--{n}", share, "indicator--1", "alpha", f"member-{n}", verdict, n,
            "2026-01-01T00:00:00.000Z", None, n % 2 == 0, f"2026-01-0{n}T00:00:00.000Z")


def test_a_shares_sightings_oldest_first(store: Store) -> None:
    for n in (3, 1, 2):
        store.write(lambda sql, n=n: insert_sighting(sql, row(n)))
    store.write(lambda sql: insert_sighting(sql, row(4, share="share--2")))
    got = store.read(lambda sql: sightings_of(sql, "share--1"))
    assert [tuple(r) for r in got] == [row(3), row(1), row(2)]  # as they were written
    assert len(COLUMNS.split(",")) == len(row(1))
    assert store.read(lambda sql: sightings_of(sql, "share--none")) == []


def test_a_sighting_id_is_taken_once(store: Store) -> None:
    store.write(lambda sql: insert_sighting(sql, row(1)))
    with pytest.raises(Exception):  # noqa: B017 - each backend's own integrity error
        store.write(lambda sql: insert_sighting(sql, row(1)))
    assert len(store.read(lambda sql: sightings_of(sql, "share--1"))) == 1
