import pytest

from vigil.crypto.canonical import canonical
from vigil.crypto.keys import SigningKey
from vigil.crypto.sign import (
    TAG_ATTEST,
    TAG_CHECKPOINT,
    TAG_RECALL,
    TAG_RECEIPT,
    TAG_SHARE,
    sign,
    sign_object,
    signed_bytes,
    verify,
    verify_object,
)
from vigil.errors import CryptoError

OBJ = {"id": "receipt--1", "share": "share--x", "n": 3, "ok": True}
TAGS = [TAG_SHARE, TAG_RECEIPT, TAG_RECALL, TAG_CHECKPOINT, TAG_ATTEST]


def bad(fn: object, *args: object) -> str:
    with pytest.raises(CryptoError) as e:
        fn(*args)  # type: ignore[operator]
    return e.value.code


def test_signed_bytes_layout() -> None:
    assert signed_bytes(TAG_RECEIPT, OBJ) == b"vigil/receipt/v1\0" + canonical(OBJ)


def test_round_trip_every_tag() -> None:
    k = SigningKey.generate()
    for tag in TAGS:
        sig = sign(tag, OBJ, k.private)
        assert len(sig) == 64
        verify(tag, OBJ, sig, k.public_raw)
        assert sig == sign(tag, OBJ, k.private)  # Ed25519 is deterministic
        verify(tag, dict(reversed(list(OBJ.items()))), sig, k.public_raw)  # key order is moot


def test_aliases() -> None:
    k = SigningKey.generate()
    verify_object(TAG_RECALL, OBJ, sign_object(TAG_RECALL, OBJ, k.private), k.public_raw)


def test_tag_is_domain_separation() -> None:
    k = SigningKey.generate()
    receipt_sig = sign(TAG_RECEIPT, OBJ, k.private)
    for tag in TAGS:
        if tag != TAG_RECEIPT:
            assert bad(verify, tag, OBJ, receipt_sig, k.public_raw) == "crypto.bad_signature"


def test_rejections() -> None:
    k, other = SigningKey.generate(), SigningKey.generate()
    sig = sign(TAG_SHARE, OBJ, k.private)
    assert bad(verify, TAG_SHARE, OBJ, sig, other.public_raw) == "crypto.bad_signature"
    assert bad(verify, TAG_SHARE, {**OBJ, "n": 4}, sig, k.public_raw) == "crypto.bad_signature"
    for i in range(64):
        flipped = sig[:i] + bytes([sig[i] ^ 0x01]) + sig[i + 1 :]
        assert bad(verify, TAG_SHARE, OBJ, flipped, k.public_raw) == "crypto.bad_signature"
    assert bad(verify, TAG_SHARE, OBJ, sig[:63], k.public_raw) == "crypto.bad_signature"
    assert bad(verify, TAG_SHARE, OBJ, sig + b"\0", k.public_raw) == "crypto.bad_signature"
    assert bad(verify, TAG_SHARE, {"x": float("nan")}, sig, k.public_raw) == (
        "crypto.bad_signature"
    )
    assert bad(verify, TAG_SHARE, OBJ, sig, k.public_raw[:31]) == "crypto.bad_key"


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "vigil/share",
        "vigil/share/v1\n",
        "vigil/share/v0",
        "vigil/Share/v1",
        "vigil/share/v1\0",
        "x/y/v1",
    ],
)
def test_bad_tags(tag: str) -> None:
    k = SigningKey.generate()
    assert bad(sign, tag, OBJ, k.private) == "crypto.bad_tag"
