"""Federation trust on the test bed: a node that shows a peer a second history, and what
the honest nodes' members read of it.

:class:`Forker` is the test's own doing on one bed node ``f``: with ``f``'s node key (read
from its data directory) it builds a second log of the same origin in a scratch store and
shows a witness ``w`` a checkpoint of that log for the size ``w`` holds of ``f``'s real
log -- two roots for one size, as a node that shows different peers different histories
would. The honest nodes are then read only over their REST API, as their members read
them: ``/api/v1/federation/trust`` (fork alarms) and ``/api/v1/federation/status`` (the
items quarantined per peer link).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from vigil.features import open_exchange
from vigil.log.tree import StoredLog
from vigil.storage import Store, open_store
from vigil.testbed.federation import Federation
from vigil.witness.wire import SIZE_CONTENT_TYPE, format_request, parse_size

WITNESS = "/fed/v1/witness/add-checkpoint"


class Forker:
    """Node ``f`` of `fed`, rogue: a second history of its log, shown to one witness."""

    def __init__(self, fed: Federation, f: int, scratch: Path) -> None:
        self.fed = fed
        self.f = f
        ex = open_exchange(fed.nodes[f].test.settings)
        try:
            self.node_id: str = ex.node_id
            self.origin: str = ex.log.origin
            self._store: Store = open_store(f"sqlite:///{scratch / f'twin-n{f}.db'}")
            self.twin = StoredLog(self._store, ex.node_id, ex.node_key)
        finally:
            ex.store.close()

    def _grow(self, size: int) -> None:
        while self.twin.size() < size:
            self._store.write(lambda sql: self.twin.append(
                sql, {"v": 1, "kind": "x", "n": str(uuid.uuid4())}))

    def _post(self, w: int, old: int, note: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(verify=False, timeout=10) as c:
                return await c.post(self.fed.nodes[w].bed.url + WITNESS,
                                    content=format_request(old, [], note))
        r: httpx.Response = self.fed.tb.client.run(go())
        return r

    def show(self, w: int) -> int | None:
        """One try at showing witness ``w`` another root for the size it holds of this
        node's log. Returns that size when ``w`` refused it as a second root (409 without
        a held size), ``None`` when ``w`` holds nothing yet or its held size moved on (try
        again). Never lets ``w`` cosign the second history: the first probe is for size 1
        with old size 1, which ``w`` accepts only if it holds size 1 (then it is a fork)."""
        self._grow(1)
        r = self._post(w, 1, self.twin.checkpoint(1)[1])
        if r.status_code == 409 and r.headers.get("content-type", "").startswith(
                SIZE_CONTENT_TYPE):
            held = parse_size(r.content)
            if held == 0:
                return None
            self._grow(held)
            r = self._post(w, held, self.twin.checkpoint(held)[1])
            if r.status_code == 409 and not r.headers.get("content-type", "").startswith(
                    SIZE_CONTENT_TYPE):
                return held
            return None
        if r.status_code == 409:
            return 1
        raise RuntimeError(f"n{w} answered the second history {r.status_code}: {r.text}")

    def close(self) -> None:
        self._store.close()


def read(fed: Federation, i: int, path: str) -> Any:
    """GET `path` at node i as its first member."""
    member = f"{fed.members[i][0]}@n{i}"

    async def go() -> Any:
        async with httpx.AsyncClient(verify=False, timeout=10) as c:
            r = await fed.call(c, member, "GET", path)
            r.raise_for_status()
            return r.json()
    return fed.tb.client.run(go())


def alarmed(fed: Federation, i: int, node_id: str) -> bool:
    """Node i's members see a fork alarm about node `node_id`."""
    doc = read(fed, i, "/api/v1/federation/trust")
    return any(a.get("node") == node_id for a in doc.get("alarms", []))


def evidence(fed: Federation, i: int, node_id: str) -> list[str]:
    """The signed notes node i keeps as evidence against `node_id` (empty if none)."""
    doc = read(fed, i, "/api/v1/federation/trust")
    for a in doc.get("alarms", []):
        if a.get("node") == node_id:
            return [str(n) for n in (a.get("evidence") or {}).get("notes", [])]
    return []


def refused(fed: Federation, i: int, node_id: str) -> list[dict[str, Any]]:
    """Items node i quarantined from `node_id` because of a fork alarm."""
    doc = read(fed, i, "/api/v1/federation/status")
    for p in doc.get("peers", []):
        if p.get("node") == node_id:
            return [q for q in p.get("quarantined", []) if q.get("code") == "fed.fork_alarm"]
    return []
