"""What a node knows of its members' keys beyond the current ones
(``vigil.node.keybook``): key records read once per directory version, a member's current
or retired signing key found and any other refused, new shares signed with a revoked,
retired or expired key refused, and the shares a revocation marks."""

from __future__ import annotations

import uuid

import pytest
from tests.storage.conftest import member, store  # noqa: F401

from vigil.errors import CryptoError, PolicyDenied
from vigil.node.keybook import KeyBook
from vigil.storage import Store
from vigil.storage import keys as keys_sql
from vigil.storage.base import Sql


def test_records_signers_and_marks(store: Store) -> None:  # noqa: F811
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    book = KeyBook(store)
    d0 = store.directory()
    assert book.records(d0) == {} and book.marked(d0, ["s1"]) == set()

    def change(sql: Sql) -> None:
        keys_sql.retire_key(sql, a.id, "ed25519:old", "sign", b"OLD", "2026-01-01T00:00:00Z")
        keys_sql.revoke_key(
            sql,
            a.id,
            "ed25519:bad",
            "sign",
            b"BAD",
            "2026-02-01T00:00:00Z",
            "2026-02-02T00:00:00Z",
            5,
        )
        keys_sql.retire_key(sql, a.id, "x25519:enc", "enc", b"ENC", "2026-01-01T00:00:00Z")
        keys_sql.mark_share(sql, "s2", "ed25519:bad", "2026-02-02T00:00:00Z")
        keys_sql.bump_directory(sql)

    store.write(change)
    assert book.records(d0) == {}  # read once per directory version: d0's is cached
    d1 = store.directory()
    assert d1 is not d0
    assert set(book.records(d1)) == {"ed25519:old", "ed25519:bad", "x25519:enc"}
    assert [r.key_id for r in book.of_member(d1, a.id)] == [
        "x25519:enc",
        "ed25519:old",
        "ed25519:bad",
    ]  # by use, then retired first
    assert book.of_member(d1, b.id) == []
    assert book.revoked(d1, "ed25519:bad") is not None
    assert book.revoked(d1, "ed25519:old") is None and book.revoked(d1, None) is None
    assert book.marked(d1, ["s1", "s2"]) == {"s2"}
    assert book.signer(d1, a.id, a.sign_key_id) == a.sign_key  # current
    assert book.signer(d1, a.id, "ed25519:old") == b"OLD"  # retired: still verifies
    assert book.signer(d1, a.id, "ed25519:bad") == b"BAD"  # revoked: the gate marks
    for who, kid in ((b.id, "ed25519:old"), (a.id, "x25519:enc"), (a.id, "ed25519:none")):
        with pytest.raises(CryptoError) as e:
            book.signer(d1, who, kid)
        assert e.value.code == "crypto.unknown_key"
    rec = book.get(d1, "ed25519:bad")
    assert rec is not None and rec.to_json()["revoked"] == {
        "since": "2026-02-01T00:00:00Z",
        "at": "2026-02-02T00:00:00Z",
        "from_index": 5,
    }
    assert book.get(d1, "ed25519:old").to_json()["revoked"] is None  # type: ignore[union-attr]


def test_new_shares_signed_with_a_key_out_of_use_are_refused(store: Store) -> None:  # noqa: F811
    a = member("a")
    store.add_member(a)

    def change(sql: Sql) -> None:
        keys_sql.revoke_key(sql, a.id, "ed25519:bad", "sign", b"B", "t0", "t1", 1)
        keys_sql.retire_key(sql, a.id, "ed25519:old", "sign", b"O", "t0")
        keys_sql.expire_key(sql, a.id, "ed25519:gone", "sign", b"G", "2020-01-01T00:00:00Z")
        keys_sql.expire_key(sql, a.id, "ed25519:later", "sign", b"L", "2999-01-01T00:00:00Z")
        keys_sql.bump_directory(sql)

    store.write(change)
    book, d = KeyBook(store), store.directory()
    for kid, code in (
        ("ed25519:bad", "keys.revoked"),
        ("ed25519:old", "keys.retired"),
        ("ed25519:gone", "keys.expired"),
    ):
        with pytest.raises(PolicyDenied) as e:
            book.check_signing(d, {"key": kid})  # type: ignore[typeddict-item]
        assert e.value.code == code
    for kid in ("ed25519:later", a.sign_key_id, f"ed25519:{uuid.uuid4().hex}"):
        book.check_signing(d, {"key": kid})  # type: ignore[typeddict-item]
