"""Node-to-node TLS with both sides' keys pinned.

The calling node pins the answering node's TLS key (``vigil.client.tls``) and presents
its own TLS pair as a client certificate; the answering node, when it terminates TLS
itself (``vigil serve --tls-cert``/``--tls-self-signed``), refuses a ``/fed/v1`` request
whose connection did not present the TLS key its operator pinned for the request's
signed origin (:func:`check_client_key`). That is in addition to the ``Vigil-Node``
signature every request body carries.

OpenSSL checks a client certificate during the handshake against the server's trust
store; there is no public CA here, so each peer's own certificate (served beside its
descriptor and bound by the descriptor's signed ``tls_pin``) is a trust anchor of its
own (partial chains allowed). The TLS contexts a node serves with are registered under
its certificate's path (:func:`register`), and the federation service loads the
certificates of its peers into them as peers are added (:func:`trust_peers`): a caller
presenting any other certificate fails the handshake. A certificate stays in the store
after its peer is removed; the request is then refused as from a node that is not a
peer (``fed.unknown_peer``).
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
import weakref
from typing import Any

import orjson
from cryptography import x509

from vigil.crypto.pins import spki_pin
from vigil.errors import AuthError
from vigil.federation.descriptor import peer_tls_cert
from vigil.federation.peers import Peer
from vigil.storage import Store
from vigil.storage import peers as rows

__all__ = ["check_client_key", "is_peer_cert", "peer_certs", "register", "trust_peers"]

_lock = threading.Lock()
_contexts: dict[str, weakref.WeakSet[ssl.SSLContext]] = {}
# per context, the DER of every peer certificate loaded into it
_loaded: weakref.WeakKeyDictionary[ssl.SSLContext, set[bytes]] = weakref.WeakKeyDictionary()


def _key(cert_path: str) -> str:
    return os.path.realpath(cert_path)


def register(cert_path: str, ctx: ssl.SSLContext) -> None:
    """``ctx`` serves the node whose TLS certificate is ``cert_path``: ask each client for
    a certificate (optional: members connect without one), check it during the handshake
    against the peers' certificates loaded later."""
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a peer's own certificate anchors
    with _lock:
        _contexts.setdefault(_key(cert_path), weakref.WeakSet()).add(ctx)
        _loaded[ctx] = set()


def trust_peers(cert_path: str, pems: list[str]) -> int:
    """Load the peers' certificates ``pems`` into every context serving ``cert_path``
    (those not loaded yet); how many were loaded."""
    n = 0
    with _lock:
        for ctx in list(_contexts.get(_key(cert_path), ())):
            have = _loaded.setdefault(ctx, set())
            for pem in pems:
                der = ssl.PEM_cert_to_DER_cert(pem)
                if der not in have:
                    ctx.load_verify_locations(cadata=pem)
                    have.add(der)
                    n += 1
    return n


def is_peer_cert(ctx: ssl.SSLContext, der: bytes) -> bool:
    """Whether ``der`` is a peer's certificate loaded into ``ctx``: it verified as a
    peer's, so it identifies that node on ``/fed/v1`` and no member or user anywhere (a
    peer chooses what its certificate says, and it cannot issue others: see
    vigil.federation.descriptor.peer_tls_cert)."""
    with _lock:
        return der in _loaded.get(ctx, ())


def peer_certs(store: Store) -> list[str]:
    """The TLS certificates of this node's peers, each checked against the pin its signed
    descriptor names."""
    return [pem for d in rows.peer_descriptors(store) if (pem := _cert_of(d)) is not None]


@functools.lru_cache(maxsize=256)
def _cert_of(descriptor: str) -> str | None:  # read every half second: parsed once
    return peer_tls_cert(orjson.loads(descriptor))


def client_key(scope: Any) -> tuple[bool, str | None]:
    """(whether the request came over this node's TLS, the SPKI pin of the peer
    certificate it presented, if any). The TLS layer of ``vigil serve`` marks every
    connection it terminates (``vigil.web.tls``), and hands a client certificate that is
    a peer's as ``vigil_peer_cert``, never as a user's ``client_cert_chain``; a request
    served inside the node (a relayed hop's inner request) carries no mark."""
    tls = (scope.get("extensions") or {}).get("tls")
    if tls is None:
        return False, None
    pem = tls.get("vigil_peer_cert")
    if not pem:
        return True, None
    der = ssl.PEM_cert_to_DER_cert(pem)
    return True, spki_pin(x509.load_der_x509_certificate(der))


def check_client_key(scope: Any, peer: Peer) -> None:
    """Refuse a request that came over TLS from a connection whose client key is not the
    TLS key pinned for ``peer`` (the request's signed origin)."""
    over_tls, pin = client_key(scope)
    if not over_tls:
        return
    if pin is None:
        raise AuthError("a peer connects with its pinned TLS key as client certificate",
                        code="fed.no_client_cert", status=403)
    if peer.tls_pin is None or pin != peer.tls_pin:
        raise AuthError(f"the connection's TLS client key {pin} is not the key pinned for "
                        f"{peer.name}", code="fed.client_key_mismatch", status=403)
