import hashlib

import pytest

from vigil.crypto.keys import (
    ALG_ED25519,
    ALG_X25519,
    EncryptionKey,
    SigningKey,
    ed25519_public,
    is_key_id,
    key_id,
    x25519_public,
)
from vigil.errors import CryptoError


def test_key_id_definition() -> None:
    raw = bytes(range(32))
    want = hashlib.sha256(b"ed25519\0" + raw).hexdigest()[:32]
    assert key_id("ed25519", raw) == f"ed25519:{want}"
    assert key_id("x25519", raw) != key_id("ed25519", raw)  # the algorithm is hashed in
    assert key_id("mlkem768x25519", raw).startswith("mlkem768x25519:")


def test_key_id_known_answer() -> None:
    # sha256(b"x25519\x00" + 32 zero bytes), first 32 hex digits
    assert key_id("x25519", bytes(32)) == (
        "x25519:" + hashlib.sha256(b"x25519\x00" + bytes(32)).hexdigest()[:32]
    )


def test_key_id_unknown_alg() -> None:
    with pytest.raises(CryptoError) as e:
        key_id("rsa", bytes(32))
    assert e.value.code == "crypto.bad_key"


def test_is_key_id() -> None:
    k = SigningKey.generate().key_id
    assert is_key_id(k) and is_key_id(k, ALG_ED25519) and not is_key_id(k, ALG_X25519)
    assert not is_key_id(k.upper())
    assert not is_key_id(k + "0")
    assert not is_key_id(k + "\n")
    assert not is_key_id(None)


def test_signing_key_round_trip() -> None:
    k = SigningKey.generate()
    again = SigningKey.from_raw(k.private_raw)
    assert again.public_raw == k.public_raw and len(k.public_raw) == 32
    assert again.key_id == k.key_id == key_id(ALG_ED25519, k.public_raw)
    assert repr(k) == "SigningKey()"  # no key material in reprs


def test_encryption_key_round_trip() -> None:
    k = EncryptionKey.generate()
    again = EncryptionKey.from_raw(k.private_raw)
    assert again.public_raw == k.public_raw
    assert again.key_id == key_id(ALG_X25519, k.public_raw)
    assert x25519_public(k.public_raw).public_bytes_raw() == k.public_raw


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33)])
def test_bad_raw_keys(raw: bytes) -> None:
    for load in (SigningKey.from_raw, EncryptionKey.from_raw, ed25519_public, x25519_public):
        with pytest.raises(CryptoError) as e:
            load(raw)
        assert e.value.code == "crypto.bad_key"
