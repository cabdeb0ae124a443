"""The tables of federation (vigil.federation) and the SQL that reads and writes them.

Every function takes an ``Sql`` inside the caller's transaction, so federation rows are
written in the transaction of the event they follow (a share, a recall, a received
batch and its cursor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql, Store

_TAKE = ("INSERT INTO fed_links(dest, head, acked) VALUES(?, 1, 0) "
         "ON CONFLICT (dest) DO UPDATE SET head = fed_links.head + 1 RETURNING head")


def enqueue(sql: Sql, dest: str, kind: str, ref: str, at: str) -> int:
    """One outbox row for ``dest``; its dseq (the next of that destination, no gap)."""
    dseq = int(sql.execute(_TAKE, (dest,)).fetchone()[0])
    sql.execute("INSERT INTO fed_outbox(dest, dseq, kind, ref, at) VALUES(?,?,?,?,?)",
                (dest, dseq, kind, ref, at))
    return dseq


def pending(sql: Sql, dest: str, after: int, limit: int) -> list[tuple[int, str, str, str]]:
    """Outbox rows (dseq, kind, ref, at) of ``dest`` after ``after``, in order."""
    rows = sql.execute("SELECT dseq, kind, ref, at FROM fed_outbox WHERE dest=? AND dseq>? "
                       "ORDER BY dseq LIMIT ?", (dest, after, limit)).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def link(sql: Sql, dest: str) -> tuple[int, int, str | None, str | None, str | None]:
    """(head, acked, acked_at, last_ok, last_error) of the link to ``dest``."""
    row = sql.execute("SELECT head, acked, acked_at, last_ok, last_error FROM fed_links "
                      "WHERE dest=?", (dest,)).fetchone()
    if row is None:
        return 0, 0, None, None, None
    return int(row[0]), int(row[1]), row[2], row[3], row[4]


def set_acked(sql: Sql, dest: str, acked: int, at: str) -> None:
    sql.execute("INSERT INTO fed_links(dest, head, acked, acked_at, last_ok) "
                "VALUES(?, 0, ?, ?, ?) ON CONFLICT (dest) DO UPDATE SET acked=?, "
                "acked_at=?, last_ok=?, last_error=NULL", (dest, acked, at, at, acked, at, at))


def set_error(sql: Sql, dest: str, error: str) -> None:
    sql.execute("INSERT INTO fed_links(dest, head, acked, last_error) VALUES(?, 0, 0, ?) "
                "ON CONFLICT (dest) DO UPDATE SET last_error=?", (dest, error, error))


def oldest_unacked(sql: Sql, dest: str, acked: int) -> str | None:
    row = sql.execute("SELECT at FROM fed_outbox WHERE dest=? AND dseq>? ORDER BY dseq "
                      "LIMIT 1", (dest, acked)).fetchone()
    return None if row is None else str(row[0])


def cursor(sql: Sql, origin: str) -> tuple[int, int, str | None, str | None, str | None]:
    """(cursor, peer_head, last_batch, last_heartbeat, withheld) for ``origin``."""
    row = sql.execute("SELECT cursor, peer_head, last_batch, last_heartbeat, withheld "
                      "FROM fed_cursors WHERE origin=?", (origin,)).fetchone()
    if row is None:
        return 0, 0, None, None, None
    return int(row[0]), int(row[1]), row[2], row[3], row[4]


def read_cursor(store: Store, origin: str) -> int:
    """The cursor for ``origin`` as committed now (a read, no write lock)."""
    return store.read(lambda sql: cursor(sql, origin))[0]


def set_cursor(sql: Sql, origin: str, value: int, at: str) -> None:
    sql.execute("INSERT INTO fed_cursors(origin, cursor, peer_head, last_batch) "
                "VALUES(?, ?, 0, ?) ON CONFLICT (origin) DO UPDATE SET cursor=?, last_batch=?",
                (origin, value, at, value, at))


def set_heartbeat(sql: Sql, origin: str, head: int, at: str, withheld: str | None) -> None:
    sql.execute("INSERT INTO fed_cursors(origin, cursor, peer_head, last_heartbeat, withheld) "
                "VALUES(?, 0, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET peer_head=?, "
                "last_heartbeat=?, withheld=?", (origin, head, at, withheld, head, at, withheld))


def set_withheld(sql: Sql, origin: str, withheld: str | None) -> None:
    sql.execute("UPDATE fed_cursors SET withheld=? WHERE origin=?", (withheld, origin))


def quarantine(sql: Sql, origin: str, dseq: int | None, kind: str, code: str, message: str,
               evidence: bytes, at: str) -> None:
    sql.execute("INSERT INTO fed_quarantine(origin, dseq, kind, code, message, evidence, at) "
                "VALUES(?,?,?,?,?,?,?)", (origin, dseq, kind, code, message, evidence, at))


def quarantined(sql: Sql, origin: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    where, params = ("WHERE origin=? ", [origin]) if origin else ("", [])
    rows = sql.execute("SELECT seq, origin, dseq, kind, code, message, at FROM fed_quarantine "
                       f"{where}ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
    return [{"seq": int(r[0]), "origin": r[1], "dseq": None if r[2] is None else int(r[2]),
             "kind": r[3], "code": r[4], "message": r[5], "at": r[6]} for r in rows]


def evidence(sql: Sql, seq: int) -> bytes | None:
    row = sql.execute("SELECT evidence FROM fed_quarantine WHERE seq=?", (seq,)).fetchone()
    return None if row is None else bytes(row[0])


def home_nodes(sql: Sql, members: Sequence[str]) -> dict[str, str]:
    """{member: home node} for those of ``members`` homed at another node."""
    if not members:
        return {}
    marks = ",".join("?" * len(members))
    rows = sql.execute(f"SELECT member_id, node_id FROM fed_members WHERE member_id IN ({marks})",
                       list(members)).fetchall()
    return {str(m): str(n) for m, n in rows}


def remote_member(sql: Sql, member: str) -> tuple[str, int, int | None] | None:
    """(home node, log index, revoked index) of a member homed elsewhere."""
    row = sql.execute("SELECT node_id, log_index, revoked_index FROM fed_members "
                      "WHERE member_id=?", (member,)).fetchone()
    if row is None:
        return None
    return str(row[0]), int(row[1]), None if row[2] is None else int(row[2])


def hosted_by(sql: Sql, node: str) -> list[str]:
    return [str(r[0]) for r in sql.execute(
        "SELECT member_id FROM fed_members WHERE node_id=?", (node,)).fetchall()]


def scan_at(sql: Sql, name: str, dest: str) -> int:
    row = sql.execute("SELECT idx FROM fed_scans WHERE name=? AND dest=?",
                      (name, dest)).fetchone()
    return 0 if row is None else int(row[0])


def set_scan(sql: Sql, name: str, dest: str, idx: int) -> None:
    sql.execute("INSERT INTO fed_scans(name, dest, idx) VALUES(?,?,?) "
                "ON CONFLICT (name, dest) DO UPDATE SET idx=?", (name, dest, idx, idx))


def reset_scans(sql: Sql, dest: str) -> None:
    sql.execute("DELETE FROM fed_scans WHERE dest=?", (dest,))


def log_leaves(sql: Sql, kinds: Iterable[str], after: int, limit: int
               ) -> list[tuple[int, str, bytes]]:
    """(index, kind, data) of log leaves of these kinds at index >= ``after``."""
    ks = list(kinds)
    marks = ",".join("?" * len(ks))
    rows = sql.execute(f"SELECT idx, kind, data FROM log_leaves WHERE idx>=? AND kind IN "
                       f"({marks}) ORDER BY idx LIMIT ?", [after, *ks, limit]).fetchall()
    return [(int(i), str(k), bytes(d)) for i, k, d in rows]


def log_end(sql: Sql) -> int:
    row = sql.execute("SELECT max(idx) FROM log_leaves").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def leaf(sql: Sql, idx: int) -> tuple[bytes, bytes, bytes] | None:
    """(data, root, proof) of log leaf ``idx``."""
    row = sql.execute("SELECT data, root, proof FROM log_leaves WHERE idx=?",
                      (idx,)).fetchone()
    return None if row is None else (bytes(row[0]), bytes(row[1]), bytes(row[2]))


def leaf_of(sql: Sql, share_id: str, kind: str) -> tuple[int, bytes, bytes, bytes] | None:
    """(index, data, root, proof) of the first log leaf of this kind about a share.

    Reads the share's few leaves by the share index and picks the kind here: with
    ``kind=?`` in the query, SQLite walks the (kind, idx) index in order instead, one
    step per leaf of that kind before this one (quadratic over a large backlog)."""
    for row in sql.execute("SELECT idx, kind, data, root, proof FROM log_leaves "
                           "WHERE share_id=? ORDER BY idx", (share_id,)).fetchall():
        if row[1] == kind:
            return int(row[0]), bytes(row[2]), bytes(row[3]), bytes(row[4])
    return None


def leaves_of(sql: Sql, share_ids: Sequence[str], kind: str
              ) -> dict[str, tuple[int, bytes, bytes, bytes]]:
    """``leaf_of`` of several shares (by the share index, in one statement per 500
    ids): {share id: (index, data, root, proof)} for those that have such a leaf."""
    out: dict[str, tuple[int, bytes, bytes, bytes]] = {}
    ids = list(dict.fromkeys(share_ids))
    for k in range(0, len(ids), 500):
        part = ids[k:k + 500]
        marks = ",".join("?" * len(part))
        for row in sql.execute("SELECT idx, kind, data, root, proof, share_id FROM "
                               f"log_leaves WHERE share_id IN ({marks}) ORDER BY idx",
                               part).fetchall():
            if row[1] == kind and str(row[5]) not in out:
                out[str(row[5])] = int(row[0]), bytes(row[2]), bytes(row[3]), bytes(row[4])
    return out


def take_lease(sql: Sql, owner: str, now: float, seconds: float) -> bool:
    """Hold (or renew) the node's one sender lease for ``owner``: True while it does.
    Several worker processes of one node serve the routes; one of them sends."""
    row = sql.execute("SELECT value FROM meta WHERE key='fed_sender'").fetchone()
    if row is not None:
        held_by, _, until = str(row[0]).rpartition("|")
        if held_by != owner and float(until) > now:
            return False
    value = f"{owner}|{now + seconds}"
    sql.execute("INSERT INTO meta(key, value) VALUES('fed_sender', ?) "
                "ON CONFLICT (key) DO UPDATE SET value=?", (value, value))
    return True


def drop_lease(sql: Sql, owner: str) -> None:
    row = sql.execute("SELECT value FROM meta WHERE key='fed_sender'").fetchone()
    if row is not None and str(row[0]).rpartition("|")[0] == owner:
        sql.execute("DELETE FROM meta WHERE key='fed_sender'")


# -- held channel items (vigil.federation.held) ------------------------------------------

HeldRow = tuple[int, str, int, str, str, str | None, bytes, bytes, str]
_HELD = "SELECT seq, origin, dseq, kind, channel, waiting, body, evidence, at FROM fed_held "


def _held(rows: Iterable[Any]) -> list[HeldRow]:
    return [(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]),
             None if r[5] is None else str(r[5]), bytes(r[6]), bytes(r[7]), str(r[8]))
            for r in rows]


def hold(sql: Sql, origin: str, dseq: int, kind: str, channel: str, waiting: str | None,
         body: bytes, evidence: bytes, at: str) -> None:
    sql.execute("INSERT INTO fed_held(origin, dseq, kind, channel, waiting, body, evidence, "
                "at) VALUES(?,?,?,?,?,?,?,?)",
                (origin, dseq, kind, channel, waiting, body, evidence, at))


def set_waiting(sql: Sql, seq: int, waiting: str) -> None:
    sql.execute("UPDATE fed_held SET waiting=? WHERE seq=?", (waiting, seq))


def unhold(sql: Sql, seq: int) -> None:
    sql.execute("DELETE FROM fed_held WHERE seq=?", (seq,))


def held_rows(sql: Sql) -> list[HeldRow]:
    """Every held item (seq, origin, dseq, kind, channel, waiting, body, evidence, at),
    in the order they were held."""
    return _held(sql.execute(_HELD + "ORDER BY seq").fetchall())


def held_before(sql: Sql, at: str) -> list[HeldRow]:
    """The items held since before ``at``, oldest first."""
    return _held(sql.execute(_HELD + "WHERE at < ? ORDER BY at, seq", (at,)).fetchall())


def held_oldest(sql: Sql, origin: str, n: int) -> list[HeldRow]:
    """The ``n`` items of ``origin`` held longest."""
    return _held(sql.execute(_HELD + "WHERE origin=? ORDER BY seq LIMIT ?",
                             (origin, n)).fetchall())


def held_count(sql: Sql, origin: str) -> int:
    return int(sql.execute("SELECT count(*) FROM fed_held WHERE origin=?",
                           (origin,)).fetchone()[0])


def held_channel(sql: Sql, origin: str, channel: str) -> bool:
    """Whether an item of this channel from ``origin`` is held."""
    return sql.execute("SELECT 1 FROM fed_held WHERE channel=? AND origin=? LIMIT 1",
                       (channel, origin)).fetchone() is not None


def known_members(sql: Sql, members: Sequence[str]) -> set[str]:
    """Those of ``members`` known here (hosted or homed elsewhere)."""
    if not members:
        return set()
    marks = ",".join("?" * len(members))
    return {str(r[0]) for r in sql.execute(f"SELECT id FROM members WHERE id IN ({marks})",
                                           list(members)).fetchall()}
