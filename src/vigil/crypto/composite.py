"""The composite signature ``ed25519+mldsa65``: ML-DSA-65 and Ed25519, both must verify.

It follows draft-ietf-lamps-pq-composite-sigs (id-MLDSA65-Ed25519-SHA512, OID
1.3.6.1.5.5.7.6.48) for the message representative and the encodings::

    M'        = Prefix || Label || len(ctx) (1 byte) || ctx || SHA-512(M)
    Prefix    = b"CompositeAlgorithmSignatures2025"
    Label     = b"COMPSIG-MLDSA65-Ed25519-SHA512"
    signature = ML-DSA-65.Sign(sk_mldsa, M', ctx=Label) (3309) || Ed25519.Sign(sk_ed, M') (64)
    public    = mldsa65_public (1952) || ed25519_public (32)
    private   = mldsa65_seed (32) || ed25519_private (32)

vigil signs ``M = signed_bytes(tag, obj)`` (already domain-separated by its tag) with an
empty ``ctx``. The primitives are ``cryptography``'s; this module only builds M' and
splits and joins the byte strings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey, MLDSA65PublicKey

from vigil.errors import CryptoError

PREFIX = b"CompositeAlgorithmSignatures2025"
LABEL = b"COMPSIG-MLDSA65-Ed25519-SHA512"
OID = "1.3.6.1.5.5.7.6.48"
MLDSA_PUBLIC_LEN = 1952
MLDSA_SIG_LEN = 3309
MLDSA_SEED_LEN = 32
ED25519_LEN = 32
ED25519_SIG_LEN = 64
PUBLIC_LEN = MLDSA_PUBLIC_LEN + ED25519_LEN  # 1984
SIGNATURE_LEN = MLDSA_SIG_LEN + ED25519_SIG_LEN  # 3373
PRIVATE_LEN = MLDSA_SEED_LEN + ED25519_LEN  # 64


def message_representative(message: bytes, ctx: bytes = b"") -> bytes:
    """``M' = Prefix || Label || len(ctx) || ctx || SHA-512(message)``."""
    if len(ctx) > 255:
        raise CryptoError("composite signature context longer than 255 bytes",
                          code="crypto.bad_context")
    return PREFIX + LABEL + bytes([len(ctx)]) + ctx + hashlib.sha512(message).digest()


@dataclass(frozen=True, slots=True)
class CompositePublicKey:
    """A composite public key: ``mldsa65_public || ed25519_public``."""

    mldsa: MLDSA65PublicKey
    ed25519: Ed25519PublicKey

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> CompositePublicKey:
        """Load ``mldsa65_public (1952) || ed25519_public (32)`` (``crypto.bad_key``)."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != PUBLIC_LEN:
            raise CryptoError(f"composite public key must be {PUBLIC_LEN} bytes",
                              code="crypto.bad_key")
        try:
            return cls(MLDSA65PublicKey.from_public_bytes(bytes(raw[:MLDSA_PUBLIC_LEN])),
                       Ed25519PublicKey.from_public_bytes(bytes(raw[MLDSA_PUBLIC_LEN:])))
        except ValueError as e:
            raise CryptoError("bad composite public key", code="crypto.bad_key") from e

    def public_bytes_raw(self) -> bytes:
        return self.mldsa.public_bytes_raw() + self.ed25519.public_bytes_raw()

    def verify(self, signature: bytes, message: bytes, ctx: bytes = b"") -> None:
        """Raise ``InvalidSignature`` unless BOTH component signatures verify over M'."""
        if len(signature) != SIGNATURE_LEN:
            raise InvalidSignature("composite signature has the wrong length")
        m_prime = message_representative(message, ctx)
        # Both are checked, whatever the first gives, so timing does not tell which failed.
        ok = True
        try:
            self.mldsa.verify(bytes(signature[:MLDSA_SIG_LEN]), m_prime, LABEL)
        except InvalidSignature:
            ok = False
        try:
            self.ed25519.verify(bytes(signature[MLDSA_SIG_LEN:]), m_prime)
        except InvalidSignature:
            ok = False
        if not ok:
            raise InvalidSignature("composite signature does not verify")


@dataclass(frozen=True, slots=True)
class CompositePrivateKey:
    """A composite signing key: ML-DSA-65 (from its 32-byte seed) and Ed25519."""

    mldsa: MLDSA65PrivateKey = field(repr=False)
    ed25519: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> CompositePrivateKey:
        return cls(MLDSA65PrivateKey.generate(), Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> CompositePrivateKey:
        """Load ``mldsa65_seed (32) || ed25519_private (32)`` (``crypto.bad_key``)."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != PRIVATE_LEN:
            raise CryptoError(f"composite private key must be {PRIVATE_LEN} bytes",
                              code="crypto.bad_key")
        try:
            return cls(MLDSA65PrivateKey.from_seed_bytes(bytes(raw[:MLDSA_SEED_LEN])),
                       Ed25519PrivateKey.from_private_bytes(bytes(raw[MLDSA_SEED_LEN:])))
        except ValueError as e:
            raise CryptoError("bad composite private key", code="crypto.bad_key") from e

    def private_bytes_raw(self) -> bytes:
        return self.mldsa.private_bytes_raw() + self.ed25519.private_bytes_raw()

    def public_key(self) -> CompositePublicKey:
        return CompositePublicKey(self.mldsa.public_key(), self.ed25519.public_key())

    def sign(self, message: bytes, ctx: bytes = b"") -> bytes:
        """``ML-DSA-65.Sign(M', ctx=Label) || Ed25519.Sign(M')`` (ML-DSA is hedged)."""
        m_prime = message_representative(message, ctx)
        return self.mldsa.sign(m_prime, LABEL) + self.ed25519.sign(m_prime)
