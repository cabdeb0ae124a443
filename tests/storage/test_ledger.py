"""The ledger's statements (``vigil.storage.ledger``), on SQLite and PostgreSQL: delays
released once each (the share moves to the end of the member's inbox), contributions and
receipts counted, and the report's counts per member and channel over the shares chosen
(plus some, less others)."""

from __future__ import annotations

from tests.storage.conftest import envelope, member

from vigil.model import Member
from vigil.storage import Store, accountability
from vigil.storage import ledger as lg
from vigil.storage.base import Sql


def three(store: Store) -> tuple[Member, Member, Member]:
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    return a, b, c


def test_delays_are_released_once_at_the_end_of_the_inbox(store: Store) -> None:
    a, b, c = three(store)
    envs = [envelope(a.id, [b.id, c.id]) for _ in range(3)]
    for env in envs:
        store.put_share(env, [b.id, c.id], "t0")
    first = envs[0].id
    store.write(lambda sql: lg.insert_delays(sql, first, [b.id, c.id], "t5"))
    assert store.read(lambda sql: lg.due_delays(sql, [b.id, c.id], "t4")) == []
    due = store.read(lambda sql: lg.due_delays(sql, [b.id, c.id], "t5"))
    assert due == [(first, b.id), (first, c.id)]
    assert store.read(lambda sql: lg.delays_of(sql, b.id, [e.id for e in envs])) == {first: "t5"}
    store.write(lambda sql: lg.release_delays(sql, due[:1], "t6"))
    store.write(lambda sql: lg.release_delays(sql, due[:1], "t7"))  # once only
    assert [e.share_id for e, _, _ in store.inbox(b.id, 0, 10)] == [envs[1].id, envs[2].id, first]
    assert store.inbox(c.id, 0, 10)[0][0].share_id == first
    assert store.read(lambda sql: lg.due_delays(sql, [b.id, c.id], "t9")) == [(first, c.id)]


def test_given_and_got(store: Store) -> None:
    a, b, c = three(store)
    envs = [envelope(a.id, [b.id]), envelope(a.id, [b.id, c.id]), envelope(b.id, [c.id])]
    for env in envs:
        store.put_share(env, list(env.recipients), "t")
    store.write(lambda sql: accountability.clear_payload(sql, envs[0].id, "purged"))
    given, got = store.read(lambda sql: lg.given_and_got(sql, envs[2].id))
    assert given == {a.id: 1}  # the purged share and the one left out are not counted
    assert got == {b.id: 2, c.id: 1}


def test_the_report_counts_per_member_and_channel(store: Store) -> None:
    a, b, c = three(store)
    envs = [
        envelope(a.id, [b.id]),
        envelope(a.id, [b.id, c.id]),
        envelope(b.id, [c.id]),
        envelope(c.id, [a.id]),
    ]
    for env in envs:
        store.put_share(env, list(env.recipients), "t")

    def facts(sql: Sql) -> None:
        lg.insert_facts(sql, envs[0].id, a.id, None, 3)
        lg.insert_facts(sql, envs[0].id, a.id, None, 99)  # kept as first written
        lg.insert_facts_many(
            sql,
            [
                (envs[1].id, a.id, "ch1", 4),
                (envs[2].id, b.id, None, 5),
                (envs[3].id, c.id, None, 6),
            ],
        )
        lg.insert_opening(sql, b.id, envs[0].id, "t1")
        lg.insert_opening(sql, b.id, envs[0].id, "t2")
        lg.insert_opening(sql, c.id, envs[1].id, "t1")
        lg.insert_opening(sql, a.id, envs[1].id, "t1")  # its own share: not an opening

    store.write(facts)
    chosen = "SELECT id FROM shares WHERE originator IN (?, ?)"
    cte, params = lg.readable_cte(chosen, [a.id, b.id], [envs[3].id], [envs[2].id])
    counts = store.read(lambda sql: lg.report_counts(sql, cte, params))
    table = {(f, m, ch): n for f, m, ch, n in counts}
    assert table[("shares", a.id, None)] == 1 and table[("shares", a.id, "ch1")] == 1
    assert table[("shares", c.id, None)] == 1 and ("shares", b.id, None) not in table
    assert table[("objects", a.id, None)] == 3 and table[("objects", c.id, None)] == 6
    assert table[("received", b.id, None)] == 1 and table[("received", b.id, "ch1")] == 1
    assert table[("received", c.id, "ch1")] == 1 and table[("received", a.id, None)] == 1
    assert table[("opened", b.id, None)] == 1 and table[("opened", c.id, "ch1")] == 1
    assert ("opened", a.id, "ch1") not in table
    own, readable = store.read(lambda sql: lg.candidates(sql, b.id, chosen, [a.id, a.id]))
    assert {r[0] for r in own} == {envs[0].id, envs[1].id, envs[2].id}
    assert readable == {envs[0].id, envs[1].id}
