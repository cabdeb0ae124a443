"""Share envelopes: build, verify, open, wire form, and every way to tamper with them."""

from __future__ import annotations

import copy
import json
import os
import random
import time
from dataclasses import dataclass, replace
from typing import Any, NotRequired, get_origin, get_type_hints

import pytest

from vigil.crypto.encoding import b64u
from vigil.crypto.keys import EncryptionKey, SigningKey
from vigil.crypto.seal import SUITE, wrap_key
from vigil.crypto.sign import TAG_RECEIPT, TAG_SHARE, sign
from vigil.errors import CryptoError, InputError, VigilError
from vigil.model import (
    Audience,
    AudienceHeader,
    Envelope,
    Form,
    Handling,
    HandlingHeader,
    PayloadHeader,
    PostedBy,
    Provenance,
    SealHeader,
    ShareHeader,
    Tlp,
    Wrap,
)
from vigil.protocol import header_form
from vigil.protocol.envelope import (
    STIX_MEDIA_TYPE,
    build_share,
    check_header,
    envelope_from_json,
    envelope_to_json,
    open_share,
    payload_digest,
    utc_now_ms,
    verify_envelope,
)

ORIG = "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f"
A = "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
B = "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"
C = "identity--11111111-2222-4333-8444-555555555555"
CHANNEL = "channel--3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
SID = "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
SID2 = "share--0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
PLAINTEXT = b'{"type":"bundle","id":"bundle--7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a","objects":[]}'


@dataclass
class World:
    sign: dict[str, SigningKey]
    enc: dict[str, EncryptionKey]
    node: SigningKey

    def keys(self, *members: str) -> dict[str, tuple[str, bytes]]:
        return {m: (self.enc[m].key_id, self.enc[m].public_raw) for m in members}


@pytest.fixture(scope="module")
def world() -> World:
    members = (ORIG, A, B, C)
    return World(
        {m: SigningKey.generate() for m in members},
        {m: EncryptionKey.generate() for m in members},
        SigningKey.generate(),
    )


def share(world: World, form: Form = Form.SEALED, **kw: Any) -> Envelope:
    args: dict[str, Any] = {
        "plaintext": PLAINTEXT,
        "originator": ORIG,
        "audience": Audience(Tlp.AMBER, CHANNEL),
        "recipients": [B, A],
        "form": form,
        "handling": Handling("incident-response", True, ("z-code", "a-code")),
        "themes": ["cyber", "critical-infrastructure/energy", "cyber"],
        "regions": ["FR", "EU"],
        "expires": "2026-12-29T08:00:00.000Z",
        "signer_private": world.sign[ORIG].private,
        "signer_key_id": world.sign[ORIG].key_id,
        "recipient_keys": world.keys(ORIG, A, B) if form is Form.SEALED else {},
        "share_id": SID,
        "created": "2026-11-29T08:00:00.000Z",
    }
    args.update(kw)
    return build_share(**args)


def crypto_code(fn: Any, *args: Any) -> str:
    with pytest.raises(CryptoError) as e:
        fn(*args)
    return e.value.code


def input_error(fn: Any, *args: Any) -> InputError:
    with pytest.raises(InputError) as e:
        fn(*args)
    return e.value


# ------------------------------------------------------------------------- round trips


def test_sealed_round_trip(world: World) -> None:
    env = share(world)
    h = env.header
    assert set(h) == {
        "v", "kind", "id", "originator", "key", "provenance", "created", "expires",
        "audience", "handling", "themes", "regions", "payload", "seal",
    }  # fmt: skip
    assert h["v"] == 1 and h["kind"] == "share" and h["id"] == SID
    assert h["key"] == world.sign[ORIG].key_id and h["provenance"] == "originator"
    assert h["audience"] == {"tlp": "amber", "channel": CHANNEL, "recipients": [A, B]}
    assert h["handling"] == {
        "purpose": "incident-response",
        "no_onward": True,
        "codes": ["a-code", "z-code"],
    }
    assert h["themes"] == ["critical-infrastructure/energy", "cyber"]
    assert h["regions"] == ["EU", "FR"]
    assert h["payload"] == {
        "media_type": STIX_MEDIA_TYPE,
        "form": "sealed",
        "size": len(env.payload),
        "digest": payload_digest(env.payload),
    }
    assert h["seal"]["suite"] == SUITE
    assert len(env.payload) == 12 + len(PLAINTEXT) + 16 and PLAINTEXT not in env.payload
    assert sorted(w.member for w in env.wraps) == sorted([ORIG, A, B])
    verify_envelope(env, world.sign[ORIG].public_raw)
    for m in (ORIG, A, B):
        assert open_share(env, m, world.enc[m].private) == PLAINTEXT
    wire = json.loads(json.dumps(envelope_to_json(env)))
    again = envelope_from_json(wire)
    assert again == env
    verify_envelope(again, world.sign[ORIG].public_raw)
    assert open_share(again, A, world.enc[A].private) == PLAINTEXT


