"""The correlation engine of one exchange: the thread that follows publishing, and
the pass that correlates the shares stored after the node's correlation mark (see
``vigil.analysis.correlate``)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from vigil.analysis import stored
from vigil.analysis.correlation_rows import (
    Row,
    _gone,
    _Next,
    _progress,
    correlation_rows,
    insert_correlations,
    write_observables,
)
from vigil.analysis.extract import extract_bundle
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable
from vigil.analysis.pending import PendingKeys, merge
from vigil.analysis.warninglists import MemberLists, WarninglistSet, shipped
from vigil.analysis.worker import PassWorker, WorkerGone, default_processes
from vigil.model import Form
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.storage import Store, open_store
from vigil.storage import correlations as corr
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql
from vigil.storage.correlations import correlation_mark

log = logging.getLogger("vigil.analysis.correlate")


PASS_BATCH = 64  # shares per correlation transaction
COALESCE = 0.05  # seconds the correlation thread waits after a wake-up
WORKER_BYTES = 64 * 1024  # payload bytes published since the last pass that go to the worker
MAX_MATCHES = 100  # other shares correlated per observable of a new share (newest first)
KEY_BACKFILL = 5000  # observables rows keyed per transaction (a store migrated with rows)


class _MarkMoved(Exception):
    """Another worker passed the same shares first."""


class CorrelationPass:
    """The correlation engine of one Exchange (one per process): its state, its
    thread and its passes."""

    def __init__(self, ex: Exchange, *, max_matches: int = MAX_MATCHES,
                 lists: WarninglistSet | None = None, processes: int | None = None) -> None:
        self.ex = ex
        self.store = ex.store
        self.max_matches = max_matches
        self.mark = 0  # the correlation mark this process last saw
        self._keyed = False  # every stored observables row has its key
        self.pending = PendingKeys()  # keys of the rows not yet merged (analysis.pending)
        self.lock = threading.Lock()
        self._lists = lists
        self.member_lists = MemberLists(ex.store)
        # large passes run in a worker process where the machine has a core for it (and
        # the store is one another process can open)
        n = default_processes() if processes is None or processes < 0 else processes
        shared = ":memory:" not in ex.store.url
        self._worker = PassWorker(ex.store.url) if n > 0 and shared else None
        self._pending = 0  # payload bytes published here since the last pass
        self._warm = False  # the index is up to date and nothing was published since
        self._published = 0  # plain shares published here (to tell whether warm holds)
        # Called with the members that got new correlation rows, from whichever thread
        # saw them (a server rings their notice streams); a listener that raises is
        # logged and skipped.
        self.listeners: list[Callable[[frozenset[str]], None]] = []
        self._reported: int | None = None  # the last correlation row reported
        self._process_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def stop(self) -> None:
        """Stop the correlation thread and wait for its pass to end (the store is about
        to close: nothing of it may run after)."""
        with self.lock:
            self._stopped = True
            self._warm = False
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        if self._worker is not None:
            self._worker.close()

    @property
    def lists(self) -> WarninglistSet:
        if self._lists is None:
            self._lists = shipped()
        return self._lists

    # -- the index: the observables rows of every share up to the correlation mark ------
    def catch_up(self, store: Store | None = None, mark: int | None = None) -> int:
        """Take note of the shares correlated since (by any worker of the node; up to
        ``mark`` if known), keying stored rows once if the store was migrated with rows
        in it; the number of shares the mark moved by."""
        store = store or self.store
        if not self._keyed:
            self._backfill(store)
        if mark is None:
            mark = store.read(correlation_mark)
        with self.lock:
            moved = max(0, mark - self.mark)
            self.mark = max(self.mark, mark)
        return moved

    def _backfill(self, store: Store) -> None:
        """Give every ``observables`` row stored before the key column its key."""
        after = 0
        while not store.read(obs_rows.keyed):
            todo = store.read(functools.partial(obs_rows.unkeyed, after=after,
                                                limit=KEY_BACKFILL))

            def write(sql: Sql, todo: list[Any] = todo) -> None:
                observables = [Observable(kind, value) for _seq, kind, value in todo]
                obs_rows.set_keys(sql, [(stored.key(o), int(r[0]))
                                        for o, r in zip(observables, todo, strict=True)])
                obs_rows.add_ip_lens(sql, filter(None, map(stored.ip_len, observables)))
                if len(todo) < KEY_BACKFILL:
                    obs_rows.mark_keyed(sql)

            store.write(write)
            if todo:
                after = int(todo[-1][0])
        self._keyed = True

    def _matches(self, new: str, new_owner: str, observables: Iterable[Observable],
                 found: dict[Observable, list[stored.Held]],
                 local: ObservableIndex[str], local_owner: dict[str, str]) -> list[Row]:
        """The correlation rows of a new share's observables against the stored rows
        ``found`` for them (``stored.lookup``) and the shares ``local`` holds (the earlier
        shares of the same pass)."""
        rows: list[Row] = []
        benign = self.lists.benign
        for obs in observables:
            held_rows = found.get(obs, [])
            near = local.match(obs) if len(local) else []
            if not held_rows and not near:
                continue  # the common case: a value nobody else shared
            if benign(obs):
                continue
            owner = {sid: originator for _, _, sid, originator in held_rows}
            owner.update(local_owner)
            matched = [(h, sid) for _, h, sid, _ in held_rows] + near
            taken: dict[str, list[Observable]] = {}
            for held, other in reversed(matched):  # newest first
                if other == new:
                    continue
                if other not in taken:
                    if len(taken) >= self.max_matches:
                        continue
                    taken[other] = []
                taken[other].append(held)
            for other, helds in taken.items():
                for held in helds:
                    if held != obs and benign(held):
                        continue
                    rows.extend(correlation_rows(new, new_owner, obs, other,
                                                 owner[other], held))
        return rows

    # -- following the shares -------------------------------------------------------------
    def warm(self) -> bool:
        """Whether a read (notices, search) can answer at once: the index is loaded and
        nothing was published here since the last pass. If not, the read will first
        load the index or pass shares, which the caller should keep off its event loop."""
        return self._warm

    def warm_up(self) -> None:
        """Have the correlation thread load the index and pass what is pending now,
        rather than the first read (a server calls this at start)."""
        self._wake_thread()

    def after_publish(self, published: Published) -> None:
        """``Exchange.published_hooks`` entry: wake the correlation thread."""
        if published.envelope.form is not Form.PLAIN:
            return
        with self.lock:
            self._pending += len(published.envelope.payload)
            self._published += 1
            self._warm = False
        self._wake_thread()

    def _wake_thread(self) -> None:
        with self.lock:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vigil-correlate",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        # On SQLite the thread works through a store of its own, opened at its first wake
        # and closed when it ends, so that closing the Exchange's store never meets a
        # query of this thread (a closed SQLite connection must not be in use elsewhere);
        # a PostgreSQL pool is shared.
        own = self.store.dialect == "sqlite"
        mine: Store | None = None
        try:
            while True:
                self._wake.wait()
                if self._stopped:
                    return
                time.sleep(COALESCE)  # let a burst of publishes share one transaction
                self._wake.clear()
                if self._stopped:
                    return
                if own and mine is None:
                    try:
                        mine = open_store(self.store.url)
                    except Exception:
                        log.debug("correlation: cannot open the store", exc_info=True)
                        continue
                try:
                    _ = self.lists  # the shipped lists (~1 s to load): here, not at a search
                    self.process(mine or self.store)
                except Exception:  # a failure: the next wake (or read) retries
                    log.debug("correlation pass failed", exc_info=True)
        finally:
            if mine is not None:
                mine.close()

    def process(self, store: Store | None = None) -> int:
        """Correlate every share stored after the correlation mark (by any worker of the
        node), in order, and bring the index up to it; the number of shares passed here
        (those the worker process passed not counted). Notices, search and the ledger
        call it first, so they answer with every stored share correlated."""
        done = 0
        store = store or self.store
        changed = False  # whether correlation rows may have come (here or elsewhere)
        with self._process_lock:
            while True:
                with self.lock:
                    seen = self._published
                mark, top = store.read(_progress)
                # (the bulk of a first load) before the writer
                changed = self.catch_up(store, mark) > 0 or changed
                if top <= mark:
                    with self.lock:
                        self._warm = (not self._stopped and self.mark >= mark
                                      and self._published == seen)
                    if changed or self._reported is None:
                        self._report(store)
                    return done  # the common case for a reader: one read, no writer
                changed = True
                if self._worker is not None and self._pending >= WORKER_BYTES:
                    with self.lock:
                        self._pending = 0
                    try:
                        self._worker.run()
                    except WorkerGone:
                        log.warning("the correlation worker failed; correlating in the "
                                    "serving process from now on", exc_info=True)
                        worker, self._worker = self._worker, None
                        worker.close()
                    continue
                n = self._pass(store)
                if n == 0:
                    return done
                if n > 0:  # (< 0: another worker moved the mark first; look again)
                    done += n

    def _report(self, store: Store) -> None:
        """Tell the listeners which members got correlation rows since the last report
        (rows of any process's passes; at the first report, none: only rows from then
        on are news)."""
        if not self.listeners:
            return
        last = self._reported

        top, members = store.read(lambda sql: corr.members_since(sql, last))
        self._reported = top
        if members:
            for listener in list(self.listeners):
                try:
                    listener(frozenset(members))
                except Exception:
                    log.exception("correlation listener %r failed", listener)

    def _next_shares(self, sql: Sql) -> tuple[int, list[_Next], dict[str, bytes]]:
        """The correlation mark, the shares after it (up to PASS_BATCH), and the plain
        payloads among them (from the envelopes this process holds, else the store)."""
        mark = correlation_mark(sql)
        shares = [(int(seq), sid, originator, bool(dropped)) for seq, sid, originator, dropped
                  in corr.next_shares(sql, mark, PASS_BATCH)]
        plain: dict[str, bytes] = {}
        need = []
        for _, sid, _, dropped in shares:
            env = None if dropped else self.ex.envelopes.get(sid)
            if env is not None:
                if env.form is Form.PLAIN:
                    plain[sid] = env.payload
            elif not dropped:
                need.append(sid)
        if need:
            for sid, header, payload in corr.payloads(sql, need):
                if orjson.loads(bytes(header))["payload"]["form"] == Form.PLAIN.value:
                    plain[sid] = bytes(payload)
        return mark, shares, plain

    def _pass(self, store: Store) -> int:
        """One correlation transaction: extract the observables of the next shares and
        match them against the stored index and each other outside it (no write lock
        held), then store the observables, the correlation rows and the new mark in it.
        The number of shares passed; -1 if another worker moved the mark meanwhile."""
        if not self._keyed:
            self._backfill(store)
        mark, shares, plain = store.read(self._next_shares)
        if not shares:
            return 0
        upto = shares[-1][0]
        held = {sid: extract_bundle(payload) for sid, payload in plain.items()}
        found = store.read(functools.partial(
            stored.lookup, observables=[o for obs in held.values() for o in obs], upto=mark,
            pending=self.pending))
        rows: list[Row] = []
        local: ObservableIndex[str] = ObservableIndex()  # this pass's earlier shares
        local_owner: dict[str, str] = {}
        for _seq, sid, originator, _dropped in shares:
            observables = held.get(sid)
            if not observables:
                continue
            rows.extend(self._matches(sid, originator, observables, found, local,
                                      local_owner))
            local_owner[sid] = originator
            for o in observables:
                local.add(o, sid)

        def write(sql: Sql) -> None:
            corr.lock_passes(sql)  # one pass at a time across the node
            if correlation_mark(sql) != mark:
                raise _MarkMoved
            # shares recalled or purged since they were read (by this or another worker)
            gone = _gone(sql, {*held, *(r[2] for r in rows)})
            kept = rows if not gone else [r for r in rows
                                          if r[1] not in gone and r[2] not in gone]
            write_observables(sql, {sid: obs for sid, obs in held.items() if sid not in gone})
            insert_correlations(sql, kept)
            corr.set_mark(sql, upto)

        try:
            store.write(write)
        except _MarkMoved:
            return -1
        merge(store)
        with self.lock:
            self.mark = max(self.mark, upto)
        return len(shares)

    def on_purge(self, sql: Sql, share_id: str) -> None:
        """``Exchange.purge_tx_hooks`` entry: a recalled or purged share's observables
        and its correlations (derived from its payload) go with the payload."""
        obs_rows.delete_share(sql, share_id)
        corr.delete_of_share(sql, share_id)

