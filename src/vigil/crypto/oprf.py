"""The OPRF of RFC 9497 (mode 0x00, OPRF) with the ciphersuite ristretto255-SHA512.

The group operations are libsodium's ristretto255 (through ``pysodium``); this module
holds only the protocol steps of the RFC: hash-to-group and hash-to-scalar over
``expand_message_xmd`` (RFC 9380, 5.3.1) with SHA-512, ``DeriveKeyPair``, ``Blind``,
``BlindEvaluate`` and ``Finalize``. The RFC's test vectors are checked in
``tests/crypto/test_oprf.py``.

A client blinds its input with a fresh random scalar, a server multiplies the blinded
element by its key, and the client unblinds and hashes: the server never sees the
input, the client never sees the key, and the output is a PRF of both.
"""

from __future__ import annotations

import hashlib
import hmac

import pysodium

from vigil.errors import CryptoError

IDENTIFIER = b"ristretto255-SHA512"
MODE_OPRF = 0
CONTEXT = b"OPRFV1-" + bytes([MODE_OPRF]) + b"-" + IDENTIFIER
NE = 32  # serialized element
NS = 32  # serialized scalar
NH = 64  # output
_IDENTITY = bytes(NE)
_ZERO = bytes(NS)


def _i2osp(n: int, length: int) -> bytes:
    return n.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380, 5.3.1, with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    b_len, s_len = 64, 128
    ell = -(-length // b_len)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise CryptoError("expand_message_xmd: length or DST too long", code="crypto.oprf")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(s_len) + msg + _i2osp(length, 2) + b"\0" + dst_prime).digest()
    b = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        x = bytes(p ^ q for p, q in zip(b0, b[-1], strict=True))
        b.append(hashlib.sha512(x + _i2osp(i, 1) + dst_prime).digest())
    return b"".join(b)[:length]


def hash_to_group(msg: bytes, dst: bytes = b"HashToGroup-" + CONTEXT) -> bytes:
    """ristretto255's hash_to_ristretto255: the one-way map of 64 uniform bytes."""
    return bytes(pysodium.crypto_core_ristretto255_from_hash(expand_message_xmd(msg, dst, 64)))


def hash_to_scalar(msg: bytes, dst: bytes = b"HashToScalar-" + CONTEXT) -> bytes:
    """64 uniform bytes reduced modulo the group order (little-endian)."""
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(
        expand_message_xmd(msg, dst, 64)))


def derive_key(seed: bytes, info: bytes) -> bytes:
    """``DeriveKeyPair(seed, info)``'s private key (RFC 9497, 3.2.1)."""
    if len(seed) != NS:
        raise CryptoError("an OPRF seed is 32 bytes", code="crypto.oprf")
    derive_input = seed + _i2osp(len(info), 2) + info
    for counter in range(256):
        sk = hash_to_scalar(derive_input + _i2osp(counter, 1), b"DeriveKeyPair" + CONTEXT)
        if sk != _ZERO:
            return sk
    raise CryptoError("DeriveKeyPair failed", code="crypto.oprf")


def check_element(data: bytes) -> bytes:
    """DeserializeElement: a valid ristretto255 encoding that is not the identity."""
    if (not isinstance(data, bytes) or len(data) != NE or data == _IDENTITY
            or not pysodium.crypto_core_ristretto255_is_valid_point(data)):
        raise CryptoError("not a ristretto255 element", code="crypto.oprf")
    return data


def random_scalar() -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_random())


def _mult(scalar: bytes, element: bytes) -> bytes:
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(scalar, element))
    except ValueError as e:  # libsodium refuses an identity result
        raise CryptoError("OPRF evaluation gave the identity", code="crypto.oprf") from e


def blind(value: bytes, blind_scalar: bytes | None = None) -> tuple[bytes, bytes]:
    """``Blind(input)``: (blind, blinded element). ``blind_scalar`` only for tests."""
    r = random_scalar() if blind_scalar is None else blind_scalar
    element = hash_to_group(value)
    if element == _IDENTITY:
        raise CryptoError("input maps to the identity", code="crypto.oprf")
    return r, _mult(r, element)


def blind_evaluate(key: bytes, blinded: bytes) -> bytes:
    """``BlindEvaluate(skS, blindedElement)``: the server's step."""
    return _mult(key, check_element(blinded))


def finalize(value: bytes, blind_scalar: bytes, evaluated: bytes) -> bytes:
    """``Finalize(input, blind, evaluatedElement)``: the 64-byte PRF output."""
    inverse = bytes(pysodium.crypto_core_ristretto255_scalar_invert(blind_scalar))
    unblinded = _mult(inverse, check_element(evaluated))
    return hashlib.sha512(_i2osp(len(value), 2) + value + _i2osp(len(unblinded), 2)
                          + unblinded + b"Finalize").digest()


def evaluate(key: bytes, value: bytes) -> bytes:
    """The PRF output computed by the key holder itself (``Evaluate`` of the RFC)."""
    element = hash_to_group(value)
    issued = _mult(key, element)
    return hashlib.sha512(_i2osp(len(value), 2) + value + _i2osp(len(issued), 2) + issued
                          + b"Finalize").digest()


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
