"""The key-directory entries a member's client makes and signs itself."""

from __future__ import annotations

import pytest

from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import generate_sign_key, sign_public_raw
from vigil.crypto.sign import verify
from vigil.errors import CryptoError, InputError
from vigil.protocol.directory_entries import (
    TAG_DIR_ENTRY,
    digest_of,
    make_entry,
    member_signature,
    rotation_after,
)

AT = "2026-01-01T00:00:00.000Z"


def entry(**over: object) -> dict[str, object]:
    e = make_entry("register", "identity--m", "node--h", 0, None, sign_key=b"s" * 32,
                   enc_key=b"e" * 32, recovery_key=b"r" * 32, by="member", at=AT)
    e.update(over)
    return e


def test_an_entry_has_every_field_encoded() -> None:
    assert entry() == {"v": 1, "kind": "register", "member": "identity--m", "home": "node--h",
                       "seq": 0, "prev": None, "sign_key": b64u(b"s" * 32),
                       "enc_key": b64u(b"e" * 32), "recovery_key": b64u(b"r" * 32),
                       "revoked": None, "after": None, "to": None, "by": "member", "at": AT}
    with pytest.raises(InputError) as info:
        make_entry("delete", "m", "h", 0, None, sign_key=b"", enc_key=b"", recovery_key=None,
                   by="member")
    assert info.value.code == "dir.bad_entry"


def test_the_member_signs_the_entry_under_its_tag() -> None:
    key = generate_sign_key(False)
    sig = member_signature(entry(), key)
    verify(TAG_DIR_ENTRY, entry(), b64u_decode(sig), sign_public_raw(key))
    with pytest.raises(CryptoError):
        verify(TAG_DIR_ENTRY, entry(seq=1), b64u_decode(sig), sign_public_raw(key))


def test_a_rotation_follows_the_last_entry_and_keeps_recovery() -> None:
    last = {"entry": entry(seq=4), "sig": "a", "node_sig": "b"}
    nxt = rotation_after(last, b"S" * 32, b"E" * 32)
    assert (nxt["kind"], nxt["seq"], nxt["prev"]) == ("rotate", 5, digest_of(last))
    assert (nxt["sign_key"], nxt["enc_key"], nxt["recovery_key"]) == (
        b64u(b"S" * 32), b64u(b"E" * 32), b64u(b"r" * 32))
    assert rotation_after({"entry": entry(recovery_key=None)}, b"S", b"E")["recovery_key"] \
        is None


def test_the_digest_names_the_whole_signed_entry() -> None:
    a = {"entry": entry(), "sig": "a", "node_sig": "b"}
    assert digest_of(a).startswith("sha256:") and len(digest_of(a)) == 7 + 64
    assert digest_of(a) == digest_of(dict(reversed(list(a.items()))))  # canonical
    assert digest_of(a) != digest_of({**a, "node_sig": "c"})
