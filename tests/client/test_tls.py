"""The SDK over TLS (``vigil.client.tls``): the node taken by its CA or by its pinned key, a
connection to another key refused (PinMismatch), TLS 1.3 asked for when pinning."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.tls_pairs import Node, make, serving, trusting

from vigil.client import Client
from vigil.client.tls import PinMismatch
from vigil.crypto.pins import spki_pin


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with serving(tmp_path) as n:
        yield n


def test_httpx_and_the_sdk_work_over_tls_with_the_node_pinned(node: Node) -> None:
    r = httpx.get(f"{node.url}/api/v1/me", verify=trusting(node),
                  headers={"Authorization": f"Bearer {node.token}"})
    assert r.status_code == 200 and r.json()["scope"] == "publish"
    pin = spki_pin(node.server.cert)
    with Client(node.url, node.token, pin=pin, verify_log=False) as c:
        assert c.me()["member"]["name"] == "alpha"
    with Client(node.url, node.token, ca=node.server.cert_file, verify_log=False) as c:
        assert c.me()["member"]["name"] == "alpha"
    other = make(node.tmp, "impostor")
    with Client(node.url, node.token, pin=spki_pin(other.cert),
                verify_log=False) as c, pytest.raises(PinMismatch):
        c.me()
    with pytest.raises(httpx.ConnectError):  # no CA, no pin: the node's key is unknown
        httpx.get(f"{node.url}/healthz")



def test_a_pinned_client_asks_for_tls_1_3() -> None:
    from vigil.client.tls import ssl_context
    assert ssl_context(pin="sha256/x").minimum_version is ssl.TLSVersion.TLSv1_3
    assert ssl_context().minimum_version is not ssl.TLSVersion.TLSv1_3
