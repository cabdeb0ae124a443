"""TLS for the SDK and CLI: a client certificate and key, a CA to trust, or the node's
public key pinned (``sha256/<base64>`` of its SubjectPublicKeyInfo, as
``vigil.crypto.pins.spki_pin`` computes it).

With a pin, the node's certificate chain is not checked against any CA and nothing older
than TLS 1.3 is spoken; instead its key must match the pin, checked right after the
handshake, before a byte of the request (and so the token) is sent. A mismatch raises
``PinMismatch``.

The client certificate's key is a PEM file, or an RFC 7512 ``pkcs11:`` URI naming a key
that stays in a token (``vigil.crypto.tls_token``).
"""

from __future__ import annotations

import ssl
from typing import Any

import httpcore
import httpx
from cryptography import x509

from vigil.crypto.pins import spki_pin
from vigil.crypto.tls_token import is_token_key, use_token_key
from vigil.errors import VigilError


class PinMismatch(VigilError):
    code = "tls.pin_mismatch"
    status = 495


def ssl_context(ca: str | None = None, cert: str | None = None, key: str | None = None,
                pin: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    if pin:  # a vigil node's own key (node-to-node, or a member pinning its node)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the pin, checked after the handshake, instead
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert and is_token_key(key):
        assert key is not None
        use_token_key(ctx, cert, key)
    elif cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def check_pin(stream: Any, pin: str) -> None:
    ssl_object = stream.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    got = spki_pin(x509.load_der_x509_certificate(der)) if der else "none"
    if got != pin:
        stream.close()
        raise PinMismatch(f"the node's key {got} is not the pinned {pin}")


class _Pinned(httpcore.SyncBackend):
    def __init__(self, pin: str) -> None:
        self.pin = pin

    def connect_tcp(self, *args: Any, **kw: Any) -> httpcore.NetworkStream:
        return _PinnedStream(super().connect_tcp(*args, **kw), self.pin)


class _PinnedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, pin: str) -> None:
        self.inner = inner
        self.pin = pin

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self.inner.start_tls(ssl_context, server_hostname, timeout)
        check_pin(tls, self.pin)
        return tls

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _AsyncPinned(httpcore.AnyIOBackend):
    def __init__(self, pin: str) -> None:
        self.pin = pin

    async def connect_tcp(self, *args: Any, **kw: Any) -> httpcore.AsyncNetworkStream:
        return _AsyncPinnedStream(await super().connect_tcp(*args, **kw), self.pin)


class _AsyncPinnedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, pin: str) -> None:
        self.inner = inner
        self.pin = pin

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        tls = await self.inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = tls.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(True) if ssl_object is not None else None
        if (spki_pin(x509.load_der_x509_certificate(der)) if der else "none") != self.pin:
            await tls.aclose()
            raise PinMismatch(f"the node's key is not the pinned {self.pin}")
        return tls

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def transports(ca: str | None = None, cert: str | None = None, key: str | None = None,
               pin: str | None = None) -> tuple[httpx.HTTPTransport, httpx.AsyncHTTPTransport]:
    """The sync and async httpx transports for these TLS settings."""
    ctx = ssl_context(ca, cert, key, pin)
    sync, asyn = httpx.HTTPTransport(verify=ctx), httpx.AsyncHTTPTransport(verify=ctx)
    if pin:  # httpx takes no network backend; its pool does
        sync._pool = httpcore.ConnectionPool(ssl_context=ctx, network_backend=_Pinned(pin))
        asyn._pool = httpcore.AsyncConnectionPool(ssl_context=ctx,
                                                  network_backend=_AsyncPinned(pin))
    return sync, asyn
