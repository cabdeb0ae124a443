"""A member's readable shares as a MISP feed, in MISP's own feed layout, written by
PyMISP's feed code (``MISPEvent.to_feed(with_meta=True)``, what PyMISP's feed
generator uses): ``manifest.json`` (event uuid -> Orgc, Tag, info, date, analysis,
threat_level_id, timestamp), ``hashes.csv`` (``md5(value),event uuid`` per attribute
value) and one ``<event uuid>.json`` per event.

The shares are the member's inbox, read through the policy like any read; each share
is one event. A share's event is converted once per process (shares do not change;
kept in memory only, like opened sealed shares)."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigil.lru import Lru
from vigil.model import ShareHeader
from vigil.node.exchange import Exchange

_NS = uuid.UUID("3d2b8f5e-6a0c-5c1e-9b7a-6d6973702d66")
_converted: Lru[str, dict[str, Any]] = Lru(4096)
_lock = threading.Lock()


@dataclass
class Feed:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # uuid -> {"Event"}
    manifest: dict[str, Any] = field(default_factory=dict)
    hashes: list[tuple[str, str]] = field(default_factory=list)  # (md5, event uuid)

    def hashes_csv(self) -> str:
        return "".join(f"{h},{u}\n" for h, u in self.hashes)


def feed_event(plain: bytes, share_id: str, created: str,
               header: ShareHeader | None = None) -> dict[str, Any]:
    """One share's bundle as a MISP feed event (with ``_manifest`` and ``_hashes``);
    with its ``header``, the share's evaluation and legal basis as tags."""
    from pymisp import MISPEvent, MISPOrganisation

    from vigil.intel.export import add_misp_tags
    from vigil.interop.misp import to_misp

    event, _losses = to_misp(plain)
    if header is not None:
        add_misp_tags(event, header)
    ev = MISPEvent()
    ev.from_dict(**copy.deepcopy(event))
    if not getattr(ev, "uuid", None):
        ev.uuid = str(uuid.uuid5(_NS, share_id))
    if not hasattr(ev, "Orgc"):
        org = MISPOrganisation()
        org.from_dict(name="vigil", uuid=str(uuid.uuid5(_NS, "vigil")))
        ev.Orgc = org
    if not getattr(ev, "info", None):
        ev.info = f"vigil share {share_id}"
    if not getattr(ev, "timestamp", None):
        ev.timestamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
    out: dict[str, Any] = ev.to_feed(with_meta=True)
    return out


def member_feed(exchange: Exchange, member: str) -> Feed:
    """The member's inbox as a MISP feed (sealed shares the node cannot open for it are
    left out)."""
    feed = Feed()
    after = 0
    while True:
        rows, cursor, more = exchange.inbox_page(member, after, 500)
        for _entry, env, _state in rows:
            got = _converted.get(env.id)
            if got is None:
                plain = exchange.open(member, env)
                if plain is None:
                    continue
                got = feed_event(plain, env.id, env.header["created"], env.header)
                with _lock:
                    _converted.put(env.id, got)
            ev = dict(got["Event"])
            manifest, hashes = ev.pop("_manifest"), ev.pop("_hashes")
            (u, meta), = manifest.items()
            if u in feed.manifest and str(feed.manifest[u]["timestamp"]) >= \
                    str(meta["timestamp"]):
                continue  # an earlier version of an event than one already listed
            feed.manifest[u] = meta
            feed.events[u] = {"Event": ev}
            feed.hashes = [(h, e) for h, e in feed.hashes if e != u]
            feed.hashes += [(h, u) for h in hashes]
        if cursor == after or not more:
            break
        after = cursor
    return feed
