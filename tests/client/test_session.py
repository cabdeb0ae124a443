"""The SDK's connection: the node's errors raised with their codes, an unreachable node
as ``client.unreachable``, the node's description fetched once, and an API share
document read as its envelope (what the node adds beside it left out)."""

from __future__ import annotations

import httpx
import pytest
from tests.client.conftest import Local

from vigil.client.session import Session, envelope_of, unb64
from vigil.errors import NotFound, Unavailable
from vigil.protocol.envelope import envelope_to_json
from vigil.testing import stix


def test_errors_and_the_node_description(local: Local) -> None:
    seen: list[str] = []
    inner = local.http._transport

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return inner.handle_request(request)

    token = local.node.members["alpha"].token
    with Session("http://testserver/", token, transport=Counting()) as s:
        assert s.url == "http://testserver"
        first = s.node()
        assert s.node() is first and seen.count("/api/v1/node") == 1
        with pytest.raises(NotFound) as caught:
            s._call("GET", "/api/v1/shares/share--00000000-0000-4000-8000-000000000000")
        assert caught.value.code == "share.not_found"

    class Down(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    with Session("http://nowhere.test", "t", transport=Down()) as s, \
            pytest.raises(Unavailable) as down:
        s.node()
    assert down.value.code == "client.unreachable"


def test_an_api_document_as_its_envelope(local: Local) -> None:
    with local.sdk("delta") as c:
        sid = c.publish(stix.bundle(stix.malware("env")), tlp="amber", to=["group1"])["id"]
        env, _ = c.envelope(sid)
    doc = {**envelope_to_json(env), "state": {"recalled": False}, "newer_field": 1}
    assert envelope_to_json(envelope_of(doc)) == envelope_to_json(env)
    assert unb64("AQID") == b"\x01\x02\x03" and unb64("AQ") == b"\x01"
