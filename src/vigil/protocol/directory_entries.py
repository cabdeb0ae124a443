"""The wire form of key-directory entries that a member's client makes and signs itself
(the rules that chain them, and the node's side, are in ``vigil.directory.entries``):
the entry fields, the member's signature over them, and the digest the next entry names
as ``prev``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from vigil import clock
from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import SignPrivate
from vigil.crypto.sign import sign
from vigil.errors import InputError

TAG_DIR_ENTRY = "vigil/dir-entry/v1"
TAG_DIR_NODE = "vigil/dir-node/v1"
KINDS = ("register", "rotate", "revoke", "recover", "rehome")

__all__ = ["KINDS", "TAG_DIR_ENTRY", "TAG_DIR_NODE", "digest_of", "make_entry",
           "member_signature", "rotation_after"]


def make_entry(kind: str, member: str, home: str, seq: int, prev: str | None, *,
               sign_key: bytes, enc_key: bytes, recovery_key: bytes | None, by: str,
               revoked: str | None = None, after: int | None = None,
               to: str | None = None, at: str | None = None) -> dict[str, Any]:
    if kind not in KINDS:
        raise InputError(f"unknown directory entry kind {kind!r}", code="dir.bad_entry")
    return {"v": 1, "kind": kind, "member": member, "home": home, "seq": seq, "prev": prev,
            "sign_key": b64u(sign_key), "enc_key": b64u(enc_key),
            "recovery_key": b64u(recovery_key) if recovery_key is not None else None,
            "revoked": revoked, "after": after, "to": to, "by": by,
            "at": at or clock.now()}


def member_signature(entry: Mapping[str, Any], signer: SignPrivate) -> str:
    """What a member's client sends its home node: its signature over the entry."""
    return b64u(sign(TAG_DIR_ENTRY, dict(entry), signer))


def digest_of(signed: Mapping[str, Any]) -> str:
    """The digest of a signed entry (``{entry, sig, node_sig}``): the next one's prev."""
    return "sha256:" + hashlib.sha256(canonical(dict(signed))).hexdigest()


def rotation_after(last: Mapping[str, Any], sign_key: bytes, enc_key: bytes
                   ) -> dict[str, Any]:
    """The ``rotate`` entry that follows the member's last signed entry ``last`` (as a
    directory lookup shows it): the new keys, the recovery key kept."""
    e = last["entry"]
    recovery = e.get("recovery_key")
    return make_entry("rotate", str(e["member"]), str(e["home"]), int(e["seq"]) + 1,
                      digest_of(last), sign_key=sign_key, enc_key=enc_key,
                      recovery_key=b64u_decode(recovery) if recovery else None, by="member")
