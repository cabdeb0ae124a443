"""vigil.log.note against the C2SP signed-note vectors of Go's golang.org/x/mod/sumdb/note
(tests/data/merkle/signed-note-go.json, see the README there), plus strict parsing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import CryptoError, InputError
from vigil.log.note import (
    MAX_SIGNATURES,
    NoteSignature,
    format_note,
    note_key_id,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
    vkey,
)

GO = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "merkle" / "signed-note-go.json").read_text(
        encoding="utf-8"
    )
)
TEXT: str = GO["text"]
PETER_SIG: str = GO["peter_sig"]
ENOCH_SIG: str = GO["enoch_sig"]
PETER, PETER_PUB = parse_vkey(GO["peter_vkey"])
ENOCH, ENOCH_PUB = parse_vkey(GO["enoch_vkey"])


def go_signer() -> tuple[str, Ed25519PrivateKey]:
    """Go's signer key: PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>."""
    _, _, name, key_id, material = GO["signer_key"].split("+", 4)
    raw = base64.b64decode(material)
    assert raw[0] == 0x01 and len(raw) == 33
    assert key_id == "c74f20a3"
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_go_vector_sign_is_byte_identical() -> None:
    name, private = go_signer()
    assert name == PETER == "PeterNeumann"
    assert private.public_key().public_bytes_raw() == PETER_PUB
    assert note_key_id(name, PETER_PUB).hex() == "c74f20a3"
    assert vkey(name, PETER_PUB) == GO["peter_vkey"]
    assert vkey(ENOCH, ENOCH_PUB) == GO["enoch_vkey"]
    sig = sign_note(TEXT, name, private)
    assert sig.line() == PETER_SIG
    assert format_note(TEXT, [sig]) == GO["signed"] == TEXT + "\n" + PETER_SIG


def test_go_vector_open() -> None:
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(GO["signed"], PETER, PETER_PUB) == TEXT
    assert verify_note(GO["signed"].encode(), PETER, PETER_PUB) == TEXT
    assert verify_note(both, PETER, PETER_PUB) == TEXT  # Enoch's line is ignored
    assert verify_note(both, ENOCH, ENOCH_PUB) == TEXT
    text, sigs = parse_note(both)
    assert text == TEXT
    assert [(s.name, s.key_id.hex()) for s in sigs] == [
        ("PeterNeumann", "c74f20a3"), ("EnochRoot", "af0cfe78")]
    with pytest.raises(CryptoError) as e:
        verify_note(GO["signed"], ENOCH, ENOCH_PUB)
    assert e.value.code == "log.unsigned"
    # a duplicated valid signature is fine (Go accepts it too)
    assert verify_note(TEXT + "\n" + PETER_SIG + PETER_SIG, PETER, PETER_PUB) == TEXT


def _insert_abcd(line: str) -> str:
    """Go's corruption: insert "ABCD" at byte 60 of the signature line."""
    raw = line.encode()
    return (raw[:60] + b"ABCD" + raw[60:]).decode()


def test_go_vector_rejections() -> None:
    # Go TestOpen: an invalid signature of a known key rejects the whole note
    with pytest.raises(CryptoError) as e:
        verify_note(TEXT + "\n" + _insert_abcd(PETER_SIG), PETER, PETER_PUB)
    assert e.value.code == "log.bad_signature"
    # ... but corrupted lines of other keys are ignored
    assert verify_note(TEXT + "\n" + PETER_SIG + _insert_abcd(ENOCH_SIG), PETER, PETER_PUB)
    # a tampered text
    with pytest.raises(CryptoError) as e:
        verify_note(GO["signed"].replace("cryptography", "cryptographY"), PETER, PETER_PUB)
    assert e.value.code == "log.bad_signature"
    # the same name with another key (so another key id) is an unknown key
    with pytest.raises(CryptoError) as e:
        verify_note(GO["signed"], PETER, ENOCH_PUB)
    assert e.value.code == "log.unsigned"
    # too many signatures
    with pytest.raises(InputError) as ie:
        verify_note(TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), PETER, PETER_PUB)
    assert ie.value.code == "log.bad_note"
    assert verify_note(TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, PETER, PETER_PUB) == TEXT


GO_BAD_MESSAGES = [
    TEXT,
    TEXT + "\n",
    TEXT + "\n" + PETER_SIG[:-1],
    "\x01" + TEXT + "\n" + PETER_SIG,
    "\xff".encode("latin-1") + (TEXT + "\n" + PETER_SIG).encode(),  # invalid UTF-8
    TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    # and vigil's own strictness
    TEXT + "\n" + PETER_SIG.replace("\u2014", "--"),
    TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),  # non-canonical base64
    TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),  # missing padding
    TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",  # signature too short
    TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
    TEXT.replace("\n", "\x00", 1) + "\n" + PETER_SIG,  # NUL in the text
    "x" * (1 << 20) + "\n\n" + PETER_SIG,
    "\ud800" + TEXT + "\n" + PETER_SIG,
]


@pytest.mark.parametrize("msg", GO_BAD_MESSAGES, ids=lambda _: "bad")
def test_malformed_notes(msg: str | bytes) -> None:
    with pytest.raises(InputError) as e:
        verify_note(msg, PETER, PETER_PUB)
    assert e.value.code == "log.bad_note"


@pytest.mark.parametrize(
    "bad",
    [
        GO["peter_vkey"].replace("c74f20a3", "c74f20a4"),
        GO["peter_vkey"].replace("c74f20a3", "C74F20A3"),
        GO["peter_vkey"].replace("PeterNeumann", "PeterNeuman"),
        GO["peter_vkey"] + "AA",
        GO["peter_vkey"].replace("+ARpc", "+AhpC"),
        "PeterNeumann+c74f20a3",
        "",
    ],
)
def test_bad_verifier_keys(bad: str) -> None:
    with pytest.raises(InputError):
        parse_vkey(bad)


def test_signing_checks_its_inputs() -> None:
    _, private = go_signer()
    for text in ["no newline", "nul\x00\n", "tab\t\n"]:
        with pytest.raises(InputError):
            sign_note(text, "name", private)
    for name in ["", "a b", "a+b", "a\u00a0b", "a\nb"]:
        with pytest.raises(InputError):
            sign_note(TEXT, name, private)
    with pytest.raises(InputError):
        format_note(TEXT, [])
    sig = NoteSignature("x", b"\0\0\0\0", b"s")
    with pytest.raises(InputError):
        format_note(TEXT, [sig] * (MAX_SIGNATURES + 1))
    # a text may contain blank lines: the last one separates the signatures
    text = "one\n\ntwo\n"
    note = format_note(text, [sign_note(text, PETER, private)])
    assert verify_note(note, PETER, PETER_PUB) == text
