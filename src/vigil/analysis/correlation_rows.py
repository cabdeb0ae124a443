"""The rows a correlation pass writes and reads: one correlation row per side of a
match, stored at the next position of its member's notices; the observables rows of a
share with their keys; the headers and states of the shares rows name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import orjson

from vigil.analysis import stored
from vigil.analysis.observables import Observable
from vigil.model import ShareHeader, ShareState
from vigil.storage import correlations as corr
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql, take_positions
from vigil.storage.correlations import correlation_mark

Row = tuple[str, str, str, str, str, str]  # member, its share, the other, kind, values
_Next = tuple[int, str, str, bool]  # share seq, id, originator, payload removed


def correlation_rows(new: str, new_owner: str, obs: Observable, other: str, other_owner: str,
                     held: Observable) -> list[Row]:
    """The rows of one match: one per side (one only when both sides are one member)."""
    rows: list[Row] = [(new_owner, new, other, obs.kind, obs.value, held.value)]
    if other_owner != new_owner:
        rows.append((other_owner, other, new, obs.kind, held.value, obs.value))
    return rows


def insert_correlations(sql: Sql, rows: Sequence[Row]) -> None:
    """Store correlation rows, each at the next position of its member's notices (a
    member's notice cursor counts its own rows only: ``take_positions``). The caller
    holds the lock of correlation passes."""
    if not rows:
        return
    pos = take_positions(sql, "correlations", Counter(r[0] for r in rows))
    out = []
    for r in rows:
        out.append((*r, pos[r[0]]))
        pos[r[0]] += 1
    corr.insert_rows(sql, out)


def share_states(sql: Sql, ids: Iterable[str]) -> dict[str, tuple[ShareHeader, ShareState]]:
    """Header and state of stored shares by id (missing ids are left out)."""
    return {str(sid): (orjson.loads(bytes(header)), ShareState(bool(recalled), bool(purged)))
            for sid, header, recalled, purged
            in corr.share_headers_states(sql, sorted(set(ids)))}


def _gone(sql: Sql, ids: Iterable[str]) -> set[str]:
    """The shares among ``ids`` whose payload was removed (recalled or purged)."""
    return corr.payload_removed(sql, sorted(set(ids)))


def _progress(sql: Sql) -> tuple[int, int]:
    """The correlation mark and the last share stored."""
    return correlation_mark(sql), corr.last_share(sql)


def _obs_json(kind: str, value: str) -> dict[str, str]:
    return {"kind": kind, "value": value}


def write_observables(sql: Sql, held: dict[str, list[Observable]]) -> None:
    """Store the observables rows of shares, each with its key, and the IP prefix
    lengths they use."""
    obs_rows.insert(sql, [(sid, o.kind, o.value, stored.key(o))
                          for sid, obs in held.items() for o in obs])
    obs_rows.add_ip_lens(sql, {ln for obs in held.values() for o in obs
                               if (ln := stored.ip_len(o)) is not None})


def _correlation_rows_of(sql: Sql, ids: Sequence[str]) -> set[Row]:
    """The stored correlation rows that name any of ``ids`` (as either side)."""
    return corr.rows_naming(sql, ids)

