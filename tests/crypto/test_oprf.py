"""RFC 9497, Appendix A.1.1: OPRF(ristretto255, SHA-512), mode 0x00 (OPRF).

The vectors are the RFC's (seed a3..a3, key info "test key")."""

from __future__ import annotations

import pytest

from vigil.crypto import oprf
from vigil.errors import CryptoError

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")
SK = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
BLIND = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"
VECTORS = [
    ("00",
     "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
     "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
     "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
     "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6"),
    ("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
     "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
     "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
     "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
     "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73"),
]


def test_derive_key_pair() -> None:
    assert oprf.derive_key(SEED, KEY_INFO).hex() == SK


@pytest.mark.parametrize(("inp", "blinded", "evaluated", "output"), VECTORS)
def test_rfc9497_vectors(inp: str, blinded: str, evaluated: str, output: str) -> None:
    value = bytes.fromhex(inp)
    r, b = oprf.blind(value, bytes.fromhex(BLIND))
    assert b.hex() == blinded
    e = oprf.blind_evaluate(bytes.fromhex(SK), b)
    assert e.hex() == evaluated
    assert oprf.finalize(value, r, e).hex() == output
    assert oprf.evaluate(bytes.fromhex(SK), value).hex() == output


def test_random_blinds_give_the_same_output() -> None:
    key = oprf.derive_key(bytes(range(32)), b"k")
    outs = set()
    for _ in range(3):
        r, b = oprf.blind(b"+14155550100")
        outs.add(oprf.finalize(b"+14155550100", r, oprf.blind_evaluate(key, b)))
    assert outs == {oprf.evaluate(key, b"+14155550100")}
    assert oprf.evaluate(oprf.derive_key(bytes(32), b"k"), b"+14155550100") not in outs


def test_bad_elements_refused() -> None:
    key = bytes.fromhex(SK)
    for bad in (bytes(32), b"\xff" * 32, b"\x01" * 31):
        with pytest.raises(CryptoError):
            oprf.blind_evaluate(key, bad)


def test_expand_message_xmd_rfc9380_vector() -> None:
    # RFC 9380, K.3 (expand_message_xmd, SHA-512), msg "", len 0x20
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert oprf.expand_message_xmd(b"", dst, 0x20).hex() == (
        "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba")
