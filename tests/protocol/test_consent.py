"""The consent answer an originator signs, under its own tag."""

from __future__ import annotations

import pytest

from vigil.crypto.keys import generate_sign_key, sign_public_raw
from vigil.crypto.sign import verify
from vigil.errors import CryptoError
from vigil.protocol.consent import ANSWER_FIELDS, TAG_CONSENT, answer_object, sign_answer

REQUEST = {"id": "req-1", "share": "share--1", "asker": "bravo", "originator": "alpha",
           "use": "court", "state": "open", "extra": "not copied"}


def test_the_answer_names_the_request_and_only_its_fields() -> None:
    obj = answer_object(REQUEST, "grant", "key-1", until="2027-01-01T00:00:00.000Z",
                        at="2026-01-01T00:00:00.000Z")
    assert set(obj) == ANSWER_FIELDS
    assert obj == {"v": 1, "kind": "consent", "request": "req-1", "share": "share--1",
                   "asker": "bravo", "originator": "alpha", "use": "court",
                   "answer": "grant", "until": "2027-01-01T00:00:00.000Z",
                   "at": "2026-01-01T00:00:00.000Z", "key": "key-1"}
    assert answer_object(REQUEST, "refuse", "k")["at"]  # now, when not given


def test_the_signature_holds_for_that_answer_under_the_consent_tag_only() -> None:
    key = generate_sign_key(hybrid=False)
    obj = answer_object(REQUEST, "grant", "key-1", at="2026-01-01T00:00:00.000Z")
    sig = sign_answer(obj, key)
    verify(TAG_CONSENT, obj, sig, sign_public_raw(key))
    with pytest.raises(CryptoError):
        verify(TAG_CONSENT, {**obj, "answer": "refuse"}, sig, sign_public_raw(key))
    with pytest.raises(CryptoError):
        verify("vigil/other/v1", obj, sig, sign_public_raw(key))
