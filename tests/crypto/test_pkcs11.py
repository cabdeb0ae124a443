"""Keys in a PKCS#11 token (SoftHSM2): RFC 7512 URIs, signing and HPKE unwrapping
through the token, and the hybrid suites refused with a stable code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from tests.keys.conftest import MODULE, SoftHsm

from vigil.crypto import pkcs11
from vigil.crypto.keys import key_id, verify_raw
from vigil.crypto.seal import unwrap_key, wrap_key
from vigil.errors import CryptoError


def test_uri_parse_and_secrets_left_out() -> None:
    u = pkcs11.parse_uri("pkcs11:token=My%20Token;object=alpha?module-path=/x.so"
                         "&pin-value=1234")
    assert u.path == {"token": "My Token", "object": "alpha"}
    assert u.pin() == "1234" and u.module() == "/x.so"
    assert "pin-value" not in u.without_secrets()
    assert pkcs11.parse_uri(u.without_secrets()).path == u.path
    for bad in ("pkcs11:token=a", "file:/x", "pkcs11:object=a;object=b"):
        with pytest.raises(CryptoError) as e:
            pkcs11.parse_uri(bad)
        assert e.value.code == "hsm.bad_uri"


def test_hpke_open_with_an_outside_dh_matches_cryptography() -> None:
    """The token path's HPKE (RFC 9180 base mode, x25519 suite) opens what
    cryptography's HPKE seals, and refuses a changed info or ciphertext."""
    sk = X25519PrivateKey.generate()
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
    for n in (0, 1, 32, 200):
        msg = os.urandom(n)
        blob = suite.encrypt(msg, sk.public_key(), info=b"ctx")
        pub = sk.public_key().public_bytes_raw()
        assert pkcs11.hpke_x25519_open(blob, pkcs11.memory_dh(sk), pub, b"ctx") == msg
        with pytest.raises(CryptoError):
            pkcs11.hpke_x25519_open(blob, pkcs11.memory_dh(sk), pub, b"other")
        bad = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(CryptoError):
            pkcs11.hpke_x25519_open(bad, pkcs11.memory_dh(sk), pub, b"ctx")


def test_sign_and_unwrap_in_the_token(softhsm: SoftHsm) -> None:
    uri = softhsm.uri()
    sign, enc = pkcs11.create_keys(uri)
    sig = sign.sign(b"message")
    verify_raw(sign.public_raw, sig, b"message")  # a plain Ed25519 signature
    kid = key_id("x25519", enc.public_raw)
    k = os.urandom(32)
    w = wrap_key("share-x", k, "identity--m", kid, enc.public_raw)
    assert unwrap_key("share-x", w, enc) == k
    # the same keys, found again by label from another handle
    sign2, enc2 = pkcs11.open_keys(uri)
    assert sign2.public_raw == sign.public_raw and enc2.public_raw == enc.public_raw
    # the private keys cannot be read out of the token
    import pkcs11 as p11

    priv = sign.tok.find(sign.label, p11.ObjectClass.PRIVATE_KEY)
    assert priv[p11.Attribute.SENSITIVE] and not priv[p11.Attribute.EXTRACTABLE]
    with pytest.raises(p11.PKCS11Error):
        priv[p11.Attribute.VALUE]
    # keys already in the token are taken as they are; half a pair is refused
    again = pkcs11.create_keys(uri)
    assert again[0].public_raw == sign.public_raw
    half = softhsm.uri()
    pkcs11.token(pkcs11.parse_uri(half)).generate(half.split("object=")[1].split("?")[0]
                                                 + "/sign", pkcs11.ED25519_OID, derive=False)
    with pytest.raises(CryptoError) as e:
        pkcs11.create_keys(half)
    assert e.value.code == "hsm.exists"


def test_hybrid_in_a_token_is_refused_with_a_code(softhsm: SoftHsm) -> None:
    with pytest.raises(CryptoError) as e:
        pkcs11.create_keys(softhsm.uri(), hybrid=True)
    assert e.value.code == "hsm.unsupported"


def test_wrong_pin_and_missing_token(softhsm: SoftHsm) -> None:
    with pytest.raises(CryptoError) as e:
        pkcs11.open_keys(f"pkcs11:token=nope;object=a?module-path={MODULE}")
    assert e.value.code == "hsm.no_token"
    # a process that is not logged in yet (this one is: one login per token)
    uri = softhsm.uri()
    pkcs11.create_keys(uri)
    code = ("from vigil.crypto import pkcs11\n"
            "from vigil.errors import CryptoError\n"
            "try:\n"
            f"    pkcs11.open_keys({uri + '&pin-value=wrong'!r})\n"
            "except CryptoError as e:\n"
            "    print(e.code)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert got.stdout.strip() == "hsm.login"
