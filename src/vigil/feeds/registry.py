"""Feed subscriptions in the node's store: settings, durable cursor, counters, the
object versions already published and the objects the feed sent that were refused.

Every query goes through ``store.write`` / ``store.read`` and is written once for
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil import clock
from vigil.errors import Conflict, InputError, NotFound
from vigil.feeds.cursor import instant
from vigil.model import Envelope
from vigil.node.exchange import Exchange
from vigil.storage import Store
from vigil.storage import feeds as stored
from vigil.storage.base import Sql

_SPAN = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LEASE_SECONDS = 600  # a pull that has not finished after this long is taken over


Key = tuple[str, str]


def parse_every(text: str) -> int:
    """A pull interval such as 30s, 15m, 1h, 1d, in seconds."""
    m = _SPAN.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise InputError(f"interval {text!r} must look like 30s, 15m, 1h or 1d",
                         code="feed.every", pointer="/every")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def format_every(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Auth:
    """Credentials for the remote TAXII server. ``describe`` never shows a secret."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    def describe(self) -> str:
        if self.token:
            return "bearer token"
        if self.user:
            return f"basic (user {self.user})"
        return "none"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in (("user", self.user), ("password", self.password),
                                             ("token", self.token)) if v})

    @classmethod
    def from_json(cls, text: str) -> Auth:
        d = json.loads(text or "{}")
        return cls(d.get("user"), d.get("password"), d.get("token"))

    def __repr__(self) -> str:  # never print a secret, not even in a traceback
        return f"Auth({self.describe()})"


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    url: str
    collection: str
    member_id: str
    tlp: str
    to: tuple[str, ...]
    every: int
    auth: Auth = field(repr=False)
    cursor: str | None = None
    created: str = ""
    last_pull: str | None = None
    last_error: str | None = None
    lease_until: str | None = None
    fetched: int = 0
    published: int = 0
    shares: int = 0
    duplicates: int = 0
    rejected: int = 0
    cursor_keys: frozenset[Key] = frozenset()  # (id, version) read at the cursor's date
    lease_owner: str | None = None
    kind: str = "taxii"  # or "misp": a MISP feed (manifest.json, one JSON per event)

    @property
    def collection_url(self) -> str:
        return collection_url(self.url, self.collection)

    def public(self) -> dict[str, Any]:
        """The feed as shown to an operator: every setting and counter, no secret."""
        return {
            "name": self.name, "kind": self.kind, "url": self.url,
            "collection": self.collection,
            "member": self.member_id, "tlp": self.tlp, "to": list(self.to),
            "every": format_every(self.every), "auth": self.auth.describe(),
            "cursor": self.cursor, "read_at_cursor": len(self.cursor_keys),
            "lease": self.lease_owner, "created": self.created, "last_pull": self.last_pull,
            "last_error": self.last_error, "fetched": self.fetched,
            "published": self.published, "shares": self.shares,
            "duplicates": self.duplicates, "rejected": self.rejected,
        }


@dataclass(frozen=True, slots=True)
class Reject:
    object_id: str
    version: str
    code: str
    pointer: str
    message: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.object_id, "version": self.version, "code": self.code,
                "pointer": self.pointer, "message": self.message, "at": self.at}


def collection_url(url: str, collection: str) -> str:
    """The collection's URL from an API root URL and a collection id (a URL that
    already names the collection is taken as it is)."""
    base = url.rstrip("/")
    if base.endswith(f"/collections/{collection}"):
        return base + "/"
    return f"{base}/collections/{collection}/"


def _feed(row: Sequence[Any]) -> Feed:
    return Feed(
        name=row[0], url=row[1], collection=row[2], member_id=row[3], tlp=row[4],
        to=tuple(json.loads(row[5])), every=int(row[6]), auth=Auth.from_json(row[7]),
        cursor=row[8], created=row[9], last_pull=row[10], last_error=row[11],
        lease_until=row[12], fetched=int(row[13]), published=int(row[14]),
        shares=int(row[15]), duplicates=int(row[16]), rejected=int(row[17]),
        cursor_keys=frozenset((str(k[0]), str(k[1])) for k in json.loads(row[18] or "[]")),
        lease_owner=row[19], kind=row[20] or "taxii",
    )


def add_feed(store: Store, feed: Feed) -> Feed:
    def tx(sql: Sql) -> Feed:
        if stored.feed_exists(sql, feed.name):
            raise Conflict(f"a feed named {feed.name!r} already exists", code="feed.exists")
        stored.insert_feed(
            sql, (feed.name, feed.url, feed.collection, feed.member_id, feed.tlp,
             json.dumps(list(feed.to)), feed.every, feed.auth.to_json(), feed.cursor,
             feed.created or clock.now(), None, None, None, 0, 0, 0, 0, 0, "[]", None,
             feed.kind))
        return _get(sql, feed.name)
    return store.write(tx)


def _get(sql: Sql, name: str) -> Feed:
    row = stored.feed_row(sql, name)
    if row is None:
        raise NotFound(f"no feed {name!r}", code="feed.not_found")
    return _feed(row)


def get_feed(store: Store, name: str) -> Feed:
    return store.read(lambda sql: _get(sql, name))


def list_feeds(store: Store) -> list[Feed]:
    return store.read(lambda sql: [_feed(r) for r in stored.feed_rows(sql)])


def remove_feed(store: Store, name: str) -> None:
    def tx(sql: Sql) -> None:
        _get(sql, name)
        stored.delete_feed(sql, name)
    store.write(tx)


