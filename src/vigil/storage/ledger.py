"""The ledger's tables (``ledger_shares``, ``share_opens``, ``share_delays``) and its
report, one aggregate query per field over the shares a viewer may read: every
statement of ``vigil.analysis.ledger``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql, queue_inbox, serialize_writes

CHUNK = 500  # ids per query


def insert_facts(sql: Sql, share_id: str, originator: str, channel: str | None,
                 objects: int | None) -> None:
    sql.execute("INSERT INTO ledger_shares(share_id, originator, channel_id, objects) "
                "VALUES(?,?,?,?) ON CONFLICT DO NOTHING",
                (share_id, originator, channel, objects))


def insert_facts_many(sql: Sql, rows: Sequence[tuple[str, str, str | None, int | None]]
                      ) -> None:
    """``insert_facts`` for several shares ``(id, originator, channel, objects)``."""
    sql.executemany("INSERT INTO ledger_shares(share_id, originator, channel_id, objects) "
                    "VALUES(?,?,?,?) ON CONFLICT DO NOTHING", rows)


def insert_opening(sql: Sql, member: str, share_id: str, at: str) -> None:
    """The first time a member read a share by its id (later ones are kept out)."""
    sql.execute("INSERT INTO share_opens(member_id, share_id, first_at) VALUES(?,?,?) "
                "ON CONFLICT DO NOTHING", (member, share_id, at))


def given_and_got(sql: Sql, leave_out: str) -> tuple[dict[str, int], dict[str, int]]:
    """({member: shares contributed}, {member: shares received}), leaving out one share."""
    given = sql.execute("SELECT originator, COUNT(*) FROM shares WHERE purged=? AND id<>? "
                        "GROUP BY originator", (False, leave_out)).fetchall()
    got = sql.execute("SELECT member_id, COUNT(*) FROM inbox WHERE share_id<>? "
                      "GROUP BY member_id", (leave_out,)).fetchall()
    return ({str(m): int(n) for m, n in given}, {str(m): int(n) for m, n in got})


def insert_delays(sql: Sql, share_id: str, members: Iterable[str], not_before: str) -> None:
    sql.executemany("INSERT INTO share_delays(share_id, member_id, not_before, released) "
                    "VALUES(?,?,?,?)", [(share_id, m, not_before, False) for m in members])


def due_delays(sql: Sql, members: Sequence[str], now: str) -> list[tuple[str, str]]:
    """(share, member) of the delays due for these members."""
    return [(str(r[0]), m) for m in members for r in sql.execute(
        "SELECT share_id FROM share_delays WHERE member_id=? AND released=? "
        "AND not_before<=?", (m, False, now)).fetchall()]


def release_delays(sql: Sql, due: Sequence[tuple[str, str]], now: str) -> None:
    """Release each (share, member) once: the share moves to the end of the member's
    inbox, as if it arrived now."""
    serialize_writes(sql)  # inbox positions become visible in order
    for share_id, m in due:
        cur = sql.execute("UPDATE share_delays SET released=? WHERE share_id=? AND "
                          "member_id=? AND released=?", (True, share_id, m, False))
        if cur.rowcount:
            sql.execute("DELETE FROM inbox WHERE member_id=? AND share_id=?", (m, share_id))
            queue_inbox(sql, share_id, [m], now)


def delays_of(sql: Sql, member: str, ids: Sequence[str]) -> dict[str, str]:
    """{share: not before} of a member's delays on these shares."""
    out: dict[str, str] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i:i + CHUNK])
        out.update((str(r[0]), str(r[1])) for r in sql.execute(
            f"SELECT share_id, not_before FROM share_delays WHERE share_id IN "
            f"({','.join('?' * len(chunk))}) AND member_id=?", (*chunk, member)).fetchall())
    return out


def candidates(sql: Sql, viewer: str, select: str, params: Sequence[Any]
               ) -> tuple[list[Any], set[str]]:
    """(id, header, recalled, purged) of the viewer's own shares and its inbox, and the
    ids the readable-share SQL ``select`` chooses."""
    cands = sql.execute(
        "SELECT s.id, s.header, s.recalled, s.purged FROM shares s WHERE s.originator=? "
        "OR s.id IN (SELECT share_id FROM inbox WHERE member_id=?)", (viewer, viewer)).fetchall()
    chosen = {str(r[0]) for r in sql.execute(select, tuple(params)).fetchall()}
    return list(cands), chosen