def test_plain_round_trip(world: World) -> None:
    env = share(world, Form.PLAIN, audience=Audience(Tlp.GREEN), recipient_keys=world.keys(A))
    assert env.payload == PLAINTEXT and env.wraps == () and "seal" not in env.header
    assert env.header["audience"]["channel"] is None
    verify_envelope(env, world.sign[ORIG].public_raw)
    assert open_share(env, C, world.enc[C].private) == PLAINTEXT
    wire = envelope_to_json(env)
    assert wire["wraps"] == [] and wire["payload"] == b64u(PLAINTEXT)
    assert envelope_from_json(wire) == env


def test_attested_round_trip(world: World) -> None:
    env = share(
        world,
        provenance=Provenance.ATTESTED,
        posted_by={"member": ORIG, "user": "analyst-1"},
        signer_private=world.node.private,
        signer_key_id=world.node.key_id,
    )
    assert env.header["provenance"] == "attested"
    assert env.header["posted_by"] == {"member": ORIG, "user": "analyst-1"}
    assert env.header["key"] == world.node.key_id
    verify_envelope(env, world.node.public_raw)
    assert crypto_code(verify_envelope, env, world.sign[ORIG].public_raw) == "crypto.key_mismatch"
    assert open_share(env, B, world.enc[B].private) == PLAINTEXT


def fields(typed: Any) -> tuple[set[str], set[str]]:
    """(required, optional) keys of a TypedDict."""
    hints = get_type_hints(typed, include_extras=True)
    optional = {k for k, v in hints.items() if get_origin(v) is NotRequired}
    return set(hints) - optional, optional


def test_the_header_type_names_the_checked_fields(world: World) -> None:
    """``ShareHeader``, the type a header is read through, names the fields that
    ``check_header`` admits, at every level."""
    required, optional = fields(ShareHeader)
    assert required == set(header_form.BASE_FIELDS)
    assert optional == {"posted_by", "seal", *header_form.INTEL_FIELDS}
    env = share(world, provenance=Provenance.ATTESTED,
                posted_by={"member": ORIG, "user": "analyst-1"},
                signer_private=world.node.private, signer_key_id=world.node.key_id)
    h: Any = env.header
    assert set(h) == required | {"posted_by", "seal"}
    for key, typed in (("audience", AudienceHeader), ("handling", HandlingHeader),
                       ("payload", PayloadHeader), ("seal", SealHeader),
                       ("posted_by", PostedBy)):
        assert fields(typed) == (set(h[key]), set()), key


def test_defaults(world: World) -> None:
    env = share(world, share_id=None, created=None, expires=None)
    assert env.id.startswith("share--") and env.id != SID
    assert env.header["created"][:4].isdigit() and env.header["created"].endswith("Z")
    assert env.header["expires"] is None
    verify_envelope(env, world.sign[ORIG].public_raw)


def test_utc_now_ms_format() -> None:
    check_header  # noqa: B018
    now = utc_now_ms()
    assert len(now) == 24 and now[19] == "." and now.endswith("Z")


def test_wraps_only_for_recipients_and_originator(world: World) -> None:
    env = share(world, recipient_keys=world.keys(A, B))  # originator's wrap is optional
    verify_envelope(env, world.sign[ORIG].public_raw)
    assert crypto_code(open_share, env, ORIG, world.enc[ORIG].private) == "crypto.no_wrap"
    assert crypto_code(open_share, env, C, world.enc[C].private) == "crypto.no_wrap"


# ---------------------------------------------------------------------- build errors


