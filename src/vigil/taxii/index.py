"""The TAXII object index, written in the transaction that stores a share.

For every share: one ``taxii_shares`` row (its seq, channel, form, time stored) and one
``taxii_access`` row per member that may ever read it (its recipients and its
originator; the policy still decides every read). For a plain share, one
``taxii_objects`` row per STIX object: its position in the bundle, id, type, version
(normalised ``modified``, else ``created``, else the time stored), spec version and its
JSON, so a page is served by splicing stored object bytes. A sealed share gets one
placeholder row (position -1, empty id and type) and nothing of its content: the node
opens it, for a member whose keyring it holds, when a page reaches it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from vigil import clock
from vigil.model import Envelope, Form
from vigil.stix import parsed
from vigil.storage import Store
from vigil.storage.base import Sql, envelope_from_row, serialize_writes, take_positions
from vigil.taxii.query import norm_time

SEALED_POS = -1

INSERT_OBJECT = ("INSERT INTO taxii_objects(share_seq, pos, object_id, type, version, "
                 "spec_version, obj) VALUES(?,?,?,?,?,?,?)")


def object_row(seq: int, pos: int, obj: dict[str, Any], added_norm: str
               ) -> tuple[int, int, str, str, str, str, bytes]:
    version = obj.get("modified") or obj.get("created")
    norm = norm_time(version) if isinstance(version, str) else None
    return (seq, pos, str(obj["id"]), str(obj["type"]), norm or added_norm,
            str(obj.get("spec_version", "2.1")), orjson.dumps(obj))


def object_rows(seq: int, payload: bytes, added: str) -> list[tuple[Any, ...]]:
    """The index rows of a plain share's bundle (parsed once per publish:
    ``vigil.stix.parsed``)."""
    added_norm = norm_time(added) or added
    objects = parsed.objects_of(payload)
    return [object_row(seq, pos, obj, added_norm) for pos, obj in enumerate(objects)]


class _Pending(threading.local):
    row: tuple[str, str, bytes, str] | None = None
    written = False


_pending = _Pending()


def pend_status(row: tuple[str, str, bytes, str] | None) -> bool:
    """Have the next share transaction of this thread store this TAXII status row
    ``(id, member, body, created)`` (None: none); whether the one pended before was
    stored."""
    written = _pending.written
    _pending.row, _pending.written = row, False
    return written


def insert_status(sql: Sql, row: tuple[str, str, bytes, str]) -> None:
    sql.execute("INSERT INTO taxii_status(id, member_id, body, created) VALUES(?,?,?,?)",
                row)


def write_index(sql: Sql, seq: int, env: Envelope, recipients: Sequence[str], added: str
                ) -> None:
    channel = env.channel or ""
    sealed = env.form is Form.SEALED
    cur = sql.execute(
        "INSERT INTO taxii_shares(share_seq, share_id, originator, channel, sealed, added) "
        "VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (seq, env.id, env.originator, channel, sealed, added))
    if not cur.rowcount:
        return  # indexed already (a concurrent backfill)
    readers = sorted({*recipients, env.originator})
    grant(sql, readers, seq, channel, added)
    if sealed:
        sql.execute(INSERT_OBJECT, (seq, SEALED_POS, "", "", "", "", b""))
    elif env.payload:  # (a recalled or purged share's payload is gone)
        sql.executemany(INSERT_OBJECT, object_rows(seq, env.payload, added))


def grant(sql: Sql, members: Sequence[str], share_seq: int, channel: str, added: str) -> None:
    """Place a share at the end of each member's collections, at the member's next
    position (``take_positions``: a TAXII cursor counts the member's own rows only).
    The caller holds the write-order lock."""
    pos = take_positions(sql, "taxii_access", dict.fromkeys(members, 1))
    sql.executemany(
        "INSERT INTO taxii_access(member_id, share_seq, channel, added, pos) "
        "VALUES(?,?,?,?,?)", [(m, share_seq, channel, added, pos[m]) for m in members])


def index_share(sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
    """``Exchange.share_tx_hooks`` entry: index a new share in its own transaction."""
    seq = sql.execute("SELECT seq FROM shares WHERE id=?", (env.id,)).fetchone()[0]
    row = sql.execute("SELECT added FROM inbox WHERE member_id=? AND share_id=?",
                      (recipients[0], env.id)).fetchone() if recipients else None
    write_index(sql, int(seq), env, recipients, str(row[0]) if row else clock.now())
    status = _pending.row
    if status is not None:  # the status of the TAXII POST that publishes this share
        insert_status(sql, status)  # (again, should the transaction be retried)
        _pending.written = True


def drop_objects(sql: Sql, share_id: str) -> None:
    """``Exchange.purge_tx_hooks`` entry: a recalled or purged share's payload is
    removed, and so are the copies of its objects in the index."""
    row = sql.execute("SELECT share_seq FROM taxii_shares WHERE share_id=?",
                      (share_id,)).fetchone()
    if row is not None:
        sql.execute("DELETE FROM taxii_objects WHERE share_seq=?", (row[0],))


def install(share_hooks: list[Callable[[Sql, Envelope, tuple[str, ...]], None]],
            purge_hooks: list[Callable[[Sql, str], None]]) -> None:
    """Register the index with an Exchange's ``share_tx_hooks`` and ``purge_tx_hooks``
    (once)."""
    if index_share not in share_hooks:
        share_hooks.append(index_share)
    if drop_objects not in purge_hooks:
        purge_hooks.append(drop_objects)


def backfill(store: Store, batch: int = 200) -> int:
    """Index the shares stored before the index existed; returns how many."""
    done = 0
    while True:
        def step(sql: Sql) -> int:
            serialize_writes(sql)
            rows = sql.execute(
                "SELECT s.seq, s.header, s.signature, s.payload, s.wraps, s.payload_ref "
                "FROM shares s "
                "LEFT JOIN taxii_shares t ON t.share_seq = s.seq "
                "WHERE t.share_seq IS NULL ORDER BY s.seq LIMIT ?", (batch,)).fetchall()
            for seq, header, signature, payload, wraps, ref in rows:
                env = envelope_from_row(header, signature, sql.payload(payload, ref), wraps)
                recipients = env.recipients
                got = sql.execute("SELECT added FROM inbox WHERE member_id=? AND share_id=?",
                                  (recipients[0], env.id)).fetchone() if recipients else None
                write_index(sql, int(seq), env, recipients,
                            str(got[0]) if got else env.created)
            return len(rows)

        n = store.write(step)
        done += n
        if n < batch:
            return done