def readable_cte(select: str, params: Sequence[Any], extra: Sequence[str],
                 wrong: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    """``WITH r AS (...)``: (seq, id, originator, channel, objects) of every share the
    readable-share SQL selects, plus ``extra`` and less ``wrong``."""
    cond = f"s.id IN ({select})"
    out: list[Any] = list(params)
    if extra:
        cond = f"({cond} OR s.id IN ({','.join('?' * len(extra))}))"
        out += extra
    if wrong:
        cond += f" AND s.id NOT IN ({','.join('?' * len(wrong))})"
        out += wrong
    return ("WITH r AS (SELECT s.seq AS seq, s.id AS id, s.originator AS originator, "
            "l.channel_id AS ch, l.objects AS objects FROM shares s "
            f"LEFT JOIN ledger_shares l ON l.share_id=s.id WHERE {cond}) ", tuple(out))


_SIGHTED = "SELECT share_id FROM sightings WHERE verdict=? AND reporter<>originator"
# first reports: per observable (a blind token within one channel and epoch, or a
# normalised value of the correlation index), the earliest readable share, credited
# when another member's readable share holds it too or another member reported seeing
# that first share (only observables held by two shares anywhere, or in a sighted
# share, can earn one: the rest stay in the database)
_FIRST_GROUPS = (
    "SELECT MIN(r.seq) AS first, COUNT(DISTINCT r.originator) AS n FROM "
    "(SELECT channel_id, epoch, token FROM blind_tokens "
    "GROUP BY channel_id, epoch, token HAVING COUNT(*)>1 "
    "UNION SELECT channel_id, epoch, token FROM blind_tokens "
    f"WHERE share_id IN ({_SIGHTED})) k "
    "JOIN blind_tokens b ON b.channel_id=k.channel_id AND b.epoch=k.epoch "
    "AND b.token=k.token JOIN r ON r.id=b.share_id "
    "GROUP BY b.channel_id, b.epoch, b.token",
    "SELECT MIN(r.seq) AS first, COUNT(DISTINCT r.originator) AS n FROM "
    "(SELECT kind, value FROM observables GROUP BY kind, value "
    "HAVING COUNT(*)>1 UNION SELECT kind, value FROM observables "
    f"WHERE share_seq IN (SELECT seq FROM shares WHERE id IN ({_SIGHTED}))) k "
    "JOIN observables o ON o.kind=k.kind AND o.value=k.value "
    "JOIN r ON r.seq=o.share_seq GROUP BY o.kind, o.value")


def report_counts(sql: Sql, cte: str, params: Sequence[Any]
                  ) -> list[tuple[str, Any, str | None, int]]:
    """(field, member, channel, count) of every ledger field over the shares of ``cte``
    (:func:`readable_cte`)."""
    out: list[tuple[str, Any, str | None, int]] = []

    def q(field: str, query: str, extra: tuple[Any, ...] = ()) -> None:
        out.extend((field, r[0], r[1], int(r[2] or 0))
                   for r in sql.execute(cte + query, (*params, *extra)).fetchall())

    q("shares", "SELECT originator, ch, COUNT(*) FROM r GROUP BY originator, ch")
    q("objects", "SELECT originator, ch, SUM(objects) FROM r GROUP BY originator, ch")
    q("received", "SELECT i.member_id, r.ch, COUNT(*) FROM inbox i "
                  "JOIN r ON r.id=i.share_id GROUP BY i.member_id, r.ch")
    # opened: the member's signed "opened" receipt, or the node's record of its reading
    # the share by id (clients that send no receipts)
    q("opened", "SELECT u.member_id, r.ch, COUNT(*) FROM (SELECT member_id, share_id "
                "FROM share_opens UNION SELECT member_id, share_id FROM receipts "
                "WHERE what=?) u JOIN r ON r.id=u.share_id "
                "WHERE u.member_id<>r.originator GROUP BY u.member_id, r.ch", ("opened",))
    for field, verdict in (("sightings_confirmed", "sighted"),
                           ("false_positives", "false-positive")):
        q(field, "SELECT r.originator, r.ch, COUNT(*) FROM sightings g "
                 "JOIN r ON r.id=g.share_id WHERE g.reporter<>r.originator "
                 "AND g.verdict=? GROUP BY r.originator, r.ch", (verdict,))
    for groups in _FIRST_GROUPS:
        q("first_reports", f"SELECT r.originator, r.ch, COUNT(*) FROM ({groups}) f "
                           f"JOIN r ON r.seq=f.first WHERE f.n>1 OR r.id IN "
                           f"({_SIGHTED}) GROUP BY r.originator, r.ch", ("sighted", "sighted"))
    return out
