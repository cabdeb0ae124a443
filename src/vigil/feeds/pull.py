"""Pull a feed: fetch what its external collection added after the durable cursor,
check every object, and publish the valid new ones as the feed's member with the
feed's audience, in bundles of at most ``BATCH`` objects.

* Invalid objects are reported (kept with the validator's code and pointer, counted,
  logged) and the valid ones of the same page still go through.
* Re-pulling publishes nothing twice: the (id, version) pairs published for a feed are
  written in the same transaction as the share that carries them.
* The cursor names the last object read, not only its date: the server's
  ``X-TAXII-Date-Added-Last`` of the last page handled and the (id, version) pairs read
  at that date, kept in the node's store after each page. A pull resumes with
  ``added_after`` just before that date and skips exactly those pairs, so objects that
  share the date and were not read yet are read, and none is read twice. (A ``next``
  token is followed within a pull but never kept: TAXII does not make one replayable —
  medallion's is consumed by the request that reads it, so a page answered to a process
  that died before handling it would be lost.)
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil import clock
from vigil.errors import StixError, VigilError
from vigil.feeds import registry
from vigil.feeds.cursor import instant, just_before
from vigil.feeds.registry import Feed, Key, Reject
from vigil.feeds.remote import RemoteCollection
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.params import decimal
from vigil.stix.tlp import TLP_ORDER, bundle_tlp, parse_tlp
from vigil.stix.validate import check_object

log = logging.getLogger("vigil.feeds")
BATCH = 500  # objects per published bundle
PAGE = 500  # objects asked for per TAXII request


@dataclass
class PullResult:
    feed: str
    fetched: int = 0
    published: int = 0
    shares: int = 0
    duplicates: int = 0
    rejected: int = 0
    cursor: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    recipients: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {"fetched": self.fetched, "published": self.published, "shares": self.shares,
                "duplicates": self.duplicates, "rejected": self.rejected}

    def line(self) -> str:
        return (f"feed {self.feed}: {self.fetched} fetched, {self.published} published in "
                f"{self.shares} share(s), {self.duplicates} already published, "
                f"{self.rejected} rejected")


Progress = Callable[[PullResult], None]


def object_key(obj: Any) -> Key:
    """(id, version) of a STIX object; objects without a usable id get a digest."""
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        version = obj.get("modified") or obj.get("created") or ""
        return obj["id"], str(version)
    digest = hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"(no id {digest[:16]})", ""


# -- checking ----------------------------------------------------------------------

def check(obj: Any, tlp_rank: int, at: str) -> Reject | None:
    """Why one object from a feed cannot be published (None: it can)."""
    oid, version = object_key(obj)
    problems = check_object(obj, "")
    if problems:
        p = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Reject(oid, version, p.code, p.pointer or "/", p.message + more, at)
    marked = bundle_tlp([obj])
    if marked is not None and TLP_ORDER.index(marked) > tlp_rank:
        return Reject(oid, version, "policy.tlp_below_marking", "/object_marking_refs",
                      f"marked TLP:{marked.value.upper()}, narrower than the feed's "
                      f"TLP:{TLP_ORDER[tlp_rank].value.upper()}", at)
    return None


def _bundle(objects: Sequence[dict[str, Any]]) -> bytes:
    return orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                         "objects": list(objects)})


# -- pulling --------------------------------------------------------------------

def _publish(exchange: Exchange, feed: Feed, actor: Actor, objects: list[dict[str, Any]],
             result: PullResult) -> None:
    """Publish one batch; objects the bundle check refuses are rejected, the rest
    published (one retry without them). A batch over the node's body limit is split."""
    req = exchange.make_request(feed.member_id, tlp=parse_tlp(feed.tlp), to=feed.to)
    for attempt in range(2):
        if not objects:
            return
        keys = [object_key(o) for o in objects]
        raw = _bundle(objects)
        if len(raw) > exchange.max_body:  # over the node's limit: halve, or refuse one
            if len(objects) > 1:
                half = len(objects) // 2
                _publish(exchange, feed, actor, objects[:half], result)
                _publish(exchange, feed, actor, objects[half:], result)
                return
            big = Reject(*keys[0], "input.too_large", "/",
                         f"{len(raw)} bytes, over the node's limit of {exchange.max_body}",
                         clock.now())
            registry.add_rejects(exchange.store, feed.name, [big])
            result.rejects.append(big)
            result.rejected += 1
            return
        try:
            with registry.carrying(feed.name, keys):
                pub: Published = exchange.publish_bundle(actor, raw, req)
        except StixError as exc:
            bad = _bad_indices(exc, len(objects))
            at = clock.now()
            if attempt == 1 or not bad:
                bad = set(range(len(objects)))
            rejects = [Reject(*keys[i], exc.code, _inner(exc.pointer), exc.message, at)
                       for i in sorted(bad)]
            registry.add_rejects(exchange.store, feed.name, rejects)
            result.rejects += rejects
            result.rejected += len(rejects)
            objects = [o for i, o in enumerate(objects) if i not in bad]
            continue
        result.published += len(objects)
        result.shares += 1
        result.recipients.update(pub.recipients)
        result.recipients.add(feed.member_id)
        return


