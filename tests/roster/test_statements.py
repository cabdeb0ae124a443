"""Roster statements: their signatures, and who counts among the signers."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import CryptoError
from vigil.roster.statements import SignedStatement, statement, threshold

KEYS = {f"node--{i}": Ed25519PrivateKey.generate() for i in range(3)}
PUBLIC = {n: k.public_key().public_bytes_raw() for n, k in KEYS.items()}


def test_threshold_is_two_thirds_rounded_up() -> None:
    assert [threshold(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 4, 4, 5]


def test_only_valid_signatures_of_known_nodes_count() -> None:
    s = statement("admit", 3, "sha256:" + "0" * 64, node="node--9", key=b"k" * 32)
    s = s.cosign("node--0", KEYS["node--0"]).cosign("node--1", KEYS["node--1"])
    assert s.signers(PUBLIC) == {"node--0", "node--1"}
    assert s.signers({"node--0": PUBLIC["node--0"]}) == {"node--0"}  # node--1 not on it
    forged = SignedStatement(s.statement, {**s.signatures,
                                           "node--2": s.signatures["node--0"]})
    assert forged.signers(PUBLIC) == {"node--0", "node--1"}  # another's signature
    garbled = SignedStatement(s.statement, {"node--0": "!!"})
    assert garbled.signers(PUBLIC) == set()
    changed = SignedStatement({**s.statement, "seq": 4}, s.signatures)
    assert changed.signers(PUBLIC) == set()


def test_a_statement_round_trips_and_its_digest_covers_the_signatures() -> None:
    s = statement("genesis", 0, None, nodes=PUBLIC).cosign("node--0", KEYS["node--0"])
    again = SignedStatement.from_json(s.to_json())
    assert again == s and again.digest() == s.digest()
    assert s.digest() != s.cosign("node--1", KEYS["node--1"]).digest()
    assert s.statement["kind"] == "genesis" and s.statement["key"] is None
    assert set(s.statement["nodes"]) == set(PUBLIC)


@pytest.mark.parametrize("obj", [[], {"statement": {}}, {"statement": [], "signatures": {}},
                                 {"statement": {}, "signatures": {}, "extra": 1}])
def test_what_is_not_a_statement_is_refused(obj: object) -> None:
    with pytest.raises(CryptoError) as info:
        SignedStatement.from_json(obj)
    assert info.value.code == "roster.bad_statement"
    with pytest.raises(CryptoError):
        statement("crown", 1, None)
