"""Correlation: which shares hold the same observable, told to each member only as far
as the policy lets it see.

Correlation follows the publish in a *pass* (``Correlator.process``), run by a thread
of the process after a publish, and by notices, search and the ledger before they
answer. A pass takes the shares stored after the node's correlation mark (``meta``), in
order; extracts the observables of each **plain** payload (from the envelope the
process still holds, else from the store) and looks them up in the stored index
(``vigil.analysis.stored``: exact value, or an overlapping IP address or network) and
among the earlier shares of the same pass, without holding the store's write lock;
then, in one transaction, stores one ``observables`` row per observable (with its key),
one ``correlations`` row per side of each match — for the publisher and for the
originator of the other share — and moves the mark. Observables and correlations are
derived from stored payloads: a share is durable when its publish is acknowledged, and
a pass lost in a crash is done again from the mark. Passes are serialised across the
node (SQLite's one writer, a PostgreSQL advisory lock; a pass that finds the mark moved
by another worker starts again), so each pair is compared once. Observables on a
shipped warninglist raise no correlation. Sealed payloads are never read here: the node
does not index what it cannot read for every recipient (blind tokens cover sealed
shares).

A correlation row is a raw fact, not a message: what a member is shown is decided when
it reads (``notices``), with the access gate (``Access.correlation``): the other share in
full if the member may read it, else only "a member of channel X holds a match" when
the gate's hint rule allows it (only for a value equal to the member's own), else
nothing at all.

The index is the ``observables`` rows themselves, so a process holds no copy of it:
memory does not grow with the store, and a process that did not run a pass has nothing
to catch up on beyond the mark.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from vigil.analysis import stored
from vigil.analysis.extract import extract_bundle
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable, guess
from vigil.analysis.pending import PendingKeys, merge
from vigil.analysis.warninglists import MemberLists, WarninglistSet, shipped
from vigil.analysis.worker import PassWorker, WorkerGone, default_processes
from vigil.errors import InputError
from vigil.model import Directory, Form, ShareHeader, ShareState
from vigil.node.exchange import Exchange, Published
from vigil.policy.access import Access
from vigil.storage import Store, open_store
from vigil.storage import correlations as corr
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql, take_positions
from vigil.storage.correlations import correlation_mark

log = logging.getLogger(__name__)

PASS_BATCH = 64  # shares per correlation transaction
COALESCE = 0.05  # seconds the correlation thread waits after a wake-up
WORKER_BYTES = 64 * 1024  # payload bytes published since the last pass that go to the worker
MAX_MATCHES = 100  # other shares correlated per observable of a new share (newest first)
KEY_BACKFILL = 5000  # observables rows keyed per transaction (a store migrated with rows)

Row = tuple[str, str, str, str, str, str]  # member, its share, the other, kind, values
_Next = tuple[int, str, str, bool]  # share seq, id, originator, payload removed


class _MarkMoved(Exception):
    """Another worker passed the same shares first."""


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


class Correlator:
    """The correlation engine of one Exchange (one per process)."""

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

    # -- what a member sees ---------------------------------------------------------------
    def notices(self, member: str, after: int = 0, limit: int = 100
                ) -> tuple[list[dict[str, Any]], int]:
        """The member's correlation notices after a cursor, and the cursor to resume from
        (past rows the policy hides as well). A hint depends only on the member's own
        share and value and on the channel: one per (own share, value, channel), at the
        first row that gives it, and with its own share's time, so neither how many
        shares it may not read hold the value nor when they came is told."""
        self.process()

        def read(sql: Sql) -> tuple[list[Any], list[Any],
                                    dict[str, tuple[ShareHeader, ShareState]]]:
            rows = corr.member_rows(sql, member, after, limit)
            # the rows of the same own shares up to this page: which one hints first
            own_ids = sorted({r[1] for r in rows}) if rows else []
            same = corr.same_value_rows(sql, member, rows[-1][0], own_ids) if rows else []
            ids = {r[1] for r in rows} | {r[2] for r in rows} | {r[2] for r in same}
            return rows, same, share_states(sql, ids)

        rows, same, states = self.store.read(read)
        gate = Access(self.ex, member)
        d = gate.directory
        views = {v.share_id: v for v in gate.views((sid, h, s) for sid, (h, s) in states.items())}
        first_hint: dict[tuple[str, str, str, str], int] = {}
        for pos, share_id, other_id, kind, value, other_value in sorted(same):
            own, other = views.get(share_id), views.get(other_id)
            if own is not None and other is not None and gate.correlation(
                    own, other, value=value, other_value=other_value) == "hint":
                key = (share_id, kind, value, str(other.header["audience"]["channel"]))
                first_hint.setdefault(key, int(pos))
        mine = self.member_lists.of(member)
        out = []
        for seq, share_id, other_id, kind, value, other_value in rows:
            own = views.get(share_id)
            if own is None or not gate.read(own):
                continue
            obs, other_obs = Observable(kind, value), Observable(kind, other_value)
            # the member's own lists apply to its own value, and to the other share's
            # only where it may read that share: applied to a value it may not read,
            # they would let it test that value against lists of its choosing
            if mine.hits(obs):
                continue
            other = views.get(other_id)
            if other is None:
                continue
            header = other.header
            # the correlation arose when the later of the two shares was published
            notice: dict[str, Any] = {"seq": int(seq),
                                      "created": max(own.header["created"], header["created"]),
                                      "share": share_id, "observable": _obs_json(kind, value)}
            told = gate.correlation(own, other, value=value, other_value=other_value)
            if told == "match":
                if mine.hits(other_obs):
                    continue
                notice["match"] = self._match_json(d, other_id, header, other_obs)
            elif told == "hint":
                channel = str(header["audience"]["channel"])
                if first_hint.get((share_id, kind, value, channel)) != seq:
                    continue
                notice["created"] = own.header["created"]
                notice["hint"] = self._hint_json(d, header)
            else:
                continue
            out.append(notice)
        return out, int(rows[-1][0]) if rows else after

    @staticmethod
    def _match_json(d: Directory, share_id: str, header: ShareHeader, obs: Observable
                    ) -> dict[str, Any]:
        origin = d.members.get(header["originator"])
        channel = header["audience"].get("channel")
        ch = d.channels.get(channel) if channel else None
        return {"share": share_id, "originator": header["originator"],
                "originator_name": origin.name if origin else None,
                "created": header["created"], "tlp": header["audience"]["tlp"],
                "channel": channel, "channel_name": ch.name if ch else None,
                "observable": _obs_json(obs.kind, obs.value)}

    @staticmethod
    def _hint_json(d: Directory, header: ShareHeader) -> dict[str, Any]:
        channel = str(header["audience"]["channel"])
        name = d.channels[channel].name
        return {"channel": channel, "channel_name": name,
                "text": f"a member of channel {name} holds a match"}

    def search(self, member: str, text: str, limit: int = 100) -> dict[str, Any]:
        """Shares the member may read that hold the observable written in ``text``
        (normalised; IP addresses and networks match by overlap), newest first, with
        the warninglists that name it."""
        obs = guess(text)
        if obs is None:
            raise InputError(f"{text.strip()[:80]!r} is not an observable vigil compares "
                             "(IP address or network, domain, URL, e-mail address, hash, "
                             "ASN, wallet; or kind:value)", code="input.observable",
                             pointer="/q")
        if not 1 <= limit <= 1000:
            raise InputError("limit must be 1..1000", code="input.limit", pointer="/limit")
        self.process()
        found = self.store.read(functools.partial(stored.lookup, observables=[obs],
                                                  pending=self.pending))
        held: dict[str, list[Observable]] = {}
        for _seq, o, sid, _originator in found.get(obs, []):
            held.setdefault(sid, []).append(o)
        states = self.store.read(lambda sql: share_states(sql, held)) if held else {}
        gate = Access(self.ex, member)
        d = gate.directory
        readable = gate.readable_ids((sid, h, s) for sid, (h, s) in states.items())
        results = []
        for sid, values in held.items():
            got = states.get(sid)
            if got is None or sid not in readable:
                continue
            item = self._match_json(d, sid, got[0], values[0])
            del item["observable"]
            item["observables"] = [_obs_json(o.kind, o.value) for o in sorted(set(values))]
            results.append(item)
        results.sort(key=lambda r: (r["created"], r["share"]), reverse=True)
        hits = sorted({*self.lists.hits(obs), *self.member_lists.of(member).hits(obs)})
        return {"query": _obs_json(obs.kind, obs.value), "warninglists": hits,
                "count": len(results), "results": results[:limit]}

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


def install(ex: Exchange, **kw: Any) -> Correlator:
    """Register correlation with an Exchange (once) and return its Correlator."""
    c, made = ex.attach(Correlator, lambda: Correlator(ex, **kw))
    if made:
        ex.published_hooks.append(c.after_publish)
        ex.purge_tx_hooks.append(c.on_purge)
        ex.store.on_close.append(c.stop)
    return c


def installed(ex: Exchange) -> Correlator | None:
    """The Correlator of an Exchange if one is registered."""
    return ex.part(Correlator)


def correlator(ex: Exchange) -> Correlator:
    """The Correlator of an Exchange, registering it if nobody has."""
    return install(ex)
