"""Pull a MISP feed (MISP's feed layout: ``manifest.json`` and one ``<uuid>.json`` per
event, as CIRCL's OSINT feed or ``/api/v1/misp-feed/`` of a vigil node serve it)
incrementally by its manifest.

An event is fetched when the manifest lists it with a ``timestamp`` this feed has not
published yet: the (event uuid, timestamp) pair is recorded in the transaction that
stores its share, like a TAXII pull's (id, version) pairs, so a re-pull or a pull after
a crash publishes nothing twice, and an updated event (a new timestamp) is published
again. Each event is converted as ``vigil import misp`` converts it, for the feed's
audience and TLP: an event whose distribution or TLP tag is narrower than the feed's is
refused and recorded with its code (never published wider); its losses (attributes and
objects left out) are recorded one by one as the feed's rejects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests

from vigil import clock
from vigil.errors import VigilError
from vigil.feeds import registry
from vigil.feeds.pull import PullResult
from vigil.feeds.registry import Feed, Reject
from vigil.feeds.remote import _auth_kw, _error
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.stix.tlp import parse_tlp

log = logging.getLogger("vigil.feeds")
Get = Callable[[str], Any]


def _getter(feed: Feed, timeout: float = 60.0) -> tuple[Get, requests.Session]:
    session = requests.Session()
    kw = _auth_kw(feed.auth)
    if "auth" in kw:
        session.auth = kw["auth"]
    elif "user" in kw:
        session.auth = (kw["user"], kw["password"])

    def get(name: str) -> Any:
        url = feed.url.rstrip("/") + "/" + name
        try:
            r = session.get(url, timeout=timeout, headers={"Accept": "application/json"})
            r.raise_for_status()
            return r.json()
        except (requests.RequestException, ValueError) as exc:
            raise _error(exc, url) from exc
    return get, session


def pull(exchange: Exchange, name: str, *, result: PullResult,
         progress: Callable[[PullResult], None] | None = None) -> PullResult:
    from vigil.interop.misp import check_tlp, convert, events_of
    from vigil.interop.misp_exchange import audience_words

    store = exchange.store
    feed = registry.get_feed(store, name)
    actor = Actor(member=feed.member_id, user=f"feed:{feed.name}")
    names = [c.name for c in exchange.channels(feed.member_id)]
    words = audience_words(feed.to)
    get, session = _getter(feed)
    try:
        manifest = get("manifest.json")
        if not isinstance(manifest, dict):
            raise VigilError(f"{feed.url}manifest.json is not a MISP feed manifest",
                             code="feed.bad_manifest", status=502)
        wanted = sorted(((str(m.get("timestamp", "")), str(u)) for u, m in manifest.items()
                         if isinstance(m, dict)), key=lambda x: (int(x[0] or 0), x[1]))
        keys = [(u, ts) for ts, u in wanted]
        done = store.read(lambda sql: registry.seen(sql, name, keys))
        result.duplicates += len(done)
        for event_uuid, ts in keys:
            if (event_uuid, ts) in done:
                continue
            result.fetched += 1
            at = clock.now()
            try:
                [event] = events_of(get(f"{event_uuid}.json"))
                conv = convert(event, to=words, channels=names)
                level = check_tlp(conv.marking, parse_tlp(feed.tlp))
                if not conv.objects:
                    raise VigilError("nothing of the event can be published",
                                     code="misp.nothing_left", status=422)
            except VigilError as exc:
                if exc.code.startswith("taxii."):
                    raise  # the server: the pull stops, the next one resumes
                bad = Reject(event_uuid, ts, exc.code, exc.pointer or "/", exc.message, at)
                registry.add_rejects(store, name, [bad])
                result.rejects.append(bad)
                result.rejected += 1
                continue
            lost = [Reject(x.stix_id or event_uuid, ts, x.code, x.pointer, x.reason, at)
                    for x in conv.losses]
            registry.add_rejects(store, name, lost)
            result.rejects += lost
            req = exchange.make_request(feed.member_id, tlp=level, to=words,
                                        codes=conv.marking.codes)
            with registry.carrying(feed.name, [(event_uuid, ts)]):
                pub = exchange.publish_bundle(actor, conv.bundle(), req)
            result.published += len(conv.objects)
            result.shares += 1
            result.recipients.update(pub.recipients)
            result.recipients.add(feed.member_id)
            if progress is not None:
                progress(result)
    finally:
        session.close()
    return result
