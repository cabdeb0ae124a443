"""Directory entries: what a member's keys are, signed so that nobody can lie about it.

An entry (``vigil/dir-entry/v1``)::

    {"v": 1, "kind": "register" | "rotate" | "revoke" | "recover" | "rehome",
     "member": "identity--…", "home": "node--…", "seq": n, "prev": "sha256:…" | null,
     "sign_key": b64u, "enc_key": b64u, "recovery_key": b64u | null,   # keys after it
     "revoked": key id | null, "after": main-log index | null,         # revoke only
     "to": node id | null,                                             # rehome only
     "by": "member" | "recovery" | "node", "at": RFC 3339}

Signed entry = ``{"entry", "sig", "node_sig"}``: ``sig`` by the member (``by`` member:
the key the member held *before* this entry; for ``register`` the new key itself, as
proof of possession) or by its recovery key (``by`` recovery); none when the home node
alone revokes a lost key (``by`` node). ``node_sig``: the home node's countersignature
(``vigil/dir-node/v1`` over ``{entry, sig}``). ``seq`` counts the member's entries from
0 and ``prev`` is the SHA-256 of the previous signed entry's bytes, so a member's
entries form one chain; :func:`fold` replays it and refuses anything else.

A revocation names the revoked key id and ``after``: the home node's main-log size when
it took effect. A signature by that key on an item at main-log index >= ``after`` is
refused everywhere (:mod:`vigil.directory.revocation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import (
    SignPrivate,
    enc_alg_of_public,
    key_id,
    sign_alg_of_public,
    sign_public_raw,
)
from vigil.crypto.sign import sign, verify
from vigil.errors import CryptoError, InputError
from vigil.log.checkpoint import DEFAULT_AUTHORITY
from vigil.protocol.directory_entries import (
    KINDS,
    TAG_DIR_ENTRY,
    TAG_DIR_NODE,
    make_entry,
    member_signature,
)

__all__ = ["KINDS", "TAG_DIR_ENTRY", "TAG_DIR_NODE", "MemberKeys", "SignedEntry",
           "entry_digest", "fold", "make_entry", "member_signature", "sign_entry"]


def directory_origin(node_id: str, authority: str = DEFAULT_AUTHORITY) -> str:
    return f"{authority}/directory/{node_id}"


def _bad(why: str) -> CryptoError:
    return CryptoError(f"bad directory entry: {why}", code="dir.bad_entry")


def sign_kid(public_raw: bytes) -> str:
    return key_id(sign_alg_of_public(public_raw), public_raw)


def enc_kid(public_raw: bytes) -> str:
    return key_id(enc_alg_of_public(public_raw), public_raw)


@dataclass(frozen=True, slots=True)
class SignedEntry:
    entry: dict[str, Any]
    sig: str | None
    node_sig: str

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry, "sig": self.sig, "node_sig": self.node_sig}

    def data(self) -> bytes:
        """The exact bytes the directory log holds (its leaf is over these)."""
        return canonical(self.to_json())

    @classmethod
    def from_json(cls, obj: Any) -> SignedEntry:
        if not isinstance(obj, Mapping) or set(obj) != {"entry", "sig", "node_sig"} \
                or not isinstance(obj["entry"], Mapping) \
                or not isinstance(obj["node_sig"], str) \
                or not (obj["sig"] is None or isinstance(obj["sig"], str)):
            raise _bad("not a signed entry")
        return cls(dict(obj["entry"]), obj["sig"], obj["node_sig"])

    @property
    def kind(self) -> str:
        return str(self.entry.get("kind"))

    @property
    def member(self) -> str:
        return str(self.entry.get("member"))


def entry_digest(signed: SignedEntry) -> str:
    return "sha256:" + hashlib.sha256(signed.data()).hexdigest()


def sign_entry(entry: Mapping[str, Any], signer: SignPrivate | None,
               node_key: SignPrivate) -> SignedEntry:
    """The member (or recovery) signature, then the home node's countersignature."""
    sig = b64u(sign(TAG_DIR_ENTRY, dict(entry), signer)) if signer is not None else None
    return countersign(entry, sig, node_key)


def countersign(entry: Mapping[str, Any], sig: str | None,
                node_key: SignPrivate) -> SignedEntry:
    """The home node's countersignature over the entry and the member's signature."""
    node_sig = b64u(sign(TAG_DIR_NODE, {"entry": dict(entry), "sig": sig}, node_key))
    return SignedEntry(dict(entry), sig, node_sig)


@dataclass
class MemberKeys:
    """A member's keys after replaying its chain of entries."""

    member: str
    home: str
    sign_key: bytes | None
    enc_key: bytes
    recovery_key: bytes | None
    seq: int
    last: str
    # revoked key id -> main-log index from which its signatures are refused
    revoked: dict[str, int] = field(default_factory=dict)
    moved_to: str | None = None

    @property
    def sign_key_id(self) -> str | None:
        return sign_kid(self.sign_key) if self.sign_key is not None else None


def _key(entry: Mapping[str, Any], name: str, optional: bool = False) -> bytes | None:
    value = entry.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} missing")
    try:
        return b64u_decode(value)
    except ValueError as e:
        raise _bad(f"{name} is not base64url") from e


