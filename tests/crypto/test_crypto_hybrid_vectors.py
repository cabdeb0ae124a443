"""Check vigil against its hybrid-suite vectors (tests/data/vectors/vigil-hybrid-v1.json),
the ML-DSA half against dilithium-py, and the primitives vigil composes against public
vectors: draft-ietf-hpke-pq MLKEM768-X25519 and ML-DSA-65 deterministic KATs, both as
shipped in cryptography-vectors (tests/data/vectors/pq/)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey
from dilithium_py.ml_dsa import ML_DSA_65

from vigil.crypto.canonical import canonical
from vigil.crypto.composite import LABEL, MLDSA_SEED_LEN, message_representative
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.kem import HybridPrivateKey, enc_public_raw, load_enc_private
from vigil.crypto.keys import (
    enc_key_id,
    load_sign_private,
    sign_key_id,
    sign_public_raw,
)
from vigil.crypto.seal import seal_payload, unwrap_key, wrap_info
from vigil.crypto.sign import TAG_SHARE, signed_bytes, verify
from vigil.errors import VigilError
from vigil.model import Audience, Form, Handling, Tlp, Wrap
from vigil.protocol.envelope import (
    envelope_from_json,
    envelope_to_json,
    open_share,
    share_header,
    verify_envelope,
)

DATA = Path(__file__).parent.parent / "data" / "vectors"
VECTORS = json.loads((DATA / "vigil-hybrid-v1.json").read_text("utf-8"))
KEYS = VECTORS["keys"]
BY_MEMBER = {k["member"]: name for name, k in KEYS.items()}
SHARES = {s["name"]: s for s in VECTORS["shares"]}


def signer(name: str) -> Any:
    k = KEYS[name]["sign"]
    return load_sign_private(k["alg"], bytes.fromhex(k["private"]))


def decrypter(name: str) -> Any:
    k = KEYS[name]["enc"]
    return load_enc_private(k["alg"], bytes.fromhex(k["private"]))


def test_keys() -> None:
    for name, k in KEYS.items():
        s, e = signer(name), decrypter(name)
        assert (sign_public_raw(s).hex(), sign_key_id(s)) == (k["sign"]["public"], k["sign"]["id"])
        assert (enc_public_raw(e).hex(), enc_key_id(e)) == (k["enc"]["public"], k["enc"]["id"])
        if k["sign"]["alg"] == "ed25519+mldsa65":  # dilithium-py derives the same key
            pk, _ = ML_DSA_65.key_derive(bytes.fromhex(k["sign"]["private"])[:MLDSA_SEED_LEN])
            assert pk.hex() == k["sign"]["public"][:1952 * 2]


def test_composite_signature_is_reproduced_and_verifies() -> None:
    c = VECTORS["composite"]
    message = bytes.fromhex(c["message_hex"])
    assert message == signed_bytes(c["tag"], c["object"])
    assert message_representative(message).hex() == c["m_prime_hex"]
    key = signer(c["signer"])
    sig = bytes.fromhex(c["signature_hex"])
    verify(c["tag"], c["object"], sig, sign_public_raw(key))
    # deterministic ML-DSA-65 (dilithium-py) || Ed25519 gives the recorded bytes
    _, sk = ML_DSA_65.key_derive(key.private_bytes_raw()[:MLDSA_SEED_LEN])
    mp = bytes.fromhex(c["m_prime_hex"])
    assert ML_DSA_65.sign(sk, mp, ctx=LABEL, deterministic=True) + key.ed25519.sign(mp) == sig


def test_wrap_opens() -> None:
    w = VECTORS["wrap"]
    assert wrap_info(w["share_id"], w["member"], w["key"]).hex() == w["info_hex"]
    wrap = Wrap(w["member"], w["key"], bytes.fromhex(w["blob_hex"]))
    key = unwrap_key(w["share_id"], wrap, decrypter(BY_MEMBER[w["member"]]))
    assert key.hex() == w["content_key_hex"]


@pytest.mark.parametrize("name", sorted(SHARES))
def test_share_vector(name: str) -> None:
    case = SHARES[name]
    i, x = case["inputs"], case["expected"]
    plaintext = i["plaintext_utf8"].encode()
    form = Form(i["form"])
    env = envelope_from_json(copy.deepcopy(x["envelope"]))
    if form is Form.SEALED:
        stored, _ = seal_payload(i["share_id"], plaintext,
                                 key=bytes.fromhex(i["content_key_hex"]),
                                 nonce=bytes.fromhex(i["nonce_hex"]))
    else:
        stored = plaintext
    assert stored.hex() == x["stored_payload_hex"]
    orig = signer("originator")
    header = share_header(
        share_id=i["share_id"], originator=i["originator"], signer_key_id=sign_key_id(orig),
        audience=Audience(Tlp(i["tlp"]), i["channel"]), recipients=i["recipients"], form=form,
        handling=Handling(i["handling"]["purpose"], i["handling"]["no_onward"], ()),
        themes=i["themes"], regions=i["regions"], expires=i["expires"], created=i["created"],
        payload=stored, wraps=env.wraps)
    assert header == x["header"] and canonical(header).decode() == x["canonical_header"]
    data = signed_bytes(TAG_SHARE, header)
    assert message_representative(data).hex() == x["m_prime_hex"]
    sig = bytes.fromhex(x["signature_hex"])
    pub = sign_public_raw(orig)
    assert ML_DSA_65.verify(pub[:1952], bytes.fromhex(x["m_prime_hex"]), sig[:3309], ctx=LABEL)
    verify_envelope(env, pub)
    assert envelope_to_json(env) == x["envelope"]
    for member in x["open_as"]:
        assert open_share(env, member, decrypter(BY_MEMBER[member])) == plaintext


def _patched(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~")
                          for p in op["path"].split("/")[1:]]
        target: Any = doc
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if op["op"] == "remove":
            del target[int(last) if isinstance(target, list) else last]
        else:
            target[int(last) if isinstance(target, list) else last] = op["value"]
    return doc


@pytest.mark.parametrize("case", VECTORS["negative"], ids=lambda c: c["name"])
def test_negative(case: dict[str, Any]) -> None:
    base = SHARES["sealed"]["expected"]["envelope"]
    wire = case.get("envelope") or _patched(base, case["patch"])
    pub = bytes.fromhex(case["verify_with_public_hex"]) if "verify_with_public_hex" in case \
        else sign_public_raw(signer(case.get("verify_with", "originator")))
    with pytest.raises(VigilError) as e:
        verify_envelope(envelope_from_json(wire), pub)
    assert e.value.code == case["expect"]


# -- the primitives against public vectors --------------------------------------------

def test_hpke_mlkem768x25519_draft_vectors() -> None:
    """Our key encoding (ML-KEM seed || X25519) and cryptography's KEM against the
    draft-ietf-hpke-pq vectors: the 32-byte seed expands with SHAKE256 to 96 bytes."""
    cases = json.loads((DATA / "pq" / "hpke-mlkem768x25519.json").read_text("utf-8"))
    assert cases and all(c["kem_id"] == 0x647A for c in cases)
    for c in cases:
        key = HybridPrivateKey.from_private_bytes(
            hashlib.shake_256(bytes.fromhex(c["skRm"])).digest(96))
        assert enc_public_raw(key).hex() == c["pkRm"]
        kdf = {1: hpke.KDF.HKDF_SHA256, 16: hpke.KDF.SHAKE128, 17: hpke.KDF.SHAKE256}[c["kdf_id"]]
        aead = {1: hpke.AEAD.AES_128_GCM, 2: hpke.AEAD.AES_256_GCM,
                3: hpke.AEAD.CHACHA20_POLY1305}[c["aead_id"]]
        e = c["encryptions"][0]
        pt = rust_openssl.hpke._decrypt_with_aad(
            hpke.Suite(hpke.KEM.MLKEM768_X25519, kdf, aead),
            bytes.fromhex(c["enc"]) + bytes.fromhex(e["ct"]),
            hpke.MLKEM768X25519PrivateKey(key.mlkem, key.x25519),
            info=bytes.fromhex(c["info"]), aad=bytes.fromhex(e["aad"]))
        assert pt.hex() == e["pt"]


def _kat() -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for line in (DATA / "pq" / "kat_MLDSA_65_det_pure.rsp").read_text().splitlines():
        if line.startswith("count"):
            out.append({})
        elif " = " in line:
            k, v = line.split(" = ", 1)
            out[-1][k] = v
    return out


def test_mldsa65_deterministic_kats() -> None:
    """ML-DSA-65 keys from the seed xi and signatures over (msg, ctx) of the KATs, in
    cryptography (the composite's ML-DSA) and in dilithium-py alike."""
    kats = _kat()
    assert len(kats) == 3
    for k in kats:
        key = MLDSA65PrivateKey.from_seed_bytes(bytes.fromhex(k["xi"]))
        assert key.public_key().public_bytes_raw().hex() == k["pk"]
        msg, ctx = bytes.fromhex(k["msg"]), bytes.fromhex(k["ctx"])
        sig = bytes.fromhex(k["sm"])[:3309]
        key.public_key().verify(sig, msg, ctx)
        _, sk = ML_DSA_65.key_derive(bytes.fromhex(k["xi"]))
        assert ML_DSA_65.sign(sk, msg, ctx=ctx, deterministic=True) == sig


def test_b64u_signature_lengths() -> None:
    env = SHARES["sealed"]["expected"]["envelope"]
    assert len(b64u_decode(env["signature"])) == 3373