def test_build_errors(world: World) -> None:
    e = input_error(lambda: share(world, recipient_keys=world.keys(ORIG, A)))
    assert e.code == "envelope.recipient_keys" and e.detail["missing"] == [B]
    e = input_error(lambda: share(world, recipient_keys=world.keys(ORIG, A, B, C)))
    assert e.code == "envelope.recipient_keys" and e.detail["unexpected"] == [C]
    assert (
        crypto_code(lambda: share(world, signer_key_id=world.sign[A].key_id))
        == "crypto.key_mismatch"
    )
    bad_keys = world.keys(ORIG, A, B)
    bad_keys[A] = (world.enc[B].key_id, world.enc[A].public_raw)
    assert crypto_code(lambda: share(world, recipient_keys=bad_keys)) == "crypto.key_mismatch"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"share_id": "share--nope"}, "/header/id"),
        ({"originator": "alice"}, "/header/originator"),
        ({"created": "2026-11-29T08:00:00Z"}, "/header/created"),
        ({"created": "2026-13-29T08:00:00.000Z"}, "/header/created"),
        ({"expires": "2026-11-29T08:00:00.000Z"}, "/header/expires"),
        ({"audience": Audience(Tlp.AMBER, "general")}, "/header/audience/channel"),
        ({"recipients": [A, "bob"]}, "/header/audience/recipients/0"),  # sorted first
        ({"themes": ["cyber", ""]}, "/header/themes/0"),
        ({"regions": ["E\nU"]}, "/header/regions/0"),
        ({"handling": Handling("x" * 2000)}, "/header/handling/purpose"),
        ({"posted_by": {"member": ORIG, "user": "u"}}, "/header/posted_by"),
        ({"provenance": Provenance.ATTESTED}, "/header/posted_by"),
        (
            {"provenance": Provenance.ATTESTED, "posted_by": {"member": A, "user": "u"}},
            "/header/posted_by/member",
        ),
        (
            {"provenance": Provenance.ATTESTED, "posted_by": {"member": ORIG, "user": ""}},
            "/header/posted_by/user",
        ),
        (
            {"provenance": Provenance.ATTESTED, "posted_by": {"member": ORIG}},
            "/header/posted_by/user",
        ),
        ({"media_type": "not a media type"}, "/header/payload/media_type"),
    ]
    for kw, pointer in cases:
        e = input_error(lambda kw=kw: share(world, Form.PLAIN, **kw))
        assert (e.code, e.pointer) == ("envelope.malformed", pointer), kw


# ------------------------------------------------------------ tampering: header fields

# (path, new value): each keeps the header well-formed, so only the signature catches it.
FIELD_CHANGES: list[tuple[str, Any]] = [
    ("/id", SID2),
    ("/originator", C),
    ("/created", "2026-11-29T08:00:00.001Z"),
    ("/expires", None),
    ("/expires", "2027-01-01T00:00:00.000Z"),
    ("/audience/tlp", "red"),
    ("/audience/tlp", "amber+strict"),
    ("/audience/channel", None),
    ("/audience/channel", "channel--00000000-0000-4000-8000-000000000000"),
    ("/audience/recipients", [A]),
    ("/audience/recipients", sorted([A, B, C])),
    ("/handling/purpose", None),
    ("/handling/purpose", "incident-responsE"),
    ("/handling/no_onward", False),
    ("/handling/codes", ["a-code"]),
    ("/themes", ["cyber"]),
    ("/regions", ["EU", "FR", "US"]),
    ("/payload/media_type", "application/json"),
    ("/payload/size", 10),
    ("/payload/digest", "sha256:" + "0" * 64),
    ("/seal/wraps_digest", "sha256:" + "0" * 64),
]


def set_path(doc: Any, path: str, value: Any) -> None:
    parts = path.strip("/").split("/")
    for p in parts[:-1]:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    doc[parts[-1]] = value


@pytest.mark.parametrize(("path", "value"), FIELD_CHANGES)
def test_header_field_changed(world: World, path: str, value: Any) -> None:
    env = share(world)
    header = copy.deepcopy(dict(env.header))
    set_path(header, path, value)
    check_header(header)  # still well-formed
    forged = replace(env, header=header)
    assert crypto_code(verify_envelope, forged, world.sign[ORIG].public_raw) == (
        "crypto.bad_signature"
    )
    wire = envelope_to_json(env)
    set_path(wire["header"], path, value)
    with pytest.raises(CryptoError):
        verify_envelope(envelope_from_json(wire), world.sign[ORIG].public_raw)


