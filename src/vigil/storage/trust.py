"""The tables of federation trust (``TRUST_MIGRATION``) and the SQL that reads and
writes them: witness heads and seen roots, cosignatures, evidence and fork alarms, the
directory log, revocations and key uses, relay hops, the roster.

Every function takes an ``Sql`` inside the caller's transaction (or read).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vigil.storage.base import Sql
from vigil.storage.common import bump_directory

_ALARM = ("SELECT node, origin, evidence, raised, status, decided_by, decided, reason "
          "FROM fork_alarms")
_EVIDENCE = "SELECT seq, origin, kind, size, notes, detail, source, at FROM trust_evidence"


# -- witness: heads, roots seen -------------------------------------------------------------
def witness_head(sql: Sql, origin: str) -> tuple[int, bytes, str] | None:
    row = sql.execute("SELECT size, root, note FROM witness_heads WHERE origin = ?",
                      (origin,)).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))


def set_witness_head(sql: Sql, origin: str, size: int, root: bytes, note: str, at: str,
                     held_size: int | None) -> None:
    if held_size is None:
        sql.execute("INSERT INTO witness_heads(origin, size, root, note, at) VALUES(?,?,?,?,?)",
                    (origin, size, root, note, at))
    else:
        sql.execute("UPDATE witness_heads SET size = ?, root = ?, note = ?, at = ? "
                    "WHERE origin = ? AND size = ?", (size, root, note, at, origin, held_size))


def witness_heads(sql: Sql) -> dict[str, str]:
    return {str(o): str(n) for o, n in
            sql.execute("SELECT origin, note FROM witness_heads ORDER BY origin").fetchall()}


def other_root(sql: Sql, origin: str, size: int, root: bytes) -> str | None:
    """A note seen of ``origin`` at ``size`` with another root than ``root``."""
    row = sql.execute("SELECT note FROM witness_roots WHERE origin = ? AND size = ? "
                      "AND root <> ? ORDER BY at LIMIT 1", (origin, size, root)).fetchone()
    return None if row is None else str(row[0])


def add_root(sql: Sql, origin: str, size: int, root: bytes, note: str, source: str,
             at: str) -> None:
    sql.execute("INSERT INTO witness_roots(origin, size, root, note, source, at) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT (origin, size, root) DO NOTHING",
                (origin, size, root, note, source, at))


def root_sources(sql: Sql, origin: str, index: int) -> list[str]:
    """Who showed a checkpoint of ``origin`` that includes leaf ``index``."""
    return [str(r[0]) for r in sql.execute(
        "SELECT DISTINCT source FROM witness_roots WHERE origin = ? AND size > ? "
        "ORDER BY source", (origin, index)).fetchall()]


def prune_roots(sql: Sql, keep: int) -> int:
    gone = 0
    for (origin,) in sql.execute("SELECT DISTINCT origin FROM witness_roots").fetchall():
        row = sql.execute("SELECT size FROM witness_roots WHERE origin = ? "
                          "ORDER BY size DESC LIMIT 1 OFFSET ?", (origin, keep)).fetchone()
        if row is not None:
            gone += int(sql.execute("DELETE FROM witness_roots WHERE origin = ? AND size <= ?",
                                    (origin, int(row[0]))).rowcount)
    return gone


# -- evidence and fork alarms ---------------------------------------------------------------
def add_evidence(sql: Sql, origin: str, kind: str, size: int, notes: str, detail: str,
                 source: str, at: str) -> int:
    row = sql.execute("INSERT INTO trust_evidence(origin, kind, size, notes, detail, source, "
                      "at) VALUES(?,?,?,?,?,?,?) RETURNING seq",
                      (origin, kind, size, notes, detail, source, at)).fetchone()
    return int(row[0])


def evidence(sql: Sql, seq: int | None = None, origin: str | None = None) -> list[Any]:
    if seq is not None:
        return list(sql.execute(_EVIDENCE + " WHERE seq = ?", (seq,)).fetchall())
    if origin is not None:
        return list(sql.execute(_EVIDENCE + " WHERE origin = ? ORDER BY seq",
                                (origin,)).fetchall())
    return list(sql.execute(_EVIDENCE + " ORDER BY seq").fetchall())


def alarm_status(sql: Sql, node: str) -> str | None:
    row = sql.execute("SELECT status FROM fork_alarms WHERE node = ?", (node,)).fetchone()
    return None if row is None else str(row[0])


def raise_alarm(sql: Sql, node: str, origin: str, evidence_seq: int, at: str) -> None:
    sql.execute("DELETE FROM fork_alarms WHERE node = ?", (node,))
    sql.execute("INSERT INTO fork_alarms(node, origin, evidence, raised, status) "
                "VALUES(?,?,?,?,?)", (node, origin, evidence_seq, at, "open"))


def alarms(sql: Sql, node: str | None = None) -> list[Any]:
    if node is not None:
        return list(sql.execute(_ALARM + " WHERE node = ?", (node,)).fetchall())
    return list(sql.execute(_ALARM + " ORDER BY raised, node").fetchall())


def refused_nodes(sql: Sql) -> set[str]:
    return {str(r[0]) for r in sql.execute(
        "SELECT node FROM fork_alarms WHERE status IN ('open', 'expel')").fetchall()}


def settle_alarm(sql: Sql, node: str, decision: str, operator: str, at: str,
                 reason: str) -> int:
    return int(sql.execute("UPDATE fork_alarms SET status = ?, decided_by = ?, decided = ?, "
                           "reason = ? WHERE node = ?",
                           (decision, operator, at, reason, node)).rowcount)


# -- the log side: what each witness holds, cosignatures ------------------------------------
def held_size(sql: Sql, witness: str, origin: str) -> int:
    row = sql.execute("SELECT size FROM witness_held WHERE witness = ? AND origin = ?",
                      (witness, origin)).fetchone()
    return int(row[0]) if row else 0


def set_held_size(sql: Sql, witness: str, origin: str, size: int) -> None:
    sql.execute("INSERT INTO witness_held(witness, origin, size) VALUES(?,?,?) "
                "ON CONFLICT (witness, origin) DO UPDATE SET size = excluded.size",
                (witness, origin, size))


def has_cosignature(sql: Sql, origin: str, size: int, witness: str) -> bool:
    return sql.execute("SELECT 1 FROM cosignatures WHERE origin = ? AND size = ? AND "
                       "witness = ?", (origin, size, witness)).fetchone() is not None


def add_cosignature(sql: Sql, origin: str, size: int, root: bytes, witness: str, line: str,
                    at: str) -> None:
    sql.execute("INSERT INTO cosignatures(origin, size, root, witness, line, at) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT (origin, size, witness) DO NOTHING",
                (origin, size, root, witness, line, at))


def cosigned_max(sql: Sql, origin: str) -> list[tuple[str, int]]:
    """Each witness with the largest size it cosigned, largest first."""
    return [(str(w), int(s)) for w, s in sql.execute(
        "SELECT witness, max(size) FROM cosignatures WHERE origin = ? GROUP BY witness "
        "ORDER BY max(size) DESC", (origin,)).fetchall()]


def newest_quorum_size(sql: Sql, origin: str, k: int) -> int | None:
    row = sql.execute("SELECT size FROM cosignatures WHERE origin = ? GROUP BY size "
                      "HAVING count(*) >= ? ORDER BY size DESC LIMIT 1", (origin, k)).fetchone()
    return None if row is None else int(row[0])


def newest_quorum_size_with(sql: Sql, origin: str, k: int, witness: str) -> int | None:
    """The newest size of ``origin`` with ``k`` cosignatures, ``witness``'s among them."""
    row = sql.execute("SELECT size FROM cosignatures WHERE origin = ? GROUP BY size "
                      "HAVING count(*) >= ? AND sum(CASE WHEN witness = ? THEN 1 ELSE 0 "
                      "END) > 0 ORDER BY size DESC LIMIT 1", (origin, k, witness)).fetchone()
    return None if row is None else int(row[0])


