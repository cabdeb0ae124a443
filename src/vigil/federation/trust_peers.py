"""What a node's trust service stands on: the peers it witnesses with (their clients,
their logs' keys, the witnesses and k they make) and its fork alarms; the base of
``vigil.federation.trust.TrustService``."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx

from vigil.crypto.kem import EncPrivate
from vigil.directory.entries import (
    directory_origin,
)
from vigil.directory.log import DirectoryLog
from vigil.directory.revocation import Revocations
from vigil.federation import outbox, transport
from vigil.federation.peers import Peer, peers
from vigil.node.exchange import Exchange
from vigil.protocol.witnessing import quorum, witness_name
from vigil.roster.roster import Roster
from vigil.witness.alarms import Alarm, Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness
from vigil.witness.wire import NOTE_CONTENT_TYPE

log = logging.getLogger("vigil.federation.trust")
WITNESS_PATH = "/witness/add-checkpoint"


def peer_client(ex: Exchange, hop_key: EncPrivate | None, peer: Peer,
                timeout: float, tls_pair: tuple[str, str] | None = None) -> httpx.Client:
    """A sync client to ``peer``, pinned to its TLS key when it has one and presenting
    this node's ``tls_pair``; through its relay for a peer added ``via`` one (which takes
    this node's hop key)."""
    if hop_key is None or peer.via is None:
        return transport.direct_sync(peer, timeout, tls_pair)
    return transport.sync_client(ex, hop_key, peer, timeout, tls_pair)


class TrustPeers:
    """A trust service's state, its peers and its alarms."""

    def __init__(self, ex: Exchange, *, cadence: float = 1.0,
                 hop_key: EncPrivate | None = None,
                 tls_pair: tuple[str, str] | None = None) -> None:
        self.ex = ex
        self.hop_key = hop_key  # for peers reached through a relay
        self.tls_pair = tls_pair  # this node's client certificate to its peers
        self.cadence = cadence
        store = ex.store
        self.alarms = Alarms(store)
        self.directory = DirectoryLog(store, ex.node_id, ex.node_key)
        self.revocations = Revocations(store)
        self.roster = Roster(store)
        self.witness = Witness(store, witness_name(ex.node_id), ex.node_key, self.known_log,
                               self.alarms)
        self.collector = Collector(store, [ex.log, self.directory])
        self._peers: list[Peer] = []
        self._k_seen: int | None = None  # k when the peers were last read
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Future[dict[str, int]] | None = None
        self._registered: set[str] = set()  # held members with a directory entry
        self._turns: dict[str, int] = {}
        self._ticks = 0
        self._service: Any = None
        self.alarm_listeners: list[Callable[[Alarm], None]] = []
        self.alarms.listeners.append(self._alarmed)
        self.refresh_peers()

    # -- peers ------------------------------------------------------------------------
    def refresh_peers(self) -> list[Peer]:
        got = peers(self.ex.store)
        with self._lock:
            self._peers = got
        k = self.k()
        with self._lock:
            grew, self._k_seen = self._k_seen is not None and k > self._k_seen, k
        if grew:
            # peers that count k higher refused announcements proven with fewer
            # cosignatures (while this node had fewer peers): they go again, with more
            self.ex.store.write(lambda sql: outbox.reannounce(sql))
        return got

    def peer_list(self) -> list[Peer]:
        with self._lock:
            return list(self._peers)

    def known_log(self, origin: str) -> tuple[str, bytes] | None:
        """The key of a peer's log (main or directory); none for a node off a roster."""
        on = self.roster.nodes
        for p in self.peer_list():
            if on and on.get(p.node) != p.key:
                continue
            if origin in (p.log_origin, directory_origin(p.node)):
                return origin, p.key
        return None

    def witnesses(self) -> dict[str, bytes]:
        """The cosigner name and key of this node and of every peer: what this node and
        its members' clients trust (a log's own node never counts for its log)."""
        out = {witness_name(p.node): p.key for p in self.peer_list()}
        out[witness_name(self.ex.node_id)] = self.ex.node_key_raw
        return out

    def k(self) -> int:
        n = len(self.roster.nodes) or len(self.peer_list()) + 1
        return quorum(n)

    def _submitter(self, peer: Peer) -> Callable[[bytes], tuple[int, str, bytes]]:
        def submit(body: bytes) -> tuple[int, str, bytes]:
            client = self._clients.get(peer.node)
            if client is None:
                client = self._clients[peer.node] = peer_client(
                    self.ex, self.hop_key, peer, 5.0, self.tls_pair)
            try:
                r = client.post(peer.url.rstrip("/") + WITNESS_PATH, content=body,
                                headers={"content-type": NOTE_CONTENT_TYPE})
            except httpx.HTTPError as e:
                raise OSError(str(e)) from e
            return r.status_code, r.headers.get("content-type", ""), r.content
        return submit

    def witness_peers(self) -> list[WitnessPeer]:
        return [WitnessPeer(witness_name(p.node), p.key, self._submitter(p))
                for p in self.peer_list() if not self.alarms.refuses(p.node)]

    # -- alarms -----------------------------------------------------------------------
    def _alarmed(self, alarm: Alarm) -> None:
        log.error("fork alarm on %s (%s): %s", alarm.node, alarm.status,
                  alarm.evidence.get("detail"))
        for listener in list(self.alarm_listeners):
            try:
                listener(alarm)
            except Exception:
                log.exception("fork alarm listener failed")

    def status(self) -> dict[str, Any]:
        k = self.k()
        return {"k": k, "witness": self.witness.name,
                "logs": {lg.origin: {"size": lg.checkpoint()[0].size,
                                     "witnessed": self.collector.witnessed_size(lg.origin, k)}
                         for lg in self.collector.logs},
                "alarms": [a.to_json() for a in self.alarms.all()],
                "roster": sorted(self.roster.nodes)}

