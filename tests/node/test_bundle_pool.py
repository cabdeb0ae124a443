"""Large posted bundles are parsed, validated and sealed in a worker process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.crypto.seal import open_payload
from vigil.errors import InputError, PolicyDenied, StixError
from vigil.model import Actor, Form, Tlp
from vigil.node.bundle_pool import BundlePool, check_bundle
from vigil.node.exchange import Exchange
from vigil.protocol.envelope import open_share
from vigil.testing import TestNode, make_node, stix

TS = "2026-11-29T08:00:00.000Z"


def bundle(n: int, marking: str | None = None) -> bytes:
    objs = [stix.indicator(f"h{i}.pool.example", at=TS) for i in range(n)]
    if marking:
        objs[0]["object_marking_refs"] = [marking]
    return json.dumps(stix.bundle_doc(*objs)).encode()


@pytest.fixture
def pool() -> Iterator[BundlePool]:
    p = BundlePool(1, threshold=4096)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def node(tmp_path: Path) -> TestNode:
    return make_node(tmp_path / "node", {"alpha": True, "bravo": True}, hybrid=False)


def test_worker_checks_what_the_thread_checks(pool: BundlePool) -> None:
    small, large = bundle(2), bundle(200)
    assert pool.check(small, 1 << 20).objects == 2 and pool.offloaded == 0
    assert pool.check(large, 1 << 20) == check_bundle(large, 1 << 20) and pool.offloaded == 1
    bad = large.replace(b".pool.example']", b".pool.example'", 1)
    with pytest.raises(StixError) as inline:
        check_bundle(bad, 1 << 20)
    with pytest.raises(StixError) as err:
        pool.check(bad, 1 << 20)
    assert (err.value.code, err.value.pointer, err.value.detail) == \
        (inline.value.code, inline.value.pointer, inline.value.detail)
    red = bundle(200, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1")
    with pytest.raises(PolicyDenied) as denied:
        pool.check(red, 1 << 20, Tlp.AMBER)
    assert denied.value.code == "policy.tlp_below_marking" and pool.offloaded == 3


def test_sealed_share_checked_and_sealed_in_a_worker_opens_for_its_recipient(
        node: TestNode, pool: BundlePool) -> None:
    ex: Exchange = node.exchange()
    try:
        ex.bundles = pool
        a, b = node.members["alpha"], node.members["bravo"]
        raw = bundle(300)
        pub = ex.publish_bundle(Actor(a.id, "u"), raw, ex.make_request(
            a.id, tlp=Tlp.AMBER, to=["member:bravo"]))
        assert pool.offloaded == 1
        env = pub.envelope
        assert env.form is Form.SEALED and raw not in env.payload
        assert open_share(env, b.id, b.keyring.enc_private) == raw
        stored = ex.store.read(lambda sql: sql.execute(
            "SELECT objects FROM ledger_shares WHERE share_id=?", (env.id,)).fetchone())
        assert stored[0] == 300
        with pytest.raises(InputError):
            ex.publish_bundle(Actor(a.id, "u"), raw[:-2], ex.make_request(
                a.id, tlp=Tlp.AMBER, to=["member:bravo"]))
        assert pool.offloaded == 2 and len(list(ex.sent(a.id))) == 1
    finally:
        ex.store.close()


def test_workers_run_at_a_lower_priority_than_the_server(pool: BundlePool) -> None:
    """A member's large bundles are checked with spare CPU: the workers' niceness is
    WORKER_NICE above the serving process's."""
    import os

    from vigil.node.bundle_pool import WORKER_NICE

    here = os.nice(0)
    there = pool._executor().submit(os.nice, 0).result(timeout=60)
    assert there == min(here + WORKER_NICE, 19)


def test_a_valid_bundle_is_not_validated_again(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle the node wrote from objects its validator passed is published without
    its bytes being parsed or validated again; the same bytes posted are."""
    from vigil.stix.validate import ObjectChecker

    node = make_node(tmp_path / "n", {"alpha": True, "bravo": True})
    ex = node.exchange()
    calls: list[int] = []
    real = check_bundle

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("vigil.node.bundle_pool.check_bundle", counted)
    try:
        actor = Actor(node.members["alpha"].id, "t")
        checker = ObjectChecker()
        objects = json.loads(bundle(3))["objects"]
        assert all(checker.check(o) == [] for o in objects)
        valid = checker.bundle(objects)
        assert valid is not None
        req = ex.make_request(actor.member, tlp=Tlp.CLEAR, to=())
        pub = ex.publish_bundle(actor, valid.raw, req, valid=valid)
        assert calls == []
        plain = ex.open(actor.member, pub.envelope)
        assert plain == valid.raw
        with pytest.raises(ValueError):
            ex.publish_bundle(actor, bytes(bytearray(valid.raw)), req, valid=valid)
        ex.publish_bundle(actor, bytes(bytearray(valid.raw)), req)  # posted: checked
        assert calls == [1]
        # the marking is still checked against the share's TLP
        marked = json.loads(bundle(1, "marking-definition--5e57c739-391a-4eb3-b6be-"
                                      "7d15ca92d5ed"))["objects"]
        red = checker.bundle(marked)
        assert red is not None
        with pytest.raises(PolicyDenied):
            ex.publish_bundle(actor, red.raw, req, valid=red)
    finally:
        ex.store.close()


def test_run_lends_a_worker_to_large_work_and_answers_in_pieces(
        pool: BundlePool, monkeypatch: pytest.MonkeyPatch) -> None:
    import vigil.node.bundle_pool as bp
    from vigil.taxii.index import opened_rows

    monkeypatch.setattr(bp, "PIECE", 7)
    loaded = []
    real = bp.pickle.loads
    monkeypatch.setattr(bp.pickle, "loads", lambda b: loaded.append(b) or real(b))
    small, large = bundle(2), bundle(50)
    at = "2026-12-07T00:00:00Z"
    assert pool.run(opened_rows, small, at) == opened_rows(small, at) and pool.offloaded == 0
    got = pool.run(opened_rows, large, at)
    assert got == opened_rows(large, at) and len(got) == 50 and pool.offloaded == 1
    assert len(loaded) == 8  # 50 items, 7 at a time
    with pytest.raises(ValueError):  # the worker's error, raised here
        pool.run(opened_rows, large[:-2], at)


def test_large_values_travel_through_memory_files_and_none_is_left(
        pool: BundlePool, monkeypatch: pytest.MonkeyPatch) -> None:
    import vigil.node.bundle_pool as bp
    from vigil.node import spill
    from vigil.taxii.index import opened_rows

    if not spill.DIRECTORY.is_dir():
        pytest.skip("no /dev/shm")
    sent: list[object] = []
    real = bp.spill
    monkeypatch.setattr(bp, "spill", lambda b: sent.append(s := real(b)) or s)
    monkeypatch.setattr(spill, "MIN", 4096)  # (read by this process only)
    before = set(spill.DIRECTORY.glob(spill.PREFIX + "*"))
    large = bundle(200)
    c = pool.check(large, 1 << 20, Tlp.AMBER, "share--1")
    assert c.objects == 200 and c.sealed is not None and pool.offloaded == 1
    assert open_payload("share--1", c.sealed[0], c.sealed[1]) == large
    assert pool.run(opened_rows, large, "x") == opened_rows(large, "x")
    with pytest.raises(StixError):
        pool.check(large.replace(b"'h1.", b"h1.", 1), 1 << 20)
    assert [type(s) for s in sent] == [spill.Spilled] * 3
    assert set(spill.DIRECTORY.glob(spill.PREFIX + "*")) == before