def cosignature_lines(sql: Sql, origin: str, size: int) -> list[str]:
    return [str(r[0]) for r in sql.execute(
        "SELECT line FROM cosignatures WHERE origin = ? AND size = ? ORDER BY witness",
        (origin, size)).fetchall()]


def cosigners_above(sql: Sql, origin: str, index: int) -> list[str]:
    return [str(r[0]) for r in sql.execute(
        "SELECT witness FROM cosignatures WHERE origin = ? AND size > ? GROUP BY witness "
        "ORDER BY witness", (origin, index)).fetchall()]


def prune_cosignatures(sql: Sql, origin: str, below: int) -> None:
    sql.execute("DELETE FROM cosignatures WHERE origin = ? AND size < ?", (origin, below))


# -- the directory log ----------------------------------------------------------------------
def dir_entries(sql: Sql, start: int) -> list[tuple[int, bytes]]:
    return [(int(i), bytes(d)) for i, d in sql.execute(
        "SELECT idx, data FROM dir_entries WHERE idx >= ? ORDER BY idx", (start,)).fetchall()]


def last_member_leaf(sql: Sql, member: str) -> int | None:
    """The index of ``member``'s latest key event in this node's main log."""
    return last_member_leaves(sql).get(member)


def last_member_leaves(sql: Sql) -> dict[str, int]:
    """Every member's latest key event in this node's main log: member -> index."""
    out: dict[str, int] = {}
    for idx, data in sql.execute("SELECT idx, data FROM log_leaves WHERE kind = 'member' "
                                 "ORDER BY idx").fetchall():
        out[str(json.loads(bytes(data)).get("member"))] = int(idx)
    return out


