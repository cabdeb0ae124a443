"""Members and channels through the SDK: a member's keys taken only with the log proof
of its key entry (keys the entry does not name refused), several members proven with one
request, channels made and changed, and who signed or attested a share."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.client.conftest import Local

from vigil.client import Client
from vigil.errors import CryptoError
from vigil.testing import stix


def test_members_are_taken_with_their_proof(local: Local) -> None:
    with local.sdk("delta") as c:
        assert c.me()["member"]["name"] == "delta"
        assert [m["name"] for m in c.members()] == ["alpha", "bravo", "charlie", "delta"]
        alpha = c.member("alpha")
        assert alpha["log"]["entry"]["sign_key"] == alpha["sign_key"]["id"]
        assert c.member(alpha["id"]) is alpha  # kept by id and by name
        c.forget_member(alpha["id"])  # by id: its name goes too
        assert c.member("alpha") is not alpha
        ids = [local.node.members[n].id for n in ("alpha", "bravo", "charlie")]
        assert set(c.proven_members(ids)) == set(ids)
    inner = local.http._transport

    class SwapKeys(httpx.BaseTransport):
        """Serves bravo's keys as alpha's: the entry then names other keys."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            resp = inner.handle_request(request)
            if not request.url.path.endswith("/members/alpha"):
                return resp
            doc: dict[str, Any] = json.loads(resp.read())
            bravo = json.loads(inner.handle_request(httpx.Request(
                "GET", "http://testserver/api/v1/members/bravo",
                headers=request.headers)).read())
            doc["sign_key"] = bravo["sign_key"]
            return httpx.Response(200, json=doc)

    m = local.node.members["delta"]
    with Client("http://testserver", m.token, m.keyring, transport=SwapKeys(),
                log_state=local.tmp / "swap.json") as c, pytest.raises(CryptoError) as caught:
        c.member("alpha")
    assert caught.value.code == "log.key_mismatch"


def test_channels_and_signers(local: Local) -> None:
    with local.sdk("alpha", keyring=False) as alpha, local.sdk("delta") as delta:
        made = alpha.create_channel("ops", "group", ["bravo"])
        assert made["name"] == "ops"
        assert "ops" in {ch["name"] for ch in alpha.channels()}
        ids = {local.node.members[n].id: n for n in local.node.members}

        def names() -> list[str]:
            return sorted(ids[i] for i in alpha.channel("ops")["members"])

        assert names() == ["alpha", "bravo"]
        alpha.channel_add("ops", "charlie")
        assert names() == ["alpha", "bravo", "charlie"]
        alpha.channel_remove("ops", "bravo")
        assert names() == ["alpha", "charlie"]
        with local.sdk("delta", keyring=False) as plain:  # the node attests what it posts
            attested = plain.publish(stix.bundle(stix.malware("n")), tlp="amber",
                                     to=["group1"])
        signed = delta.publish(stix.bundle(stix.malware("d")), tlp="amber", to=["group1"])
        with local.sdk("bravo") as bravo:
            env, _ = bravo.envelope(attested["id"])
            said = bravo.verify(env)
        assert said.startswith("attested by node ")
        assert said.endswith("received from delta (member:delta), verified")
        env, _ = alpha.envelope(signed["id"])
        assert alpha.verify(env).startswith("signed by delta (member:delta, ")
