"""The reference resolution of a MISP import gives exactly what the plain way gives:
every object's references read by a walk of the whole object, and every object looked
at again in every pass until a pass changes nothing (the two functions below, as they
were before the quicker ones), on random objects and object graphs."""

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


def plain_refs(value: Any, out: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                if k.endswith("_ref"):
                    out.append((k, v))
            elif k.endswith("_refs") and isinstance(v, list):
                out.extend((k, x) for x in v if isinstance(x, str))
            elif isinstance(v, dict | list):
                plain_refs(v, out)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict | list):
                plain_refs(v, out)
    return out


def plain_resolve(objects: list[dict[str, Any]], pointer_of: Any,
                  losses: list[Loss]) -> list[dict[str, Any]]:
    kept = {o["id"]: o for o in objects}
    refs = {oid: [(k, r) for k, r in plain_refs(o, []) if r not in STANDARD_MARKINGS]
            for oid, o in kept.items()}
    while True:
        changed = False
        for oid, obj in list(kept.items()):
            missing = [(k, r) for k, r in refs[oid] if r not in kept]
            if not missing:
                continue
            changed = True
            if all(k == CONTAINER_REFS for k, _ in missing) and \
                    len(obj.get(CONTAINER_REFS, ())) > len(missing):
                gone = {r for _, r in missing}
                kept[oid] = {**obj, CONTAINER_REFS: [r for r in obj[CONTAINER_REFS]
                                                       if r not in gone]}
                refs[oid] = [(k, r) for k, r in refs[oid] if r not in gone]
                continue
            k, r = missing[0]
            losses.append(Loss(pointer_of(oid), oid, "misp.dangling_reference",
                               f"{k} points at {r}, which is not in the share"))
            del kept[oid]
        if not changed:
            return [kept[o["id"]] for o in objects if o["id"] in kept]


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
    assert object_references(value, []) == plain_refs(value, [])


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
def test_resolution_equals_looking_at_every_object_in_every_pass(
        objects: list[dict[str, Any]]) -> None:
    got: list[Loss] = []
    want: list[Loss] = []
    assert resolve_references(objects, lambda i: f"/x/{i}", got) == \
        plain_resolve(objects, lambda i: f"/x/{i}", want)
    assert got == want


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
    assert [x.stix_id for x in losses] == [a, b, c, g] == \
        [x.stix_id for x in _plain_losses(objects)]


def _plain_losses(objects: list[dict[str, Any]]) -> list[Loss]:
    out: list[Loss] = []
    plain_resolve(objects, str, out)
    return out
