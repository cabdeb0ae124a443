"""The ``sightings`` table: every query of ``vigil.analysis.sightings``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.storage.base import Sql

COLUMNS = ("id, share_id, indicator_id, originator, reporter, verdict, count, first_seen, "
           "last_seen, disclose, created")


def insert_sighting(sql: Sql, row: Sequence[Any]) -> None:
    """One sighting, its values in the order of ``COLUMNS``."""
    sql.execute(f"INSERT INTO sightings({COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?,?,?)", tuple(row))


def sightings_of(sql: Sql, share_id: str) -> list[Any]:
    """The rows of one share's sightings, oldest first, columns as ``COLUMNS``."""
    return list(sql.execute(f"SELECT {COLUMNS} FROM sightings WHERE share_id=? ORDER BY seq",
                            (share_id,)).fetchall())
