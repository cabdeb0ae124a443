"""The trust tables on PostgreSQL: witnessing, fork evidence, the directory log,
revocations and the roster, as on SQLite."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.keys import enc_public_raw, generate_enc_key, generate_sign_key, sign_public_raw
from vigil.directory.entries import next_entry, sign_entry, sign_kid
from vigil.directory.log import DirectoryLog
from vigil.directory.revocation import Revocations
from vigil.log.tree import StoredLog
from vigil.roster.roster import Roster
from vigil.roster.statements import statement
from vigil.storage import open_store
from vigil.witness.alarms import Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness, static_logs
from vigil.witness.wire import format_request


def test_trust_on_postgresql(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        node, key = f"node--{uuid.uuid4()}", Ed25519PrivateKey.generate()
        log = StoredLog(store, node, key)
        for i in range(3):
            store.write(lambda sql, i=i: log.append(sql, {"v": 1, "kind": "t", "n": i}))
        alarms = Alarms(store)
        w = Witness(store, "vigil.example/witness/w", Ed25519PrivateKey.generate(),
                    static_logs({log.origin: log.public_raw}), alarms)

        def submit(body: bytes) -> tuple[int, str, bytes]:
            a = w.add_checkpoint(body)
            return a.status, a.content_type, a.body
        col = Collector(store, [log])
        assert col.submit(log, WitnessPeer(w.name, w.public_raw, submit))
        assert col.witnessed_size(log.origin, 1) == 3
        store.write(lambda sql: log.append(sql, {"v": 1, "kind": "t", "n": 3}))
        _, note = log.checkpoint()
        assert w.add_checkpoint(format_request(3, [bytes(32)], note)).status == 422
        assert alarms.refuses(node) and alarms.evidence()[0]["kind"] == "inconsistent"
        d = DirectoryLog(store, node, key)
        member, sk = f"identity--{uuid.uuid4()}", generate_sign_key(False)
        d.append(sign_entry(next_entry(None, "register", member, node, sign_key=sk,
                                       enc_key=enc_public_raw(generate_enc_key(False))),
                            sk, key))
        revoke = sign_entry(next_entry(d.keys(member), "revoke", member, node, by="node",
                                       after=2), None, key)
        d.append(revoke)
        assert DirectoryLog(store, node, key).size() == 2
        revs = Revocations(store)
        kid = sign_kid(sign_public_raw(sk))
        store.write(lambda sql: revs.record_use(sql, "share--a", node, kid, 5))
        # the batch forms: one statement for the points, one for the uses
        store.write(lambda sql: revs.record_uses(sql, [("share--b", node, kid, 1),
                                                       ("share--a", node, kid, 9)]))
        assert store.read(lambda sql: revs.points(sql, [kid, "ed25519:other"])) == {
            kid: None, "ed25519:other": None}
        assert revs.learn(revoke, key.public_key().public_bytes_raw()) == 1
        assert store.read(lambda sql: revs.points(sql, [kid])) == {kid: 2}
        assert revs.marked_shares() == ["share--a"]
        assert revs.use("share--b") == (node, 1, False)
        assert revs.use("share--a") == (node, 5, True)  # the first use stays
        r = Roster(store)
        k2 = Ed25519PrivateKey.generate()
        other = f"node--{uuid.uuid4()}"
        g = statement("genesis", 0, None, nodes={node: key.public_key().public_bytes_raw(),
                                                 other: k2.public_key().public_bytes_raw()})
        r.apply(g.cosign(node, key).cosign(other, k2))
        assert Roster(store).nodes == r.nodes
    finally:
        store.close()
