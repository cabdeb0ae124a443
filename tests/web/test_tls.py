"""TLS terminated by the node, with certificates made here (the SDK with the node's CA or
its pinned key: tests/client/test_tls.py); TLS 1.3 only; client certificates mapped to
users (by key pin or subject); a client without one, with an unmapped or a revoked one,
is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.cli.main import cli
from vigil.client import Client
from vigil.client.tls import PinMismatch
from vigil.crypto.pins import spki_pin
from vigil.node.exchange import Exchange
from vigil.signin import certs
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


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
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


def test_the_node_speaks_tls_1_3_only(node: Node) -> None:
    old = trusting(node)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{node.url}/healthz", verify=old)
    with httpx.Client(verify=trusting(node)) as c:
        assert c.get(f"{node.url}/healthz").status_code == 200
        stream = c.get(f"{node.url}/healthz", extensions={}).extensions["network_stream"]
        assert stream.get_extra_info("ssl_object").version() == "TLSv1.3"


def test_a_client_certificate_signs_a_user_in_until_its_mapping_is_revoked(node: Node
                                                                           ) -> None:
    card = make(node.tmp, "ops-card", node.ca)
    badge = make(node.tmp, "night-badge", node.ca)
    stranger = make(node.tmp, "stranger", node.ca)  # issued by the CA, mapped to no one
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.required")
    cid = certs.add(node.ex, "alpha", "pki", "spki", spki_pin(card.cert))
    certs.add(node.ex, "bravo", "analyst", "subject", certs.subject_of(badge.cert))
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node, card))
    assert r.status_code == 200 and r.json()["member"]["name"] == "alpha"
    assert r.json()["scope"] == "publish"
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node, badge))
    assert r.status_code == 200 and r.json()["member"]["name"] == "bravo"
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node, stranger))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.bad_cert")
    with Client(node.url, "", cert=card.cert_file, key=card.key_file,
                pin=spki_pin(node.server.cert), verify_log=False) as c:
        assert c.me()["member"]["name"] == "alpha"
    certs.revoke(node.ex, "alpha", cid)
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node, card))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.bad_cert")
    self_made = make(node.tmp, "self-made")  # not from the node's client CA
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{node.url}/api/v1/me", verify=trusting(node, self_made))


def test_the_cli_signs_in_with_a_client_certificate_and_the_node_pinned(node: Node) -> None:
    card = make(node.tmp, "cli-card", node.ca)
    certs.add(node.ex, "alpha", "pki", "spki", spki_pin(card.cert))
    pin = spki_pin(node.server.cert)
    base = ["--data", str(node.tmp / "cli"), "--cert", card.cert_file, "--key",
            card.key_file]
    run = CliRunner(env={"VIGIL_TOKEN": ""})
    res = run.invoke(cli, [*base, "--pin", pin, "inbox", "--node", node.url])
    assert res.exit_code == 0, res.output
    res = run.invoke(cli, [*base, "--pin", spki_pin(card.cert), "inbox", "--node",
                           node.url])
    assert res.exit_code != 0 and isinstance(res.exception, PinMismatch)


def test_serve_takes_a_certificate_or_says_how_to_put_a_proxy_in_front(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.web import serve

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(serve, "run", lambda s, **kw: calls.append(kw))
    pair = make(tmp_path, "node", ip="127.0.0.1")
    run = CliRunner()
    res = run.invoke(cli, ["--data", str(tmp_path / "d"), "serve"])
    assert res.exit_code == 0 and "reverse proxy" in res.stderr
    assert calls[-1]["tls_cert"] is None
    res = run.invoke(cli, ["--data", str(tmp_path / "d"), "serve", "--tls-cert",
                           pair.cert_file, "--tls-key", pair.key_file, "--tls-client-ca",
                           pair.cert_file])
    assert res.exit_code == 0 and "reverse proxy" not in res.stderr
    assert calls[-1] == {"workers": 1, "tls_cert": pair.cert_file, "tls_key": pair.key_file,
                         "tls_client_ca": pair.cert_file}
    res = run.invoke(cli, ["--data", str(tmp_path / "d"), "serve", "--tls-cert",
                           pair.cert_file])
    assert res.exit_code == 2 and len(calls) == 2
    opts = uvicorn_options(pair.cert_file, pair.key_file, pair.cert_file)
    assert opts["ssl_cert_reqs"] == ssl.CERT_OPTIONAL and opts["ssl_ca_certs"]
    assert uvicorn_options(None, None, None) == {}
