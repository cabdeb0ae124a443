"""TLS terminated by the node itself, and the client certificate handed to the app.

``vigil serve --tls-cert CERT --tls-key KEY`` serves HTTPS, TLS 1.3 only; with ``--tls-
client-ca CA`` it also asks each client for a certificate issued by that CA (optional: a
client may authenticate with a token instead) and hands a verified one to the app as the
ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``), where
``vigil.signin.certs`` maps it to a user. On a node that federates each client is asked
for a certificate too, and a peer's is checked against the TLS key pinned for it
(``vigil.federation.tls``); members still connect without one. Without a certificate
the node serves plain HTTP and expects a reverse proxy in front (``REVERSE_PROXY``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vigil.federation.tls import is_peer_cert

REVERSE_PROXY = """\
vigil serves plain HTTP: put it behind a TLS-terminating reverse proxy, e.g. nginx:
  server {
    listen 443 ssl; server_name vigil.example;
    ssl_certificate /etc/vigil/tls.crt; ssl_certificate_key /etc/vigil/tls.key;
    location / { proxy_pass http://127.0.0.1:8470; proxy_buffering off;
                 proxy_read_timeout 1h; }   # the push stream stays open
  }
or let vigil terminate TLS itself: vigil serve --tls-cert CERT --tls-key KEY
(--tls-client-ca CA to accept client certificates, see docs/sign-in.md)."""


def _with_client_cert(base: type[Any]) -> type[Any]:
    class Protocol(base):  # type: ignore[misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is None:
                return
            der = ssl_object.getpeercert(True)
            pem = ssl.DER_cert_to_PEM_cert(der) if der else None
            # a peer node's certificate stands for that node on /fed/v1 only, never for
            # a user (vigil.federation.tls)
            peer = bool(der) and is_peer_cert(ssl_object.context, der)
            mark = {"client_cert_chain": [pem] if pem and not peer else [],
                    "vigil_peer_cert": pem if peer else None}
            inner: Any = self.app  # type: ignore[has-type]

            async def app(scope: Any, receive: Any, send: Any) -> None:
                # every connection this TLS layer terminates is marked, with or without
                # a client certificate (vigil.federation.tls tells them apart by it)
                scope.setdefault("extensions", {})["tls"] = dict(mark)
                await inner(scope, receive, send)

            self.app = app

    # named as the module names it, so that worker processes can import it by name
    Protocol.__name__ = Protocol.__qualname__ = base.__name__ + "WithClientCert"
    return Protocol


H11ProtocolWithClientCert = _with_client_cert(H11Protocol)
HttpToolsProtocolWithClientCert = _with_client_cert(HttpToolsProtocol)


def tls13_only(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's context for the node's certificate, refusing anything older than
    TLS 1.3 (node-to-node traffic and clients alike)."""
    ctx = default()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def tls13_peers(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """:func:`tls13_only` for a node that federates: each client is asked for a
    certificate (optional), and the federation service loads its peers' certificates
    into this context as trust anchors (vigil.federation.tls)."""
    from vigil.federation.tls import register

    ctx = tls13_only(config, default)
    register(str(config.ssl_certfile), ctx)
    return ctx


def uvicorn_options(cert: str | None, key: str | None, client_ca: str | None,
                    peers: bool = False) -> dict[str, Any]:
    """The uvicorn options that serve TLS 1.3 with ``cert`` and ``key`` (none without);
    with ``peers`` (a node that federates) asking for peers' client certificates too."""
    if not cert:
        return {}
    opts: dict[str, Any] = {"ssl_certfile": cert, "ssl_keyfile": key,
                            "ssl_context_factory": tls13_peers if peers else tls13_only,
                            "http": HttpToolsProtocolWithClientCert}
    if client_ca:
        opts.update(ssl_ca_certs=client_ca, ssl_cert_reqs=ssl.CERT_OPTIONAL)
    return opts


def client_cert(scope: Any) -> bytes | None:
    """The DER of the client certificate the TLS layer verified, if any."""
    chain = ((scope.get("extensions") or {}).get("tls") or {}).get("client_cert_chain")
    if not chain:
        return None
    return ssl.PEM_cert_to_DER_cert(chain[0])
