"""``Idempotency-Key`` on publishes (docs/api.md "Publishing once"): the same key and
request get the stored answer and no second share; another request with the key is
422; keys are per member; and the SDK sends a publish again with the same key when
its answer was lost."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.web.conftest import Api
from tests.web.helpers import bundle_text, client_envelope, indicator

from vigil.client import Client
from vigil.node.hooks import Published
from vigil.storage import open_store
from vigil.testing import stix
from vigil.web import idempotency

SHARES = "/api/v1/shares"
AUDIENCE = {"tlp": "green", "to": "a-b"}


def publish(api: Api, body: str, key: str | bytes | None, who: str = "alpha",
            params: dict[str, str] | None = None) -> httpx.Response:
    headers: dict[str, str | bytes] = {**api.h(who), "Content-Type": "application/stix+json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post(SHARES, params=params or AUDIENCE, content=body.encode(),
                           headers=headers)


def test_same_key_same_request_gets_the_stored_answer_and_no_second_share(api: Api) -> None:
    body = bundle_text(indicator())
    first = publish(api, body, "k-1")
    assert first.status_code == 201, first.text
    again = publish(api, body, '"k-1"')  # the same key as a structured-field string
    assert again.status_code == 201
    assert again.json() == first.json()
    assert api.exchange.store.share_count() == 1
    # without a key the same bundle is published again: a new share
    assert publish(api, body, None).status_code == 201
    assert api.exchange.store.share_count() == 2


def test_same_key_another_request_is_refused(api: Api) -> None:
    assert publish(api, bundle_text(indicator()), "k-2").status_code == 201
    other = bundle_text(stix.indicator("192.0.2.99", at="2026-01-01T00:00:00.000Z"))
    for body, params in ((other, AUDIENCE), (bundle_text(indicator()),
                                             {"tlp": "amber", "to": "a-b"})):
        r = publish(api, body, "k-2", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "idempotency.key_reused"
    assert api.exchange.store.share_count() == 1


def test_keys_are_each_members_own(api: Api) -> None:
    body = bundle_text(indicator())
    a = publish(api, body, "shared-key", "alpha")
    b = publish(api, body, "shared-key", "bravo")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert api.exchange.store.share_count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", '"a"b"', "a\\b"])
def test_malformed_keys_are_refused(api: Api, key: str) -> None:
    r = publish(api, bundle_text(indicator()), key.encode())
    assert r.status_code == 400, (key, r.text)
    assert r.json()["error"]["code"] == "idempotency.bad_key"
    assert api.exchange.store.share_count() == 0


def test_the_header_twice_is_refused(api: Api) -> None:
    headers = [*api.h("alpha").items(), ("Content-Type", "application/stix+json"),
               ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    r = api.client.post(SHARES, params=AUDIENCE, content=bundle_text(indicator()).encode(),
                        headers=httpx.Headers(headers))
    assert r.status_code == 400 and r.json()["error"]["code"] == "idempotency.bad_key"
    assert api.exchange.store.share_count() == 0


def test_a_failed_request_stores_no_answer(api: Api) -> None:
    bad = bundle_text(indicator()).replace('"indicator"', '"not-a-type"', 1)
    assert publish(api, bad, "k-3").status_code >= 400
    r = publish(api, bad, "k-3")
    assert r.status_code >= 400 and r.json()["error"]["code"] != "idempotency.key_reused"
    assert publish(api, bundle_text(indicator()), "k-3").status_code == 201


def test_a_key_is_forgotten_after_its_retention(api: Api,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    body = bundle_text(indicator())
    first = publish(api, body, "k-4").json()
    monkeypatch.setattr(idempotency, "RETAIN", timedelta(seconds=-60))  # all expired
    again = publish(api, body, "k-4")
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert api.exchange.store.share_count() == 2


def test_a_key_stored_by_another_worker_first_is_answered_from_the_store(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup missed (the other worker had not committed yet); the claim in the
    share's transaction finds the key taken, so the share is rolled back and the stored
    answer is given."""
    body = bundle_text(indicator())
    first = publish(api, body, "k-5").json()
    real = idempotency.stored.lookup
    calls: list[int] = []

    def late(*a: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real(*a)

    monkeypatch.setattr(idempotency.stored, "lookup", late)
    again = publish(api, body, "k-5")
    assert len(calls) == 2
    assert again.status_code == 201 and again.json() == first
    assert api.exchange.store.share_count() == 1
    assert len(api.client.get("/api/v1/sent", headers=api.h("alpha")).json()["shares"]) == 1


def test_client_envelopes_take_a_key(api: Api) -> None:
    env = client_envelope(api, "alpha", bundle_text(indicator()))
    h = api.h("alpha") | {"Idempotency-Key": "env-1"}
    first = api.client.post("/api/v1/envelopes", json=env, headers=h)
    again = api.client.post("/api/v1/envelopes", json=env, headers=h)
    assert first.status_code == again.status_code == 201  # the stored answer, new: true
    assert again.json() == first.json()
    plain = api.client.post("/api/v1/envelopes", json=env, headers=api.h("alpha"))
    assert plain.status_code == 200 and plain.json()["new"] is False
    other = client_envelope(api, "alpha", bundle_text(stix.indicator(
        "192.0.2.7", at="2026-01-01T00:00:00.000Z")))
    r = api.client.post("/api/v1/envelopes", json=other, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency.key_reused"
    assert api.exchange.store.share_count() == 1


class DropFirstAnswer(httpx.BaseTransport):
    """Hands requests to the node, but loses the answer to the first publish: the node
    stored the share, the client saw the connection drop."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.publishes: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path in (SHARES, "/api/v1/envelopes"):
            self.publishes.append(request.headers.get("idempotency-key"))
            if len(self.publishes) == 1:
                resp.read()
                raise httpx.ReadError("connection reset by peer", request=request)
        return resp


@pytest.mark.parametrize("keyring", [False, True])
def test_the_sdk_publishes_once_when_the_answer_was_dropped(api: Api, keyring: bool) -> None:
    transport = DropFirstAnswer(api.client._transport)
    m = api.node.members["delta" if keyring else "alpha"]
    with Client("http://testserver", m.token, m.keyring if keyring else None,
                transport=transport, verify_log=False) as c:
        c.retry_pause = 0.0
        out = c.publish(stix.bundle(stix.malware("dropped once")), tlp="green",
                        to=["group1"], blind=False)
    assert len(transport.publishes) == 2
    assert transport.publishes[0] is not None
    assert transport.publishes[0] == transport.publishes[1]  # sent again with its key
    assert api.exchange.store.share_count() == 1
    sent = api.client.get("/api/v1/sent", headers={"Authorization": f"Bearer {m.token}"})
    assert [s["envelope"]["header"]["id"] for s in sent.json()["shares"]] == [out["id"]]


def test_the_sdk_gives_up_after_its_retries(api: Api) -> None:
    class Down(httpx.BaseTransport):
        calls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            Down.calls += 1
            raise httpx.ConnectError("refused", request=request)

    with Client("http://testserver", "t", transport=Down(), publish_retries=2) as c:
        c.retry_pause = 0.0
        with pytest.raises(Exception) as info:
            c.publish(stix.bundle(stix.malware("x")), tlp="green", to=["group1"])
    assert getattr(info.value, "code", None) == "client.unreachable"
    assert Down.calls == 3


RingLog = list[tuple[str, object]]


def ring_spy(api: Api) -> tuple[RingLog, threading.Event]:
    """Record each ring of the bus with the number of shares committed at that moment
    (read on a connection of its own, which sees only committed transactions), and
    make an after-publish hook wait (up to 5 s) for the ring."""
    st = api.client.app.state.vigil  # type: ignore[attr-defined]
    log: RingLog = []
    rung = threading.Event()
    real = st.bus.ring
    own = open_store(api.exchange.store.url)

    async def ring(members: Any) -> None:
        log.append(("ring", own.share_count()))
        rung.set()
        await real(members)

    def hook(pub: Published) -> None:  # in the publishing thread, after the commit
        log.append(("hook", rung.wait(5)))

    st.bus.ring = ring
    api.exchange.published_hooks.append(hook)
    api.exchange.store.on_close.append(own.close)
    return log, rung


@pytest.mark.parametrize("route", ["shares", "envelopes"])
@pytest.mark.parametrize("key", [None, "ring-1"])
def test_streams_are_rung_once_the_share_is_durable_before_the_publish_returns(
        api: Api, route: str, key: str | None) -> None:
    """The recipients' streams are rung from the publishing thread at the commit: the
    share is committed when they are rung (a stream never reads ahead of the store),
    and the ring does not wait for the after-publish hooks and the way back to the
    event loop (the hook below sees the ring happen while it runs)."""
    log, rung = ring_spy(api)
    headers = api.h("alpha") | ({"Idempotency-Key": key} if key else {})
    if route == "shares":
        r = api.client.post(SHARES, params=AUDIENCE, content=bundle_text(indicator()).encode(),
                            headers=headers | {"Content-Type": "application/stix+json"})
    else:
        r = api.client.post("/api/v1/envelopes", headers=headers,
                            json=client_envelope(api, "alpha", bundle_text(indicator())))
    assert r.status_code == 201, r.text
    assert log == [("ring", 1), ("hook", True)]  # rung once, committed, hook still running
    if key is not None:  # a replayed answer rings again (its first may have been lost)
        rung.clear()
        again = api.client.post(SHARES if route == "shares" else "/api/v1/envelopes",
                                headers=headers, **(
                                    {"params": AUDIENCE, "content": r.request.content}
                                    if route == "shares" else {"content": r.request.content}))
        assert again.json() == r.json()
        assert log[2:] == [("ring", 1)]
