"""Write vigil-hybrid-v1.json, the test vectors of the hybrid suites (see README.md).

Run from the repository root:  python tests/data/vectors/make_vigil_hybrid_v1.py

Keys, ids, times, content keys and nonces are fixed. Signatures are made with the
deterministic ML-DSA-65 variant (FIPS 204, rnd = 32 zero bytes, by dilithium-py) and
Ed25519 (deterministic), so every composite signature is a function of its message.
vigil itself signs with hedged (randomised) ML-DSA; both verify the same way. HPKE is
randomised, so the wrap blobs (and the wraps digests, headers and signatures over
them) are one recorded run: check wraps by opening them. Rerun only when the format
changes.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from dilithium_py.ml_dsa import ML_DSA_65

from vigil.crypto.canonical import canonical
from vigil.crypto.composite import LABEL, MLDSA_SEED_LEN, CompositePrivateKey
from vigil.crypto.composite import message_representative as m_prime
from vigil.crypto.encoding import b64u
from vigil.crypto.kem import HybridPrivateKey
from vigil.crypto.keys import (
    ALG_ED25519,
    ALG_X25519,
    EncPrivate,
    SignPrivate,
    enc_key_id,
    enc_public_raw,
    key_id,
    sign_alg,
    sign_key_id,
    sign_public_raw,
)
from vigil.crypto.seal import seal_payload, wrap_info, wrap_key, wraps_digest
from vigil.crypto.sign import TAG_RECEIPT, TAG_SHARE, signed_bytes
from vigil.model import Audience, Envelope, Form, Handling, Tlp, Wrap
from vigil.protocol.envelope import envelope_to_json, share_header

OUT = Path(__file__).with_name("vigil-hybrid-v1.json")


def seed(label: str, n: int = 32) -> bytes:
    return hashlib.shake_256(b"vigil test vector/" + label.encode()).digest(n)


MEMBERS = {
    "originator": "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f",
    "recipient_a": "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
    "recipient_b": "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b",
    "legacy": "identity--11111111-2222-4333-8444-555555555555",
}
HYBRID = ("originator", "recipient_a", "recipient_b")
CHANNEL = "channel--3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"


def sign_key(name: str) -> SignPrivate:
    if name == "legacy":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(seed(f"{name}/ed25519"))
    return CompositePrivateKey.from_private_bytes(seed(f"{name}/ed25519+mldsa65", 64))


def enc_key(name: str) -> EncPrivate:
    if name == "legacy":
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return X25519PrivateKey.from_private_bytes(seed(f"{name}/x25519"))
    return HybridPrivateKey.from_private_bytes(seed(f"{name}/mlkem768x25519", 96))


SIGN = {n: sign_key(n) for n in MEMBERS}
ENC = {n: enc_key(n) for n in MEMBERS}


def raw(private: Any) -> bytes:
    data = private.private_bytes_raw()
    assert isinstance(data, bytes)
    return data


def det_sign(private: SignPrivate, message: bytes) -> bytes:
    """The composite signature with deterministic ML-DSA-65 (or plain Ed25519)."""
    if not isinstance(private, CompositePrivateKey):
        return private.sign(message)
    _, sk = ML_DSA_65.key_derive(raw(private)[:MLDSA_SEED_LEN])
    mp = m_prime(message)
    return ML_DSA_65.sign(sk, mp, ctx=LABEL, deterministic=True) + private.ed25519.sign(mp)


def key_json(name: str) -> dict[str, Any]:
    s, e = SIGN[name], ENC[name]
    return {"member": MEMBERS[name],
            "sign": {"alg": sign_alg(s), "private": raw(s).hex(),
                     "public": sign_public_raw(s).hex(), "id": sign_key_id(s)},
            "enc": {"alg": enc_key_id(e).split(":")[0], "private": raw(e).hex(),
                    "public": enc_public_raw(e).hex(), "id": enc_key_id(e)}}


BUNDLE = {"type": "bundle", "id": "bundle--7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a",
          "objects": [{"type": "indicator", "spec_version": "2.1",
                       "id": "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                       "created": "2026-11-29T07:59:00.000Z",
                       "modified": "2026-11-29T07:59:00.000Z",
                       "name": "C2 server (hybrid test vector)",
                       "pattern": "[ipv4-addr:value = '198.51.100.9']",
                       "pattern_type": "stix", "valid_from": "2026-11-29T07:59:00.000Z"}]}
PLAINTEXT = json.dumps(BUNDLE, separators=(",", ":")).encode()


def build(name: str, share_id: str, form: Form, tlp: Tlp, to: list[str],
          sealed_for: list[str]) -> tuple[dict[str, Any], Envelope]:
    content_key, nonce = seed(f"{name}/content-key"), seed(f"{name}/nonce", 12)
    recipients = sorted(MEMBERS[n] for n in to)
    wraps: tuple[Wrap, ...] = ()
    if form is Form.SEALED:
        stored, _ = seal_payload(share_id, PLAINTEXT, key=content_key, nonce=nonce)
        wraps = tuple(wrap_key(share_id, content_key, MEMBERS[n], enc_key_id(ENC[n]),
                               enc_public_raw(ENC[n])) for n in sealed_for)
    else:
        stored = PLAINTEXT
    inputs = {"share_id": share_id, "originator": MEMBERS["originator"],
              "created": "2026-11-29T08:00:00.000Z", "expires": "2026-12-29T08:00:00.000Z",
              "tlp": tlp.value, "channel": CHANNEL if form is Form.SEALED else None,
              "recipients": recipients, "form": form.value,
              "handling": {"purpose": "incident-response", "no_onward": False, "codes": []},
              "themes": ["cyber"], "regions": ["EU"], "plaintext_utf8": PLAINTEXT.decode(),
              "sealed_for": [MEMBERS[n] for n in sealed_for]}
    if form is Form.SEALED:
        inputs |= {"content_key_hex": content_key.hex(), "nonce_hex": nonce.hex()}
    header = share_header(
        share_id=share_id, originator=MEMBERS["originator"],
        signer_key_id=sign_key_id(SIGN["originator"]),
        audience=Audience(tlp, inputs["channel"]), recipients=recipients, form=form,
        handling=Handling("incident-response", False, ()), themes=["cyber"], regions=["EU"],
        expires=inputs["expires"], created=inputs["created"], payload=stored, wraps=wraps)
    sig = det_sign(SIGN["originator"], signed_bytes(TAG_SHARE, header))
    env = Envelope(header, sig, stored, wraps)
    return {"name": name, "inputs": inputs, "expected": {
        "stored_payload_hex": stored.hex(), "header": header,
        "canonical_header": canonical(header).decode(),
        "m_prime_hex": m_prime(signed_bytes(TAG_SHARE, header)).hex(),
        "signature_hex": sig.hex(), "envelope": envelope_to_json(env),
        "open_as": [MEMBERS[n] for n in sealed_for]}}, env


def resigned(env: Envelope, signer: str, **changes: Any) -> dict[str, Any]:
    h = copy.deepcopy(dict(changes.pop("header", env.header)))
    e = Envelope(h, b"", changes.pop("payload", env.payload), changes.pop("wraps", env.wraps))
    if "seal" in h:
        h["seal"]["wraps_digest"] = wraps_digest(e.wraps)
    sig = det_sign(SIGN[signer], signed_bytes(TAG_SHARE, h))
    return envelope_to_json(Envelope(h, sig, e.payload, e.wraps))


def main() -> None:
    sid = "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
    sealed, env = build("sealed", sid, Form.SEALED, Tlp.AMBER,
                        ["recipient_a", "recipient_b"], ["originator", "recipient_a",
                                                         "recipient_b"])
    mixed, _ = build("mixed", "share--0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", Form.SEALED,
                     Tlp.AMBER, ["recipient_a", "legacy"], ["recipient_a", "legacy"])
    plain, _ = build("plain", "share--1b2c3d4e-5f6a-4b7c-9d8e-9f0a1b2c3d4e", Form.PLAIN,
                     Tlp.GREEN, [], [])
    receipt = {"v": 1, "kind": "receipt", "share": sid, "member": MEMBERS["recipient_a"],
               "what": "received", "at": "2026-11-29T08:01:00.000Z",
               "key": sign_key_id(SIGN["recipient_a"])}
    message = signed_bytes(TAG_RECEIPT, receipt)
    orig = SIGN["originator"]
    assert isinstance(orig, CompositePrivateKey)
    ed_half = orig.ed25519.public_key().public_bytes_raw()
    wire = sealed["expected"]["envelope"]
    sig = bytes.fromhex(sealed["expected"]["signature_hex"])
    a_wrap = next(w for w in env.wraps if w.member == MEMBERS["recipient_a"])
    x_half = enc_public_raw(ENC["recipient_a"])[-32:]
    downgraded_wraps = tuple(
        wrap_key(sid, bytes.fromhex(sealed["inputs"]["content_key_hex"]), w.member,
                 key_id(ALG_X25519, x_half), x_half) if w.member == MEMBERS["recipient_a"] else w
        for w in env.wraps)
    stripped = copy.deepcopy(wire)
    stripped["header"]["key"] = key_id(ALG_ED25519, ed_half)
    stripped["signature"] = b64u(sig[3309:])
    negative = [
        {"name": "composite stripped to its ed25519 half, checked with the member's key",
         "envelope": stripped, "verify_with": "originator", "expect": "crypto.key_mismatch"},
        {"name": "composite stripped to its ed25519 half, checked with that half",
         "envelope": stripped, "verify_with_public_hex": ed_half.hex(),
         "expect": "crypto.bad_signature"},
        {"name": "ML-DSA half zeroed", "patch": [
            {"op": "replace", "path": "/signature", "value": b64u(bytes(3309) + sig[3309:])}],
         "expect": "crypto.bad_signature"},
        {"name": "Ed25519 half flipped", "patch": [
            {"op": "replace", "path": "/signature",
             "value": b64u(sig[:-1] + bytes([sig[-1] ^ 1]))}], "expect": "crypto.bad_signature"},
        {"name": "ed25519-length signature under a composite key id", "patch": [
            {"op": "replace", "path": "/signature", "value": b64u(sig[3309:])}],
         "expect": "envelope.malformed"},
        {"name": "seal suite relabelled classical without re-signing", "patch": [
            {"op": "replace", "path": "/header/seal/suite",
             "value": "hpke-x25519-sha256-aes128gcm+aes256gcm"}],
         "expect": "crypto.bad_signature"},
        {"name": "ML-KEM wrap of recipient_a dropped", "patch": [
            {"op": "remove", "path": "/wraps/" + str(
                [w["member"] for w in wire["wraps"]].index(MEMBERS["recipient_a"]))}],
         "expect": "crypto.wraps_mismatch"},
        {"name": "re-signed: an X25519 wrap to the X25519 half of recipient_a's key, "
                 "still labelled hybrid",
         "envelope": resigned(env, "originator", wraps=downgraded_wraps),
         "expect": "crypto.bad_wraps"},
    ]
    doc = {
        "about": "vigil hybrid suites test vectors v1 (docs/protocol.md, Test vectors)",
        "keys": {n: key_json(n) for n in MEMBERS},
        "composite": {"message_hex": message.hex(), "object": receipt, "tag": TAG_RECEIPT,
                      "m_prime_hex": m_prime(message).hex(),
                      "signature_hex": det_sign(SIGN["recipient_a"], message).hex(),
                      "signer": "recipient_a"},
        "wrap": {"share_id": sid, "member": a_wrap.member, "key": a_wrap.key,
                 "info_hex": wrap_info(sid, a_wrap.member, a_wrap.key).hex(),
                 "blob_hex": a_wrap.blob.hex(),
                 "content_key_hex": sealed["inputs"]["content_key_hex"]},
        "shares": [sealed, mixed, plain],
        "negative": negative,
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":
    main()
