"""The reference resolution of a MISP import against the rule, on random objects and
object graphs: an object's references are the strings under keys ending ``_ref`` and the
string items of lists under keys ending ``_refs`` (found here from every value's path);
the objects kept are the largest set whose references all point into it, a container
keeping the entries of ``object_refs`` left (found here round by round); each object
refused is lost once, for a reference to an object absent or refused before it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.interop.misp_losses import (
    CONTAINER_REFS,
    STANDARD_MARKINGS,
    Loss,
    object_references,
    resolve_references,
)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every value under ``value`` with its path, in document order: dict keys and list
    indexes (lists and dicts of any subclass; a tuple is a leaf)."""
    out: list[tuple[tuple[Any, ...], Any]] = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out += leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += leaves(v, (*path, i))
    return out


def expected_refs(value: Any) -> list[tuple[str, str]]:
    """The references of an object by the rule: a string under a key
    ending ``_ref``, and each string item of a list under a key ending ``_refs`` (whose
    other items are not looked into)."""
    containers = {path: v for path, v in leaves(value)}
    out = []
    for path, v in leaves(value):
        if not path or not isinstance(v, str):
            continue
        inside_refs_list = any(
            isinstance(seg, str) and seg.endswith("_refs")
            and isinstance(containers[path[:i + 1]], list) for i, seg in enumerate(path[:-1]))
        key = path[-1]
        if isinstance(key, str) and key.endswith("_ref") and not inside_refs_list:
            out.append((key, v))
        elif isinstance(key, int) and len(path) >= 2 and isinstance(path[-2], str) \
                and path[-2].endswith("_refs") and isinstance(containers[path[:-1]], list) \
                and not any(isinstance(seg, str) and seg.endswith("_refs")
                            and isinstance(containers[path[:i + 1]], list)
                            for i, seg in enumerate(path[:-2])):
            out.append((path[-2], v))
    return out


def kept_by_rule(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The objects a share keeps, by the rule: the largest set in which every object's
    references (standard TLP markings aside) point into the set, except a container's
    ``object_refs``, of which at least one entry (or a marking) must be left; each kept
    container holds the entries left. Found by dropping, round after round, every
    object the previous round's set does not satisfy, until a round drops none."""
    ids = {o["id"] for o in objects}

    def fine(o: dict[str, Any], inside: set[str]) -> bool:
        refs = [(k, r) for k, r in expected_refs(o) if r not in STANDARD_MARKINGS]
        if any(r not in inside for k, r in refs if k != CONTAINER_REFS):
            return False
        entries = o.get(CONTAINER_REFS, [])
        if all(r in inside for k, r in refs if k == CONTAINER_REFS):
            return True
        return any(r in inside or r in STANDARD_MARKINGS for r in entries)

    while True:
        left = {o["id"] for o in objects if o["id"] in ids and fine(o, ids)}
        if left == ids:
            break
        ids = left
    out = {}
    for o in objects:
        if o["id"] in ids:
            if CONTAINER_REFS in o:
                o = {**o, CONTAINER_REFS: [r for r in o[CONTAINER_REFS]
                                           if r in ids or r in STANDARD_MARKINGS]}
            out[o["id"]] = o
    return out


def refusals(objects: list[dict[str, Any]], kept: dict[str, Any]
             ) -> list[tuple[str, tuple[str, str]]]:
    """The refused objects, each with the reference it is refused for, in the order of
    looking at every object, in input order, pass after pass: an object goes in the first
    pass in which, when its turn comes, one of its references (a container: every entry
    of ``object_refs``) is gone. A reference is gone from the first pass for an object
    absent from the input, and for a refused one from the pass it went in when it comes
    earlier in the input, else the pass after. The reason is the first of its references
    gone by then, but for the entries of a container that were gone at an earlier turn
    (the container survived that turn without them)."""
    pos = {o["id"]: i for i, o in enumerate(objects)}
    refused = [o for o in objects if o["id"] not in kept]
    never = float("inf")
    gone_in: dict[str, float] = {o["id"]: never for o in refused}

    def gone(r: str, at: str) -> float:
        if r in STANDARD_MARKINGS or r in kept:
            return never
        if r not in pos:
            return 1
        return gone_in[r] if pos[r] < pos[at] else gone_in[r] + 1

    changed = True
    while changed:
        changed = False
        for o in refused:
            refs = [(k, r) for k, r in expected_refs(o) if r not in STANDARD_MARKINGS]
            when = min((gone(r, o["id"]) for k, r in refs if k != CONTAINER_REFS),
                       default=never)
            entries = o.get(CONTAINER_REFS, [])
            if entries and not any(r in STANDARD_MARKINGS for r in entries):
                when = min(when, max(gone(r, o["id"]) for r in entries))
            if when < gone_in[o["id"]]:
                gone_in[o["id"]], changed = when, True
    out = []
    for oid in sorted(gone_in, key=lambda oid: (gone_in[oid], pos[oid])):
        at = gone_in[oid]
        refs = [(k, r) for k, r in expected_refs(objects[pos[oid]])
                if r not in STANDARD_MARKINGS]
        why = next((k, r) for k, r in refs if gone(r, oid) == at
                   or (k != CONTAINER_REFS and gone(r, oid) < at))
        out.append((oid, why))
    return out


class D(dict[str, Any]):
    pass


class L(list[Any]):
    pass


class S(str):
    __slots__ = ()


_KEYS = st.sampled_from(["a_ref", "b_refs", "x", "object_refs", "labels", "c_ref",
                         "d_refs", "marking_ref", "_ref", "_refs", "ref"])
_SCALARS = st.one_of(st.text(max_size=3), st.integers(), st.none(), st.booleans(),
                     st.floats(allow_nan=False), st.text(max_size=3).map(S),
                     st.tuples(st.text(max_size=2)))
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(L),
        st.dictionaries(_KEYS, inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=3).map(D)),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_JSON, st.dictionaries(_KEYS, _JSON, max_size=6)))