def add_dir_entry(sql: Sql, idx: int, member: str, kind: str, data: bytes) -> None:
    sql.execute("INSERT INTO dir_entries(idx, member, kind, data) VALUES(?,?,?,?)",
                (idx, member, kind, data))


# -- revocations and the keys that signed received items ------------------------------------
def add_revocation(sql: Sql, key_id: str, member: str, home: str, after: int, entry: str,
                   at: str) -> None:
    sql.execute("INSERT INTO key_revocations(key_id, member, home, after_index, entry, at) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT (key_id) DO NOTHING",
                (key_id, member, home, after, entry, at))


def revocation_point(sql: Sql, key_id: str) -> int | None:
    row = sql.execute("SELECT after_index FROM key_revocations WHERE key_id = ?",
                      (key_id,)).fetchone()
    return None if row is None else int(row[0])


def revocation_points(sql: Sql, key_ids: Sequence[str], chunk: int = 500
                      ) -> dict[str, int | None]:
    """``revocation_point`` of each of ``key_ids`` (None: not revoked), one statement
    per ``chunk`` keys."""
    out: dict[str, int | None] = dict.fromkeys(key_ids)
    ids = list(out)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        marks = ",".join("?" * len(part))
        out.update((str(r[0]), int(r[1])) for r in sql.execute(
            f"SELECT key_id, after_index FROM key_revocations WHERE key_id IN ({marks})",
            part).fetchall())
    return out


def revocation_entries(sql: Sql) -> list[str]:
    """Every revocation (its signed entry as JSON), newest first."""
    return [str(r[0]) for r in sql.execute(
        "SELECT entry FROM key_revocations ORDER BY at DESC, key_id").fetchall()]


def mark_key_uses(sql: Sql, key_id: str, after: int, at: str) -> int:
    """Mark the received shares signed by ``key_id`` at origin-log index >= ``after``,
    here and among the revoked shares every read surface refuses; how many were not
    marked yet. The directory version moves when any was, so the caches reload."""
    n = int(sql.execute("UPDATE key_uses SET revoked = ? WHERE key_id = ? AND "
                        "log_index >= ? AND revoked = ?", (True, key_id, after, False)
                        ).rowcount)
    sql.execute("INSERT INTO revoked_shares(share_id, key_id, marked) SELECT share_id, "
                "key_id, ? FROM key_uses WHERE key_id = ? AND log_index >= ? "
                "ON CONFLICT(share_id) DO NOTHING", (at, key_id, after))
    if n:
        bump_directory(sql)
    return n


def add_key_use(sql: Sql, share_id: str, home: str, key_id: str, log_index: int) -> None:
    sql.execute("INSERT INTO key_uses(share_id, home, key_id, log_index, revoked) "
                "VALUES(?,?,?,?,?) ON CONFLICT (share_id) DO NOTHING",
                (share_id, home, key_id, log_index, False))


def add_key_uses(sql: Sql, uses: Sequence[tuple[str, str, str, int]]) -> None:
    """``add_key_use`` of each ``(share id, home, key id, log index)``, one statement."""
    sql.executemany("INSERT INTO key_uses(share_id, home, key_id, log_index, revoked) "
                    "VALUES(?,?,?,?,?) ON CONFLICT (share_id) DO NOTHING",
                    [(*u, False) for u in uses])


def key_use(sql: Sql, share_id: str) -> tuple[str, int, bool] | None:
    row = sql.execute("SELECT home, log_index, revoked FROM key_uses WHERE share_id = ?",
                      (share_id,)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), bool(row[2]))


def marked_shares(sql: Sql) -> list[str]:
    return [str(r[0]) for r in sql.execute(
        "SELECT share_id FROM key_uses WHERE revoked = ? ORDER BY share_id", (True,)
    ).fetchall()]


