"""The consent grants in force, as the access gate reads them (``Exchange.consent_gate``).
Reads only the ``consent_requests`` table: no use cases here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vigil.storage import Store

GRANTED = "granted"
CHUNK = 500  # ids per query (SQLite's parameter limit stays far away)


class StoredGrants:
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
