"""Write vigil-share-v1.json, the share envelope test vectors (see README.md).

Run from the repository root:  python tests/data/vectors/make_vigil_share_v1.py

Keys, ids, times, the content key and the payload nonce are fixed, so the stored
payloads are reproducible. HPKE encryption is randomised (a fresh ephemeral key per
wrap), so each run writes different wrap blobs and therefore different wraps digests,
headers and signatures; the vectors record one run. Rerun only when the format changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u
from vigil.crypto.keys import EncryptionKey, SigningKey
from vigil.crypto.seal import seal_payload, wrap_key, wraps_digest, wraps_json
from vigil.crypto.sign import TAG_RECEIPT, TAG_SHARE, sign, signed_bytes
from vigil.model import Audience, Envelope, Form, Handling, Provenance, Tlp, Wrap
from vigil.protocol.envelope import envelope_to_json, share_header

OUT = Path(__file__).with_name("vigil-share-v1.json")


def seed(label: str) -> bytes:
    return hashlib.sha256(b"vigil test vector/" + label.encode()).digest()


MEMBERS = {
    "originator": "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f",
    "recipient_a": "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
    "recipient_b": "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b",
}
CHANNEL = "channel--3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
SIGN = {name: SigningKey.from_raw(seed(f"{name}/ed25519")) for name in [*MEMBERS, "node"]}
ENC = {name: EncryptionKey.from_raw(seed(f"{name}/x25519")) for name in MEMBERS}

BUNDLE = {
    "type": "bundle",
    "id": "bundle--7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a",
    "objects": [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "created": "2026-11-29T07:59:00.000Z",
            "modified": "2026-11-29T07:59:00.000Z",
            "name": "C2 server (test vector)",
            "pattern": "[ipv4-addr:value = '198.51.100.7']",
            "pattern_type": "stix",
            "valid_from": "2026-11-29T07:59:00.000Z",
        }
    ],
}
PLAINTEXT = json.dumps(BUNDLE, separators=(",", ":")).encode()


def key_json(name: str) -> dict[str, str]:
    out = {"member": MEMBERS[name]} if name in MEMBERS else {}
    s = SIGN[name]
    out |= {
        "ed25519_private": s.private_raw.hex(),
        "ed25519_public": s.public_raw.hex(),
        "ed25519_key_id": s.key_id,
    }
    if name in ENC:
        e = ENC[name]
        out |= {
            "x25519_private": e.private_raw.hex(),
            "x25519_public": e.public_raw.hex(),
            "x25519_key_id": e.key_id,
        }
    return out


def make(
    *,
    name: str,
    share_id: str,
    form: Form,
    signer: str,
    provenance: Provenance = Provenance.ORIGINATOR,
    posted_by: dict[str, str] | None = None,
    content_key: bytes | None = None,
    nonce: bytes | None = None,
    tlp: Tlp = Tlp.AMBER,
    channel: str | None = CHANNEL,
) -> tuple[dict[str, Any], Envelope, bytes]:
    recipients = [MEMBERS["recipient_a"], MEMBERS["recipient_b"]]
    inputs: dict[str, Any] = {
        "share_id": share_id,
        "originator": MEMBERS["originator"],
        "signer": signer,
        "provenance": provenance.value,
        "posted_by": posted_by,
        "created": "2026-11-29T08:00:00.000Z",
        "expires": "2026-12-29T08:00:00.000Z",
        "tlp": tlp.value,
        "channel": channel,
        "recipients": recipients,
        "purpose": "incident-response",
        "no_onward": True,
        "codes": ["no-attribution"],
        "themes": ["critical-infrastructure/energy", "cyber"],
        "regions": ["EU", "FR"],
        "media_type": "application/stix+json;version=2.1",
        "form": form.value,
        "plaintext_utf8": PLAINTEXT.decode(),
    }
    k = b""
    wraps: tuple[Wrap, ...] = ()
    if form is Form.SEALED:
        assert content_key is not None and nonce is not None
        stored, k = seal_payload(share_id, PLAINTEXT, key=content_key, nonce=nonce)
        inputs["content_key_hex"] = content_key.hex()
        inputs["nonce_hex"] = nonce.hex()
        inputs["wrap_for"] = ["originator", "recipient_a", "recipient_b"]
        wraps = tuple(
            wrap_key(share_id, k, MEMBERS[n], ENC[n].key_id, ENC[n].public_raw)
            for n in inputs["wrap_for"]
        )
    else:
        stored = PLAINTEXT
    header = share_header(
        share_id=share_id,
        originator=MEMBERS["originator"],
        signer_key_id=SIGN[signer].key_id,
        audience=Audience(tlp, channel),
        recipients=recipients,
        form=form,
        handling=Handling("incident-response", True, ("no-attribution",)),
        themes=inputs["themes"],
        regions=inputs["regions"],
        expires=inputs["expires"],
        created=inputs["created"],
        payload=stored,
        wraps=wraps,
        provenance=provenance,
        posted_by=posted_by,
    )
    sig = sign(TAG_SHARE, header, SIGN[signer].private)
    env = Envelope(header, sig, stored, wraps)
    expected: dict[str, Any] = {
        "stored_payload_hex": stored.hex(),
        "payload_digest": header["payload"]["digest"],
    }
    if form is Form.SEALED:
        expected["wraps"] = [
            {"member": w.member, "key": w.key, "blob_hex": w.blob.hex()}
            for w in sorted(wraps, key=lambda w: w.member)
        ]
        expected["wraps_canonical"] = canonical(wraps_json(wraps)).decode()
        expected["wraps_digest"] = wraps_digest(wraps)
    expected |= {
        "header": header,
        "canonical_header": canonical(header).decode(),
        "signed_bytes_hex": signed_bytes(TAG_SHARE, header).hex(),
        "signature_hex": sig.hex(),
        "envelope": envelope_to_json(env),
    }
    case = {
        "name": name,
        "inputs": inputs,
        "expected": expected,
        "verify_with": signer,
        "open_as": ["originator", "recipient_a", "recipient_b"],
    }
    return case, env, k


def resign(
    env: Envelope,
    header: dict[str, Any],
    payload: bytes,
    wraps: tuple[Wrap, ...],
    signer: str = "originator",
) -> dict[str, Any]:
    """A correctly signed envelope (fresh digests) around the given payload and wraps."""
    h = json.loads(json.dumps(header))
    h["payload"]["size"] = len(payload)
    h["payload"]["digest"] = "sha256:" + hashlib.sha256(payload).hexdigest()
    h["seal"]["wraps_digest"] = wraps_digest(wraps)
    return envelope_to_json(Envelope(h, sign(TAG_SHARE, h, SIGN[signer].private), payload, wraps))


def main() -> None:
    sid = "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
    content_key = seed("content-key")
    nonce = seed("nonce")[:12]
    sealed, senv, k = make(
        name="sealed",
        share_id=sid,
        form=Form.SEALED,
        signer="originator",
        content_key=content_key,
        nonce=nonce,
    )
    plain, _, _ = make(
        name="plain",
        share_id="share--2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
        form=Form.PLAIN,
        signer="originator",
        tlp=Tlp.GREEN,
        channel=None,
    )
    attested, _, _ = make(
        name="attested",
        share_id="share--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        form=Form.SEALED,
        signer="node",
        provenance=Provenance.ATTESTED,
        posted_by={"member": MEMBERS["originator"], "user": "analyst-1"},
        content_key=seed("content-key-2"),
        nonce=seed("nonce-2")[:12],
    )
    h = sealed["expected"]["header"]
    neg: list[dict[str, Any]] = []

    def field(path: str, value: Any, expect: str = "crypto.bad_signature") -> None:
        neg.append(
            {
                "name": f"header field {path} changed to {json.dumps(value)[:60]}",
                "share": "sealed",
                "patch": [{"op": "replace", "path": f"/header{path}", "value": value}],
                "expect": expect,
            }
        )

    field("/v", 2, "envelope.malformed")
    field("/kind", "recall", "envelope.malformed")
    field("/id", "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0c")
    field("/originator", MEMBERS["recipient_a"])
    field("/key", SIGN["recipient_a"].key_id, "crypto.key_mismatch")
    neg.append(
        {
            "name": "header field /provenance changed (with posted_by added)",
            "share": "sealed",
            "patch": [
                {"op": "replace", "path": "/header/provenance", "value": "attested"},
                {
                    "op": "add",
                    "path": "/header/posted_by",
                    "value": {"member": MEMBERS["originator"], "user": "analyst-1"},
                },
            ],
            "expect": "crypto.bad_signature",
        }
    )
    field("/created", "2026-11-29T08:00:00.001Z")
    field("/expires", None)
    field("/expires", "2027-11-29T08:00:00.000Z")
    field("/audience/tlp", "amber+strict")
    field("/audience/tlp", "green")
    field("/audience/channel", None)
    field("/audience/recipients", [MEMBERS["recipient_a"]])
    field("/audience/recipients", sorted([*h["audience"]["recipients"], MEMBERS["originator"]]))
    field("/handling/purpose", "research")
    field("/handling/purpose", None)
    field("/handling/no_onward", False)
    field("/handling/codes", [])
    field("/themes", ["cyber"])
    field("/regions", ["EU", "FR", "US"])
    field("/payload/media_type", "application/json")
    neg.append(
        {
            "name": "header field /payload/form changed (seal removed)",
            "share": "sealed",
            "patch": [
                {"op": "replace", "path": "/header/payload/form", "value": "plain"},
                {"op": "remove", "path": "/header/seal"},
            ],
            "expect": "crypto.bad_signature",
        }
    )
    field("/payload/size", h["payload"]["size"] + 1)
    field("/payload/digest", "sha256:" + "00" * 32)
    field("/seal/suite", "hpke-x25519-sha256-chacha20poly1305", "envelope.malformed")
    field("/seal/wraps_digest", "sha256:" + "11" * 32)
    neg.append(
        {
            "name": "unknown header field added",
            "share": "sealed",
            "patch": [{"op": "add", "path": "/header/note", "value": "x"}],
            "expect": "envelope.malformed",
        }
    )

    wire = sealed["expected"]["envelope"]
    sig = bytes.fromhex(sealed["expected"]["signature_hex"])
    flipped_sig = bytes([sig[0] ^ 1]) + sig[1:]
    neg.append(
        {
            "name": "signature byte flipped",
            "share": "sealed",
            "patch": [{"op": "replace", "path": "/signature", "value": b64u(flipped_sig)}],
            "expect": "crypto.bad_signature",
        }
    )
    neg.append(
        {
            "name": "signature made with the receipt tag presented as a share signature",
            "share": "sealed",
            "patch": [
                {
                    "op": "replace",
                    "path": "/signature",
                    "value": b64u(sign(TAG_RECEIPT, h, SIGN["originator"].private)),
                }
            ],
            "expect": "crypto.bad_signature",
        }
    )
    stored = senv.payload
    for i, label in ((0, "nonce"), (len(stored) // 2, "ciphertext"), (len(stored) - 1, "tag")):
        mutated = stored[:i] + bytes([stored[i] ^ 0x80]) + stored[i + 1 :]
        neg.append(
            {
                "name": f"stored payload byte flipped ({label}, offset {i})",
                "share": "sealed",
                "patch": [{"op": "replace", "path": "/payload", "value": b64u(mutated)}],
                "expect": "crypto.digest_mismatch",
            }
        )
    neg.append(
        {
            "name": "stored payload truncated by one byte",
            "share": "sealed",
            "patch": [{"op": "replace", "path": "/payload", "value": b64u(stored[:-1])}],
            "expect": "crypto.digest_mismatch",
        }
    )
    blob = bytes.fromhex(sealed["expected"]["wraps"][1]["blob_hex"])
    neg.append(
        {
            "name": "wrap blob byte flipped",
            "share": "sealed",
            "patch": [
                {
                    "op": "replace",
                    "path": "/wraps/1/blob",
                    "value": b64u(blob[:40] + bytes([blob[40] ^ 1]) + blob[41:]),
                }
            ],
            "expect": "crypto.wraps_mismatch",
        }
    )
    neg.append(
        {
            "name": "wrap removed",
            "share": "sealed",
            "patch": [{"op": "remove", "path": "/wraps/2"}],
            "expect": "crypto.wraps_mismatch",
        }
    )
    w = wire["wraps"]
    neg.append(
        {
            "name": "wrap blobs of two recipients swapped",
            "share": "sealed",
            "patch": [
                {"op": "replace", "path": "/wraps/1/blob", "value": w[2]["blob"]},
                {"op": "replace", "path": "/wraps/2/blob", "value": w[1]["blob"]},
            ],
            "expect": "crypto.wraps_mismatch",
        }
    )

    # Re-signed by the originator: the signature is valid, yet decryption must fail.
    by_member = {x.member: x for x in senv.wraps}
    a, b = MEMBERS["recipient_a"], MEMBERS["recipient_b"]
    moved = tuple(
        Wrap(b, ENC["recipient_b"].key_id, by_member[a].blob) if x.member == b else x
        for x in senv.wraps
    )
    neg.append(
        {
            "name": "recipient A's wrap moved to recipient B (re-signed)",
            "share": "sealed",
            "envelope": resign(senv, h, stored, moved),
            "expect": "ok",
            "open": [
                {"as": "recipient_b", "expect": "crypto.open_failed"},
                {"as": "recipient_a", "expect": "ok"},
            ],
        }
    )
    blob_for_b = wrap_key(sid, k, b, ENC["recipient_a"].key_id, ENC["recipient_a"].public_raw).blob
    relabelled = tuple(Wrap(a, x.key, blob_for_b) if x.member == a else x for x in senv.wraps)
    neg.append(
        {
            "name": "wrap made for member B under A's key, labelled as A's (re-signed)",
            "share": "sealed",
            "envelope": resign(senv, h, stored, relabelled),
            "expect": "ok",
            "open": [
                {"as": "recipient_a", "expect": "crypto.open_failed"},
                {"as": "recipient_b", "expect": "ok"},
            ],
        }
    )
    other = "share--0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
    h_other = json.loads(json.dumps(h))
    h_other["id"] = other
    rewrapped = tuple(
        wrap_key(other, k, MEMBERS[n], ENC[n].key_id, ENC[n].public_raw)
        for n in ("originator", "recipient_a", "recipient_b")
    )
    neg.append(
        {
            "name": "payload moved to another share id, content key wrapped for it (re-signed)",
            "share": "sealed",
            "envelope": resign(senv, h_other, stored, rewrapped),
            "expect": "ok",
            "open": [
                {"as": n, "expect": "crypto.open_failed"}
                for n in ("originator", "recipient_a", "recipient_b")
            ],
        }
    )
    neg.append(
        {
            "name": "payload and wraps moved to another share id (re-signed)",
            "share": "sealed",
            "envelope": resign(senv, h_other, stored, senv.wraps),
            "expect": "ok",
            "open": [
                {"as": n, "expect": "crypto.open_failed"}
                for n in ("originator", "recipient_a", "recipient_b")
            ],
        }
    )
    neg.append(
        {
            "name": "plain share: payload byte flipped",
            "share": "plain",
            "patch": [
                {
                    "op": "replace",
                    "path": "/payload",
                    "value": b64u(PLAINTEXT.replace(b"198.51.100.7", b"198.51.100.8")),
                }
            ],
            "expect": "crypto.digest_mismatch",
        }
    )
    neg.append(
        {
            "name": "plain share: a wrap added",
            "share": "plain",
            "patch": [{"op": "add", "path": "/wraps/0", "value": w[0]}],
            "expect": "crypto.bad_wraps",
        }
    )
    neg.append(
        {
            "name": "plain share: header field /audience/tlp changed",
            "share": "plain",
            "patch": [{"op": "replace", "path": "/header/audience/tlp", "value": "clear"}],
            "expect": "crypto.bad_signature",
        }
    )
    neg.append(
        {
            "name": "attested share checked against the originator's key",
            "share": "attested",
            "verify_with": "originator",
            "patch": [],
            "expect": "crypto.key_mismatch",
        }
    )
    neg.append(
        {
            "name": "attested share: posted_by.user changed",
            "share": "attested",
            "patch": [{"op": "replace", "path": "/header/posted_by/user", "value": "analyst-2"}],
            "expect": "crypto.bad_signature",
        }
    )
    neg.append(
        {
            "name": "attested share: provenance changed to originator (posted_by removed)",
            "share": "attested",
            "patch": [
                {"op": "replace", "path": "/header/provenance", "value": "originator"},
                {"op": "remove", "path": "/header/posted_by"},
            ],
            "expect": "crypto.bad_signature",
        }
    )

    doc = {
        "description": (
            "vigil share envelope v1 test vectors (docs/protocol.md). Hex for raw bytes; "
            "the envelopes are in wire form (base64url without padding). Wrap blobs come "
            "from one run of randomised HPKE: check them by opening, not by re-encrypting."
        ),
        "generator": "tests/data/vectors/make_vigil_share_v1.py",
        "signature_tag": TAG_SHARE,
        "keys": {n: key_json(n) for n in [*MEMBERS, "node"]},
        "shares": [sealed, plain, attested],
        "negative": neg,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(neg)} negative cases)")


if __name__ == "__main__":
    main()