def test_every_header_leaf_is_covered(world: World) -> None:
    """Every leaf of the header is listed in FIELD_CHANGES (or has a test below)."""
    env = share(world)

    def leaves(obj: Any, prefix: str = "") -> set[str]:
        if isinstance(obj, dict):
            return set().union(*(leaves(v, f"{prefix}/{k}") for k, v in obj.items()))
        return {prefix}

    special = {"/v", "/kind", "/key", "/provenance", "/payload/form", "/seal/suite"}
    assert leaves(dict(env.header)) <= {p for p, _ in FIELD_CHANGES} | special


def test_header_special_fields(world: World) -> None:
    env = share(world)
    pub = world.sign[ORIG].public_raw

    def forged(**changes: Any) -> Envelope:
        h = copy.deepcopy(dict(env.header))
        for path, value in changes.items():
            if value is ...:
                del h[path]
            else:
                h[path] = value
        return replace(env, header=h)

    assert crypto_code(verify_envelope, forged(key=world.sign[A].key_id), pub) == (
        "crypto.key_mismatch"
    )
    assert crypto_code(verify_envelope, forged(key=None), pub) == "crypto.key_mismatch"
    for change in (
        {"v": 2},
        {"kind": "recall"},
        {"provenance": "attested", "posted_by": {"member": ORIG, "user": "u"}},
        {"payload": {**env.header["payload"], "form": "plain"}, "seal": ...},
        {"seal": {**env.header["seal"], "suite": "other"}},
        {"extra": 1},
    ):
        assert crypto_code(verify_envelope, forged(**change), pub) == "crypto.bad_signature"


def test_malformed_but_validly_signed_header(world: World) -> None:
    """A signer that signs a malformed header still gets envelope.malformed."""
    env = share(world)
    h = copy.deepcopy(dict(env.header))
    h["themes"] = ["z", "a"]
    env = replace(env, header=h, signature=sign(TAG_SHARE, h, world.sign[ORIG].private))
    e = input_error(verify_envelope, env, world.sign[ORIG].public_raw)
    assert (e.code, e.pointer) == ("envelope.malformed", "/header/themes/1")


# ------------------------------------------------------- tampering: signature, bytes


def test_receipt_signature_presented_as_share_signature(world: World) -> None:
    env = share(world)
    receipt_sig = sign(TAG_RECEIPT, dict(env.header), world.sign[ORIG].private)
    forged = replace(env, signature=receipt_sig)
    assert crypto_code(verify_envelope, forged, world.sign[ORIG].public_raw) == (
        "crypto.bad_signature"
    )


def test_signature_by_another_key(world: World) -> None:
    env = share(world)
    forged = replace(env, signature=sign(TAG_SHARE, dict(env.header), world.sign[A].private))
    assert crypto_code(verify_envelope, forged, world.sign[ORIG].public_raw) == (
        "crypto.bad_signature"
    )
    assert crypto_code(verify_envelope, env, world.sign[A].public_raw) == "crypto.key_mismatch"


def flip(data: bytes, i: int, bit: int = 0x01) -> bytes:
    return data[:i] + bytes([data[i] ^ bit]) + data[i + 1 :]


def test_flipped_signature_payload_and_wrap_bytes(world: World) -> None:
    pub = world.sign[ORIG].public_raw
    env = share(world)
    for i in range(len(env.signature)):
        forged = replace(env, signature=flip(env.signature, i))
        assert crypto_code(verify_envelope, forged, pub) == "crypto.bad_signature"
    for i in range(len(env.payload)):
        forged = replace(env, payload=flip(env.payload, i))
        assert crypto_code(verify_envelope, forged, pub) == "crypto.digest_mismatch"
        assert crypto_code(open_share, forged, A, world.enc[A].private) == "crypto.open_failed"
    assert crypto_code(verify_envelope, replace(env, payload=env.payload + b"\0"), pub) == (
        "crypto.digest_mismatch"
    )
    for k, w in enumerate(env.wraps):
        for i in range(len(w.blob)):
            wraps = list(env.wraps)
            wraps[k] = replace(w, blob=flip(w.blob, i))
            forged = replace(env, wraps=tuple(wraps))
            assert crypto_code(verify_envelope, forged, pub) == "crypto.wraps_mismatch"
            assert crypto_code(open_share, forged, w.member, world.enc[w.member].private) == (
                "crypto.open_failed"
            )
    plain = share(world, Form.PLAIN)
    for i in range(len(plain.payload)):
        forged = replace(plain, payload=flip(plain.payload, i))
        assert crypto_code(verify_envelope, forged, pub) == "crypto.digest_mismatch"


