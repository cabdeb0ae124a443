"""/metrics over a live node: the families after traffic, and no label that names a
member, a share or a value; the JSON log of the same traffic holds no token or payload."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from vigil import clock
from vigil.testing import ServerProcess, make_node
from vigil.testing.stix import canary_bundle as bundle_with
from vigil.web.metrics import Metrics

FAMILIES = {
    "vigil_http_requests", "vigil_http_request_duration_seconds", "vigil_publish_seconds",
    "vigil_delivery_seconds", "vigil_open_streams", "vigil_store_errors", "vigil_bus_errors",
    "vigil_log_entries", "vigil_feed_lag_seconds", "vigil_correlation_backlog",
}


def scrape(url: str, token: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    r = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: [(s.name, s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(r.text)}


def value(fams: dict[str, list[tuple[str, dict[str, str], float]]], sample: str,
          **labels: str) -> float:
    family = next(f for f in fams if sample.startswith(f))
    return sum(v for name, lab, v in fams[family]
               if name == sample and all(lab.get(k) == x for k, x in labels.items()))


def test_metrics_after_traffic_and_a_log_without_secrets(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": False})
    m = node.members
    scrape_token = "scrape-" + uuid.uuid4().hex
    canary = f"CANARY-{uuid.uuid4().hex}"
    log_file = tmp_path / "server.log"
    env = {"VIGIL_METRICS_TOKEN": scrape_token, "VIGIL_LOG_LEVEL": "info"}
    with ServerProcess(node.data, env=env, log=log_file) as srv:
        alpha = {"Authorization": f"Bearer {m['alpha'].token}"}
        bravo = {"Authorization": f"Bearer {m['bravo'].token}"}
        # without the token, /metrics is an unknown path
        assert httpx.get(f"{srv.url}/metrics").status_code == 404
        assert httpx.get(f"{srv.url}/metrics", headers=alpha).status_code == 404
        events: list[str] = []
        opened = threading.Event()

        def follow() -> None:
            with httpx.stream("GET", f"{srv.url}/api/v1/stream", headers=bravo,
                              timeout=20) as r:
                opened.set()
                for line in r.iter_lines():
                    if line.startswith("event: share"):
                        events.append(line)
                        if len(events) == 2:
                            return

        reader = threading.Thread(target=follow)
        reader.start()
        assert opened.wait(10)
        fams = scrape(srv.url, scrape_token)
        assert value(fams, "vigil_open_streams") == 1
        share_ids = []
        for tlp in ("amber", "green"):
            r = httpx.post(f"{srv.url}/api/v1/shares", params={"tlp": tlp, "to": "member:bravo"}
                           if tlp == "amber" else {"tlp": tlp},
                           content=bundle_with(canary), headers=alpha)
            assert r.status_code == 201, r.text
            share_ids.append(r.json()["id"])
        reader.join(20)
        assert len(events) == 2
        for sid in share_ids:
            assert httpx.get(f"{srv.url}/api/v1/shares/{sid}", headers=bravo).status_code == 200
        missing = f"share--{uuid.uuid4()}"
        assert httpx.get(f"{srv.url}/api/v1/shares/{missing}", headers=bravo).status_code == 404
        assert httpx.get(f"{srv.url}/no/{canary}").status_code == 404
        fams = scrape(srv.url, scrape_token)
        text = httpx.get(f"{srv.url}/metrics",
                         headers={"Authorization": f"Bearer {scrape_token}"}).text

    assert set(fams) >= FAMILIES, FAMILIES - set(fams)
    assert value(fams, "vigil_publish_seconds_count") == 2
    assert value(fams, "vigil_delivery_seconds_count") == 2
    assert value(fams, "vigil_open_streams") == 0
    assert value(fams, "vigil_log_entries") >= 2
    assert value(fams, "vigil_http_requests_total", route="/api/v1/shares",
                 method="POST", status="201") == 2
    assert value(fams, "vigil_http_requests_total", route="/api/v1/shares/{share_id}",
                 method="GET", status="200") == 2
    assert value(fams, "vigil_http_requests_total", route="/api/v1/shares/{share_id}",
                 status="404") == 1
    assert value(fams, "vigil_http_requests_total", route="unmatched", status="404") >= 1
    assert value(fams, "vigil_http_requests_total", route="/api/v1/stream") == 1
    # no label value names a member, a user, a share or a value, nor the raw path
    labels = {v for samples in fams.values() for _, lab, _ in samples for v in lab.values()}
    forbidden = [canary, missing, *share_ids, *(x.id for x in m.values()), *m]
    for label in labels:
        assert not any(f in label for f in forbidden), label
    assert canary not in text and not any(s in text for s in share_ids)

    # the log: one JSON object a line, request ids, and no token, payload or key
    log_text = log_file.read_text()
    records = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "vigil.access"]
    assert any(r["route"] == "/api/v1/shares" and r["status"] == 201 for r in access)
    assert all(len(r["request_id"]) >= 16 for r in access)
    for secret in (canary, scrape_token, *(x.token for x in m.values()), "BEGIN PRIVATE"):
        assert secret not in log_text


def test_store_gauges_read_the_log_feeds_and_correlation_mark(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from vigil import clock
    from vigil.feeds.registry import Auth, Feed, add_feed, release
    from vigil.storage import open_store
    from vigil.storage.correlations import CORRELATED_KEY
    from vigil.testing.node import publish_one
    from vigil.web.metrics import Metrics

    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    for _ in range(3):
        publish_one(ex, node.members["alpha"].id)
    ex.store.close()
    store = open_store(node.settings.store_url)
    try:
        store.set_meta(CORRELATED_KEY, "1")  # one of three shares correlated
        hour_ago = clock.fmt(datetime.now(UTC) - timedelta(hours=1))
        for name in ("old", "failing"):
            add_feed(store, Feed(name, "https://taxii.example/api/", "c", node.members[
                "alpha"].id, "green", (), 3600, Auth(), created=hour_ago))
        release(store, "failing", error="remote.unreachable", counts={}, pulled_at=clock.now())
        metrics = Metrics()
        metrics.refresh(store)
    finally:
        store.close()
    sample = metrics.registry.get_sample_value
    assert sample("vigil_correlation_backlog") == 2
    assert sample("vigil_log_entries") is not None and sample("vigil_log_entries") >= 3
    lag = sample("vigil_feed_lag_seconds")
    assert lag is not None and 3500 < lag < 7200
    assert sample("vigil_feeds_failing") == 1


def delivery_counts(m: Metrics) -> tuple[float, float]:
    got = {s.name: s.value for f in m.delivery_seconds.collect() for s in f.samples}
    return got["vigil_delivery_seconds_count"], got["vigil_delivery_seconds_sum"]


async def test_deliveries_are_timed_when_sent_and_counted_after_the_loop_turn() -> None:
    """On the event loop a delivery's time is taken when its event is sent and put in
    the histogram after the turn that sent it (not before the streams after it)."""
    m = Metrics()
    stamp = clock.now()
    for _ in range(3):
        m.delivered(stamp)
    assert delivery_counts(m)[0] == 0  # not yet: the other streams of this turn first
    time.sleep(0.3)  # the histogram is filled after this, with the times taken above
    await asyncio.sleep(0)
    count, total = delivery_counts(m)
    assert count == 3 and total < 3 * 0.3


def test_a_delivery_outside_an_event_loop_is_counted_at_once() -> None:
    m = Metrics()
    m.delivered(clock.now())
    assert delivery_counts(m)[0] == 1
