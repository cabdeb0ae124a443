"""Failed authentication is slowed per client address and per token prefix: 429 with
Retry-After, logged without the token."""

from __future__ import annotations

import logging

import pytest
from tests.web.conftest import Api

from vigil.web.throttle import Throttle, Throttled


def test_a_key_over_its_limit_waits_for_its_window() -> None:
    now = [0.0]
    t = Throttle(limit=3, address_limit=5, window=60.0, clock=lambda: now[0])
    keys = Throttle.keys("192.0.2.1", "vgl_abcdefgh-rest-of-token")
    for _ in range(3):
        t.check(keys)
        t.failed(keys, "auth.bad_token")
    with pytest.raises(Throttled) as e:
        t.check(keys)
    assert e.value.status == 429 and e.value.headers == {"Retry-After": "60"}
    now[0] = 45.0
    with pytest.raises(Throttled) as e:
        t.check(Throttle.keys("198.51.100.9", "vgl_abcdefgh-another"))  # same prefix
    assert e.value.headers == {"Retry-After": "15"}
    t.check(Throttle.keys("198.51.100.9", "vgl_zzzzzzzz"))  # another address and prefix
    now[0] = 60.0
    t.check(keys)  # the window is over
    for i in range(5):  # an address is allowed more failures, with any prefixes
        t.check(Throttle.keys("192.0.2.7", f"vgl_{i:08d}"))
        t.failed(Throttle.keys("192.0.2.7", f"vgl_{i:08d}"), "auth.bad_token")
    with pytest.raises(Throttled):
        t.check(Throttle.keys("192.0.2.7", "vgl_another1"))


def test_the_table_is_bounded() -> None:
    t = Throttle(limit=1, size=100)
    for i in range(1000):
        t.failed(Throttle.keys(f"10.0.{i // 256}.{i % 256}", f"vgl_{i:08d}"), "auth.bad_token")
    assert len(t._failures) == 100


def test_wrong_tokens_are_answered_429_then_even_a_good_one(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    throttle = api.client.app.state.vigil.throttle  # type: ignore[attr-defined]
    bad = "vgl_wrongwrong-secret-part-of-the-token"
    with caplog.at_level(logging.WARNING, logger="vigil.auth"):
        for i in range(throttle.limit):
            r = api.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {bad}{i}"})
            assert r.status_code == 401
        r = api.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 429  # this token prefix
        assert api.client.get("/api/v1/inbox", headers=api.h("alpha")).status_code == 200
        for i in range(throttle.address_limit - throttle.limit):
            r = api.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer vgl_{i:09d}"})
            assert r.status_code == 401
    assert len(caplog.records) == throttle.address_limit
    assert not any("wrong" in r.getMessage() for r in caplog.records)  # never the token
    for path in ("/api/v1/inbox", "/api/v1/stream", "/api/v1/search?q=1.2.3.4",
                 "/taxii2/"):
        r = api.client.get(path, headers=api.h("alpha"))  # this address, even a good token
        assert r.status_code == 429, path
        assert int(r.headers["Retry-After"]) >= 1
        if not path.startswith("/taxii2"):  # (TAXII answers in its own error shape)
            assert r.json()["error"]["code"] == "auth.throttled"
