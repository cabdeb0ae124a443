"""Failed authentication slowed per client address and per token prefix.

Each failure -- an unknown or revoked token, a malformed header, an unknown session --
counts against the client's address and against the first characters of the credential
it sent. A token prefix with ``limit`` failures inside ``window`` seconds, or an address
with ``address_limit`` (higher: many clients may share one address), is refused before
its credential is even looked up, with 429 ``auth.throttled`` and a ``Retry-After``
header until its window ends. The counters are in memory, one table per worker process,
bounded to ``size`` keys (the oldest dropped first). Failures are logged with the
address and a digest of the prefix: never the credential itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from vigil.errors import VigilError

log = logging.getLogger("vigil.auth")
PREFIX = 12  # characters of a credential that key its counter ("vgl_" + 8)
COUNTED = frozenset({"auth.bad_token", "auth.bad_session", "auth.malformed",
                     "auth.bad_cert"})


class Throttled(VigilError):
    """Too many failed authentications from this address or with this token prefix."""

    code = "auth.throttled"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed authentications; retry after {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


class Throttle:
    def __init__(self, limit: int = 20, address_limit: int = 100, window: float = 60.0,
                 size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.address_limit = address_limit
        self.window = window
        self.size = size
        self.clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # start, count
        self._lock = threading.Lock()

    @staticmethod
    def keys(address: str | None, credential: str) -> tuple[str, ...]:
        keys = ["addr:" + (address or "?")]
        if credential:
            keys.append("prefix:" + credential[:PREFIX])
        return tuple(keys)

    def check(self, keys: tuple[str, ...]) -> None:
        """Raise ``Throttled`` if any key is over its limit in its current window."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                got = self._failures.get(key)
                limit = self.address_limit if key.startswith("addr:") else self.limit
                if got is not None and got[1] >= limit and now - got[0] < self.window:
                    wait = max(wait, got[0] + self.window - now)
        if wait > 0:
            raise Throttled(max(1, math.ceil(wait)))

    def failed(self, keys: tuple[str, ...], code: str) -> None:
        """Count one failed authentication against every key, and log it."""
        now = self.clock()
        with self._lock:
            for key in keys:
                start, count = self._failures.pop(key, (now, 0))
                if now - start >= self.window:
                    start, count = now, 0
                self._failures[key] = (start, count + 1)
                while len(self._failures) > self.size:
                    self._failures.popitem(last=False)
        address = keys[0].removeprefix("addr:")
        prefix = next((k for k in keys if k.startswith("prefix:")), "")
        digest = hashlib.sha256(prefix.encode()).hexdigest()[:12] if prefix else "-"
        log.warning("failed authentication (%s) from %s, token prefix digest %s",
                    code, address, digest)
