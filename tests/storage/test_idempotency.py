"""The stored answers of idempotency keys on both backends (vigil.storage.idempotency):
one per (member, key), the first claim wins, old keys go at the next claim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.storage import Store, open_store
from vigil.storage import idempotency as stored


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'vigil.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    s = open_store(url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


T0, T1, T2 = "2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z", "2026-12-03T00:00:00.000Z"


def test_first_claim_wins_per_member_and_key(store: Store) -> None:
    def claim(member: str, fp: str, at: str = T1, cutoff: str = T0) -> bool:
        return store.write(lambda sql: stored.claim(sql, member, "k", fp, 201, b"{}",
                                                    "share--x", at, cutoff))

    assert claim("m1", "a")
    assert not claim("m1", "b")
    assert claim("m2", "b")  # another member's key
    assert store.read(lambda sql: stored.lookup(sql, "m1", "k", T0)) == ("a", 201, b"{}")
    assert store.read(lambda sql: stored.lookup(sql, "m1", "k", T2)) is None  # too old
    # a claim forgets the keys made before its cutoff: the key is free again
    assert claim("m1", "c", at=T2, cutoff=T2)
    assert store.read(lambda sql: stored.lookup(sql, "m1", "k", T2))[0] == "c"  # type: ignore[index]
