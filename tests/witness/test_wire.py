"""The witness protocol's bodies (``vigil.witness.wire``, C2SP tlog-witness): an
add-checkpoint request written and read back, each malformed request refused as
``witness.bad_request``, sizes and cosignature lines both ways."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import InputError
from vigil.log.note import format_note, sign_note
from vigil.witness.wire import (
    MAX_PROOF_LINES,
    MAX_REQUEST_BYTES,
    format_cosignatures,
    format_request,
    format_size,
    parse_cosignatures,
    parse_request,
    parse_size,
)

TEXT = "example.org/log\n5\n" + "q" * 43 + "=\n"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NOTE = format_note(TEXT, [sign_note(TEXT, "example.org/log", KEY)])
PROOF = [hashlib.sha256(bytes([i])).digest() for i in range(3)]


def bad(body: bytes) -> str:
    with pytest.raises(InputError) as e:
        parse_request(body)
    assert e.value.code == "witness.bad_request"
    return str(e.value)


def test_a_request_reads_back() -> None:
    got = parse_request(format_request(3, PROOF, NOTE))
    assert (got.old, got.proof, got.note) == (3, tuple(PROOF), NOTE)
    empty = parse_request(format_request(0, [], NOTE))
    assert (empty.old, empty.proof) == (0, ())


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"old 3\n" + b"\n" + NOTE.encode(), None),  # no proof for an old size: allowed
        (b"old 0\n" + format_request(0, PROOF[:1], NOTE)[6:], "must be empty"),
        (b"old 03\n\n" + NOTE.encode(), "bad size"),
        (b"old -1\n\n" + NOTE.encode(), "bad size"),
        (f"old {1 << 63}\n\n".encode() + NOTE.encode(), "bad size"),
        (b"size 3\n\n" + NOTE.encode(), "first line"),
        (b"old 3\n" + TEXT.encode().replace(b"\n", b" "), "no empty line"),
        (b"old 3\nnot base64!\n\n" + NOTE.encode(), "not base64"),
        (b"old 3\nAAAA\n\n" + NOTE.encode(), "not a hash"),
        (b"old 3\n\n\xff" + NOTE.encode(), "not UTF-8"),
        (b"old 3\n\n" + b"x" * MAX_REQUEST_BYTES, "too large"),
    ],
)
def test_malformed_requests(body: bytes, why: str | None) -> None:
    if why is None:
        assert parse_request(body).old == 3
    else:
        assert why in bad(body)


def test_proofs_are_bounded_and_notes_parsed() -> None:
    with pytest.raises(InputError):
        format_request(70, PROOF * 22, NOTE)
    many = (
        b"old 70\n"
        + b"".join(
            format_request(1, PROOF[:1], NOTE).split(b"\n")[1] + b"\n"
            for _ in range(MAX_PROOF_LINES + 1)
        )
        + b"\n"
        + NOTE.encode()
    )
    assert "proof lines" in bad(many)
    with pytest.raises(InputError):
        parse_request(format_request(3, PROOF, "not a signed note"))


def test_sizes_and_cosignatures() -> None:
    assert format_size(42) == b"42\n" and parse_size(b"42\n") == 42
    for body in (b"42", b"042\n", b"x\n"):
        with pytest.raises(InputError):
            parse_size(body)
    witness = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    sigs = [sign_note(TEXT, "witness.example/w1", witness)]
    body = format_cosignatures(sigs)
    assert body.decode().startswith("\u2014 witness.example/w1 ")
    assert parse_cosignatures(body, TEXT) == sigs
    with pytest.raises(InputError):
        parse_cosignatures(b"\xff", TEXT)
