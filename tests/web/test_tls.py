"""TLS terminated by the node, with certificates made here (the SDK with the node's CA or
its pinned key: tests/client/test_tls.py); TLS 1.3 only; client certificates mapped to
users (by key pin or subject); a client without one, with an unmapped or a revoked one,
is refused."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from tests.tls_pairs import Node, make, serving, trusting

from vigil.cli.main import cli
from vigil.client import Client
from vigil.client.tls import PinMismatch
from vigil.crypto.pins import spki_pin
from vigil.signin import certs
from vigil.web.tls import uvicorn_options


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with serving(tmp_path) as n:
        yield n


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
