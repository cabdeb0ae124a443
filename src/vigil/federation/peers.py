"""Pinned peering: adding a node by URL and pin, listing, removing; the store's durability.

A peer is stored with its node key, hop key, TLS pin and endpoint from its signed
descriptor. Peering is mutual and explicit: a node answers another only once its own
operator added it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from vigil import clock
from vigil.client.tls import transports
from vigil.crypto.encoding import b64u_decode
from vigil.errors import Conflict, NotFound, PolicyDenied, Unavailable, VigilError
from vigil.federation import codec
from vigil.federation.descriptor import WELL_KNOWN, check_descriptor
from vigil.node.exchange import Exchange
from vigil.storage import Store
from vigil.storage import federation as q
from vigil.storage import peers as rows
from vigil.storage.base import Sql


@dataclass(frozen=True, slots=True)
class Peer:
    node: str
    name: str
    url: str  # the fed endpoint, …/fed/v1
    key: bytes
    pin: str
    hop_key: bytes
    tls_pin: str | None
    log_origin: str
    added: str
    via: str | None = None  # the relay's node id, for a peer this node does not reach

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "name": self.name, "url": self.url, "pin": self.pin,
                "tls_pin": self.tls_pin, "log": self.log_origin, "added": self.added,
                "via": self.via}


def _peer(r: Any) -> Peer:
    return Peer(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), str(r[4]), bytes(r[5]),
                None if r[6] is None else str(r[6]), str(r[7]), str(r[8]),
                None if r[9] is None else str(r[9]))


def peers(store: Store) -> list[Peer]:
    return [_peer(r) for r in rows.peer_rows(store)]


def peer(store: Store, ref: str) -> Peer:
    """A peer by node id or name."""
    for p in peers(store):
        if ref in (p.node, p.name):
            return p
    raise NotFound(f"no peer {ref!r}", code="fed.unknown_peer")


def peer_by_node(sql: Sql, node: str) -> Peer | None:
    r = rows.peer_row(sql, node)
    return None if r is None else _peer(r)


def check_durable(store: Store) -> None:
    """Refuse a store that answers before a commit is on disk (``fed.not_durable``)."""
    got = store.write(rows.synchronous)
    if got != "full":
        raise VigilError(f"this store does not fsync before it acknowledges ({got}): "
                         f"a node does not federate on it", code="fed.not_durable", status=503)


def fetch_descriptor(url: str, tls_pin: str | None = None,
                     timeout: float = 10.0) -> dict[str, Any]:
    """The signed descriptor at ``url`` (a node's base URL)."""
    base = url.rstrip("/")
    transport = transports(pin=tls_pin)[0] if tls_pin and base.startswith("https") else None
    verify: Any = not (base.startswith("https") and not tls_pin)
    try:
        with httpx.Client(transport=transport, verify=verify, timeout=timeout) as c:
            r = c.get(base + WELL_KNOWN)
    except httpx.HTTPError as e:
        raise Unavailable(f"cannot fetch the descriptor of {base}: {e}",
                          code="fed.unreachable") from None
    if r.status_code != 200:
        raise Unavailable(f"{base} answered {r.status_code} for its descriptor",
                          code="fed.unreachable")
    out: dict[str, Any] = orjson.loads(r.content)
    return out


def add(ex: Exchange, url: str, pin: str, *, signed: dict[str, Any] | None = None,
        via: str | None = None) -> Peer:
    """Peer with the node at ``url`` whose node key has id ``pin``. Over HTTPS the
    descriptor is fetched again through a connection pinned to its TLS key. With
    ``via`` (a direct peer's node id) the node is reached through that relay only."""
    check_durable(ex.store)
    signed = signed if signed is not None else fetch_descriptor(url)
    d = check_descriptor(signed, pin)
    if via is None and url.startswith("https") and d["tls_pin"]:
        again = check_descriptor(fetch_descriptor(url, d["tls_pin"]), pin)
        if again["tls_pin"] != d["tls_pin"]:
            raise Conflict("the node's TLS pin changed while peering", code="fed.pin_mismatch")
    if d["node"] == ex.node_id:
        raise Conflict("a node does not peer with itself", code="fed.self_peer")
    now = clock.now()

    def tx(sql: Sql) -> None:
        named = rows.node_named(sql, d["name"])
        if named is not None and named != d["node"]:
            raise Conflict(f"another node is already peered as {d['name']!r}",
                           code="fed.peer_exists")
        if via is not None:
            relay = peer_by_node(sql, via)
            if relay is None or relay.via is not None or via == d["node"]:
                raise PolicyDenied("a relay is a peer this node reaches directly",
                                   code="relay.no_route")
        rows.put_peer(sql, d["node"], d["name"], d["endpoints"]["fed"], b64u_decode(d["key"]),
                      d["pin"], b64u_decode(d["hop_key"]), d["tls_pin"], d["log"],
                      orjson.dumps(signed).decode(), now, via)
        q.reset_scans(sql, d["node"])  # announce every member and channel to it again

    ex.store.write(tx)
    return peer(ex.store, d["node"])


def add_via(ex: Exchange, relay_ref: str, pin: str, timeout: float = 10.0,
            tls_pair: tuple[str, str] | None = None) -> Peer:
    """Peer, through the relay ``relay_ref`` (a direct peer), with the node whose node
    key has id ``pin``: its descriptor comes from the relay's copy, checked against the
    pin (the relay cannot change it), and every request to it goes through the relay.
    ``tls_pair`` is this node's TLS (cert, key), its client certificate to the relay."""
    relay = peer(ex.store, relay_ref)
    if relay.via is not None:
        raise PolicyDenied("a relay is a peer this node reaches directly",
                           code="relay.no_route")
    target = httpx.URL(relay.url + "/relay/descriptor", params={"pin": pin})
    header = codec.sign_request(ex.node_key, "GET", target.raw_path.decode(), ex.node_id,
                                relay.node, b"")
    cert, key = tls_pair if tls_pair is not None else (None, None)
    transport = transports(cert=cert, key=key, pin=relay.tls_pin)[0] \
        if relay.tls_pin and relay.url.startswith("https") else None
    verify: Any = not (relay.url.startswith("https") and not relay.tls_pin)
    try:
        with httpx.Client(transport=transport, verify=verify, timeout=timeout) as c:
            r = c.get(target, headers={codec.HEADER: header})
    except httpx.HTTPError as e:
        raise Unavailable(f"cannot reach the relay {relay.name}: {e}",
                          code="fed.unreachable") from None
    if r.status_code != 200:
        raise Unavailable(f"the relay {relay.name} answered {r.status_code} for the "
                          f"descriptor of {pin}", code="fed.unreachable")
    signed = orjson.loads(r.content)
    d = check_descriptor(signed, pin)
    return add(ex, d["endpoints"]["fed"].removesuffix("/fed/v1"), pin, signed=signed,
               via=relay.node)


def remove(ex: Exchange, ref: str) -> Peer:
    """Stop peering (both directions); its outbox rows stay."""
    p = peer(ex.store, ref)
    ex.store.write(lambda sql: rows.remove_peer(sql, p.node))
    return p


def stored_descriptor(ex: Exchange, pin: str) -> dict[str, Any]:
    """The signed descriptor of the peer whose node key has id ``pin``, as this node
    keeps it (a relay hands it to a peer that cannot fetch it from the node itself)."""
    stored = rows.direct_descriptor(ex.store, pin)
    if stored is None:
        raise NotFound("this relay does not reach that node", code="relay.no_route")
    out: dict[str, Any] = orjson.loads(stored)
    return out
