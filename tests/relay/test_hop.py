"""Hops sealed to one node's name and padded to size buckets; their header read strictly."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vigil.errors import CryptoError
from vigil.relay.hop import Hop, bucket_for, open_hop, seal_hop

A, R, B = (f"node--{uuid.uuid4()}" for _ in range(3))


def test_hop_sizes_and_binding() -> None:
    b_hop = X25519PrivateKey.generate()
    pub = b_hop.public_key().public_bytes_raw()
    assert bucket_for(1) == 4096 and bucket_for(4096) == 8192
    small, big = seal_hop(b"x" * 10, B, pub), seal_hop(b"x" * 4000, B, pub)
    assert len(small.blob) == len(big.blob) == 4096
    with pytest.raises(CryptoError):
        open_hop(small.blob, R, b_hop)  # sealed to B, not to R's name
    with pytest.raises(CryptoError):
        open_hop(small.blob, B, X25519PrivateKey.generate())


@pytest.mark.parametrize("value", [None, "", "dest=x", "dest=x,hop_id=y,expires=z,dest=x",
                                   "dest=x,hop_id=y,origin=z"])
def test_a_malformed_hop_header_is_refused(value: str | None) -> None:
    from vigil.errors import InputError

    with pytest.raises(InputError) as bad:
        Hop.from_header(value, b"")
    assert bad.value.code == "relay.bad_hop"
