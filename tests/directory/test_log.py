"""One node's directory log on its store: entries appended only when they follow the
member's chain, a transaction's other writes committed with the entry or neither, the
tree's checkpoints signed under the directory origin with inclusion and consistency
proofs that verify, and another instance on the same store seeing what was appended."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.keys import SignPrivate, enc_public_raw, generate_enc_key, generate_sign_key
from vigil.directory.entries import SignedEntry, next_entry, sign_entry
from vigil.directory.log import DirectoryLog, directory_origin
from vigil.errors import CryptoError
from vigil.log.checkpoint import verify_checkpoint
from vigil.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from vigil.storage import open_store
from vigil.storage.base import Sql


def test_a_directory_log(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        node, key = f"node--{uuid.uuid4()}", Ed25519PrivateKey.generate()
        d = DirectoryLog(store, node, key)
        assert d.origin == directory_origin(node) and d.size() == 0
        m1, m2 = (f"identity--{uuid.uuid4()}" for _ in range(2))
        sk1, sk2 = generate_sign_key(False), generate_sign_key(False)

        def register(member: str, sk: SignPrivate) -> SignedEntry:
            return sign_entry(next_entry(None, "register", member, node, sign_key=sk,
                                         enc_key=enc_public_raw(generate_enc_key(False))),
                              sk, key)

        assert d.append(register(m1, sk1)) == 0
        cp1, note1 = d.checkpoint()
        with pytest.raises(CryptoError):  # m1 has a chain: a second register is refused
            d.append(register(m1, sk1))

        def fails(sql: Sql) -> None:
            raise RuntimeError("the other write failed")

        with pytest.raises(RuntimeError):  # neither the entry nor the other write
            d.append(register(m2, sk2), also=fails)
        assert d.size() == 1
        assert d.append(register(m2, sk2)) == 1
        new = generate_sign_key(False)
        rotate = next_entry(d.keys(m1), "rotate", m1, node, sign_key=new)
        assert d.append(sign_entry(rotate, sk1, key)) == 2
        assert [i for i, _ in d.member_entries(m1)] == [0, 2]
        assert d.keys(m1).seq == 1 and d.keys(m2).seq == 0
        cp, note = d.checkpoint()
        assert cp.size == 3 and verify_checkpoint(note, d.key_name, d.public_raw) == cp
        for i, e in d.entries():
            verify_inclusion(leaf_hash(e.data()), i, 3, d.inclusion(i, 3), cp.root)
        verify_consistency(1, 3, d.consistency(1, 3), cp1.root, cp.root)
        assert d.checkpoint(1) == (cp1, note1)
        other = DirectoryLog(store, node, key)  # another writer's view of the same store
        assert other.size() == 3 and other.keys(m1) == d.keys(m1)
    finally:
        store.close()
