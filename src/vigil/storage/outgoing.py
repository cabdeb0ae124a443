"""The stored rows that items to a peer (``vigil.federation.outbox``) are routed by and
built from when they are sent: shares as stored, channels homed here and their events,
the latest entries of one kind in the log. The outbox's own tables (``fed_outbox``,
``fed_links``, ``fed_scans``) are ``vigil.storage.federation``; members and channel
members are read as ``vigil.storage.received`` reads them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.storage.base import CHANNEL_COLUMNS, Sql

CHUNK = 500  # ids per IN (…) list
SentShare = tuple[bytes, bytes, bytes | None, bytes]  # header, signature, payload, wraps


def share_to_send(sql: Sql, share_id: str) -> SentShare | None:
    """(header, signature, payload, wraps) of a stored share that is neither recalled
    nor purged (None: no such share; a payload stored apart read from its file)."""
    row = sql.execute("SELECT header, signature, payload, wraps, recalled, purged, "
                      "payload_ref FROM shares WHERE id=?", (share_id,)).fetchone()
    if row is None or row[4] or row[5]:
        return None
    return row[0], row[1], sql.payload(row[2], row[6]), row[3]


def shares_to_send(sql: Sql, share_ids: Sequence[str]) -> dict[str, SentShare]:
    """``share_to_send`` of several shares, in one statement per ``CHUNK`` ids: those
    stored and neither recalled nor purged, by id."""
    out: dict[str, SentShare] = {}
    ids = list(dict.fromkeys(share_ids))
    for k in range(0, len(ids), CHUNK):
        part = ids[k:k + CHUNK]
        marks = ",".join("?" * len(part))
        for row in sql.execute("SELECT id, header, signature, payload, wraps, recalled, "
                               f"purged, payload_ref FROM shares WHERE id IN ({marks})",
                               part).fetchall():
            if not row[5] and not row[6]:
                out[str(row[0])] = row[1], row[2], sql.payload(row[3], row[7]), row[4]
    return out


def recalled_share(sql: Sql, share_id: str) -> tuple[str, bytes] | None:
    """(originator, header bytes) of a stored share that was recalled (None: no such
    share, or it was not recalled)."""
    row = sql.execute("SELECT recalled, originator, header FROM shares WHERE id=?",
                      (share_id,)).fetchone()
    return None if row is None or not row[0] else (str(row[1]), bytes(row[2]))


def channel_row(sql: Sql, channel: str) -> Any:
    """(id, name, kind, owner, created) of a channel (None: none)."""
    return sql.execute(CHANNEL_COLUMNS + " WHERE id=?", (channel,)).fetchone()


def channel_event_members(sql: Sql, channel: str) -> list[str]:
    """The member of each event of a channel, one per event (its epoch is their count)."""
    return [str(r[0]) for r in sql.execute(
        "SELECT member_id FROM channel_events WHERE channel_id=?", (channel,)).fetchall()]


def latest_leaves(sql: Sql, kind: str, limit: int) -> list[int]:
    """The indexes of the last ``limit`` log leaves of a kind, newest first."""
    return [int(r[0]) for r in sql.execute(
        "SELECT idx FROM log_leaves WHERE kind=? ORDER BY idx DESC LIMIT ?",
        (kind, limit)).fetchall()]
