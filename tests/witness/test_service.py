"""add-checkpoint exactly as c2sp.org/tlog-witness says, and fork evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.federation.trust.conftest import Node, introduce, make_trust_node

from vigil.errors import PolicyDenied
from vigil.log.checkpoint import check_fork
from vigil.protocol.cosignature import cosigners
from vigil.witness.wire import SIZE_CONTENT_TYPE, format_request, parse_cosignatures


def _submit(witness_node: Node, old: int, proof: list[bytes], note: str) -> tuple[int, str, bytes]:
    a = witness_node.witness.add_checkpoint(format_request(old, proof, note))
    return a.status, a.content_type, a.body


def test_add_checkpoint_statuses(trio: Callable[..., list[Node]]) -> None:
    log_node, w, _ = trio(3)
    log_node.append(3)
    cp3, note3 = log_node.log.checkpoint()
    # first checkpoint: old 0, empty proof -> 200 and a cosignature that verifies
    status, _, body = _submit(w, 0, [], note3)
    assert status == 200
    sigs = parse_cosignatures(body, cp3.body())
    assert cosigners((cp3.body(), sigs), {w.witness.name: w.witness.public_raw})
    # resubmitting from 0 -> 409 with the held size, as text/x.tlog.size
    status, ctype, body = _submit(w, 0, [], note3)
    assert (status, ctype, body) == (409, SIZE_CONTENT_TYPE, b"3\n")
    log_node.append(4)
    _cp7, note7 = log_node.log.checkpoint()
    good = log_node.log.consistency(3, 7)
    # a bad proof -> 422, kept as evidence, alarm raised on the log's node
    bad = [bytes(32), *good[1:]]
    assert _submit(w, 3, bad, note7)[0] == 422
    assert w.alarms.refuses(log_node.id)
    assert [e["kind"] for e in w.alarms.evidence(log_node.log.origin)] == ["inconsistent"]
    w.alarms.decide(log_node.id, "resume", "operator-1", "a bad proof, not a fork")
    assert _submit(w, 3, good, note7)[0] == 200
    # old size above the checkpoint size -> 400
    assert _submit(w, 9, [], note7)[0] == 400
    # a stale request after a newer one cannot roll the witness back
    assert _submit(w, 3, good, note7)[0] == 409


def test_unknown_origin_404_and_untrusted_signature_403(trio: Callable[..., list[Node]],
                                                       tmp_path: Path) -> None:
    log_node, w, _ = trio(3)
    stranger = make_trust_node(tmp_path / "stranger")
    stranger.append(1)
    assert _submit(w, 0, [], stranger.log.checkpoint()[1])[0] == 404
    # the known origin, signed by another key -> 403
    impostor = make_trust_node(tmp_path / "impostor", node_id=log_node.id)
    impostor.append(1)
    assert _submit(w, 0, [], impostor.log.checkpoint()[1])[0] == 403
    assert _submit(w, 0, [], "old 0\n")[0] == 400
    assert w.witness.add_checkpoint(b"no blank line").status == 400
    assert w.witness.add_checkpoint(b"old 01\n\n" + log_node.log.checkpoint()[1].encode()
                                    ).status == 400
    stranger.store.close()
    impostor.store.close()


def test_same_size_other_root_is_a_fork(trio: Callable[..., list[Node]],
                                        tmp_path: Path) -> None:
    log_node, w, _ = trio(3)
    twin = make_trust_node(tmp_path / "twin", node_id=log_node.id, key=log_node.key)
    log_node.append(2, "a")
    twin.append(2, "b")
    note_a, note_b = log_node.log.checkpoint()[1], twin.log.checkpoint()[1]
    assert _submit(w, 0, [], note_a)[0] == 200
    assert _submit(w, 2, [], note_b)[0] == 409
    [ev] = w.alarms.evidence()
    assert ev["kind"] == "fork" and sorted(ev["notes"]) == sorted([note_a, note_b])
    assert check_fork(ev["notes"][0], ev["notes"][1], log_node.log.key_name,
                      log_node.log.public_raw) is not None
    with pytest.raises(PolicyDenied) as e:
        w.alarms.check_intake(log_node.id)
    assert e.value.code == "fed.fork_alarm"
    # the forking log keeps submitting: refused, and the evidence is kept once
    for _ in range(3):
        assert _submit(w, 2, [], note_b)[0] == 409
        assert _submit(w, 2, [], note_a)[0] == 409
    assert len(w.alarms.evidence()) == 1
    twin.store.close()


def test_split_view_found_by_gossip_and_spread(trio: Callable[..., list[Node]],
                                              tmp_path: Path) -> None:
    """A node shows one history to p1 and another to p2, each consistent on its own:
    the peers' heartbeat gossip finds it, every honest node ends with the evidence,
    and items of the forking node are refused."""
    p1, p2, p3 = trio(3)
    rogue = make_trust_node(tmp_path / "rogue")
    twin = make_trust_node(tmp_path / "rogue-twin", node_id=rogue.id, key=rogue.key)
    introduce([p1, p2, p3, rogue])
    rogue.append(5, "a")
    twin.append(5, "b")
    assert _submit(p1, 0, [], rogue.log.checkpoint()[1])[0] == 200
    assert _submit(p2, 0, [], twin.log.checkpoint()[1])[0] == 200
    assert not p1.alarms.refuses(rogue.id) and not p2.alarms.refuses(rogue.id)
    # heartbeat: p2 hands p1 what it holds
    assert p1.witness.observe(p2.witness.holds()[rogue.log.origin], p2.witness.name) == rogue.id
    assert p1.alarms.refuses(rogue.id)
    assert p1.witness.observe(p2.witness.holds()[rogue.log.origin], p2.witness.name) is None
    assert len(p1.alarms.evidence()) == 1
    # p1's next heartbeat carries the evidence; p2 and p3 check it themselves
    [ev] = p1.alarms.evidence()
    for peer in (p2, p3):
        assert peer.witness.take_evidence(ev["notes"], p1.witness.name) == rogue.id
        assert peer.alarms.refuses(rogue.id)
        # every later heartbeat repeats it: nothing more is stored
        peer.witness.take_evidence(list(reversed(ev["notes"])), p1.witness.name)
        assert len(peer.alarms.evidence()) == 1
    # evidence that is not a fork convinces nobody
    honest = make_trust_node(tmp_path / "honest")
    introduce([p3, honest])
    honest.append(2)
    note = honest.log.checkpoint()[1]
    assert p3.witness.take_evidence([note, note], p1.witness.name) is None
    assert not p3.alarms.refuses(honest.id)
    for n in (rogue, twin, honest):
        n.store.close()


def test_witness_forgets_old_sizes_only(trio: Callable[..., list[Node]]) -> None:
    log_node, w, _ = trio(3)
    col = log_node.collector()
    for _ in range(6):
        log_node.append(1)
        assert col.submit(log_node.log, w.peer())
    assert w.witness.prune(keep=3) == 3
    sizes = [int(r[0]) for r in w.store.query("SELECT size FROM witness_roots ORDER BY size")]
    assert sizes == [4, 5, 6]
