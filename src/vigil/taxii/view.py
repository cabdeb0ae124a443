"""``ExchangeSource``: TAXII collections as policy-filtered views of a node's shares.

A page is a keyset query over the shares the member may ever read, which are those the
access gate reads: its inbox rows (``inbox`` joined to ``taxii_shares`` and
``taxii_objects``) and its own shares (``taxii_shares.own_pos``), both ordered by the
member's inbox position, which counts its own entries only, and the object's position,
resumed after the ``next`` cursor; the two ordered runs are merged (the SQL of these
reads is ``vigil.storage.taxii``). Then the access gate (``Access.read``, community hold
included) on every share it touches. Shares the policy refuses, and recalled shares (for
their originator too), are skipped without a trace: the page is refilled from further
rows, so neither its length nor ``more`` tells a member anything about them. A sealed
share is opened only for a member whose keyring the node holds (its objects kept for the
next pages within ``OPENED_BYTES``); for anyone else it is counted as withheld
(``Page.withheld``), never served and never shown as empty.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

import orjson

from vigil import clock
from vigil.errors import NotFound, PolicyDenied, StixError, VigilError
from vigil.intel.export import with_stix_properties
from vigil.intel.themes import matches
from vigil.lru import Lru
from vigil.model import Actor, Envelope, Form, ShareHeader, ShareState, Tlp
from vigil.node.accountability import recall
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.policy.access import Access
from vigil.stix import parsed
from vigil.stix.validate import check_object
from vigil.storage import taxii as stored
from vigil.taxii import index
from vigil.taxii.bodies import Bodies
from vigil.taxii.collections import Added, Collection, Item, Page, node_collections
from vigil.taxii.query import Cursor, Query, norm_time, show_time

END = 1 << 62  # a position after every object of a share
SLICE = 2000  # objects of an opened sealed share made into page items at a time
# the objects of opened sealed shares kept in memory, by bytes: a share of 31 MiB of
# objects fits (a page of it then does not open it again), and many do not pile up
OPENED_BYTES = 128 * 1024 * 1024
ITEM_BYTES = 200  # what an opened object costs beside its strings: its tuple, their heads
SEALED_NOTE = (" Sealed shares are not listed here: this node does not hold your keys, so it "
               "cannot open them. Read them through `vigil gateway` with your keyring; each "
               "page names how many it withheld in the X-Vigil-Sealed-Withheld header.")

T = TypeVar("T")
Opened = list[tuple[int, str, str, str, str, bytes]]  # pos, id, type, version, spec, body
Known = tuple[str, int, int, int, str]  # version, position, pos, share seq, channel


def wanted(version: str, versions: Iterable[str], ask: tuple[str, ...]) -> bool:
    """Whether ``match[version]`` selects ``version`` among the object's ``versions``."""
    for w in ask:
        if w == "all" or w == version:
            return True
        if w == "last" and version == max(versions):
            return True
        if w == "first" and version == min(versions):
            return True
    return False


def _channel(collection: Collection) -> str | None:
    """The channel a collection reads ('' for shares sent through none), or None for
    every channel."""
    if collection.channel is not None:
        return collection.channel
    if collection.tlp is not None:  # a publish collection reads what was published there
        return collection.to[0] if collection.to else ""
    return None


