"""Re-correlation of a node's store: every stored plain share's observables
extracted again, the ``observables`` rows brought in line and every correlation
recomputed (``vigil analysis correlate``)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import orjson

from vigil.analysis import stored
from vigil.analysis.correlation_pass import CorrelationPass
from vigil.analysis.correlation_rows import (
    Row,
    _correlation_rows_of,
    insert_correlations,
    write_observables,
)
from vigil.analysis.extract import extract_bundle
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable
from vigil.analysis.pending import merge
from vigil.model import Form
from vigil.storage import correlations as corr
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql
from vigil.storage.correlations import correlation_mark


class CorrelationRebuild(CorrelationPass):
    """Re-correlation over a correlation engine."""

    # -- re-correlation -----------------------------------------------------------------
    def rebuild(self, progress: Callable[[int, int, int], None] | None = None,
                batch: int = 500) -> dict[str, int]:
        """Re-extract the observables of every stored plain share, bring the
        ``observables`` rows in line, and recompute every correlation (rows already
        stored are kept, missing ones added), a batch of shares at a time: each batch is
        matched against the rows of the shares before it, which earlier batches brought
        in line. ``progress(shares done, shares in all, observables)`` is called per
        batch."""
        with self._process_lock:
            if not self._keyed:
                self._backfill(self.store)
            return self._rebuild(progress, batch)

    def _rebuild(self, progress: Callable[[int, int, int], None] | None, batch: int
                 ) -> dict[str, int]:
        total = self.store.read(corr.share_count)
        done = n_obs = n_rows = n_added = 0
        after = 0
        while True:
            shares = self.store.read(functools.partial(corr.shares_after, after=after,
                                                       limit=batch))
            if not shares:
                break
            before, after = after, int(shares[-1][0])
            extracted: dict[str, list[Observable]] = {}
            owners: dict[str, str] = {}
            for _seq, sid, originator, header, payload in shares:
                h = orjson.loads(bytes(header))
                if h["payload"]["form"] != Form.PLAIN.value or payload is None:
                    continue
                extracted[sid] = extract_bundle(bytes(payload))
                owners[sid] = originator
            found = self.store.read(functools.partial(
                stored.lookup, observables=[o for obs in extracted.values() for o in obs],
                upto=before, pending=self.pending))
            rows: list[Row] = []
            local: ObservableIndex[str] = ObservableIndex()
            local_owner: dict[str, str] = {}
            for sid, observables in extracted.items():
                rows.extend(self._matches(sid, owners[sid], observables, found, local,
                                          local_owner))
                local_owner[sid] = owners[sid]
                for o in observables:
                    local.add(o, sid)
            ids = sorted(extracted)
            have_all = self.store.read(functools.partial(obs_rows.of_shares, share_ids=ids))
            known = self.store.read(functools.partial(_correlation_rows_of, ids=ids))
            stale: list[tuple[str, str, str]] = []
            fresh: dict[str, list[Observable]] = {}
            for sid, observables in extracted.items():
                want = {(o.kind, o.value) for o in observables}
                have = have_all.get(sid, set())
                stale.extend((sid, k, v) for k, v in sorted(have - want))
                fresh[sid] = [Observable(k, v) for k, v in sorted(want - have)]
            added = list(dict.fromkeys(r for r in rows if r not in known))

            def write(sql: Sql, stale: list[tuple[str, str, str]] = stale,
                      fresh: dict[str, list[Observable]] = fresh,
                      added: list[Row] = added, upto: int = after) -> None:
                corr.lock_passes(sql)
                if upto > correlation_mark(sql):
                    corr.set_mark(sql, upto)
                if stale:
                    obs_rows.delete(sql, stale)
                write_observables(sql, fresh)
                insert_correlations(sql, added)

            self.store.write(write)
            merge(self.store)
            done += len(shares)
            n_obs += sum(len(v) for v in extracted.values())
            n_rows += len(rows)
            n_added += len(added)
            if progress is not None:
                progress(done, total, n_obs)
        self.catch_up()
        return {"shares": done, "observables": n_obs, "correlation_rows": n_rows,
                "correlations_added": n_added}

