"""The tables of intelligence beyond cyber (migration ``MIGRATION_INTEL``): consent
requests and their signed answers, declared uses of shares, and the private selector
matching relay (indexes of OPRF outputs, blinded queries, evaluations). Every query of
``vigil.consent`` and ``vigil.match`` is here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vigil.storage.base import Sql, Store

GRANTED, PENDING = "granted", "pending"
CHUNK = 500  # ids per query (SQLite's parameter limit stays far away)
CONSENT_COLS = ("id, share_id, asker, originator, what, reason, created, state, answered, "
                "until_at, answer, signature")


# -- consent grants ---------------------------------------------------------------------

class StoredGrants:
    """The consent grants in force, as the access gate reads them
    (``Exchange.consent_gate``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def granted(self, member: str, share_ids: Sequence[str], now: str
                ) -> Mapping[str, frozenset[str]]:
        """{share id: the uses granted to ``member`` and in force at ``now``}."""
        out: dict[str, set[str]] = {}
        ids = list(share_ids)
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            marks = ",".join("?" * len(part))
            rows = self.store.query(
                "SELECT share_id, what FROM consent_requests WHERE asker=? AND state=? "
                f"AND (until_at IS NULL OR until_at>?) AND share_id IN ({marks})",
                (member, GRANTED, now, *part))
            for sid, what in rows:
                out.setdefault(str(sid), set()).add(str(what))
        return {k: frozenset(v) for k, v in out.items()}

    def granted_many(self, members: Sequence[str], share_ids: Sequence[str], now: str
                     ) -> Mapping[str, Mapping[str, frozenset[str]]]:
        """``granted`` for several members at once: {member: {share id: uses}}, with
        one query per chunk of members and ids (the push path asks for every stream a
        share wakes)."""
        out: dict[str, dict[str, set[str]]] = {}
        ids, who = list(share_ids), sorted(set(members))
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            for j in range(0, len(who), CHUNK):
                askers = who[j:j + CHUNK]
                rows = self.store.query(
                    "SELECT asker, share_id, what FROM consent_requests WHERE state=? "
                    f"AND (until_at IS NULL OR until_at>?) AND asker IN ({marks(askers)}) "
                    f"AND share_id IN ({marks(part)})",
                    (GRANTED, now, *askers, *part))
                for asker, sid, what in rows:
                    out.setdefault(str(asker), {}).setdefault(str(sid), set()).add(str(what))
        return {m: {k: frozenset(v) for k, v in got.items()} for m, got in out.items()}


def marks(values: Sequence[object]) -> str:
    """``?,?,…``: one placeholder per value."""
    return ",".join("?" * len(values))


def consent_pending(sql: Sql, subject: str, asker: str, *, what: str | None = None,
                    originator: str | None = None) -> Any:
    """A pending request of this asker on this subject (a share or a match query)."""
    q = f"SELECT {CONSENT_COLS} FROM consent_requests WHERE share_id=? AND asker=? AND state=?"
    params: list[Any] = [subject, asker, PENDING]
    if what is not None:
        q += " AND what=?"
        params.append(what)
    if originator is not None:
        q += " AND originator=?"
        params.append(originator)
    return sql.execute(q, params).fetchone()


def consent_insert(sql: Sql, row: Sequence[Any]) -> None:
    sql.execute(f"INSERT INTO consent_requests ({CONSENT_COLS}) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?)", tuple(row))


def consent_get(store: Store, request_id: str) -> Any:
    rows = store.query(f"SELECT {CONSENT_COLS} FROM consent_requests WHERE id=?",
                       (request_id,))
    return rows[0] if rows else None


def consent_list(store: Store, member: str, role: str, state: str | None,
                 limit: int) -> list[Any]:
    where = {"asker": "asker=?", "originator": "originator=?"}.get(role)
    params: list[Any] = [member] if where else [member, member]
    q = (f"SELECT {CONSENT_COLS} FROM consent_requests WHERE "
         + (where or "(asker=? OR originator=?)"))
    if state is not None:
        q += " AND state=?"
        params.append(state)
    q += " ORDER BY created DESC, id LIMIT ?"
    params.append(int(limit))
    return store.query(q, params)


def consent_answer(sql: Sql, request_id: str, state: str, answered: str, until: str | None,
                   answer: str, signature: str) -> bool:
    """Record an answer to a pending request; False when it was answered already."""
    cur = sql.execute(
        "UPDATE consent_requests SET state=?, answered=?, until_at=?, answer=?, "
        "signature=? WHERE id=? AND state=?",
        (state, answered, until, answer, signature, request_id, PENDING))
    return bool(cur.rowcount == 1)


# -- declared uses ----------------------------------------------------------------------

def use_insert(sql: Sql, share_id: str, member: str, what: str, purpose: str,
               at: str) -> None:
    sql.execute("INSERT INTO share_uses (share_id, member_id, what, purpose, at) "
                "VALUES (?, ?, ?, ?, ?)", (share_id, member, what, purpose, at))


def uses_of(store: Store, share_id: str) -> list[Any]:
    return store.query("SELECT member_id, what, purpose, at FROM share_uses WHERE share_id=? "
                       "ORDER BY at, member_id", (share_id,))


# -- private selector matching ----------------------------------------------------------

def index_replace(store: Store, member: str, outputs: Sequence[str]) -> int:
    def tx(sql: Sql) -> int:
        sql.execute("DELETE FROM match_index WHERE member_id=?", (member,))
        sql.executemany("INSERT INTO match_index (member_id, output) VALUES (?, ?)",
                        [(member, o) for o in outputs])
        return len(outputs)

    return store.write(tx)


def query_insert(store: Store, asker: str, since: str, rate: int, make: Callable[
        [list[str], list[str]], tuple[str, str, str, str]]) -> tuple[str, list[str]]:
    """Insert a query unless the asker is over its rate: ``make(created times in the
    window, members with an index)`` gives (id, blinded, created, holders json) or
    raises; returns (id, the members with an index)."""
    def tx(sql: Sql) -> tuple[str, list[str]]:
        times = [str(r[0]) for r in sql.execute(
            "SELECT created FROM match_queries WHERE asker=? AND created>? ORDER BY created",
            (asker, since)).fetchall()][:rate + 1]
        members = [str(r[0]) for r in sql.execute(
            "SELECT DISTINCT member_id FROM match_index").fetchall()]
        qid, blinded, created, holders = make(times, members)
        sql.execute("INSERT INTO match_queries (id, asker, blinded, created, holders) "
                    "VALUES (?, ?, ?, ?, ?)", (qid, asker, blinded, created, holders))
        return qid, members

    return store.write(tx)


def pending_for(store: Store, holder: str) -> list[Any]:
    return store.query(
        "SELECT q.id, q.blinded, q.holders FROM match_queries q WHERE NOT EXISTS "
        "(SELECT 1 FROM match_evaluations e WHERE e.query_id=q.id AND e.holder=?) "
        "ORDER BY q.created, q.id", (holder,))


def query_get(store: Store, qid: str) -> Any:
    rows = store.query("SELECT asker, holders FROM match_queries WHERE id=?", (qid,))
    return rows[0] if rows else None


def evaluation_insert(store: Store, qid: str, holder: str, evaluated: str) -> None:
    store.write(lambda sql: sql.execute(
        "INSERT INTO match_evaluations (query_id, holder, evaluated) VALUES (?, ?, ?) "
        "ON CONFLICT (query_id, holder) DO NOTHING", (qid, holder, evaluated)))


def evaluations_of(store: Store, qid: str) -> dict[str, str]:
    return {str(h): str(e) for h, e in store.query(
        "SELECT holder, evaluated FROM match_evaluations WHERE query_id=?", (qid,))}


def lookup(store: Store, qid: str, wanted: Sequence[tuple[str, str]]) -> list[str]:
    """The holders whose index holds the output given for them; each hit is remembered
    on its evaluation (the asker may then ask that holder for disclosure)."""
    def tx(sql: Sql) -> list[str]:
        hits: list[str] = []
        for holder, output in wanted:
            if sql.execute("SELECT 1 FROM match_index WHERE member_id=? AND output=?",
                           (holder, output)).fetchone() is not None:
                hits.append(holder)
                sql.execute("UPDATE match_evaluations SET hit=? WHERE query_id=? AND holder=?",
                            (True, qid, holder))
        return hits

    return store.write(tx)


def was_hit(store: Store, qid: str, holder: str) -> bool:
    return bool(store.query(
        "SELECT 1 FROM match_evaluations WHERE query_id=? AND holder=? AND hit=?",
        (qid, holder, True)))


def index_outputs(store: Store) -> set[str]:
    """Every output of every index (tests look at what the node holds)."""
    return {str(r[0]) for r in store.query("SELECT output FROM match_index")}