def _started(pid: int) -> str:
    """When the process began (clock ticks since boot, from /proc), '' where unknown:
    with the pid it names one process, not a later one given the same pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def holder() -> str:
    """This process as a lease holder: host, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()} {pid} {_started(pid)}".rstrip()


def holder_gone(owner: str | None) -> bool:
    """Whether the process that took a lease is known to have ended: it ran on this
    host and its pid is free, or now names a process started at another time. A holder
    on another host is never known gone (its lease runs out after LEASE_SECONDS)."""
    if not owner:
        return False
    parts = owner.split()
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    return len(parts) > 2 and _started(pid) not in ("", parts[2])


def _lease_free(until: str | None, owner: str | None, current: str) -> bool:
    return until is None or until < current or holder_gone(owner)


def claim(store: Store, name: str, *, now: datetime | None = None,
          owner: str | None = None) -> bool:
    """Take the feed's lease for one pull; False if another live pull holds it. A lease
    is free when it ran out or when its holder's process is gone."""
    t = now or datetime.now(UTC)
    until = clock.fmt(t + timedelta(seconds=LEASE_SECONDS))
    current = clock.fmt(t)
    me = owner or holder()

    def tx(sql: Sql) -> bool:
        f = _get(sql, name)
        if not _lease_free(f.lease_until, f.lease_owner, current):
            return False
        return stored.take_lease(sql, name, until, me, f.lease_until)  # compare-and-set
    return store.write(tx)


def release(store: Store, name: str, *, error: str | None, counts: dict[str, int],
            pulled_at: str) -> None:
    """End a pull: drop the lease, note when and how it went, add its counts."""
    added = [counts.get(k, 0) for k in ("fetched", "published", "shares", "duplicates",
                                         "rejected")]
    store.write(lambda sql: stored.end_pull(sql, name, pulled_at, error, added))


def set_cursor(store: Store, name: str, cursor: str, keys: Iterable[Key] = ()) -> None:
    """Move the durable ``added_after`` cursor forward (never back), with the (id,
    version) pairs read at that date: a later date replaces them, the same date adds
    to them."""
    new = set(keys)

    def tx(sql: Sql) -> None:
        f = _get(sql, name)
        if f.cursor is not None and instant(cursor) < instant(f.cursor):
            return
        same = f.cursor is not None and instant(cursor) == instant(f.cursor)
        held = set(f.cursor_keys) | new if same else new
        stored.update_cursor(sql, name, cursor, json.dumps(sorted(held)))
    store.write(tx)


def due_feeds(store: Store, now: datetime) -> tuple[list[str], float]:
    """Names of the feeds due for a pull, and seconds until the next one falls due."""
    current = clock.fmt(now)
    due: list[str] = []
    wait = 3600.0
    for f in list_feeds(store):
        if not _lease_free(f.lease_until, f.lease_owner, current):
            continue
        if f.last_pull is None:
            due.append(f.name)
            continue
        last = datetime.fromisoformat(f.last_pull.replace("Z", "+00:00"))
        left = (last + timedelta(seconds=f.every) - now).total_seconds()
        if left <= 0:
            due.append(f.name)
        else:
            wait = min(wait, left)
    return due, wait


def seen(sql: Sql, name: str, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (object id, version) pairs this feed already published."""
    return stored.seen_pairs(sql, name, list(keys))


def mark_seen(sql: Sql, name: str, share_id: str, keys: Iterable[tuple[str, str]]) -> None:
    stored.insert_seen(sql, [(name, oid, ver, share_id) for oid, ver in keys])


def pushed(store: Store, target: str, keys: Sequence[Key]) -> set[Key]:
    """Which of these (object id, version) pairs a push already delivered to target."""
    return store.read(lambda sql: stored.pushed_pairs(sql, target, keys))


def mark_pushed(store: Store, target: str, keys: Iterable[Key]) -> None:
    rows = [(target, oid, ver) for oid, ver in keys]
    if rows:
        store.write(lambda sql: stored.insert_pushed(sql, rows))


def add_rejects(store: Store, name: str, rejects: Sequence[Reject]) -> None:
    if not rejects:
        return
    store.write(lambda sql: stored.upsert_rejects(
        sql, [(name, r.object_id, r.version, r.code, r.pointer, r.message, r.at)
              for r in rejects]))


def rejects(store: Store, name: str, limit: int = 100) -> list[Reject]:
    return store.read(lambda sql: [Reject(*(str(v) for v in r))
                                   for r in stored.reject_rows(sql, name, limit)])


# -- the (id, version) pairs of a bundle, written with the share that carries them --

_pending = threading.local()


def _seen_hook(sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
    got: tuple[str, list[tuple[str, str]]] | None = getattr(_pending, "batch", None)
    if got is not None:
        mark_seen(sql, got[0], env.id, got[1])


def install(exchange: Exchange) -> None:
    """Register the feeds' same-transaction hook on an exchange (once)."""
    if _seen_hook not in exchange.share_tx_hooks:
        exchange.share_tx_hooks.append(_seen_hook)


@contextmanager
def carrying(feed: str, keys: list[tuple[str, str]]) -> Iterator[None]:
    """While publishing a feed's bundle in this thread: its (id, version) pairs are
    recorded in the transaction that stores the share."""
    _pending.batch = (feed, keys)
    try:
        yield
    finally:
        _pending.batch = None