def test_wraps_changed(world: World) -> None:
    pub = world.sign[ORIG].public_raw
    env = share(world)
    by = {w.member: w for w in env.wraps}
    cases = [
        env.wraps[:-1],  # removed
        (*env.wraps, by[A]),  # duplicated
        tuple(replace(w, member=C) if w.member == A else w for w in env.wraps),  # relabelled
        tuple(replace(w, key=world.enc[C].key_id) if w.member == A else w for w in env.wraps),
        tuple(replace(w, blob=by[B].blob) if w.member == A else w for w in env.wraps),
    ]
    for wraps in cases:
        assert crypto_code(verify_envelope, replace(env, wraps=wraps), pub) == (
            "crypto.wraps_mismatch"
        )
    plain = share(world, Form.PLAIN)
    assert crypto_code(verify_envelope, replace(plain, wraps=(by[A],)), pub) == ("crypto.bad_wraps")


def resigned(world: World, env: Envelope, **changes: Any) -> Envelope:
    """Re-sign an envelope after changes, as a malicious or buggy signer could."""
    from vigil.crypto.seal import wraps_digest

    env = replace(env, **changes)
    h = copy.deepcopy(dict(env.header))
    h["payload"]["size"] = len(env.payload)
    h["payload"]["digest"] = payload_digest(env.payload)
    if "seal" in h:
        h["seal"]["wraps_digest"] = wraps_digest(env.wraps)
    return replace(env, header=h, signature=sign(TAG_SHARE, h, world.sign[ORIG].private))


def test_signed_wraps_must_match_recipients(world: World) -> None:
    pub = world.sign[ORIG].public_raw
    env = share(world)
    by = {w.member: w for w in env.wraps}
    extra = wrap_key(SID, bytes(32), C, world.enc[C].key_id, world.enc[C].public_raw)
    for wraps in (
        (*env.wraps, extra),  # a wrap for a non-recipient
        (*env.wraps, by[A]),  # two wraps for A
        tuple(w for w in env.wraps if w.member != B),  # recipient B left out
        tuple(replace(w, blob=w.blob[:-1]) if w.member == A else w for w in env.wraps),
    ):
        assert crypto_code(verify_envelope, resigned(world, env, wraps=wraps), pub) == (
            "crypto.bad_wraps"
        )
    # leaving out the originator's own wrap is allowed
    verify_envelope(resigned(world, env, wraps=(by[A], by[B])), pub)


def test_wrap_moved_to_another_recipient(world: World) -> None:
    env = share(world)
    by = {w.member: w for w in env.wraps}
    moved = tuple(
        Wrap(B, world.enc[B].key_id, by[A].blob) if w.member == B else w for w in env.wraps
    )
    forged = resigned(world, env, wraps=moved)
    verify_envelope(forged, world.sign[ORIG].public_raw)  # validly signed, yet:
    assert crypto_code(open_share, forged, B, world.enc[B].private) == "crypto.open_failed"
    # B's key under A's label: the info names member A, so B's wrap does not open as A's
    swapped = tuple(
        Wrap(A, world.enc[B].key_id, by[B].blob) if w.member == A else w for w in env.wraps
    )
    forged = resigned(world, env, wraps=swapped)
    assert crypto_code(open_share, forged, A, world.enc[B].private) == "crypto.open_failed"
    # A's wrap presented to A's private key under a different member id
    relabel = replace(env, wraps=(Wrap(C, by[A].key, by[A].blob),))
    assert crypto_code(open_share, relabel, C, world.enc[A].private) == "crypto.open_failed"