class _Request:
    """One request's view: which shares the member may read through TAXII (memoised),
    with the signed headers of those it touched."""

    def __init__(self, source: ExchangeSource, member: str, tlp: Tlp | None = None,
                 themes: tuple[str, ...] = ()) -> None:
        self.source, self.member = source, member
        self.gate = Access(source.ex, member)
        self.tlp = tlp  # reading a publish collection: only shares at its TLP
        self.themes = themes  # match[x_vigil_theme]: only shares of these themes
        self.store = source.ex.store
        self.ok: dict[int, bool] = {}
        self.envelopes: dict[int, Envelope] = {}

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sql, *args)`` in one read of the store (a ``vigil.storage.taxii`` read)."""
        return self.store.read(lambda sql: fn(sql, *args))

    def readable(self, seqs: Iterable[int]) -> dict[int, bool]:
        todo = [s for s in set(seqs) if s not in self.ok]
        if not todo:
            return self.ok
        got = self.read(stored.share_heads, todo)
        cache = self.source.headers
        rows = []
        for seq, share_id, recalled, purged, raw, signature in got:
            header = cache.get(seq)
            if header is None:
                header = orjson.loads(raw)
                cache.put(seq, header)
            rows.append((share_id, header, ShareState(bool(recalled), bool(purged))))
            self.envelopes[seq] = Envelope(header, bytes(signature), b"")
        views = self.gate.views(rows)
        for (seq, *_), (_, header, _), view in zip(got, rows, views, strict=True):
            fits = (self.tlp is None or header["audience"].get("tlp") == self.tlp.value) \
                and (not self.themes or matches(header.get("themes", []), self.themes))
            self.ok[seq] = fits and not view.state.recalled and self.gate.readable(view)
        for s in todo:
            self.ok.setdefault(s, False)
        return self.ok


class ExchangeSource:
    """The node's TAXII collections over its exchange (see ``vigil.taxii.collections``)."""

    def __init__(self, exchange: Exchange, title: str = "vigil",
                 opened_bytes: int = OPENED_BYTES) -> None:
        self.ex = exchange
        self.title = title
        self.headers: Lru[int, ShareHeader] = Lru(16384)
        self.opened: Lru[tuple[int, str], Opened] = Lru(64, max_bytes=opened_bytes,
                                                         weigh=opened_weight)
        self.bodies = Bodies(exchange.store)
        self._backfill_lock = threading.Lock()
        self._backfilled = False
        # per member whose keyring the node holds: the versions inside the sealed shares
        # addressed to it, opened in memory only (never written anywhere), so version
        # selection sees sealed and plain versions alike
        self.sealed: dict[str, tuple[int, dict[str, tuple[Known, ...]]]] = {}
        self._sealed_lock = threading.Lock()

    def api_root_title(self) -> str:
        return self.title

    def ready(self) -> None:
        """Index shares stored before the index existed (once per process)."""
        if self._backfilled:
            return
        with self._backfill_lock:
            if not self._backfilled:
                index.backfill(self.ex.store)
                self._backfilled = True

    # -- collections ------------------------------------------------------------------
    def collections(self, actor: Actor) -> list[Collection]:
        note = "" if actor.member in self.ex.held else SEALED_NOTE
        return node_collections(self.ex.node_id, self.ex.channels(actor.member),
                                sealed_note=note)

    # -- reading ------------------------------------------------------------------------
    def page(self, actor: Actor, collection: Collection, query: Query) -> Page:
        self.ready()
        if self.ex.read_gate is not None:  # a share let through joins the inbox's end
            self.ex.read_gate.release([actor.member])
        r = _Request(self, actor.member, collection.tlp, query.themes)
        page = self._page(r, collection, query)
        page = replace(page, items=[
            replace(i, body=with_stix_properties(i.body, r.envelopes[i.share].header))
            if i.share in r.envelopes else i for i in page.items])
        if self.ex.read_hooks:
            for seq in dict.fromkeys(i.share for i in page.items):
                self.ex.record_opened(r.member, r.envelopes[seq])
        return page

    def _page(self, r: _Request, collection: Collection, q: Query) -> Page:
        start = (q.cursor.seq, q.cursor.pos) if q.cursor else (0, END)
        if q.added_after is not None:
            lo = r.read(stored.first_after, r.member, q.added_after)
            if lo is None:
                return Page([], False, None)
            start = max(start, (lo - 1, END))
        out: list[Item] = []
        withheld: list[int] = []  # positions of sealed shares this node cannot open
        after = start
        while True:
            batch = q.limit + 1 - len(out)
            rows = r.read(stored.page_rows, r.member, _channel(collection),
                          (after[0], None if after[1] >= END else after[1]), q.added_after,
                          (("id", q.ids), ("type", q.types), ("spec_version", q.spec_versions)),
                          batch)
            ok = r.readable(row[2] for row in rows)
            bodies = self.bodies.of([(row[2], row[7], row[9], row[10]) if ok[row[2]]
                                     and row[1] >= 0 else (row[2], b"", None, None)
                                     for row in rows])
            found: list[Item] = []
            for (seq, pos, share, oid, typ, version, spec, _, added, _, _), body in zip(
                    rows, bodies, strict=True):
                after = (seq, END if pos < 0 else pos)
                if not ok[share] or body is None:
                    continue
                if pos >= 0:
                    found.append(Item(seq, pos, oid, typ, version, spec, added, body, share))
                    continue
                opened = self._open(r.member, share, added)
                if opened is None:
                    withheld.append(seq)
                    continue
                skip = start[1] if seq == start[0] else -1
                # a large share is taken a slice at a time, up to what fills the page
                for at in range(0, len(opened), SLICE):
                    found += [Item(seq, p, i, t, v, sv, added, b, share)
                              for p, i, t, v, sv, b in opened[at:at + SLICE]
                              if p > skip and (not q.ids or i in q.ids)
                              and (not q.types or t in q.types)
                              and (not q.spec_versions or sv in q.spec_versions)]
                    if len(out) + len(found) > q.limit:
                        out += self._versions(r, collection, q.versions, found)
                        found = []
                        if len(out) > q.limit:
                            break
                if len(out) > q.limit:
                    break
            out += self._versions(r, collection, q.versions, found)
            if len(rows) < batch or len(out) > q.limit:
                break
        more = len(out) > q.limit
        del out[q.limit:]
        nxt = Cursor(out[-1].seq, out[-1].pos) if more else None
        # counted once over a paging: only those before where the next page starts
        n = sum(1 for seq in withheld if nxt is None or seq < nxt.seq)
        return Page(out, more, nxt, n)

    def _versions(self, r: _Request, collection: Collection, ask: tuple[str, ...],
                  found: list[Item]) -> list[Item]:
        """Drop repeats of an (id, version) seen earlier in the collection, and versions
        ``match[version]`` does not select among the versions the member may read."""
        if not found:
            return found
        ids = list({i.id for i in found})
        rows = r.read(stored.version_rows, r.member, _channel(collection), ids)
        ok = r.readable(row[4] for row in rows)
        seen: dict[str, list[tuple[str, int, int]]] = {}
        for oid, version, seq, pos, share in rows:
            if ok[share]:
                seen.setdefault(oid, []).append((version, seq, pos))
        for oid, entries in self._sealed_versions(r, ids).items():
            ok = r.readable(e[3] for e in entries)
            for version, seq, pos, share, channel in entries:
                if ok[share] and _channel(collection) in (None, channel):
                    seen.setdefault(oid, []).append((version, seq, pos))
        plain = any(w in ("last", "first", "all") for w in ask)
        keep = []
        for i in found:
            vs = seen.setdefault(i.id, [])
            me = (i.version, i.seq, i.pos)
            if me not in vs:
                vs.append(me)
            if len(vs) == 1:  # the only version there is: selected unless by timestamp
                if plain or i.version in ask:
                    keep.append(i)
                continue
            if any(v == i.version and (s, p) < (i.seq, i.pos) for v, s, p in vs):
                continue  # the same version, earlier in the collection
            if wanted(i.version, {v for v, _, _ in vs}, ask):
                keep.append(i)
        return keep

    def _sealed_versions(self, r: _Request, ids: list[str]
                         ) -> dict[str, tuple[Known, ...]]:
        """(version, position, pos, share seq, channel) of the given ids inside the
        sealed shares addressed to a member whose keyring the node holds. A share a read
        gate let through since comes again at its new position: its entries move."""
        if r.member not in self.ex.held:
            return {}
        with self._sealed_lock:
            last, known = self.sealed.get(r.member, (0, {}))
            rows = r.read(stored.sealed_after, r.member, last)
            moved = {share for _, share, *_ in rows}
            if moved and known:
                known = {oid: kept for oid, entries in known.items()
                         if (kept := tuple(e for e in entries if e[3] not in moved))}
            for seq, share, channel, added, _ in rows:
                last = seq
                for pos, oid, _, version, _, _ in self._open(r.member, share, added) or ():
                    # tuples of plain values: the collector stops tracking them, which
                    # keeps its full passes short however many objects are known
                    known[oid] = (*known.get(oid, ()), (version, seq, pos, share, channel))
            self.sealed[r.member] = (last, known)
        return {i: known[i] for i in ids if i in known}

    def _open(self, member: str, share: int, added: str) -> Opened | None:
        """The objects of a sealed share, opened for a member whose keyring the node
        holds (kept in memory only); None if the node cannot open it."""
        if member not in self.ex.held:
            return None
        got = self.opened.get((share, member))
        if got is not None:
            return got
        env = self.ex.store.read(lambda sql: stored.envelope_at(sql, share))
        try:
            plain = self.ex.open(member, env)
        except VigilError:
            plain = None
        if plain is None:
            return None
        # parsed in a bundle worker when large: one parse of tens of MiB holds the
        # interpreter lock for the whole of it
        items = self.ex.bundles.run(index.opened_rows, plain, norm_time(added) or added)
        self.opened.put((share, member), items)
        return items

    # -- writing ------------------------------------------------------------------------
    def add(self, actor: Actor, collection: Collection, objects: list[Any],
            status: dict[str, Any] | None = None) -> Added:
        """Publish POSTed objects as one share. With ``status`` (the start of its status
        resource: id, status, request time, count), the status resource is completed in
        ``Added.status`` and stored in the share's own transaction (one transaction per
        POST), or on its own when no share is stored."""
        try:
            result = self._add(actor, collection, objects, status)
        finally:
            index.pend_status(None)
        if status is not None and not result.status_saved:
            self.save_status(actor, result.status, sealed=result.sealed)
        return result

    def _pend(self, actor: Actor, result: Added, status: dict[str, Any] | None,
              good: list[Any]) -> None:
        """Complete the status of a POST whose ``good`` objects are about to be published,
        to be stored by the share's transaction."""
        if status is None:
            return
        successes = [self._ref(obj) for obj in good]
        result.status = {**status, "success_count": len(successes), "successes": successes,
                         "failure_count": len(result.failures), "failures": result.failures,
                         "pending_count": 0, "pendings": []}
        index.pend_status((result.status["id"], actor.member, orjson.dumps(
            _kept(result.status, result.sealed)), result.status["request_timestamp"]))

    def _add(self, actor: Actor, collection: Collection, objects: list[Any],
             status: dict[str, Any] | None) -> Added:
        if not collection.can_write or collection.tlp is None:
            raise PolicyDenied("this collection is read-only; POST to a publish-* collection",
                               code="taxii.not_writable")
        self.ready()
        request = self.ex.make_request(actor.member, tlp=collection.tlp, to=collection.to)
        # sealed by the policy: the ids of these objects are not to be kept in the store
        result = Added(sealed=self.ex.preview(request).form is Form.SEALED)
        clash = self._conflicts(actor.member, objects)
        for n in sorted(clash):
            result.failures.append({**self._ref(objects[n]), "message": clash[n]})
        good = [o for n, o in enumerate(objects) if n not in clash]
        self._pend(actor, result, status, good)
        if not good:
            return result
        pub: Published | None
        bundle = getattr(objects, "bundle", None) if not clash else None
        if bundle is not None:  # parsed already: publish_bundle takes it as it is
            parsed.remember(bundle, {"type": "bundle", "id": getattr(objects, "bundle_id", ""),
                                     "objects": objects})
        try:
            pub = self.ex.publish_bundle(actor, bundle, request) if bundle is not None \
                else self._publish(actor, good, request)
        except StixError:
            parsed.forget()
            candidates, good = good, []
            for n, obj in enumerate(candidates):
                problems = check_object(obj, f"/objects/{n}")
                if problems:
                    result.failures.append({**self._ref(obj), "message": "; ".join(
                        f"{p.pointer}: {p.message}" for p in problems[:3])})
                else:
                    good.append(obj)
            self._pend(actor, result, status, good)
            pub = self._publish(actor, good, request) if good else None
        result.status_saved = index.pend_status(None)
        if pub is not None:
            result.share_id = pub.envelope.id
            result.recipients = pub.recipients
            result.successes = [self._ref(obj) for obj in good]
        return result

    def _conflicts(self, member: str, objects: list[Any]) -> dict[int, str]:
        """Objects whose (id, version) the member can already read with other content
        (or that an earlier object of the same POST has): refused, by index, with a
        stable code. Versions are compared to the nanosecond, so versions that differ
        below it are not conflicts; the same version with other content would be
        accepted and never served (a collection serves one body per version)."""
        keyed: dict[int, tuple[str, str]] = {}
        for n, obj in enumerate(objects):
            if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                v = obj.get("modified") or obj.get("created")
                nv = norm_time(v) if isinstance(v, str) else None
                if nv is not None:
                    keyed[n] = (obj["id"], nv)
        if not keyed:
            return {}
        ids = sorted({k[0] for k in keyed.values()})
        r = _Request(self, member)
        known: dict[tuple[str, str], list[Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = r.read(stored.body_rows, r.member, chunk)
            ok = r.readable(row[3] for row in rows)
            rows = [row for row in rows if ok[row[3]]]
            bodies = self.bodies.of([(share, obj, at, n) for _, _, obj, share, at, n in rows])
            for (oid, version, *_), body in zip(rows, bodies, strict=True):
                if body is not None:
                    known.setdefault((oid, version), []).append(orjson.loads(body))
        out: dict[int, str] = {}
        for n, key in keyed.items():
            bodies = known.setdefault(key, [])
            if any(b != objects[n] for b in bodies):
                out[n] = (f"taxii.version_conflict: {key[0]} already has a version "
                          f"{show_time(key[1])} with other content; give the new content a "
                          f"new modified time")
                continue
            bodies.append(objects[n])
        return out

    def _publish(self, actor: Actor, objects: list[Any], request: Any) -> Published:
        raw = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                            "objects": objects})
        return self.ex.publish_bundle(actor, raw, request)

    @staticmethod
    def _ref(obj: Any) -> dict[str, str]:
        if not isinstance(obj, dict):
            return {"id": "", "version": ""}
        v = obj.get("modified") or obj.get("created")
        nv = norm_time(v) if isinstance(v, str) else None
        return {"id": str(obj.get("id", "")),
                "version": show_time(nv) if nv else clock.now()}

    def delete(self, actor: Actor, collection: Collection, query: Query) -> int:
        if not collection.can_read:
            raise PolicyDenied("objects are deleted through a readable collection",
                               code="taxii.not_readable")
        self.ready()
        r = _Request(self, actor.member, collection.tlp)
        rows = r.read(stored.object_rows, r.member, _channel(collection), query.ids[0])
        ok = r.readable(row[0] for row in rows)
        rows = [row for row in rows if ok[row[0]]]
        versions = {row[1] for row in rows}
        hit = sorted({int(seq) for seq, v, spec in rows if wanted(v, versions, query.versions)
                      and (not query.spec_versions or spec in query.spec_versions)})
        if not hit:
            raise NotFound(f"no object {query.ids[0]} in this collection",
                           code="taxii.object_not_found")
        if any(r.envelopes[s].originator != actor.member for s in hit):
            raise PolicyDenied("only the originator of a share may delete its objects",
                               code="taxii.not_originator")
        for s in hit:  # a recall of each share holding them: signed, logged, delivered
            recall(self.ex, actor.member, r.envelopes[s].id)
        return len(hit)

    # -- status ---------------------------------------------------------------------------
    def save_status(self, actor: Actor, status: dict[str, Any], sealed: bool = False) -> None:
        row = (status["id"], actor.member, orjson.dumps(_kept(status, sealed)),
               status["request_timestamp"])
        self.ex.store.write(lambda sql: stored.insert_status(sql, row))

    def status(self, actor: Actor, status_id: str) -> bytes | None:
        return self.ex.store.read(lambda sql: stored.status(sql, status_id, actor.member))


def opened_weight(items: Opened) -> int:
    """About the bytes an opened share's objects hold in memory."""
    return sum(len(i) + len(t) + len(v) + len(sv) + len(b) + ITEM_BYTES
               for _, i, t, v, sv, b in items)


def _kept(status: dict[str, Any], sealed: bool) -> dict[str, Any]:
    """The stored form of a status: a sealed share's object ids are not written to the
    store (the stored status keeps the counts, the response carries the full lists)."""
    return {k: v for k, v in status.items() if k not in ("successes", "failures")} \
        if sealed else status
