"""A node's signed descriptor: its federation name, hop key and self-signed TLS pair made
once and kept; the descriptor taken only when well formed, signed by its own key and
(when pinned) by the pinned one; the TLS certificate beside it taken only when its key is
the one the descriptor pins and it cannot issue others."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from vigil.crypto.pins import spki_pin
from vigil.errors import ConfigError, CryptoError, InputError
from vigil.federation.descriptor import (
    check_descriptor,
    descriptor,
    fed_name,
    hop_key,
    leaf_pem,
    peer_tls_cert,
    self_signed,
    tls_pair,
    tls_pin,
)
from vigil.testing import make_node


def test_a_peer_certificate_that_could_issue_others_is_not_taken(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peer")])
    now = dt.datetime.now(dt.UTC)

    def cert(ca: bool) -> str:
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
        if ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        return b.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()

    pin = spki_pin(x509.load_pem_x509_certificate(cert(False).encode()))
    assert peer_tls_cert({"descriptor": {"tls_pin": pin}, "tls_cert": cert(False)})
    assert peer_tls_cert({"descriptor": {"tls_pin": pin}, "tls_cert": cert(True)}) is None
    assert peer_tls_cert({"descriptor": {"tls_pin": "sha256/other"},
                          "tls_cert": cert(False)}) is None


def test_the_descriptor_of_a_node(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {})
    with pytest.raises(ConfigError) as off:
        fed_name(node.settings)
    assert off.value.code == "fed.off"
    with pytest.raises(ConfigError):
        fed_name(node.settings.with_overrides(fed_name="Not A Name"))
    settings = node.settings.with_overrides(fed_name="athens")
    assert fed_name(settings) == "athens" and tls_pair(settings) is None
    hop = hop_key(node.data).private_bytes_raw()
    assert hop_key(node.data).private_bytes_raw() == hop  # made once, kept
    cert, key, pin = self_signed(node.data)
    assert self_signed(node.data) == (cert, key, pin) and tls_pin(cert) == pin
    assert tls_pair(settings) == (str(cert), str(key))
    ex = node.exchange()
    try:
        signed = descriptor(ex, settings)
        d = check_descriptor(signed, ex.node_key_id)
        assert (d["node"], d["name"], d["pin"], d["tls_pin"]) == (
            ex.node_id, "athens", ex.node_key_id, pin)
        assert d["endpoints"]["fed"].endswith("/fed/v1")
        assert peer_tls_cert(signed) == leaf_pem(cert)
        with pytest.raises(CryptoError) as other:
            check_descriptor(signed, "ed25519:" + "0" * 32)
        assert other.value.code == "fed.pin_mismatch"
        forged = copy.deepcopy(signed)
        forged["descriptor"]["name"] = "rome"
        with pytest.raises(CryptoError) as bad:
            check_descriptor(forged)
        assert bad.value.code == "fed.bad_descriptor"
        extra = copy.deepcopy(signed)
        extra["descriptor"]["x"] = 1
        with pytest.raises(InputError):
            check_descriptor(extra)
    finally:
        ex.store.close()
