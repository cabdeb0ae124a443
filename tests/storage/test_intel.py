"""The tables of intelligence beyond cyber (``vigil.storage.intel``), on SQLite and
PostgreSQL: consent requests answered once, the grants in force for one member or many
(in chunks), declared uses, and the private matching relay (indexes replaced whole, queries
within the asker's rate, evaluations and their hits)."""

from __future__ import annotations

import json

import pytest

from vigil.storage import Store
from vigil.storage import intel as it
from vigil.storage.intel import GRANTED, PENDING, StoredGrants


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(it, "CHUNK", 2)


def request(
    store: Store,
    rid: str,
    share: str,
    asker: str,
    what: str,
    created: str = "t1",
) -> None:
    row = (
        rid,
        share,
        asker,
        "identity--orig",
        what,
        "why",
        created,
        PENDING,
        None,
        None,
        None,
        None,
    )
    store.write(lambda sql: it.consent_insert(sql, row))


def test_consent_requests_and_the_grants_in_force(store: Store) -> None:
    request(store, "r1", "s1", "identity--b", "court")
    request(store, "r2", "s2", "identity--b", "forward", "t2")
    request(store, "r3", "s3", "identity--b", "court", "t3")
    request(store, "r4", "s1", "identity--c", "court", "t4")
    pending = store.read(lambda sql: it.consent_pending(sql, "s1", "identity--b"))
    assert pending[0] == "r1"
    assert (
        store.read(lambda sql: it.consent_pending(sql, "s1", "identity--b", what="forward")) is None
    )
    assert (
        store.read(
            lambda sql: it.consent_pending(sql, "s1", "identity--b", originator="identity--x")
        )
        is None
    )
    answer = (GRANTED, "t5")
    assert store.write(lambda sql: it.consent_answer(sql, "r1", *answer, None, "{}", "sig"))
    assert not store.write(
        lambda sql: it.consent_answer(sql, "r1", "refused", "t6", None, "{}", "sig")
    )  # answered already
    store.write(lambda sql: it.consent_answer(sql, "r2", GRANTED, "t5", "t9", "{}", "sig"))
    store.write(lambda sql: it.consent_answer(sql, "r3", GRANTED, "t5", "t7", "{}", "sig"))
    store.write(lambda sql: it.consent_answer(sql, "r4", GRANTED, "t5", None, "{}", "sig"))
    assert it.consent_get(store, "r1")[7] == GRANTED and it.consent_get(store, "x") is None
    assert store.read(lambda sql: it.consent_pending(sql, "s1", "identity--b")) is None
    grants = StoredGrants(store)
    ids = ["s1", "s2", "s3", "s4", "s5"]
    assert grants.granted("identity--b", ids, "t8") == {
        "s1": frozenset({"court"}),
        "s2": frozenset({"forward"}),
    }  # r3 ran out at t7
    assert grants.granted_many(["identity--c", "identity--b", "identity--d"], ids, "t8") == {
        "identity--b": {"s1": frozenset({"court"}), "s2": frozenset({"forward"})},
        "identity--c": {"s1": frozenset({"court"})},
    }
    mine = it.consent_list(store, "identity--b", "asker", None, 10)
    assert [r[0] for r in mine] == ["r3", "r2", "r1"]  # newest first
    assert [r[0] for r in it.consent_list(store, "identity--orig", "originator", GRANTED, 2)] == [
        "r4",
        "r3",
    ]
    assert it.consent_list(store, "identity--b", "originator", None, 10) == []
    assert len(it.consent_list(store, "identity--b", "any", None, 10)) == 3


def test_declared_uses(store: Store) -> None:
    store.write(lambda sql: it.use_insert(sql, "s1", "identity--c", "court", "case 7", "t2"))
    store.write(lambda sql: it.use_insert(sql, "s1", "identity--b", "open", "triage", "t1"))
    store.write(lambda sql: it.use_insert(sql, "s2", "identity--b", "open", "triage", "t1"))
    assert [tuple(r) for r in it.uses_of(store, "s1")] == [
        ("identity--b", "open", "triage", "t1"),
        ("identity--c", "court", "case 7", "t2"),
    ]


def test_the_matching_relay(store: Store) -> None:
    assert it.index_replace(store, "identity--a", ["o1", "o2"]) == 2
    it.index_replace(store, "identity--b", ["o3"])
    it.index_replace(store, "identity--a", ["o4"])  # replaced whole
    assert it.index_outputs(store) == {"o3", "o4"}
    seen: list[tuple[list[str], list[str]]] = []

    def make(times: list[str], members: list[str]) -> tuple[str, str, str, str]:
        seen.append((times, sorted(members)))
        n = len(seen)
        return f"q{n}", "blinded", f"t{n}", json.dumps(sorted(members))

    assert it.query_insert(store, "identity--c", "t0", 5, make)[0] == "q1"
    it.query_insert(store, "identity--c", "t0", 5, make)
    it.query_insert(store, "identity--c", "t1", 5, make)  # only the times after t1 count
    assert seen == [
        ([], ["identity--a", "identity--b"]),
        (["t1"], ["identity--a", "identity--b"]),
        (["t2"], ["identity--a", "identity--b"]),
    ]
    assert it.query_get(store, "q1")[0] == "identity--c" and it.query_get(store, "q9") is None
    assert [r[0] for r in it.pending_for(store, "identity--a")] == ["q1", "q2", "q3"]
    it.evaluation_insert(store, "q1", "identity--a", "e-a")
    it.evaluation_insert(store, "q1", "identity--a", "e-again")  # the first stays
    it.evaluation_insert(store, "q1", "identity--b", "e-b")
    assert [r[0] for r in it.pending_for(store, "identity--a")] == ["q2", "q3"]
    assert it.evaluations_of(store, "q1") == {"identity--a": "e-a", "identity--b": "e-b"}
    assert it.lookup(store, "q1", [("identity--a", "o4"), ("identity--b", "o4")]) == ["identity--a"]
    assert it.was_hit(store, "q1", "identity--a")
    assert not it.was_hit(store, "q1", "identity--b")
