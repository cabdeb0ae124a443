"""vigil.log.checkpoint: C2SP tlog-checkpoint notes signed by a node key, tampering,
domain separation from vigil's tagged signatures, fork evidence."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.sign import TAG_CHECKPOINT, sign, signed_bytes, verify
from vigil.errors import CryptoError, InputError, VigilError
from vigil.log.checkpoint import (
    Checkpoint,
    ForkEvidence,
    check_fork,
    log_origin,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from vigil.log.merkle import MemoryTree, leaf_hash
from vigil.log.note import NoteSignature, format_note, parse_note, sign_note, verify_note, vkey

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = KEY.public_key().public_bytes_raw()
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
NODE = "node--00000000-0000-4000-8000-000000000000"
ORIGIN = log_origin(NODE)
TREE = MemoryTree([leaf_hash(bytes([c])) for c in b"abcdefghijklmnop"])  # CCTV's leaves
CP = Checkpoint(ORIGIN, 16, TREE.root())

# vigil's checkpoint bytes, pinned: fixed key (seed 00 01 .. 1f), the CCTV 16-leaf root.
PINNED = (
    "vigil.example/node--00000000-0000-4000-8000-000000000000\n"
    "16\n"
    "CXGcbYyZRw8qK9HP+Uz71/U/8TjowWFmnIX5psYUAxM=\n"
    "\n"
    "\u2014 vigil.example/node--00000000-0000-4000-8000-000000000000 "
    "dme1uF+FO+Fv/M/aL5rQr6mA4byxqEgy5IiqEkAwNUr3UaSNYBlvhBYAILxNUWeo5fa7wtxO5A9w/1crzCWvLDAnlgk=\n"
)
PINNED_VKEY = (
    "vigil.example/node--00000000-0000-4000-8000-000000000000+7667b5b8+"
    "AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
)


def signed(cp: Checkpoint = CP, key: Ed25519PrivateKey = KEY) -> str:
    return sign_checkpoint(cp, ORIGIN, key)


def code_of(fn: object, *args: object, **kwargs: object) -> str:
    assert callable(fn)
    with pytest.raises(VigilError) as e:
        fn(*args, **kwargs)
    return e.value.code


def test_pinned_checkpoint_bytes() -> None:
    assert base64.b64encode(CP.root).decode() == "CXGcbYyZRw8qK9HP+Uz71/U/8TjowWFmnIX5psYUAxM="
    assert signed() == PINNED
    assert vkey(ORIGIN, PUB) == PINNED_VKEY


def test_round_trip() -> None:
    text = signed()
    assert CP.body() == f"{ORIGIN}\n16\n{base64.b64encode(CP.root).decode()}\n"
    cp, sigs = parse_checkpoint(text)
    assert cp == CP
    assert len(sigs) == 1 and sigs[0].name == ORIGIN and len(sigs[0].signature) == 64
    assert verify_checkpoint(text, ORIGIN, PUB) == CP
    assert verify_checkpoint(text.encode(), ORIGIN, PUB, origin=ORIGIN) == CP
    # standard signed note: the generic verifier (and so any C2SP tool) accepts it
    assert verify_note(text, ORIGIN, PUB) == CP.body()
    for size in (0, 1, 2**63 - 1):
        cp = Checkpoint(ORIGIN, size, TREE.root(min(size, 16)))
        text = sign_checkpoint(cp, "any-key-name", KEY)
        assert verify_checkpoint(text, "any-key-name", PUB) == cp


def test_cosigned_checkpoint() -> None:
    body = CP.body()
    note = format_note(body, [sign_note(body, ORIGIN, KEY), sign_note(body, "witness", OTHER)])
    other_pub = OTHER.public_key().public_bytes_raw()
    assert verify_checkpoint(note, ORIGIN, PUB) == CP
    assert verify_checkpoint(note, "witness", other_pub) == CP


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


TAMPERED = {
    "size": (_swap(PINNED, "\n16\n", "\n17\n"), "log.bad_signature"),
    "root": (_swap(PINNED, "CXGcb", "CXGcc"), "log.bad_signature"),
    "origin": (_swap(PINNED, "node--00000000-0000-4000-8000-000000000000\n16",
                     "node--00000000-0000-4000-8000-000000000001\n16"), "log.bad_signature"),
    "signature": (_swap(PINNED, "dme1uF+FO+Fv", "dme1uF+FO+Fw"), "log.bad_signature"),
    "key id": (_swap(PINNED, " dme1", " dmf1"), "log.unsigned"),
    "key name": (_swap(PINNED, "\u2014 vigil.example", "\u2014 vigil.exampl"), "log.unsigned"),
    "no signature": (PINNED.split("\n\n")[0] + "\n", "log.bad_note"),
    "no blank line": (_swap(PINNED, "=\n\n", "=\n"), "log.bad_note"),
    "extension line": (_swap(PINNED, "=\n\n", "=\nextra\n\n"), "log.bad_checkpoint"),
    "size with leading zero": (_swap(PINNED, "\n16\n", "\n016\n"), "log.bad_checkpoint"),
    "size with sign": (_swap(PINNED, "\n16\n", "\n+16\n"), "log.bad_checkpoint"),
    "size too large": (_swap(PINNED, "\n16\n", f"\n{2**63}\n"), "log.bad_checkpoint"),
    "root not base64": (_swap(PINNED, "CXGcb", "CXG b"), "log.bad_checkpoint"),
    "root too short": (_swap(PINNED, "CXGcbYyZ", ""), "log.bad_checkpoint"),
    "trailing garbage": (PINNED + "x", "log.bad_note"),
    "carriage return": (PINNED.replace("\n", "\r\n"), "log.bad_note"),
    "nul": (_swap(PINNED, "\n16\n", "\n16\x00\n"), "log.bad_note"),
}


@pytest.mark.parametrize("what", sorted(TAMPERED))
def test_tampering_is_rejected(what: str) -> None:
    text, code = TAMPERED[what]
    assert code_of(verify_checkpoint, text, ORIGIN, PUB) == code


def test_wrong_key_or_origin() -> None:
    other_pub = OTHER.public_key().public_bytes_raw()
    assert code_of(verify_checkpoint, PINNED, ORIGIN, other_pub) == "log.unsigned"
    forged = sign_checkpoint(CP, ORIGIN, OTHER)  # right name, wrong key: unknown key id
    assert code_of(verify_checkpoint, forged, ORIGIN, PUB) == "log.unsigned"
    # a signature line that claims the right key id but was made by another key
    body = CP.body()
    bad = NoteSignature(ORIGIN, parse_note(PINNED)[1][0].key_id, OTHER.sign(body.encode()))
    assert code_of(verify_checkpoint, format_note(body, [bad]), ORIGIN, PUB) == "log.bad_signature"
    other_origin = log_origin("node--11111111-1111-4111-8111-111111111111")
    assert code_of(verify_checkpoint, PINNED, ORIGIN, PUB, origin=other_origin) == (
        "log.origin_mismatch")


def test_only_vigil_origins() -> None:
    assert log_origin(NODE, "cert.example.org:8443") == f"cert.example.org:8443/{NODE}"
    Checkpoint(f"cert.example.org/logs/{NODE}", 0, TREE.root())
    for origin in ["example.com/behind-the-sofa", NODE, f"/{NODE}", f"Vigil.example/{NODE}",
                   f"vigil.example/{NODE} ", f"vigil.example/{NODE}\n", ""]:
        assert code_of(Checkpoint, origin, 1, CP.root) == "log.bad_checkpoint"
    for node, authority in [("node--x", "vigil.example"), (NODE, "a b"), (NODE, "")]:
        assert code_of(log_origin, node, authority) == "log.bad_checkpoint"
    for size in (-1, True, 2**63, 1.0):
        assert code_of(Checkpoint, ORIGIN, size, CP.root) == "log.bad_checkpoint"
    for root in (b"", CP.root[:31], CP.root.hex()):
        assert code_of(Checkpoint, ORIGIN, 1, root) == "log.bad_checkpoint"
    # a C2SP checkpoint of another log parses as a note but not as a vigil checkpoint
    foreign = ("example.com/behind-the-sofa\n20852163\n"
               "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    note = format_note(foreign, [sign_note(foreign, "example.com/behind-the-sofa", KEY)])
    assert verify_note(note, "example.com/behind-the-sofa", PUB) == foreign
    assert code_of(parse_checkpoint, note) == "log.bad_checkpoint"


def test_domain_separation_from_tagged_signatures() -> None:
    """Tagged messages contain 0x00, note texts cannot: neither signature passes as the
    other (see the module docstring of vigil.log.checkpoint)."""
    obj = {"origin": ORIGIN, "size": 16}
    assert b"\0" in signed_bytes(TAG_CHECKPOINT, obj)
    tagged = sign(TAG_CHECKPOINT, obj, KEY)
    as_note = signed_bytes(TAG_CHECKPOINT, obj).decode() + "\n"
    assert code_of(sign_note, as_note, ORIGIN, KEY) == "log.bad_note"
    key_id = parse_note(PINNED)[1][0].key_id
    assert code_of(format_note, as_note, [NoteSignature(ORIGIN, key_id, tagged)]) == "log.bad_note"
    note_sig = parse_note(PINNED)[1][0].signature
    for tag_obj in (CP.body(), {"origin": ORIGIN, "size": 16,
                                "root": base64.b64encode(CP.root).decode()}):
        assert code_of(verify, TAG_CHECKPOINT, tag_obj, note_sig, PUB) == "crypto.bad_signature"


def test_fork_evidence() -> None:
    forked_tree = MemoryTree([leaf_hash(bytes([c])) for c in b"abcdefghijklmnoX"])
    honest, forked = signed(), signed(Checkpoint(ORIGIN, 16, forked_tree.root()))
    ev = check_fork(honest, forked, ORIGIN, PUB)
    assert isinstance(ev, ForkEvidence)
    assert (ev.origin, ev.size) == (ORIGIN, 16)
    assert (ev.root_a, ev.root_b) == (TREE.root(), forked_tree.root())
    assert (ev.checkpoint_a, ev.checkpoint_b) == (honest, forked)
    assert ev.to_dict() == {"kind": "fork", "origin": ORIGIN, "size": 16,
                            "checkpoints": [honest, forked]}
    # anyone with the log key can re-check the evidence from the two texts alone
    text_a, text_b = ev.to_dict()["checkpoints"]
    assert check_fork(text_a, text_b, ORIGIN, PUB) == ev
    assert check_fork(forked.encode(), honest.encode(), ORIGIN, PUB) is not None


def test_no_fork() -> None:
    text = signed()
    cosigned = format_note(CP.body(), [*parse_note(text)[1], sign_note(CP.body(), "w", OTHER)])
    assert check_fork(text, text, ORIGIN, PUB) is None
    assert check_fork(text, cosigned, ORIGIN, PUB) is None  # same head, other signatures
    smaller = signed(Checkpoint(ORIGIN, 15, TREE.root(15)))
    assert check_fork(text, smaller, ORIGIN, PUB) is None  # sizes differ: needs a proof


def test_fork_needs_two_valid_signatures_of_one_log() -> None:
    forged = sign_checkpoint(Checkpoint(ORIGIN, 16, b"\x01" * 32), ORIGIN, OTHER)
    with pytest.raises(CryptoError):
        check_fork(signed(), forged, ORIGIN, PUB)
    with pytest.raises(CryptoError):
        check_fork(forged, signed(), ORIGIN, PUB)
    other_log = signed(Checkpoint(log_origin("node--11111111-1111-4111-8111-111111111111"), 16,
                                  b"\x01" * 32))
    with pytest.raises(InputError) as e:
        check_fork(signed(), other_log, ORIGIN, PUB)
    assert e.value.code == "log.origin_mismatch"
