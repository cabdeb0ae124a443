"""The relationship graph: grouped by type, every object of a few hundred drawn inside
its group's box, no two on one spot."""

from __future__ import annotations

import json

from vigil.web.console.stixview import bundle_view, observables

from .conftest import big_bundle, rich_bundle


def test_a_300_object_graph_is_grouped_by_type_without_overlaps() -> None:
    g = bundle_view(json.loads(big_bundle(300))).graph
    assert len(g.nodes) == 300 and g.omitted == 0 and not g.labelled
    assert sorted((b.type, b.count) for b in g.groups) == [
        ("attack-pattern", 75), ("indicator", 150), ("malware", 75)]
    for b in g.groups:
        for n in b.nodes:
            assert n.type == b.type
            assert b.x < n.x < b.x + b.w and b.y < n.y < b.y + b.h
            assert 0 < n.x < g.width and 0 < n.y < g.height
    assert len({(n.x, n.y) for n in g.nodes}) == 300
    assert len(g.edges) == 150 + 75


def test_a_small_graph_keeps_its_labels() -> None:
    g = bundle_view(json.loads(rich_bundle())).graph
    assert g.labelled and g.edge_labels and len(g.groups) == 4


def test_stix_view_helpers() -> None:
    assert observables("[file:hashes.'SHA-256' = 'ab\\'c'] AND [url:value != 'x']") == [
        ("file:hashes.'SHA-256'", "ab'c"), ("url:value !=", "x")]
    v = bundle_view(json.loads(rich_bundle()))
    assert [t["external_id"] for t in v.techniques] == ["T0855"]
    assert len(v.graph.nodes) == 4 and len(v.graph.edges) == 3
    assert all(0 <= n.x <= v.graph.width and 0 <= n.y <= v.graph.height for n in v.graph.nodes)
