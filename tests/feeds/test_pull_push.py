"""Pull from a real medallion server into a node, push a channel back to another
medallion collection, and compare the object sets; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import orjson
from tests.feeds.conftest import add_feed, vigil
from tests.feeds.medallion import (
    FEED_IN,
    PASSWORD,
    PUSH_OUT,
    SOURCE,
    USER,
    Medallion,
    source_objects,
)

from vigil import testing
from vigil.feeds import registry
from vigil.feeds.pull import object_key, pull_claimed
from vigil.stix.validate import check_object


def readable(node: testing.TestNode, member: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every STIX object in the member's inbox, opened, by (id, version)."""
    ex = node.exchange()
    try:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        rows, _, _ = ex.inbox_page(node.members[member].id, 0, 1000)
        for _, env, _ in rows:
            plain = ex.open(node.members[member].id, env)
            assert plain is not None
            for obj in orjson.loads(plain)["objects"]:
                out[object_key(obj)] = obj
        return out
    finally:
        ex.store.close()


def test_pull_then_push_same_objects(node: testing.TestNode, medallion: Medallion) -> None:
    add_feed(node, medallion, SOURCE)
    out = vigil(node, "feed", "pull", "med")
    # medallion serves the STIX 2.1 versions (its data also holds a STIX 2.0 one)
    valid = {object_key(o): o for o in source_objects() if o.get("spec_version") == "2.1"}
    assert all(not check_object(o) for o in valid.values())
    assert f"{len(valid)} fetched, {len(valid)} published" in out

    got = readable(node, "bravo")  # a recipient of the channel
    assert got == valid
    assert readable(node, "charlie") == {}  # not in the channel

    shown = json.loads(vigil(node, "feed", "show", "med"))
    assert shown["rejects"] == [] and shown["rejected"] == 0
    assert shown["published"] == len(valid)
    assert shown["cursor"] == "2017-12-31T13:49:53.935000Z"  # the last date_added served
    assert PASSWORD not in vigil(node, "feed", "list") + json.dumps(shown)

    # a second pull publishes nothing new
    ex = node.exchange()
    shares_before = ex.store.share_count()
    ex.store.close()
    out2 = vigil(node, "feed", "pull", "med")
    assert "0 published" in out2
    ex = node.exchange()
    assert ex.store.share_count() == shares_before
    ex.store.close()

    # push the channel as bravo to another collection and compare the object sets
    out3 = vigil(node, "feed", "push", "--channel", "intel", "--as", "bravo", "--to",
                 medallion.root, "--collection", PUSH_OUT, "--user", USER,
                 "--password", PASSWORD)
    assert f"{len(valid)} added, 0 failed" in out3
    pushed = {object_key(o): o for o in medallion.objects(PUSH_OUT)}
    assert set(pushed) == set(valid)
    for key, obj in valid.items():
        assert pushed[key] == obj
    # the push kept its own record: a second one sends nothing (medallion would answer
    # every resent object as a failure)
    out4 = vigil(node, "feed", "push", "--channel", "intel", "--as", "bravo", "--to",
                 medallion.root, "--collection", PUSH_OUT, "--user", USER,
                 "--password", PASSWORD)
    assert f"{len(valid)} sent before, 0 added, 0 failed" in out4


def test_bad_objects_reported_valid_ones_published(node: testing.TestNode,
                                                   medallion: Medallion) -> None:
    good = {"type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2024-04-01T00:00:00.000Z", "modified": "2024-04-01T00:00:00.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2024-04-01T00:00:00Z", "indicator_types": ["malicious-activity"]}
    bad_pattern = dict(good, id="indicator--1d6b6f8c-6a64-4f7e-9d4e-7c3c6b0a9c11",
                       pattern="[ipv4-addr:value = ")
    red = dict(good, id="indicator--4f0c0a35-5b3e-4f58-8a53-7f3d3f7b2b22",
               object_marking_refs=["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"])
    no_created = {k: v for k, v in good.items() if k != "created"}
    no_created["id"] = "indicator--0b9b2d3c-2f1e-4c8d-8e7f-6a5b4c3d2e33"
    medallion.client(FEED_IN).add_objects({"objects": [good, bad_pattern, red, no_created]})

    add_feed(node, medallion, FEED_IN)
    out = vigil(node, "feed", "pull", "med")
    assert "1 published" in out and "3 rejected" in out
    codes = {r["id"]: (r["code"], r["pointer"])
             for r in json.loads(vigil(node, "feed", "show", "med"))["rejects"]}
    assert codes == {
        bad_pattern["id"]: ("stix.pattern", "/pattern"),
        red["id"]: ("policy.tlp_below_marking", "/object_marking_refs"),
        no_created["id"]: ("stix.required", "/created"),
    }
    assert list(readable(node, "bravo")) == [object_key(good)]


def test_remove_forgets_the_feed(node: testing.TestNode, medallion: Medallion) -> None:
    add_feed(node, medallion, SOURCE)
    vigil(node, "feed", "remove", "med")
    ex = node.exchange()
    try:
        assert registry.list_feeds(ex.store) == []
    finally:
        ex.store.close()


def test_a_long_pull_reports_progress_page_by_page(node: testing.TestNode,
                                                   medallion: Medallion) -> None:
    add_feed(node, medallion, SOURCE)
    seen: list[tuple[int, int]] = []
    ex = node.exchange()
    try:
        result = pull_claimed(ex, "med", progress=lambda r: seen.append((r.fetched,
                                                                          r.published)))
    finally:
        ex.store.close()
    # medallion serves 2 objects a page: one report per page, counts only growing
    assert len(seen) == -(-result.fetched // 2) and len(seen) > 1
    assert seen == sorted(seen) and seen[-1] == (result.fetched, result.published)
