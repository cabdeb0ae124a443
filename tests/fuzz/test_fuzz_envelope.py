"""Fuzzing the share envelope's wire form and verifier (vigil.protocol.envelope).

Properties: any JSON value given to ``envelope_from_json`` is an envelope or an
``envelope.malformed`` InputError; envelopes of any allowed shape round-trip through
the wire form (and strict JSON bytes) unchanged and verify; an edited wire form either
fails with one of vigil's 4xx errors at parse or verification, or is the very same
signed envelope (the signature covers everything a recipient relies on), and then
still opens to the original plaintext.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vigil.crypto.keys import EncryptionKey, SigningKey
from vigil.errors import InputError
from vigil.model import Audience, Envelope, Form, Handling, Tlp
from vigil.protocol.envelope import (
    build_share,
    envelope_from_json,
    envelope_to_json,
    open_share,
    verify_envelope,
)
from vigil.stix import strictjson

from .strategies import FUZZ, assert_vigil_error, json_values, mutated

ORIG = "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f"
MEMBERS = ["identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
           "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b",
           "identity--11111111-2222-4333-8444-555555555555"]
CHANNEL = "channel--3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
SIGN = SigningKey.generate()
ENC = {m: EncryptionKey.generate() for m in [ORIG, *MEMBERS]}
TOKEN = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1,
                max_size=12)


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[Envelope, bytes]:
    form = draw(st.sampled_from(Form))
    recipients = draw(st.lists(st.sampled_from(MEMBERS), min_size=1, unique=True))
    keys = {m: (ENC[m].key_id, ENC[m].public_raw) for m in recipients}
    if draw(st.booleans()):
        keys[ORIG] = (ENC[ORIG].key_id, ENC[ORIG].public_raw)
    plaintext = draw(st.binary(max_size=64))
    env = build_share(
        plaintext=plaintext, originator=ORIG,
        audience=Audience(draw(st.sampled_from(Tlp)), draw(st.sampled_from([None, CHANNEL]))),
        recipients=recipients, form=form,
        handling=Handling(draw(st.none() | TOKEN), draw(st.booleans()),
                          tuple(draw(st.lists(TOKEN, max_size=3)))),
        themes=draw(st.lists(TOKEN, max_size=3)), regions=draw(st.lists(TOKEN, max_size=3)),
        expires=draw(st.sampled_from([None, "2999-12-31T23:59:59.999Z"])),
        signer_private=SIGN.private, signer_key_id=SIGN.key_id,
        recipient_keys=keys if form is Form.SEALED else {},
        created=draw(st.sampled_from(["2026-11-29T08:00:00.000Z", "2000-02-29T23:59:59.999Z"])),
    )
    return env, plaintext


def _same(a: Envelope, b: Envelope) -> bool:
    return (dict(a.header) == dict(b.header) and a.signature == b.signature
            and a.payload == b.payload and sorted(a.wraps, key=repr) == sorted(b.wraps, key=repr))


@FUZZ
@given(json_values())
def test_any_json_is_an_envelope_or_malformed(doc: Any) -> None:
    try:
        envelope_from_json(doc)
    except Exception as exc:
        err = assert_vigil_error(exc)
        assert isinstance(err, InputError) and err.code == "envelope.malformed"
        assert err.pointer is not None


@FUZZ
@given(envelopes())
def test_round_trip(built: tuple[Envelope, bytes]) -> None:
    env, plaintext = built
    wire = strictjson.dumps(envelope_to_json(env))
    back = envelope_from_json(strictjson.loads(wire))
    assert _same(back, env)
    assert strictjson.dumps(envelope_to_json(back)) == wire
    verify_envelope(back, SIGN.public_raw)
    for member in back.header["audience"]["recipients"]:
        assert open_share(back, member, ENC[member].private) == plaintext


@FUZZ
@given(envelopes(), st.data())
def test_an_edited_envelope_fails_cleanly_or_is_unchanged(built: tuple[Envelope, bytes],
                                                          data: st.DataObject) -> None:
    env, plaintext = built
    doc = data.draw(mutated(envelope_to_json(env)))
    try:
        got = envelope_from_json(doc)
        verify_envelope(got, SIGN.public_raw)
    except Exception as exc:
        assert_vigil_error(exc)
        return
    assert _same(got, env), "an edited envelope verified"
    member = got.header["audience"]["recipients"][0]
    assert open_share(got, member, ENC[member].private) == plaintext


def test_an_unhashable_tlp_is_malformed() -> None:
    """Found by the property above: ``"tlp": []`` raised TypeError (a 500 on
    ``POST /api/v1/envelopes``) instead of ``envelope.malformed``."""
    env = build_share(plaintext=b"{}", originator=ORIG, audience=Audience(Tlp.GREEN, None),
                      recipients=MEMBERS[:1], form=Form.PLAIN, handling=Handling(),
                      themes=[], regions=[], expires=None, signer_private=SIGN.private,
                      signer_key_id=SIGN.key_id, recipient_keys={})
    for bad in ([], {}, ["green"]):
        doc = envelope_to_json(env)
        doc["header"]["audience"]["tlp"] = bad
        try:
            envelope_from_json(doc)
        except InputError as exc:
            assert (exc.code, exc.pointer) == ("envelope.malformed", "/header/audience/tlp")
        else:
            raise AssertionError(f"tlp {bad!r} accepted")
