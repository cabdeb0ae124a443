"""Signed key statements (``vigil.protocol.key_statements``): a rotation, a recovery-key
registration and a recovery made by a member's keys pass the check with the signatures
of the right keys; a statement of another member or event, a changed or missing field, a
key id that does not name its key, or a signature by another key is refused."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from vigil.crypto.encoding import b64u
from vigil.crypto.keyring import Keyring
from vigil.errors import CryptoError, InputError
from vigil.protocol import key_statements as ks

MEMBER = f"identity--{uuid.uuid4()}"


@pytest.fixture(scope="module")
def rings() -> tuple[Keyring, Keyring, Keyring]:
    return (
        Keyring.generate(MEMBER, hybrid=False),
        Keyring.generate(MEMBER, hybrid=False),
        Keyring.generate(MEMBER, hybrid=False),
    )


def refused(doc: Any, event: str, member: str = MEMBER) -> str:
    with pytest.raises(InputError) as e:
        ks.check(doc, member, event)
    assert e.value.code == "keys.bad_statement"
    return str(e.value)


def test_a_rotation_checks_with_both_signatures(rings: tuple[Keyring, ...]) -> None:
    old, new, _ = rings
    doc = ks.signed(ks.rotation(MEMBER, old, new), old=old.sign_private, new=new.sign_private)
    st, sigs = ks.check(doc, MEMBER, "rotate")
    assert st["previous"] == {"sign_key": old.sign_key_id, "enc_key": old.enc_key_id}
    assert st["sign_key"]["id"] == new.sign_key_id
    ks.check_signature(st, sigs["old"], old.sign_public, "old")
    ks.check_signature(st, sigs["new"], new.sign_public, "new")
    with pytest.raises(CryptoError) as e:
        ks.check_signature(st, sigs["old"], new.sign_public, "old")
    assert e.value.code == "keys.bad_signature"
    changed = copy.deepcopy(st)
    changed["at"] = "2020-01-01T00:00:00.000Z"
    with pytest.raises(CryptoError):
        ks.check_signature(changed, sigs["new"], new.sign_public, "new")


def test_recovery_key_and_recovery(rings: tuple[Keyring, ...]) -> None:
    old, new, recovery = rings
    reg = ks.signed(
        ks.recovery_key(old, recovery.sign_private), old=old.sign_private, new=recovery.sign_private
    )
    st, _ = ks.check(reg, MEMBER, "recovery-key")
    assert st["recovery_key"]["id"] == recovery.sign_key_id
    rec = ks.signed(
        ks.rotation(
            MEMBER, {"sign_key": old.sign_key_id, "enc_key": old.enc_key_id}, new, event="recover"
        ),
        recovery=recovery.sign_private,
        new=new.sign_private,
    )
    st, sigs = ks.check(rec, MEMBER, "recover")
    ks.check_signature(st, sigs["recovery"], recovery.sign_public, "recovery")
    assert "signatures must be" in refused(
        ks.signed(dict(rec["statement"]), old=old.sign_private, new=new.sign_private), "recover"
    )


def test_malformed_statements_are_refused(rings: tuple[Keyring, ...]) -> None:
    old, new, _ = rings
    doc = ks.signed(ks.rotation(MEMBER, old, new), old=old.sign_private, new=new.sign_private)
    assert "a member states only its own keys" in refused(
        doc, "rotate", f"identity--{uuid.uuid4()}"
    )
    assert "not a recover statement" in refused(doc, "recover")
    assert "{statement, signatures}" in refused({"statement": doc["statement"]}, "rotate")

    def with_(path: str, value: Any) -> dict[str, Any]:
        d = copy.deepcopy(doc)
        node = d
        *parents, last = path.split("/")
        for p in parents:
            node = node[p]
        if value is ...:
            del node[last]
        else:
            node[last] = value
        return d

    assert "fields must be" in refused(with_("statement/enc_key", ...), "rotate")
    assert "at is not" in refused(with_("statement/at", "yesterday"), "rotate")
    assert "previous must be" in refused(with_("statement/previous", {"sign_key": "x"}), "rotate")
    assert "base64url" in refused(with_("signatures/old", "***"), "rotate")
    other = Keyring.generate(MEMBER, hybrid=False)
    wrong_id = {"id": new.sign_key_id, "public": b64u(other.sign_public)}
    assert "does not name its public key" in refused(
        with_("statement/sign_key", wrong_id), "rotate"
    )
    enc_as_sign = {"id": new.enc_key_id, "public": b64u(new.enc_public)}
    assert "sign_key" in refused(with_("statement/sign_key", enc_as_sign), "rotate")
    assert "is not a public key" in refused(
        with_("statement/enc_key", {"id": new.enc_key_id, "public": b64u(b"short")}), "rotate"
    )
