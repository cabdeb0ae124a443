"""Sign-in events: every sign-in, failed sign-in, token creation, rotation and
revocation, recorded for the member they concern and readable only by that member's
admin-scope users (``GET /api/v1/audit``) and the node's operator (``vigil audit``).

A failed sign-in is recorded when the member can be told from the credential: a token
whose first characters (kept in clear as the token's prefix) name a user of the member,
such as a mistyped, revoked or expired token. A guess that names nobody is only counted
by the throttle (``vigil.web.throttle``), which also bounds how fast failures are
recorded. An API token's use counts as a sign-in the first time a worker sees it in
``SIGNIN_EVERY`` seconds, so the log is not one row per request. Events never hold a
credential, only its prefix.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from vigil import clock
from vigil.lru import Lru
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.node.tokens import TOKEN_PREFIX
from vigil.storage import signin as stored
from vigil.storage.base import Sql

SIGNIN_EVERY = 3600.0
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    member: str
    user: str | None
    event: str  # signin, signin.failed, token.created|rotated|revoked, certificate.added|revoked
    detail: str
    address: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "user": self.user, "event": self.event,
                "detail": self.detail, "address": self.address, "at": self.at}


def record_in(sql: Sql, member: str, user: str | None, event: str, detail: str = "",
              address: str = "") -> None:
    """Record an event inside a transaction the caller holds."""
    stored.insert_event(sql, member, user, event, detail, address or "-", clock.now())


def record(ex: Exchange, member: str, user: str | None, event: str, detail: str = "",
           address: str = "") -> None:
    ex.store.write(lambda sql: record_in(sql, member, user, event, detail, address))


def events(ex: Exchange, member: str, after: int = 0, limit: int = 100) -> list[Event]:
    """The member's events after ``after``, oldest first."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = ex.store.read(lambda sql: stored.events_after(sql, member, after, limit))
    return [Event(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def failed(ex: Exchange, credential: str, code: str, address: str) -> None:
    """Record a failed sign-in for the member whose user the token's prefix names."""
    if not credential.startswith("vgl_") or len(credential) < TOKEN_PREFIX:
        return
    prefix = credential[:TOKEN_PREFIX]
    rows = ex.store.read(lambda sql: stored.users_with_prefix(sql, prefix))
    for uid, member in rows:
        record(ex, member, uid, "signin.failed", f"{code} token {prefix}…", address)


class Signins:
    """Records an actor's sign-in once per ``every`` seconds in this worker."""

    def __init__(self, every: float = SIGNIN_EVERY, size: int = 10_000) -> None:
        self.every = every
        self._seen: Lru[tuple[str, str, str], float] = Lru(size)
        self._lock = threading.Lock()

    def due(self, actor: Actor, method: str) -> bool:
        """Whether this sign-in is to be recorded (the first in ``every`` seconds); it
        counts as recorded from now on."""
        key = (actor.member, actor.user or "", method)
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < self.every:
                return False
            self._seen.put(key, now)
        return True

    def seen(self, ex: Exchange, actor: Actor, method: str, address: str) -> None:
        if self.due(actor, method):
            record(ex, actor.member, actor.user, "signin", method, address)