def test_references_are_read_as_a_walk_of_the_whole_object_reads_them(value: Any) -> None:
    assert object_references(value, []) == expected_refs(value)


_IDS = [f"indicator--00000000-0000-4000-8000-{i:012d}" for i in range(12)]
_TARGETS = st.sampled_from([*_IDS, next(iter(STANDARD_MARKINGS))])


@st.composite
def _graphs(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    objects = []
    for oid in draw(st.permutations(_IDS))[:n]:
        obj: dict[str, Any] = {"id": oid}
        if draw(st.booleans()):
            obj["object_refs"] = draw(st.lists(_TARGETS, min_size=1, max_size=5))
        if draw(st.booleans()):
            obj["source_ref"] = draw(_TARGETS)
        if draw(st.booleans()):
            obj["granular_markings"] = [{"marking_ref": draw(_TARGETS)}]
        if draw(st.booleans()):
            obj["sample_refs"] = draw(st.lists(_TARGETS, max_size=2))
        objects.append(obj)
    return objects


@settings(max_examples=400, deadline=None)
@given(_graphs())
def test_resolution_keeps_what_the_rule_keeps_and_says_why_each_other_went(
        objects: list[dict[str, Any]]) -> None:
    losses: list[Loss] = []
    got = resolve_references(objects, lambda i: f"/x/{i}", losses)
    want = kept_by_rule(objects)
    assert got == list(want.values())
    assert [(x.stix_id, x.pointer, x.code, x.reason) for x in losses] == [
        (oid, f"/x/{oid}", "misp.dangling_reference",
         f"{k} points at {r}, which is not in the share")
        for oid, (k, r) in refusals(objects, want)]


def test_a_chain_of_refusals_is_followed_across_passes() -> None:
    """c points at b, which points at a, which points at one missing: each refused
    in turn, one pass each, and then the grouping that came to hold only c (it lost
    its other, missing member in the first pass)."""
    a, b, c, g = _IDS[:4]
    objects = [{"id": g, "object_refs": [c, _IDS[5]]},
               {"id": c, "source_ref": b}, {"id": b, "source_ref": a},
               {"id": a, "source_ref": _IDS[9]}]
    losses: list[Loss] = []
    assert resolve_references(objects, str, losses) == []
    assert [x.stix_id for x in losses] == [a, b, c, g]
    assert [x.reason for x in losses] == [
        f"source_ref points at {_IDS[9]}, which is not in the share",
        f"source_ref points at {a}, which is not in the share",
        f"source_ref points at {b}, which is not in the share",
        f"object_refs points at {c}, which is not in the share"]
