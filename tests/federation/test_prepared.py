"""A batch's share items prepared before its transaction: each envelope parsed once, its
signature checked under the originator's key and its log proof against the batch's one
checkpoint (verified once); a malformed envelope, a signature under another key and a
proof of another root each refused with its code when the transaction asks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from tests.federation.pairs import batch, network, publish, sync

from vigil.crypto.encoding import b64u
from vigil.errors import VigilError
from vigil.federation.prepared import Prepared, prepare
from vigil.log.checkpoint import Checkpoint


def test_share_items_prepared_once(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True}}) as (a, b):
        sids = [publish(a, "alpha", ["member:bravo@berlin"]) for _ in range(2)]
        sync(a, b)
        data = batch(a, b)
        items = [(it["kind"], body) for it, body in
                 zip(data["batch"]["items"], data["bodies"], strict=True)]
        shares = [body for kind, body in items if kind == "share"]
        peer = b.peers["athens"]
        checkpoints: dict[str, Checkpoint] = {}
        ready = prepare(b.ex, peer, [*items, ("share", {"gone": True})], checkpoints)
        assert sorted(ready) == sorted(id(s) for s in shares) and len(checkpoints) == 1
        alpha_key = b.ex.directory().members[a.id("alpha")].sign_key
        for body, sid in zip(shares, sids, strict=True):
            pre = ready[id(body)]
            assert pre.envelope().id == sid and pre.signed == (alpha_key, None)
            assert isinstance(pre.proof, int)
            assert pre.prove(peer, checkpoints) == pre.proof
            pre.verify(alpha_key)  # the outcome kept: no second check

        def code(pre: Prepared, step: str) -> str:
            with pytest.raises(VigilError) as caught:
                if step == "verify":
                    pre.verify(alpha_key)
                elif step == "prove":
                    pre.prove(peer, {})
                else:
                    pre.envelope()
            return caught.value.code

        resigned = copy.deepcopy(shares[0])
        resigned["envelope"]["signature"] = b64u(bytes(len(
            resigned["envelope"]["signature"]) * 3 // 4))
        assert code(Prepared(resigned), "verify") == "fed.bad_originator_signature"
        moved = copy.deepcopy(shares[0])
        moved["log"]["root"] = b64u(bytes(32))
        assert code(Prepared(moved), "prove") == "fed.bad_log_proof"
        broken = copy.deepcopy(shares[0])
        broken["envelope"] = {"header": "not an object"}
        assert code(Prepared(broken), "envelope") == "fed.bad_item"
