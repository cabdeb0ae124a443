"""Certificates made for a test (a CA, a server's or a client's pair, written as PEM files),
and a node terminating TLS in this process with them: the server's pair for 127.0.0.1, a
client CA whose certificates sign users in."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.node.exchange import Exchange
from vigil.testing import free_port
from vigil.web import create_app
from vigil.web.tls import uvicorn_options


@dataclass
class Pair:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: str
    key_file: str


def make(tmp: Path, name: str, issuer: Pair | None = None, *, ca: bool = False,
         ip: str | None = None) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CERT-EE")])
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer.cert.subject if issuer else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    cert = b.sign(issuer.key if issuer else key, hashes.SHA256())
    cf, kf = tmp / f"{name}.crt", tmp / f"{name}.key"
    cf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return Pair(cert, key, str(cf), str(kf))


@dataclass
class Node:
    url: str
    ex: Exchange
    ca: Pair
    server: Pair
    tmp: Path
    token: str


@contextmanager
def serving(tmp_path: Path) -> Iterator[Node]:
    """A four-member node serving TLS 1.3 on a free port until the block ends."""
    ca = make(tmp_path, "client-ca", ca=True)
    server = make(tmp_path, "node", ip="127.0.0.1")
    test_node, ex = four_member_exchange(tmp_path / "node")
    token = ex.add_user("alpha", "pki", "publish")[1]
    port = free_port()
    app = create_app(test_node.settings, exchange=ex, bus=LocalBus())
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                        log_level="warning",
                                        **uvicorn_options(server.cert_file, server.key_file,
                                                          ca.cert_file)))
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        yield Node(f"https://127.0.0.1:{port}", ex, ca, server, tmp_path, token)
    finally:
        srv.should_exit = True
        thread.join(30)
        ex.store.close()


def trusting(node: Node, client: Pair | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=node.server.cert_file)
    if client:
        ctx.load_cert_chain(client.cert_file, client.key_file)
    return ctx
