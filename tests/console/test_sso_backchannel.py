"""Back-channel logout's checks of the logout token, against a provider key set made
here (the full flow with the real oidc-provider is in test_sso_pages)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from vigil.bus.local import LocalBus
from vigil.signin import audit, sso
from vigil.testing import TestNode, make_node
from vigil.web import create_app
from vigil.web.console import sso_pages

ISSUER = "https://idp.example"
EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}


class Setup:
    def __init__(self, node: TestNode, http: TestClient, key: RSAKey) -> None:
        self.node, self.http, self.key = node, http, key

    def logout_token(self, **claims: Any) -> str:
        base = {"iss": ISSUER, "aud": "vigil", "iat": int(time.time()),
                "jti": uuid.uuid4().hex, "events": EVENT, "sid": "S1"}
        base.update(claims)
        body = {k: v for k, v in base.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": "k1"}, body, self.key)

    def session(self, sid: str = "S1", sub: str = "ana") -> str:
        ex = self.http.app.state.vigil.exchange
        uid = ex.authenticate(self.node.members["alpha"].token).user
        session_id, _ = ex.open_user_session(uid, 3600)
        part = base64.urlsafe_b64encode(json.dumps({"sid": sid, "sub": sub}).encode())
        sso.remember(ex, session_id, ISSUER, "h." + part.decode().rstrip("=") + ".s", 3600)
        return session_id

    def alive(self, session_id: str) -> bool:
        r = self.http.get("/api/v1/me", headers={"cookie": f"vigil_session={session_id}"})
        return r.status_code == 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    store = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    node = make_node(tmp_path / "node", {"alpha": True}, store=store)
    ex = node.exchange()
    sso.add_provider(ex, ISSUER, client_id="vigil", client_secret="s3cret",
                     member_claim="m", user_claim="u", members=["alpha"])
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    meta = {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks",
            "id_token_signing_alg_values_supported": ["RS256"]}
    sso_pages._metadata[ISSUER] = (time.monotonic(), meta,
                                   {"keys": [key.as_dict(private=False)]})
    try:
        with TestClient(create_app(node.settings, exchange=ex, bus=LocalBus())) as http:
            yield Setup(node, http, key)
    finally:
        sso_pages._metadata.pop(ISSUER, None)
        ex.store.close()


def post(s: Setup, token: str) -> Any:
    return s.http.post("/signin/sso/backchannel", content=f"logout_token={token}",
                       headers={"content-type": "application/x-www-form-urlencoded"})


def test_a_logout_token_ends_the_sessions_of_its_sid(setup: Setup) -> None:
    a, b = setup.session("S1"), setup.session("S2")
    assert setup.alive(a) and setup.alive(b)
    r = post(setup, setup.logout_token())
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert not setup.alive(a) and setup.alive(b)
    ex = setup.http.app.state.vigil.exchange
    assert ("signout", f"provider logout {ISSUER}") in [
        (e.event, e.detail) for e in audit.events(ex, setup.node.members["alpha"].id)]


def test_a_logout_token_with_only_sub_ends_every_session_of_the_subject(setup: Setup) -> None:
    a, b = setup.session("S1"), setup.session("S2")
    c = setup.session("S3", sub="bob")
    assert post(setup, setup.logout_token(sid=None, sub="ana")).status_code == 200
    assert not setup.alive(a) and not setup.alive(b) and setup.alive(c)


@pytest.mark.parametrize("change", [
    {"aud": "another-client"}, {"iss": "https://other.example"}, {"events": None},
    {"events": {"other": {}}}, {"nonce": "n"}, {"sid": None}, {"jti": None},
    {"iat": int(time.time()) - 3600}, {"exp": int(time.time()) - 3600},
])
def test_what_is_not_a_logout_token_is_refused(setup: Setup, change: dict[str, Any]) -> None:
    a = setup.session()
    r = post(setup, setup.logout_token(**change))
    assert r.status_code == 400 and r.json()["error"]["code"] == "auth.sso_logout"
    assert setup.alive(a)


def test_a_token_signed_by_another_key_is_refused(setup: Setup) -> None:
    a = setup.session()
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    token = jwt.encode({"alg": "RS256", "kid": "k1"},
                       {"iss": ISSUER, "aud": "vigil", "iat": int(time.time()),
                        "jti": "j", "events": EVENT, "sid": "S1"}, other)
    assert post(setup, token).status_code == 400
    assert post(setup, "not-a-token").status_code == 400
    assert setup.alive(a)