def test_payload_moved_to_another_share(world: World) -> None:
    env = share(world)
    other = share(world, share_id=SID2, plaintext=b"another payload")
    # payload of SID inside share SID2, with SID2's own valid wraps
    forged = resigned(world, other, payload=env.payload)
    verify_envelope(forged, world.sign[ORIG].public_raw)
    assert crypto_code(open_share, forged, A, world.enc[A].private) == "crypto.open_failed"
    # payload and wraps of SID inside a header naming SID2
    h = copy.deepcopy(dict(env.header))
    h["id"] = SID2
    forged = resigned(world, replace(env, header=h))
    verify_envelope(forged, world.sign[ORIG].public_raw)
    for m in (ORIG, A, B):
        assert crypto_code(open_share, forged, m, world.enc[m].private) == "crypto.open_failed"


def test_open_with_wrong_key(world: World) -> None:
    env = share(world)
    assert crypto_code(open_share, env, A, world.enc[B].private) == "crypto.open_failed"


def test_any_flipped_bit_in_the_wire_form_is_rejected(world: World) -> None:
    """Flip one bit at every byte of the serialised envelope: parse or verify fails."""
    rng = random.Random(1)
    pub = world.sign[ORIG].public_raw
    for env in (share(world), share(world, Form.PLAIN)):
        raw = json.dumps(envelope_to_json(env), separators=(",", ":")).encode()
        for i in range(len(raw)):
            mutated = flip(raw, i, 1 << rng.randrange(8))
            try:
                doc = json.loads(mutated)
            except ValueError:
                continue
            with pytest.raises(VigilError):
                verify_envelope(envelope_from_json(doc), pub)


# --------------------------------------------------------------------------- wire


def test_wire_form(world: World) -> None:
    env = share(world)
    wire = envelope_to_json(env)
    assert set(wire) == {"header", "signature", "payload", "wraps"}
    assert wire["signature"] == b64u(env.signature) and "=" not in wire["payload"]
    assert [w["member"] for w in wire["wraps"]] == sorted([ORIG, A, B])
    assert set(wire["wraps"][0]) == {"member", "key", "blob"}


DEL = object()

# (path in the wire document, new value or DEL, expected pointer or None for the same path)
MALFORMED: list[tuple[str, Any, str | None]] = [
    ("/wraps", DEL, None),
    ("/extra", 1, None),
    ("/signature", "AAAA", None),
    ("/payload", 5, None),
    ("/payload", "a b", None),
    ("/payload", "AB==", None),
    ("/wraps", {}, None),
    ("/wraps/1/blob", DEL, None),
    ("/wraps/1/key", "ed25519:" + "0" * 32, None),
    ("/wraps/0/member", "alice", None),
    ("/wraps/0/blob", "AB==", None),
    ("/wraps/0/extra", "x", None),
    ("/header", [], None),
    ("/header/v", True, None),
    ("/header/v", 1.0, None),
    ("/header/kind", "Share", None),
    ("/header/payload/size", 1.0, None),
    ("/header/payload/size", -1, None),
    ("/header/payload/size", True, None),
    ("/header/payload/size", 2**53, None),
    ("/header/payload/form", "x", None),
    ("/header/payload/digest", "sha256:AB", None),
    ("/header/payload/digest", "sha256:" + "A" * 64, None),
    ("/header/handling/no_onward", 0, None),
    ("/header/handling/codes", None, None),
    ("/header/audience/tlp", "AMBER", None),
    ("/header/audience/channel", DEL, None),
    ("/header/audience/recipients", "x", None),
    ("/header/themes", ["critical-infrastructure/energy", "cyber", "cyber"], "/header/themes/2"),
    ("/header/regions", ["FR", "EU"], "/header/regions/1"),
    ("/header/seal", DEL, None),
    ("/header/seal/suite", "other", None),
    ("/header/seal/extra", 1, None),
    ("/header/posted_by", {}, None),
    ("/header/provenance", "node", None),
    ("/header/key", "x25519:" + "0" * 32, None),
    ("/header/id", "share--" + "0" * 36, None),
    ("/header/id", SID.upper().replace("SHARE", "share"), None),
    ("/header/originator", "identity--x", None),
    ("/header/originator", ORIG + "\n", None),
    ("/header/id", SID + "\n", None),
    ("/header/key", "ed25519:" + "0" * 32 + "\n", None),
    ("/header/created", "2026-11-29T08:00:00.000Z\n", None),
    ("/header/payload/digest", "sha256:" + "0" * 64 + "\n", None),
    ("/header/a~b/c", 1, "/header/a~0b~1c"),
    ("/header/created", "2026-11-29 08:00:00.000Z", None),
    ("/header/expires", 5, None),
    ("/header/expires", "2026-11-28T08:00:00.000Z", None),
]


