"""The SDK side of federation trust: a client that shows a share only once it is
witnessed, takes another node's member keys only with their proofs, and watches its own
directory entries.

``TrustingClient`` is a :class:`vigil.client.Client` with:

- ``require_witnessed``: :meth:`get` refuses (``client.not_witnessed``) a share whose
  log entry k witnesses of other nodes do not hold yet; ask again a second later;
- :meth:`lookup`: a remote member's keys from its home node's directory, accepted only
  through :func:`vigil.directory.lookup.verify_lookup` (``dir.bad_lookup`` otherwise);
- :meth:`monitor`: one poll of the member's own directory entries
  (:class:`vigil.directory.monitor.OwnerMonitor`): alarms at once on an entry it did not
  sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vigil.client import Client, Share
from vigil.crypto.keys import SignPrivate
from vigil.directory.entries import MemberKeys, member_signature
from vigil.directory.lookup import verify_lookup
from vigil.directory.monitor import MonitorAlarm, OwnerMonitor
from vigil.errors import Conflict

__all__ = ["TrustingClient"]


class TrustingClient(Client):
    def __init__(self, url: str, token: str, *args: Any, require_witnessed: bool = False,
                 **kw: Any) -> None:
        super().__init__(url, token, *args, **kw)
        self.require_witnessed = require_witnessed

    def witnessed(self, share_id: str) -> dict[str, Any]:
        """The node's answer: witnessed or not, by whom, k, and whether the share was
        signed by a key revoked at its index."""
        out: dict[str, Any] = self._call("GET", f"/api/v1/federation/witnessed/{share_id}")
        return out

    def get(self, share_id: str, *, purpose: str | None = None) -> Share:
        if self.require_witnessed:
            w = self.witnessed(share_id)
            if not w["witnessed"]:
                raise Conflict(f"share {share_id} is not witnessed yet ({len(w['witnesses'])} "
                               f"of {w['k']} witnesses)", code="client.not_witnessed")
        return super().get(share_id, purpose=purpose)

    def submit_entry(self, entry: Mapping[str, Any], signer: SignPrivate,
                     monitor: OwnerMonitor | None = None) -> int:
        """Sign one of this member's directory entries (a rotation with the old key, a
        recovery with the recovery key…) and hand it to the home node; its index. The
        monitor remembers it first, so it never alarms on the member's own entry."""
        if monitor is not None:
            monitor.signed(entry)
        doc = {"entry": dict(entry), "sig": member_signature(entry, signer)}
        out: dict[str, Any] = self._call("POST", "/api/v1/directory/entries", json=doc)
        return int(out["index"])

    @staticmethod
    def lookup(home_url: str, home: str, home_key: bytes, member: str,
               witnesses: Mapping[str, bytes], k: int,
               http: httpx.Client | None = None) -> MemberKeys:
        """``member``'s keys at its home node, only if the answer proves them."""
        own = http is None
        client = http or httpx.Client(timeout=10.0)
        try:
            r = client.get(home_url.rstrip("/") + "/fed/v1/directory/lookup",
                           params={"member": member})
            r.raise_for_status()
            return verify_lookup(r.json(), home, home_key, witnesses, k, member)
        finally:
            if own:
                client.close()

    @staticmethod
    def monitor(home_url: str, monitor: OwnerMonitor,
                http: httpx.Client | None = None) -> list[MonitorAlarm]:
        """One poll of the home node's directory log by the member's own monitor."""
        own = http is None
        client = http or httpx.Client(timeout=10.0)
        try:
            def fetch(start: int) -> dict[str, Any]:
                r = client.get(home_url.rstrip("/") + "/fed/v1/directory/log",
                               params={"start": start})
                if r.status_code == 404:
                    return {"checkpoint": "", "entries": []}
                r.raise_for_status()
                out: dict[str, Any] = r.json()
                return out
            return monitor.poll(fetch)
        finally:
            if own:
                client.close()
