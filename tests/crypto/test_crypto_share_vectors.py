"""Check vigil against its own published share vectors (tests/data/vectors/vigil-share-v1.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vigil.crypto.canonical import canonical
from vigil.crypto.keys import EncryptionKey, SigningKey
from vigil.crypto.seal import seal_payload, wraps_digest, wraps_json
from vigil.crypto.sign import TAG_SHARE, sign, signed_bytes
from vigil.errors import VigilError
from vigil.model import Audience, Form, Handling, Provenance, Tlp, Wrap
from vigil.protocol.envelope import (
    envelope_from_json,
    envelope_to_json,
    open_share,
    share_header,
    verify_envelope,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "data" / "vectors" / "vigil-share-v1.json").read_text("utf-8")
)
KEYS = VECTORS["keys"]
SHARES = {s["name"]: s for s in VECTORS["shares"]}


def signing(name: str) -> SigningKey:
    return SigningKey.from_raw(bytes.fromhex(KEYS[name]["ed25519_private"]))


def encryption(name: str) -> EncryptionKey:
    return EncryptionKey.from_raw(bytes.fromhex(KEYS[name]["x25519_private"]))


def test_keys() -> None:
    for name, k in KEYS.items():
        s = signing(name)
        assert (s.public_raw.hex(), s.key_id) == (k["ed25519_public"], k["ed25519_key_id"])
        if "x25519_private" in k:
            e = encryption(name)
            assert (e.public_raw.hex(), e.key_id) == (k["x25519_public"], k["x25519_key_id"])


@pytest.mark.parametrize("name", sorted(SHARES))
def test_share_vector(name: str) -> None:
    case = SHARES[name]
    i, x = case["inputs"], case["expected"]
    plaintext = i["plaintext_utf8"].encode()
    form = Form(i["form"])
    wraps: tuple[Wrap, ...] = ()
    if form is Form.SEALED:
        stored, _ = seal_payload(
            i["share_id"],
            plaintext,
            key=bytes.fromhex(i["content_key_hex"]),
            nonce=bytes.fromhex(i["nonce_hex"]),
        )
        wraps = tuple(Wrap(w["member"], w["key"], bytes.fromhex(w["blob_hex"])) for w in x["wraps"])
        assert canonical(wraps_json(wraps)).decode() == x["wraps_canonical"]
        assert wraps_digest(wraps) == x["wraps_digest"]
    else:
        stored = plaintext
    assert stored.hex() == x["stored_payload_hex"]
    signer = signing(i["signer"])
    header = share_header(
        share_id=i["share_id"],
        originator=i["originator"],
        signer_key_id=signer.key_id,
        audience=Audience(Tlp(i["tlp"]), i["channel"]),
        recipients=i["recipients"],
        form=form,
        handling=Handling(i["purpose"], i["no_onward"], tuple(i["codes"])),
        themes=i["themes"],
        regions=i["regions"],
        expires=i["expires"],
        created=i["created"],
        payload=stored,
        wraps=wraps,
        provenance=Provenance(i["provenance"]),
        posted_by=i["posted_by"],
        media_type=i["media_type"],
    )
    assert header == x["header"]
    assert canonical(header) == x["canonical_header"].encode()
    assert signed_bytes(TAG_SHARE, header).hex() == x["signed_bytes_hex"]
    assert sign(TAG_SHARE, header, signer.private).hex() == x["signature_hex"]

    env = envelope_from_json(x["envelope"])
    assert env.header == header and env.payload == stored
    assert env.signature.hex() == x["signature_hex"]
    assert sorted(env.wraps, key=lambda w: w.member) == list(wraps)
    assert envelope_to_json(env) == x["envelope"]
    verify_envelope(env, signer.public_raw)
    for member in case["open_as"]:
        assert open_share(env, KEYS[member]["member"], encryption(member).private) == plaintext


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def apply_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 add / remove / replace, enough for the vectors."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [unescape(t) for t in op["path"].split("/")[1:]]
        target = doc
        for t in parents:
            target = target[int(t)] if isinstance(target, list) else target[t]
        if isinstance(target, list):
            idx = len(target) if last == "-" else int(last)
            if op["op"] == "add":
                target.insert(idx, op["value"])
            elif op["op"] == "remove":
                del target[idx]
            else:
                target[idx] = op["value"]
        elif op["op"] == "remove":
            del target[last]
        else:
            if op["op"] == "replace":
                assert last in target
            target[last] = op["value"]
    return doc


def outcome(fn: Any, *args: Any) -> str:
    try:
        fn(*args)
    except VigilError as e:
        return e.code
    return "ok"


def test_negative_cases_cover_the_brief() -> None:
    names = " ".join(c["name"] for c in VECTORS["negative"])
    for needle in ("moved to recipient B", "payload moved to another share", "receipt tag"):
        assert needle in names


@pytest.mark.parametrize("case", VECTORS["negative"], ids=lambda c: c["name"])
def test_negative_vector(case: dict[str, Any]) -> None:
    base = SHARES[case["share"]]
    if "envelope" in case:
        wire = case["envelope"]
    else:
        wire = apply_patch(base["expected"]["envelope"], case["patch"])
    public = signing(case.get("verify_with", base["verify_with"])).public_raw

    def check() -> None:
        verify_envelope(envelope_from_json(wire), public)

    assert outcome(check) == case["expect"]
    for o in case.get("open", []):
        env = envelope_from_json(wire)
        member = KEYS[o["as"]]["member"]
        assert outcome(open_share, env, member, encryption(o["as"]).private) == o["expect"]
