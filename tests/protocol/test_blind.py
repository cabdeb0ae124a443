"""Blind correlation, the member's part: channel keys sealed to one member in one channel
epoch, and keyed tokens of observables."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from vigil.crypto.keys import enc_key_id, enc_public_raw, generate_enc_key
from vigil.errors import CryptoError
from vigil.protocol.blind import (
    TOKEN_PREFIX,
    new_channel_key,
    open_channel_key,
    seal_channel_key,
    token,
    tokens,
)

CH = "channel--1"


@pytest.mark.parametrize("hybrid", [False, True])
def test_a_channel_key_opens_only_in_its_context(hybrid: bool) -> None:
    priv = generate_enc_key(hybrid)
    kid, pub = enc_key_id(priv), enc_public_raw(priv)
    key = new_channel_key()
    blob = seal_channel_key(key, CH, 3, "alpha", kid, pub)
    assert open_channel_key(blob, CH, 3, "alpha", priv) == key
    for channel, epoch, member in ((CH, 4, "alpha"), ("channel--2", 3, "alpha"),
                                   (CH, 3, "bravo")):
        with pytest.raises(CryptoError) as info:
            open_channel_key(blob, channel, epoch, member, priv)
        assert info.value.code == "crypto.open_failed"
    with pytest.raises(CryptoError):
        open_channel_key(blob, CH, 3, "alpha", generate_enc_key(hybrid))


def test_sealing_checks_the_key_and_its_id() -> None:
    priv, other = generate_enc_key(False), generate_enc_key(False)
    with pytest.raises(CryptoError) as info:
        seal_channel_key(new_channel_key(), CH, 1, "alpha", enc_key_id(other),
                         enc_public_raw(priv))
    assert info.value.code == "crypto.key_mismatch"
    with pytest.raises(CryptoError) as short:
        seal_channel_key(b"k" * 16, CH, 1, "alpha", enc_key_id(priv), enc_public_raw(priv))
    assert short.value.code == "crypto.bad_key"
    with pytest.raises(CryptoError) as ctx:
        seal_channel_key(new_channel_key(), CH, 1, "al\0pha", enc_key_id(priv),
                         enc_public_raw(priv))
    assert ctx.value.code == "crypto.bad_context"


def test_tokens_are_keyed_distinct_and_sorted() -> None:
    key = b"k" * 32
    assert token(key, "ipv4:198.51.100.7") == hmac.new(
        key, TOKEN_PREFIX + b"ipv4:198.51.100.7", hashlib.sha256).digest()
    assert token(key, "ipv4:198.51.100.7") != token(b"j" * 32, "ipv4:198.51.100.7")
    got = tokens(key, ["b", "a", "b"])
    assert got == sorted({token(key, "a"), token(key, "b")}) and len(got) == 2
