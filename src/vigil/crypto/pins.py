"""A certificate's public key pin: ``sha256/<base64>`` of its SubjectPublicKeyInfo, as the
node maps client certificates and as the SDK pins the node's certificate."""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def spki_pin(cert: x509.Certificate) -> str:
    """``sha256/<base64>`` of the certificate's SubjectPublicKeyInfo."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()