def _check_sig(signed: SignedEntry, public: bytes | None, what: str) -> None:
    if public is None or signed.sig is None:
        raise _bad(f"needs a signature by {what}")
    try:
        verify(TAG_DIR_ENTRY, signed.entry, b64u_decode(signed.sig), public)
    except (CryptoError, ValueError) as e:
        raise _bad(f"the signature by {what} does not verify") from e


def check_node_sig(signed: SignedEntry, node_public: bytes) -> None:
    try:
        verify(TAG_DIR_NODE, {"entry": signed.entry, "sig": signed.sig},
               b64u_decode(signed.node_sig), node_public)
    except (CryptoError, ValueError) as e:
        raise _bad("the home node's countersignature does not verify") from e


def step(state: MemberKeys | None, signed: SignedEntry, home: str,
         node_public: bytes) -> MemberKeys:
    """Apply one entry to a member's state, checking every rule; the new state."""
    e = signed.entry
    check_node_sig(signed, node_public)
    if e.get("v") != 1 or e.get("kind") not in KINDS or e.get("home") != home:
        raise _bad("wrong version, kind or home node")
    kind, by = e["kind"], e.get("by")
    new_sign = _key(e, "sign_key")
    new_enc = _key(e, "enc_key")
    new_recovery = _key(e, "recovery_key", optional=True)
    assert new_enc is not None and new_sign is not None
    sign_kid(new_sign)  # well-formed keys
    enc_kid(new_enc)
    if state is None:
        if kind != "register" or e.get("seq") != 0 or e.get("prev") is not None \
                or by != "member":
            raise _bad("a member's first entry is its registration, signed by its new key")
        _check_sig(signed, new_sign, "the registered key")
        return MemberKeys(str(e["member"]), home, new_sign, new_enc, new_recovery, 0,
                          entry_digest(signed))
    if state.moved_to is not None:
        raise _bad("the member has moved to another node")
    if e.get("member") != state.member or e.get("seq") != state.seq + 1 \
            or e.get("prev") != state.last:
        raise _bad("not the next entry of the member's chain")
    revoked = dict(state.revoked)
    next_sign: bytes | None = new_sign
    if kind == "register":
        raise _bad("the member is registered already")
    if kind == "rotate":
        if by != "member":
            raise _bad("a rotation is signed by the old key")
        _check_sig(signed, state.sign_key, "the old key")
    elif kind == "recover":
        if by != "recovery":
            raise _bad("a recovery is signed by the recovery key")
        _check_sig(signed, state.recovery_key, "the recovery key")
    elif kind == "revoke":
        if by == "member":
            _check_sig(signed, state.sign_key, "the revoked key")
        elif by == "recovery":
            _check_sig(signed, state.recovery_key, "the recovery key")
        elif by != "node" or signed.sig is not None:
            raise _bad("a revocation is by the member, its recovery key or its home node")
        after = e.get("after")
        if state.sign_key is None or e.get("revoked") != state.sign_key_id \
                or not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise _bad("a revocation names the current key and the log index it starts at")
        revoked[str(e["revoked"])] = after
        next_sign = None
    elif kind == "rehome":
        if by != "member" or not isinstance(e.get("to"), str):
            raise _bad("a move is signed by the member's key and names the new node")
        _check_sig(signed, state.sign_key, "the member's key")
    if next_sign is not None and sign_kid(next_sign) in revoked:
        raise _bad("a revoked key cannot come back")
    moved = str(e["to"]) if kind == "rehome" else None
    return MemberKeys(state.member, home, next_sign, new_enc, new_recovery, state.seq + 1,
                      entry_digest(signed), revoked, moved)


def fold(entries: Sequence[SignedEntry], home: str, node_public: bytes) -> MemberKeys:
    """Replay one member's entries, in log order; its keys now."""
    state: MemberKeys | None = None
    for signed in entries:
        state = step(state, signed, home, node_public)
    if state is None:
        raise CryptoError("no directory entry for this member", code="dir.unknown_member")
    return state


def next_entry(state: MemberKeys | None, kind: str, member: str, home: str, *,
               sign_key: SignPrivate | bytes | None = None, enc_key: bytes | None = None,
               recovery_key: bytes | None = None, by: str = "member",
               after: int | None = None, to: str | None = None) -> dict[str, Any]:
    """The next entry of a member's chain (keys not given stay as they are)."""
    sign_raw = sign_public_raw(sign_key) if sign_key is not None \
        and not isinstance(sign_key, bytes) else sign_key
    if state is None:
        if sign_raw is None or enc_key is None:
            raise InputError("a registration names both keys", code="dir.bad_entry")
        return make_entry("register", member, home, 0, None, sign_key=sign_raw,
                          enc_key=enc_key, recovery_key=recovery_key, by="member")
    keep_sign = sign_raw if sign_raw is not None else state.sign_key
    if keep_sign is None:
        raise InputError("no signing key to keep: recover first", code="dir.bad_entry")
    return make_entry(kind, member, home, state.seq + 1, state.last, sign_key=keep_sign,
                      enc_key=enc_key or state.enc_key,
                      recovery_key=recovery_key if recovery_key is not None
                      else state.recovery_key, by=by,
                      revoked=state.sign_key_id if kind == "revoke" else None,
                      after=after, to=to)