@pytest.mark.parametrize(("path", "value", "pointer"), MALFORMED)
def test_malformed_wire(world: World, path: str, value: Any, pointer: str | None) -> None:
    d = envelope_to_json(share(world))
    parts = path.strip("/").split("/")
    if parts[-1] == "c" and parts[-2] == "a~b":  # a single key holding "~" and "/"
        parts[-2:] = ["a~b/c"]
    parent: Any = d
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    if value is DEL:
        del parent[parts[-1]]
    else:
        parent[parts[-1]] = value
    e = input_error(envelope_from_json, d)
    assert (e.code, e.pointer) == ("envelope.malformed", pointer or path)


def test_not_an_object() -> None:
    e = input_error(envelope_from_json, [])
    assert (e.code, e.pointer) == ("envelope.malformed", "")


# --------------------------------------------------------------------------- speed


def test_large_share_with_many_recipients_is_fast(world: World) -> None:
    recipients = {f"identity--00000000-0000-4000-8000-{i:012d}": EncryptionKey.generate()
                  for i in range(20)}  # fmt: skip
    keys = {m: (k.key_id, k.public_raw) for m, k in recipients.items()}
    keys[ORIG] = (world.enc[ORIG].key_id, world.enc[ORIG].public_raw)
    plaintext = os.urandom(500_000)
    t0 = time.perf_counter()
    env = share(world, plaintext=plaintext, recipients=list(recipients), recipient_keys=keys)
    t1 = time.perf_counter()
    verify_envelope(env, world.sign[ORIG].public_raw)
    t2 = time.perf_counter()
    m = next(iter(recipients))
    assert open_share(env, m, recipients[m].private) == plaintext
    assert len(env.wraps) == 21
    assert t1 - t0 < 0.5 and t2 - t1 < 0.1  # ~8 ms and ~2 ms here


# ------------------------------------------------------------------------ hybrid suites


@dataclass
class HybridWorld:
    sign: dict[str, Any]
    enc: dict[str, Any]


@pytest.fixture(scope="module")
def hworld() -> HybridWorld:
    from vigil.crypto.keys import generate_enc_key, generate_sign_key

    members = (ORIG, A, B)
    return HybridWorld({m: generate_sign_key() for m in members},
                       {m: generate_enc_key() for m in members})


def hkeys(w: HybridWorld, *members: str) -> dict[str, tuple[str, bytes]]:
    from vigil.crypto.keys import enc_key_id, enc_public_raw

    return {m: (enc_key_id(w.enc[m]), enc_public_raw(w.enc[m])) for m in members}


def hshare(w: HybridWorld, world: World, **kw: Any) -> Envelope:
    from vigil.crypto.keys import sign_key_id

    args: dict[str, Any] = {"signer_private": w.sign[ORIG],
                            "signer_key_id": sign_key_id(w.sign[ORIG]),
                            "recipient_keys": hkeys(w, ORIG, A, B)}
    args.update(kw)
    return share(world, **args)


def test_hybrid_round_trip(hworld: HybridWorld, world: World) -> None:
    from vigil.crypto.keys import sign_public_raw
    from vigil.crypto.seal import SUITE_HYBRID

    env = hshare(hworld, world)
    assert env.header["key"].startswith("ed25519+mldsa65:")
    assert env.header["seal"]["suite"] == SUITE_HYBRID
    assert len(env.signature) == 3373
    assert {w.key.split(":")[0] for w in env.wraps} == {"mlkem768x25519"}
    assert {len(w.blob) for w in env.wraps} == {1168}
    pub = sign_public_raw(hworld.sign[ORIG])
    again = envelope_from_json(json.loads(json.dumps(envelope_to_json(env))))
    assert again == env
    verify_envelope(again, pub)
    for m in (ORIG, A, B):
        assert open_share(again, m, hworld.enc[m]) == PLAINTEXT
    plain = hshare(hworld, world, form=Form.PLAIN, recipient_keys={},
                   audience=Audience(Tlp.GREEN, None))
    verify_envelope(envelope_from_json(envelope_to_json(plain)), pub)


