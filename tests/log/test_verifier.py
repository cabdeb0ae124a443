"""A member's side of the log (``vigil.log.verifier``) against a node's real log: the
first checkpoint trusted on first use, larger and smaller ones accepted with a consistency
proof, a rollback of the latest or a proof that fails refused and kept as evidence, a
checkpoint of another key refused, state kept across restarts, and an entry checked by
its inclusion proof."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from vigil.crypto.encoding import b64u
from vigil.errors import CryptoError, InputError
from vigil.log.entries import entry_bytes
from vigil.log.verifier import LogVerifier
from vigil.model import Actor, Tlp
from vigil.storage import logtree
from vigil.testing import four_member_exchange
from vigil.testing.stix import ioc_bundle


def test_checkpoints_against_a_node_s_log(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        log = ex.log
        alpha = node.members["alpha"].id
        for i in range(4):
            ex.publish_bundle(
                Actor(alpha), ioc_bundle(f"45.0.0.{i}"), ex.make_request(alpha, tlp=Tlp.GREEN)
            )
        big = log.size()
        state = tmp_path / "log-state.json"

        def verifier(fetch: object = None) -> LogVerifier:
            return LogVerifier(
                log.origin, log.key_name, log.public_raw, fetch or log.consistency, state
            )  # type: ignore[arg-type]

        v = verifier()
        small_note = log.checkpoint(big - 3)[1]
        v.accept(small_note)
        assert v.first_use and v.state()["size"] == big - 3
        v.accept(log.checkpoint(big)[1], latest=True)  # grows, with a proof
        v.accept(log.checkpoint(big - 1)[1])  # a prefix of the latest, with a proof
        assert v.state()["size"] == big and v.state()["evidence"] == []
        with pytest.raises(CryptoError) as e:
            v.accept(small_note, latest=True)  # the node's newest below what it showed
        assert e.value.code == "log.rollback"
        assert v.state()["evidence"][0]["kind"] == "rollback"

        again = verifier()  # restarted: the latest accepted and the evidence kept
        assert again.state()["size"] == big and not again.first_use
        assert len(again.state()["evidence"]) == 1
        liar = LogVerifier(
            log.origin, log.key_name, log.public_raw, lambda a, b: [b"\x00" * 32] * 3, None
        )
        liar.accept(log.checkpoint(big - 3)[1])
        with pytest.raises(CryptoError) as e:
            liar.accept(log.checkpoint(big)[1])
        assert e.value.code == "log.fork" and liar.state()["size"] == big - 3
        other = four_member_exchange(tmp_path / "other")[1]
        try:
            with pytest.raises(Exception):  # noqa: B017 - signed by another key
                v.accept(other.log.checkpoint()[1])
        finally:
            other.store.close()
    finally:
        ex.store.close()


def test_an_entry_by_its_inclusion_proof(tmp_path: Path) -> None:
    _node, ex = four_member_exchange(tmp_path / "node")
    try:
        log = ex.log
        size = log.size()
        _cp, note = log.checkpoint(size)
        v = LogVerifier(log.origin, log.key_name, log.public_raw, log.consistency)
        rows = ex.store.read(lambda sql: logtree.entries(sql, 0, size))
        for index, data in rows:
            entry = orjson.loads(data)
            assert entry_bytes(entry) == data
            proof = {
                "index": index,
                "size": size,
                "checkpoint": note,
                "proof": [b64u(h) for h in log.inclusion(index, size)],
            }
            assert v.verify_entry(entry, proof) == index
        index, data = rows[0]
        other = orjson.loads(rows[1][1])
        proof = {
            "index": index,
            "size": size,
            "checkpoint": note,
            "proof": [b64u(h) for h in log.inclusion(index, size)],
        }
        with pytest.raises(CryptoError):
            v.verify_entry(other, proof)  # not the entry at that index
        with pytest.raises(CryptoError) as e:
            v.verify_entry(orjson.loads(data), None)
        assert e.value.code == "log.missing_proof"
        with pytest.raises(InputError):
            v.verify_entry(orjson.loads(data), {"index": "x", "size": size, "checkpoint": note})
        with pytest.raises(CryptoError) as e:
            v.verify_entry(orjson.loads(data), {**proof, "size": size + 1})
        assert e.value.code == "log.bad_inclusion"
    finally:
        ex.store.close()