# -- a received share's proven place in its origin's log --------------------------------
def put_origin_proof(sql: Sql, share_id: str, origin: str, index: int, size: int,
                     checkpoint: str, proof: str) -> None:
    """Keep (or replace by a newer one) the proof of a share's entry in its origin's log."""
    sql.execute("INSERT INTO origin_proofs(share_id, origin, idx, size, checkpoint, proof) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT (share_id) DO UPDATE SET "
                "origin = excluded.origin, idx = excluded.idx, size = excluded.size, "
                "checkpoint = excluded.checkpoint, proof = excluded.proof",
                (share_id, origin, index, size, checkpoint, proof))


def origin_proof(sql: Sql, share_id: str) -> tuple[str, int, int, str, str] | None:
    """(origin, index, size, checkpoint note, proof JSON) kept for a received share."""
    row = sql.execute("SELECT origin, idx, size, checkpoint, proof FROM origin_proofs "
                      "WHERE share_id = ?", (share_id,)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]), str(row[3]),
                                     str(row[4]))


def unproven_before_revocation(sql: Sql, limit: int) -> list[tuple[str, str, int]]:
    """(share, origin node, origin index) of received shares signed by a since-revoked
    key below its revocation point whose origin proof is not kept yet: the ones a
    member's client will take only with that proof."""
    return [(str(r[0]), str(r[1]), int(r[2])) for r in sql.execute(
        "SELECT u.share_id, u.home, u.log_index FROM key_uses u "
        "JOIN key_revocations r ON r.key_id = u.key_id "
        "LEFT JOIN origin_proofs p ON p.share_id = u.share_id "
        "WHERE u.log_index < r.after_index AND p.share_id IS NULL "
        "ORDER BY u.home, u.log_index LIMIT ?", (limit,)).fetchall()]


# -- relay hops -----------------------------------------------------------------------------
def add_hop(sql: Sql, hop_id: str, dest: str, bucket: int, at: str) -> bool:
    return bool(sql.execute("INSERT INTO relay_hops(hop_id, dest, bucket, at) VALUES(?,?,?,?) "
                            "ON CONFLICT (hop_id) DO NOTHING", (hop_id, dest, bucket, at)
                            ).rowcount)


def forget_hops(sql: Sql, before: str) -> int:
    return int(sql.execute("DELETE FROM relay_hops WHERE at < ?", (before,)).rowcount)


def hops(sql: Sql) -> list[tuple[str, str, int, str]]:
    return [(str(a), str(b), int(c), str(d)) for a, b, c, d in sql.execute(
        "SELECT hop_id, dest, bucket, at FROM relay_hops ORDER BY at").fetchall()]


# -- the roster -----------------------------------------------------------------------------
def roster_statements(sql: Sql, start: int) -> list[bytes]:
    return [bytes(r[1]) for r in sql.execute(
        "SELECT seq, data FROM roster_statements WHERE seq >= ? ORDER BY seq",
        (start,)).fetchall()]


def rekey_peer(sql: Sql, node: str, key: bytes, pin: str) -> int:
    """Pin ``node``'s new node key (a roster rekey); how many peer rows changed."""
    cur = sql.execute("UPDATE fed_peers SET node_key = ?, pin = ? WHERE node_id = ?",
                      (key, pin, node))
    return int(cur.rowcount or 0)


def add_roster_statement(sql: Sql, seq: int, kind: str, data: bytes) -> None:
    sql.execute("INSERT INTO roster_statements(seq, kind, data) VALUES(?,?,?)",
                (seq, kind, data))


# -- re-homing -------------------------------------------------------------------------------
def home_at(sql: Sql, member: str, node: str, log_index: int) -> None:
    """``member`` is homed at ``node`` from now on (its last key event there: none yet,
    ``log_index`` -1): this node hosts it no more, or takes the new home."""
    sql.execute("DELETE FROM fed_members WHERE member_id = ?", (member,))
    sql.execute("INSERT INTO fed_members(member_id, node_id, log_index, revoked_index) "
                "VALUES(?,?,?,?)", (member, node, log_index, None))


def host_here(sql: Sql, member: str) -> int:
    """This node is ``member``'s home now; how many rows said otherwise."""
    cur = sql.execute("DELETE FROM fed_members WHERE member_id = ?", (member,))
    return int(cur.rowcount or 0)


def put_move(sql: Sql, member: str, proof: str) -> None:
    """Keep the proof that ``member`` moved here (its old home's lookup answer)."""
    key = f"move:{member}"
    sql.execute("DELETE FROM meta WHERE key = ?", (key,))
    sql.execute("INSERT INTO meta(key, value) VALUES(?,?)", (key, proof))


def move_proof(sql: Sql, member: str) -> str | None:
    row = sql.execute("SELECT value FROM meta WHERE key = ?", (f"move:{member}",)).fetchone()
    return None if row is None else str(row[0])
