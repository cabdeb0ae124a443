"""A STIX bundle as readable tables and a relationship graph (inline SVG, laid out here)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

_COMPARISON = re.compile(
    r"([a-z0-9-]+):([A-Za-z0-9_.'\-\[\]*]+)\s*(=|!=|MATCHES|LIKE|IN|>=|<=|>|<)\s*"
    r"('(?:[^'\\]|\\.)*'|\([^)]*\)|[0-9.]+)")

ACTOR_TYPES = ("threat-actor", "intrusion-set", "campaign")
GRAPH_LIMIT = 600  # objects drawn; the rest are counted under the graph
LABEL_LIMIT = 40  # up to this many objects, each is labelled under its dot
EDGE_LABEL_LIMIT = 30  # up to this many relationships, each is named on its line
CELL = (170.0, 56.0)  # grid step of a labelled object (x, y)
SMALL_CELL = (22.0, 22.0)  # grid step of an unlabelled one (its name is its tooltip)
PAD, HEAD, GAP = 10.0, 26.0, 18.0  # box padding, box heading, space between boxes


def observables(pattern: str) -> list[tuple[str, str]]:
    """The (object path, value) comparisons of a STIX pattern, e.g.
    ("ipv4-addr:value", "198.51.100.1")."""
    out = []
    for m in _COMPARISON.finditer(pattern):
        value = m.group(4)
        if value.startswith("'"):
            value = value[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        op = m.group(3)
        path = f"{m.group(1)}:{m.group(2)}"
        out.append((path if op == "=" else f"{path} {op}", value))
    return out


def external_id(obj: dict[str, Any]) -> str:
    for ref in obj.get("external_references", []) or []:
        if isinstance(ref, dict) and str(ref.get("source_name", "")).startswith("mitre") \
                and ref.get("external_id"):
            return str(ref["external_id"])
    return ""


def label(obj: dict[str, Any]) -> str:
    """A short human name for any STIX object."""
    t = str(obj.get("type", ""))
    if t == "indicator":
        return str(obj.get("name") or obj.get("pattern") or obj.get("id", ""))
    name = obj.get("name") or obj.get("value") or obj.get("id", "")
    ext = external_id(obj)
    return f"{ext} {name}" if ext else str(name)


@dataclass
class Node:
    id: str
    type: str
    label: str
    x: float = 0.0
    y: float = 0.0


@dataclass
class Edge:
    source: Node
    target: Node
    type: str
    x1: float = 0.0
    y1: float = 0.0
    x2: float = 0.0
    y2: float = 0.0


@dataclass
class Group:
    """The box of one STIX type in the graph."""

    type: str
    count: int
    x: float
    y: float
    w: float
    h: float
    nodes: list[Node]
    cols: int


@dataclass
class Graph:
    width: int
    height: int
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    omitted: int = 0
    groups: list[Group] = field(default_factory=list)
    labelled: bool = True
    edge_labels: bool = True


@dataclass
class BundleView:
    objects: list[dict[str, Any]]
    counts: list[tuple[str, int]]
    indicators: list[dict[str, Any]]
    techniques: list[dict[str, Any]]
    malware: list[dict[str, Any]]
    actors: list[dict[str, Any]]
    relationships: list[tuple[str, str, str]]
    others: list[dict[str, Any]]
    graph: Graph


def bundle_view(bundle: dict[str, Any]) -> BundleView:
    objs = [o for o in bundle.get("objects", []) or [] if isinstance(o, dict)]
    by_id = {str(o.get("id")): o for o in objs}
    counts: dict[str, int] = {}
    for o in objs:
        counts[str(o.get("type"))] = counts.get(str(o.get("type")), 0) + 1

    def name_of(ref: Any) -> str:
        o = by_id.get(str(ref))
        return label(o) if o is not None else str(ref)

    indicators = [{"id": str(o.get("id", "")), "name": o.get("name", ""),
                   "pattern": o.get("pattern", ""),
                   "pattern_type": o.get("pattern_type", ""),
                   "observables": observables(str(o.get("pattern", "")))
                   if o.get("pattern_type") == "stix" else [],
                   "types": ", ".join(o.get("indicator_types", []) or []),
                   "valid_from": o.get("valid_from", "")}
                  for o in objs if o.get("type") == "indicator"]
    techniques = [{"external_id": external_id(o), "name": o.get("name", ""),
                   "description": str(o.get("description", ""))[:300]}
                  for o in objs if o.get("type") == "attack-pattern"]
    malware = [{"name": o.get("name", ""), "types": ", ".join(o.get("malware_types", []) or []),
                "family": "family" if o.get("is_family") else "instance",
                "aliases": ", ".join(o.get("aliases", []) or [])}
               for o in objs if o.get("type") == "malware"]
    actors = [{"type": o.get("type"), "name": o.get("name", ""),
               "aliases": ", ".join(o.get("aliases", []) or []),
               "description": str(o.get("description", ""))[:300]}
              for o in objs if o.get("type") in ACTOR_TYPES]
    rels = [(name_of(o.get("source_ref")), str(o.get("relationship_type", "")),
             name_of(o.get("target_ref")))
            for o in objs if o.get("type") == "relationship"]
    shown = {"indicator", "attack-pattern", "malware", "relationship", *ACTOR_TYPES}
    others = [{"type": o.get("type"), "name": label(o)} for o in objs
              if o.get("type") not in shown and o.get("type") != "marking-definition"]
    return BundleView(objs, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), indicators,
                      techniques, malware, actors, rels, others, graph(objs))


def graph(objs: list[dict[str, Any]]) -> Graph:
    """Objects joined by relationships (at most GRAPH_LIMIT; objects in no relationship
    are left out), grouped by STIX type: one labelled box per type, the biggest group
    first, boxes packed in rows, the objects of a box on a grid. The drawing stays
    readable at a few hundred objects; the console's script adds zoom and pan."""
    by_id = {str(o.get("id")): o for o in objs}
    rels = [o for o in objs if o.get("type") == "relationship"
            and str(o.get("source_ref")) in by_id and str(o.get("target_ref")) in by_id]
    order: dict[str, None] = {}
    for r in rels:
        order.setdefault(str(r["source_ref"]))
        order.setdefault(str(r["target_ref"]))
    refs = list(order)
    omitted = max(0, len(refs) - GRAPH_LIMIT)
    nodes = {ref: Node(ref, str(by_id[ref].get("type")), _short(label(by_id[ref])))
             for ref in refs[:GRAPH_LIMIT]}
    groups: dict[str, list[Node]] = {}
    for node in nodes.values():
        groups.setdefault(node.type, []).append(node)
    labelled = len(nodes) <= LABEL_LIMIT
    step = CELL if labelled else SMALL_CELL
    boxes = []
    for kind, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        cols = max(1, min(len(members), math.ceil(math.sqrt(len(members) * 2))))
        if labelled:
            cols = min(cols, 4)
        rows = math.ceil(len(members) / cols)
        boxes.append(Group(kind, len(members), 0.0, 0.0, cols * step[0] + 2 * PAD,
                           rows * step[1] + PAD + HEAD, members, cols))
    total = sum(b.w * b.h for b in boxes)
    width = max(720.0, math.sqrt(total) * 1.4, max((b.w for b in boxes), default=0) + 2 * GAP)
    x, y, row_h = GAP, GAP, 0.0
    for b in boxes:  # shelf packing: left to right, a new row when the next box is too wide
        if x + b.w + GAP > width and x > GAP:
            x, y, row_h = GAP, y + row_h + GAP, 0.0
        b.x, b.y = x, y
        for i, node in enumerate(b.nodes):
            node.x = b.x + PAD + (i % b.cols + 0.5) * step[0]
            node.y = b.y + HEAD + (i // b.cols + 0.5) * step[1]
        x += b.w + GAP
        row_h = max(row_h, b.h)
    g = Graph(int(width), int(y + row_h + GAP), omitted=omitted, groups=boxes,
              labelled=labelled, edge_labels=len(rels) <= EDGE_LABEL_LIMIT)
    g.nodes = list(nodes.values())
    for r in rels:
        s, t = nodes.get(str(r["source_ref"])), nodes.get(str(r["target_ref"]))
        if s is not None and t is not None and s is not t:
            g.edges.append(_edge(s, t, str(r.get("relationship_type", ""))))
    return g


def _edge(s: Node, t: Node, kind: str) -> Edge:
    dx, dy = t.x - s.x, t.y - s.y
    d = math.hypot(dx, dy) or 1.0
    pad = 10.0  # stop short of the node circles so the arrow head shows
    return Edge(s, t, kind, round(s.x + dx * pad / d, 1), round(s.y + dy * pad / d, 1),
                round(t.x - dx * pad / d, 1), round(t.y - dy * pad / d, 1))


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
