"""What the node's log records: one canonical JSON object per leaf, with digests and
ids, never payloads."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u
from vigil.log import entries
from vigil.model import Envelope, ShareHeader

HEADER = {"id": "share--1", "originator": "identity--a", "expires": None,
          "audience": {"recipients": ["identity--b", "identity--c"]}, "tlp": "amber"}


def envelope(**over: Any) -> Envelope:
    return Envelope(header=cast(ShareHeader, {**HEADER, **over}), signature=b"sig",
                    payload=b"SECRET PAYLOAD")


def test_a_share_entry_names_the_header_by_digest_and_holds_no_payload() -> None:
    env = envelope()
    e = entries.share_entry(env)
    assert e == {"v": 1, "kind": "share", "share": "share--1", "originator": "identity--a",
                 "to": ["identity--b", "identity--c"], "expires": None,
                 "header": "sha256:" + hashlib.sha256(canonical(HEADER)).hexdigest(),
                 "signature": b64u(b"sig")}
    assert b"SECRET" not in entries.entry_bytes(e)
    assert entries.share_entry(env, canonical(HEADER)) == e  # the caller's JCS, the same
    other = entries.share_entry(envelope(tlp="red"))
    assert other["header"] != e["header"]  # an entry of X never holds for Y


def test_the_other_kinds() -> None:
    r = {"share": "share--1", "member": "identity--b", "what": "opened"}
    assert entries.receipt_entry(r, "identity--a", b"s") == {
        "v": 1, "kind": "receipt", "share": "share--1", "originator": "identity--a",
        "member": "identity--b", "receipt": r, "signature": b64u(b"s")}
    recall = {"share": "share--1", "originator": "identity--a"}
    assert entries.recall_entry(recall, ("identity--b",), b"s")["to"] == ["identity--b"]
    assert entries.purge_entry("share--1", "identity--a", ("x",), "t") == {
        "v": 1, "kind": "purge", "share": "share--1", "originator": "identity--a",
        "to": ["x"], "at": "t"}
    assert entries.channel_entry("c", "m", "join", "a", "t")["kind"] == "channel"
    assert entries.member_entry("m", "add", "sk", "ek", "t")["kind"] == "member"


def test_leaf_bytes_are_canonical_and_name_their_share() -> None:
    e = {"v": 1, "kind": "purge", "share": "share--1", "to": [], "at": "t", "originator": "a"}
    assert entries.entry_bytes(e) == canonical(dict(reversed(list(e.items()))))
    assert entries.share_of(e) == "share--1"
    assert entries.share_of(entries.channel_entry("c", "m", "join", "a", "t")) is None
    assert entries.digest(b"x") == "sha256:" + hashlib.sha256(b"x").hexdigest()