def _bad_indices(exc: StixError, n: int) -> set[int]:
    out = set()
    problems = exc.detail.get("problems") or [{"pointer": exc.pointer or ""}]
    for p in problems:
        parts = str(p.get("pointer", "")).split("/")
        at = decimal(parts[2]) if len(parts) > 2 and parts[1] == "objects" else None
        if at is not None and at < n:
            out.add(at)
    return out


def _inner(pointer: str | None) -> str:
    parts = (pointer or "").split("/")
    if len(parts) > 2 and parts[1] == "objects":
        return "/" + "/".join(parts[3:])
    return pointer or "/"


def pull(exchange: Exchange, name: str, *, progress: Progress | None = None,
         page_size: int = PAGE, batch: int = BATCH,
         remote: Callable[[Feed], RemoteCollection] | None = None,
         result: PullResult | None = None) -> PullResult:
    """Pull one feed now (the caller holds its lease, see :func:`pull_claimed`)."""
    store = exchange.store
    feed = registry.get_feed(store, name)
    actor = Actor(member=feed.member_id, user=f"feed:{feed.name}")
    tlp_rank = TLP_ORDER.index(parse_tlp(feed.tlp))
    result = result or PullResult(feed.name)
    result.cursor = feed.cursor

    def already(keys: list[Key]) -> set[Key]:
        return store.read(lambda sql: registry.seen(sql, name, keys))
    read_before = set(feed.cursor_keys)  # read at the cursor's date by an earlier pull
    ask = just_before(feed.cursor) if feed.cursor and read_before else feed.cursor
    date = feed.cursor
    open_remote = remote or (lambda f: RemoteCollection.open(f.url, f.collection, f.auth))
    with open_remote(feed) as coll:
        for page in coll.pages(ask, page_size):
            at = clock.now()
            page_keys = {object_key(o) for o in page.objects}
            objects = [o for o in page.objects if object_key(o) not in read_before]
            result.fetched += len(objects)
            fresh: list[dict[str, Any]] = []
            rejects: list[Reject] = []
            in_page: set[Key] = set()
            for obj in objects:
                bad = check(obj, tlp_rank, at)
                if bad is not None:
                    rejects.append(bad)
                    continue
                key = object_key(obj)
                if key in in_page:
                    result.duplicates += 1
                    continue
                in_page.add(key)
                fresh.append(obj)
            done = already(list(in_page))
            result.duplicates += len(done)
            fresh = [o for o in fresh if object_key(o) not in done]
            if rejects:
                for r in rejects:
                    log.warning("feed %s: rejected %s (%s) [%s at %s]: %s", name, r.object_id,
                                r.version or "-", r.code, r.pointer, r.message)
                registry.add_rejects(store, name, rejects)
                result.rejects += rejects
                result.rejected += len(rejects)
            for i in range(0, len(fresh), batch):
                _publish(exchange, feed, actor, fresh[i:i + batch], result)
            last = page.date_added_last
            if last and (date is None or instant(last) >= instant(date)):
                date = last
                registry.set_cursor(store, name, last, page_keys)
                result.cursor = last
            if progress is not None:
                progress(result)
    return result


def pull_claimed(exchange: Exchange, name: str, *, progress: Progress | None = None,
                 remote: Callable[[Feed], RemoteCollection] | None = None) -> PullResult:
    """Take the feed's lease, pull, and record the outcome; a failure is kept as the
    feed's ``last_error`` and raised."""
    if not registry.claim(exchange.store, name):
        raise VigilError(f"feed {name!r} is being pulled right now", code="feed.busy",
                         status=409)
    result = PullResult(name)
    try:
        if registry.get_feed(exchange.store, name).kind == "misp":
            from vigil.feeds import misp_pull  # misp-stix: only when needed

            misp_pull.pull(exchange, name, result=result, progress=progress)
        else:
            pull(exchange, name, progress=progress, remote=remote, result=result)
    except Exception as exc:
        registry.release(exchange.store, name, error=str(exc)[:500], counts=result.counts(),
                         pulled_at=clock.now())
        raise
    registry.release(exchange.store, name, error=None, counts=result.counts(),
                     pulled_at=clock.now())
    log.info("%s", result.line())
    return result
