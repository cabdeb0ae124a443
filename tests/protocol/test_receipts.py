"""Receipts and recalls a member signs: their objects, signatures and shape checks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from vigil.crypto.keys import generate_sign_key, sign_key_id, sign_public_raw
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, verify
from vigil.errors import CryptoError, InputError
from vigil.protocol.receipts import (
    check_recall,
    check_receipt,
    recall_object,
    receipt_object,
    sign_recall,
    sign_receipt,
)

KEY = generate_sign_key(False)
SHARE = f"share--{uuid.uuid4()}"
MEMBER = f"identity--{uuid.uuid4()}"
AT = "2026-01-01T00:00:00.000Z"


def receipt(**over: Any) -> dict[str, Any]:
    return {**receipt_object(SHARE, MEMBER, "opened", sign_key_id(KEY), at=AT), **over}


def test_good_objects_pass_and_are_signed_under_their_own_tags() -> None:
    r, c = receipt(), recall_object(SHARE, MEMBER, sign_key_id(KEY), at=AT)
    assert check_receipt(r) == r and check_recall(c) == c
    verify(TAG_RECEIPT, r, sign_receipt(r, KEY), sign_public_raw(KEY))
    verify(TAG_RECALL, c, sign_recall(c, KEY), sign_public_raw(KEY))
    with pytest.raises(CryptoError):  # a receipt's signature is no recall's
        verify(TAG_RECALL, r, sign_receipt(r, KEY), sign_public_raw(KEY))


@pytest.mark.parametrize(("obj", "pointer"), [
    ([], "/receipt"),
    (receipt(extra=1), "/receipt/extra"),
    ({k: v for k, v in receipt().items() if k != "at"}, "/receipt/at"),
    (receipt(v=True), "/receipt/v"),
    (receipt(v=2), "/receipt/v"),
    (receipt(kind="recall"), "/receipt/kind"),
    (receipt(share="share--1"), "/receipt/share"),
    (receipt(member="alpha"), "/receipt/member"),
    (receipt(at="2026-01-01T00:00:00Z"), "/receipt/at"),
    (receipt(key="x25519:" + "0" * 32), "/receipt/key"),
    (receipt(what="deleted"), "/receipt/what"),
])
def test_a_malformed_receipt_names_its_fault(obj: Any, pointer: str) -> None:
    with pytest.raises(InputError) as info:
        check_receipt(obj)
    assert (info.value.code, info.value.pointer) == ("receipt.malformed", pointer)


def test_a_recall_is_checked_as_a_recall() -> None:
    with pytest.raises(InputError) as info:
        check_recall(receipt())
    assert info.value.code == "recall.malformed"