def test_mixed_recipients_make_a_classical_seal(hworld: HybridWorld, world: World) -> None:
    """A classical wrap exposes the content key: the header says so."""
    from vigil.crypto.keys import sign_public_raw

    keys = {**hkeys(hworld, ORIG, A), **world.keys(B)}
    env = hshare(hworld, world, recipient_keys=keys)
    assert env.header["seal"]["suite"] == SUITE
    verify_envelope(env, sign_public_raw(hworld.sign[ORIG]))
    assert open_share(env, B, world.enc[B].private) == PLAINTEXT
    assert open_share(env, A, hworld.enc[A]) == PLAINTEXT
    # a classical signer sealing to hybrid recipients: old and new suites interwork
    env = share(world, recipient_keys=hkeys(hworld, ORIG, A, B))
    verify_envelope(env, world.sign[ORIG].public_raw)
    assert open_share(env, B, hworld.enc[B]) == PLAINTEXT


def test_downgrade_stripped_signature_is_refused(hworld: HybridWorld, world: World) -> None:
    """A node or peer that relabels the composite signature as its Ed25519 half."""
    from vigil.crypto.keys import ALG_ED25519, sign_public_raw

    env = hshare(hworld, world)
    composite_pub = sign_public_raw(hworld.sign[ORIG])
    ed_pub = composite_pub[1952:]
    h = copy.deepcopy(dict(env.header))
    h["key"] = key_id_of(ALG_ED25519, ed_pub)
    stripped = replace(env, header=h, signature=env.signature[3309:])
    wire = envelope_to_json(stripped)
    parsed = envelope_from_json(wire)  # well-formed: an ed25519 key id and 64 bytes
    # against the member's registered (composite) key: the key id no longer names it
    assert crypto_code(verify_envelope, parsed, composite_pub) == "crypto.key_mismatch"
    # against the Ed25519 half itself: that half signed M', not the share
    assert crypto_code(verify_envelope, parsed, ed_pub) == "crypto.bad_signature"
    # a composite signature cut short or a header that claims ed25519 with 3373 bytes
    with pytest.raises(InputError):
        envelope_from_json({**wire, "signature": b64u(env.signature)})


def key_id_of(alg: str, raw: bytes) -> str:
    from vigil.crypto.keys import key_id

    return key_id(alg, raw)


def test_downgrade_dropped_mlkem_wrap_is_refused(hworld: HybridWorld, world: World) -> None:
    """The ML-KEM wrap swapped for an X25519 one to the X25519 half of the same key."""
    from vigil.crypto.keys import ALG_X25519, sign_public_raw
    from vigil.crypto.seal import seal_suite

    env = hshare(hworld, world)
    pub = sign_public_raw(hworld.sign[ORIG])
    x_half = hworld.enc[A].x25519
    x_pub = x_half.public_key().public_bytes_raw()
    k = b"\x07" * 32  # the stripper does not know K; even a signer that does is caught
    x_wrap = wrap_key(SID, k, A, key_id_of(ALG_X25519, x_pub), x_pub)
    wraps = tuple(x_wrap if w.member == A else w for w in env.wraps)
    # a node changing the wraps breaks the signed wraps digest
    assert crypto_code(verify_envelope, replace(env, wraps=wraps), pub) == \
        "crypto.wraps_mismatch"
    # a signer that re-signs but keeps the hybrid label: the suite does not match
    h = copy.deepcopy(dict(env.header))
    from vigil.crypto.seal import wraps_digest

    h["seal"]["wraps_digest"] = wraps_digest(wraps)
    relabelled = replace(env, header=h, wraps=wraps, signature=sign(TAG_SHARE, h,
                                                                     hworld.sign[ORIG]))
    assert crypto_code(verify_envelope, relabelled, pub) == "crypto.bad_wraps"
    assert seal_suite(wraps) == SUITE  # honestly labelled, it is a classical share
