"""The item kinds a batch carries, each checked fully before it writes anything.

``check(ctx, kind, body)`` runs a kind's checks (raising a ``fed.*`` VigilError, which
quarantines the item) and returns the writes to run in the batch's transaction. Other
kinds (checkpoints, cosignatures, directory entries, roster statements, revocations)
join with :func:`register`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import key_id, sign_alg_of_public
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, verify
from vigil.errors import CryptoError, InputError, VigilError
from vigil.federation.peers import Peer
from vigil.log.checkpoint import Checkpoint, verify_checkpoint
from vigil.log.entries import (
    entry_bytes,
    member_entry,
    recall_entry,
    receipt_entry,
    share_entry,
)
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.model import Envelope, Member, MemberKind, Provenance
from vigil.node.accountability import NO_WRAPS
from vigil.node.exchange import Exchange, Published
from vigil.protocol.envelope import envelope_from_json, verify_envelope
from vigil.protocol.receipts import check_recall, check_receipt
from vigil.storage import federation as q
from vigil.storage import payloads
from vigil.storage.base import (
    MEMBER_COLUMNS,
    Sql,
    build_directory,
    header_bytes,
    queue_inbox,
    wraps_to_bytes,
)

Write = Callable[[], None]


@dataclass
class Context:
    ex: Exchange
    peer: Peer
    sql: Sql
    now: str
    head: Mapping[str, Any]
    ring: set[str] = field(default_factory=set)
    published: list[Published] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # checkpoint notes whose signature verified in this batch (the sender proves every
    # item of a batch against one), and what the checks read of members, by id; the
    # member reads are forgotten whenever an item writes something else than a share
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    members: dict[str, Member | None] = field(default_factory=dict)
    homes: dict[str, tuple[str, int, int | None] | None] = field(default_factory=dict)

    def member(self, member: str) -> Member | None:
        if member not in self.members:
            self.members[member] = member_of(self.sql, member)
        return self.members[member]

    def home(self, member: str) -> tuple[str, int, int | None] | None:
        if member not in self.homes:
            self.homes[member] = q.remote_member(self.sql, member)
        return self.homes[member]

    def hosted(self, member: str) -> bool:
        return self.member(member) is not None and self.home(member) is None

    def forget(self) -> None:
        self.members.clear()
        self.homes.clear()


Checker = Callable[[Context, Mapping[str, Any]], Write]
_KINDS: dict[str, Checker] = {}


def register(kind: str, checker: Checker) -> None:
    """Add an item kind (its checker verifies and returns the writes)."""
    _KINDS[kind] = checker


def check(ctx: Context, kind: str, body: Mapping[str, Any]) -> Write:
    checker = _KINDS.get(kind)
    if checker is None:
        raise InputError(f"no item kind {kind!r} here", code="fed.unknown_kind")
    try:
        return checker(ctx, body)
    except VigilError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"malformed {kind} item: {e!r}", code="fed.bad_item") from None


def noop() -> None:
    return None


# -- shared checks -----------------------------------------------------------------------

def member_of(sql: Sql, member: str) -> Member | None:
    rows = sql.execute(MEMBER_COLUMNS + " WHERE id=?", (member,)).fetchall()
    return build_directory(rows, [], []).members.get(member)


def hosted(sql: Sql, member: str) -> bool:
    """A member homed at this node (known here, and not homed elsewhere)."""
    return member_of(sql, member) is not None and q.remote_member(sql, member) is None


def homed_at_origin(ctx: Context, member: str) -> tuple[Member, tuple[str, int, int | None]]:
    m = ctx.member(member)
    home = ctx.home(member)
    if m is None or home is None or home[0] != ctx.peer.node:
        raise CryptoError(f"{member} is not a member homed at {ctx.peer.name}",
                          code="fed.forged_originator")
    return m, home


def check_log(ctx: Context, entry: Mapping[str, Any], ref: Mapping[str, Any],
              data: bytes | None = None) -> int:
    """The index of ``entry`` in the origin's log, proven against a checkpoint the
    origin's pinned node key signed (``data``: its ``entry_bytes``, made already)."""
    try:
        note = str(ref["checkpoint"])
        cp = ctx.checkpoints.get(note)
        if cp is None:  # the same note verifies the same way: once per batch
            cp = verify_checkpoint(note, ctx.peer.log_origin, ctx.peer.key,
                                   origin=ctx.peer.log_origin)
            ctx.checkpoints[note] = cp
        index, size = int(ref["index"]), int(ref["size"])
        proof = [_proof_hash(h) for h in ref["proof"]]
        if cp.size != size or cp.root != b64u_decode(str(ref["root"])):
            raise CryptoError("the proof is not of the signed checkpoint",
                              code="fed.bad_log_proof")
        leaf = leaf_hash(entry_bytes(entry) if data is None else data)
        verify_inclusion(leaf, index, size, proof, cp.root)
    except VigilError as e:
        raise CryptoError(f"the log proof does not verify: {e.message}",
                          code="fed.bad_log_proof") from None
    return index


def _proof_hash(text: Any) -> bytes:
    """A proof hash (32 bytes, base64url). Decoded without the canonical-form checks of
    ``b64u_decode``: whatever bytes come out must still hash up to the signed root, so
    a second spelling of a hash proves nothing new, and ~20 of these come per item."""
    if not isinstance(text, str) or len(text) != 43:
        raise CryptoError("a proof hash is 32 bytes in base64url", code="fed.bad_log_proof")
    try:
        return base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        raise CryptoError("a proof hash is 32 bytes in base64url",
                          code="fed.bad_log_proof") from None


def check_key(m: Member, home: tuple[str, int, int | None], key: str, index: int) -> None:
    """The member's current key, not revoked at the origin log index of the signature."""
    revoked = home[2]
    if (revoked is not None and index > revoked) or (revoked is None and not m.active):
        raise CryptoError(f"{m.name}'s key was revoked before this was signed",
                          code="fed.revoked_key")
    if key != m.sign_key_id:
        raise CryptoError(f"{key} is not {m.name}'s signing key", code="fed.unknown_key")


# -- share ------------------------------------------------------------------------------

def check_share(ctx: Context, body: Mapping[str, Any]) -> Write:
    if body.get("gone"):
        return noop  # recalled or expired at the origin before it was sent
    try:
        env = envelope_from_json(body["envelope"])
    except InputError as e:
        raise InputError(f"malformed envelope: {e.message}", code="fed.bad_item") from None
    m, home = homed_at_origin(ctx, env.originator)
    attested = env.header.get("provenance") == Provenance.ATTESTED.value
    if attested and env.header["key"] != ctx.peer.pin:
        raise CryptoError("attested by another key than the origin node's",
                          code="fed.unknown_key")
    signer = ctx.peer.key if attested else m.sign_key
    if not attested and env.header["key"] != m.sign_key_id:
        raise CryptoError(f"{env.header['key']} is not {m.name}'s signing key",
                          code="fed.unknown_key")
    try:
        verify_envelope(env, signer, checked=True)  # envelope_from_json checked its header
    except VigilError as e:
        raise CryptoError(f"the originator's signature does not hold: {e.message}",
                          code="fed.bad_originator_signature") from None
    entry = share_entry(env)
    data = entry_bytes(entry)  # hashed for the proof here, stored by the write
    index = check_log(ctx, entry, body["log"], data)
    if not attested:
        check_key(m, home, str(env.header["key"]), index)
    here = [r for r in env.recipients if ctx.hosted(r)]
    if not here:
        raise InputError("no recipient of this share is hosted here", code="fed.not_hosted")
    row = ctx.sql.execute("SELECT header, signature FROM shares WHERE id=?",
                          (env.id,)).fetchone()
    if row is not None:
        if bytes(row[0]) != header_bytes(env.header) or bytes(row[1]) != env.signature:
            raise CryptoError("another share with this id is stored here",
                              code="fed.bad_item")
        return noop  # idempotent: stored already

    def write() -> None:
        store_share(ctx, env, tuple(here), entry, data)

    return write


def store_share(ctx: Context, env: Envelope, here: tuple[str, ...],
                entry: Mapping[str, Any] | None = None, data: bytes | None = None) -> None:
    sql = ctx.sql
    sql.execute("INSERT INTO shares(id, originator, header, signature, payload, wraps, "
                "created, expires, recalled, purged) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (env.id, env.originator, header_bytes(env.header), env.signature,
                 env.payload, wraps_to_bytes(env.wraps), env.created, env.expires,
                 False, False))
    queue_inbox(sql, env.id, here, ctx.now, new=True)
    if entry is None:
        entry, data = share_entry(env), None
    ctx.ex.log.append(sql, entry, locked=True, data=data)
    for hook in ctx.ex.share_tx_hooks:
        hook(sql, env, here)
    ctx.ring.update(here)
    ctx.published.append(Published(env, here, True))


# -- recall -----------------------------------------------------------------------------

def check_recall_item(ctx: Context, body: Mapping[str, Any]) -> Write:
    if body.get("gone"):
        return noop
    entry = body["entry"]
    if entry.get("kind") != "recall":
        raise InputError("not a recall entry", code="fed.bad_item")
    r = check_recall(entry["recall"])
    sig = b64u_decode(str(entry["signature"]))
    if entry["share"] != r["share"] or entry["originator"] != r["originator"]:
        raise InputError("the entry and its recall disagree", code="fed.bad_item")
    m, home = homed_at_origin(ctx, r["originator"])
    index = check_log(ctx, entry, body["log"])
    key = ctx.peer.key if r["key"] == ctx.peer.pin else None
    if key is None:
        check_key(m, home, r["key"], index)
        key = m.sign_key
    try:
        verify(TAG_RECALL, r, sig, key)
    except VigilError:
        raise CryptoError("the recall's signature does not verify",
                          code="fed.bad_originator_signature") from None
    sql = ctx.sql
    row = sql.execute("SELECT originator, header, purged FROM shares WHERE id=?",
                      (r["share"],)).fetchone()
    if row is None or str(row[0]) != r["originator"] or row[2] or sql.execute(
            "SELECT 1 FROM recalls WHERE share_id=?", (r["share"],)).fetchone():
        return noop  # never held here, purged, or recalled already
    recipients = orjson.loads(bytes(row[1]))["audience"]["recipients"]

    def write() -> None:
        prev = None
        if sql.dialect == "sqlite":
            prev = int(sql.execute("PRAGMA secure_delete").fetchone()[0])
            sql.execute("PRAGMA secure_delete=1")
        payloads.drop(sql, r["share"])
        sql.execute("UPDATE shares SET recalled=?, payload=NULL, payload_ref=NULL, wraps=? "
                    "WHERE id=?", (True, NO_WRAPS, r["share"]))
        for hook in ctx.ex.purge_tx_hooks:
            hook(sql, r["share"])
        here = [x for x in recipients if hosted(sql, x)]
        sql.execute("DELETE FROM inbox WHERE share_id=?", (r["share"],))
        queue_inbox(sql, r["share"], here, ctx.now)
        ref = ctx.ex.log.append(sql, recall_entry(r, recipients, sig), locked=True)
        sql.execute("INSERT INTO recalls(share_id, originator, at, key, log_idx) "
                    "VALUES(?,?,?,?,?)", (r["share"], r["originator"], r["at"], r["key"],
                                          ref.index))
        if prev is not None and prev != 1:
            sql.execute(f"PRAGMA secure_delete={prev}")
        ctx.ring.update(here)
        ctx.dropped.append(r["share"])

    return write


# -- receipt ----------------------------------------------------------------------------

def check_receipt_item(ctx: Context, body: Mapping[str, Any]) -> Write:
    entry = body["entry"]
    if entry.get("kind") != "receipt":
        raise InputError("not a receipt entry", code="fed.bad_item")
    r = check_receipt(entry["receipt"])
    sig = b64u_decode(str(entry["signature"]))
    m, home = homed_at_origin(ctx, r["member"])
    index = check_log(ctx, entry, body["log"])
    check_key(m, home, r["key"], index)
    try:
        verify(TAG_RECEIPT, r, sig, m.sign_key)
    except VigilError:
        raise CryptoError("the receipt's signature does not verify",
                          code="fed.bad_originator_signature") from None
    sql = ctx.sql
    row = sql.execute("SELECT originator, header FROM shares WHERE id=?",
                      (r["share"],)).fetchone()
    if row is None or not hosted(sql, str(row[0])) or r["member"] not in \
            orjson.loads(bytes(row[1]))["audience"]["recipients"]:
        raise InputError("a receipt for a share of no member here, or not by a recipient",
                         code="fed.not_hosted")
    if sql.execute("SELECT 1 FROM receipts WHERE share_id=? AND member_id=? AND what=?",
                   (r["share"], r["member"], r["what"])).fetchone():
        return noop

    def write() -> None:
        ref = ctx.ex.log.append(sql, receipt_entry(r, str(row[0]), sig), locked=True)
        sql.execute("INSERT INTO receipts(share_id, member_id, what, at, log_idx) "
                    "VALUES(?,?,?,?,?)", (r["share"], r["member"], r["what"], r["at"],
                                          ref.index))
        ctx.ring.add(str(row[0]))

    return write


# -- member -----------------------------------------------------------------------------

class Moves:
    """The check that a member known homed at another node moved to the peer announcing
    it (``check(ctx, old home, body)``; raises when not proven). One per exchange
    (``Exchange.attach``), its check set by vigil.federation.trust while a trust service
    runs on the exchange; without it such an announcement is refused."""

    def __init__(self) -> None:
        self.check: Callable[[Context, str, Mapping[str, Any]], None] | None = None


def bump_directory(sql: Sql) -> None:
    cast = "CAST(CAST(value AS INTEGER) + 1 AS TEXT)" if sql.dialect == "sqlite" \
        else "(CAST(value AS BIGINT) + 1)::text"
    sql.execute(f"UPDATE meta SET value = {cast} WHERE key='dir_version'")


def check_member(ctx: Context, body: Mapping[str, Any]) -> Write:
    entry, mj = body["entry"], body["member"]
    if entry.get("kind") != "member" or entry["member"] != mj["id"]:
        raise InputError("not a member entry of this member", code="fed.bad_item")
    sign_key, enc_key = b64u_decode(mj["sign_key"]), b64u_decode(mj["enc_key"])
    alg = sign_alg_of_public(sign_key)
    if key_id(alg, sign_key) != entry["sign_key"] or entry["sign_key"] != mj["sign_key_id"] \
            or entry["enc_key"] != mj["enc_key_id"] or not _enc_key_ok(enc_key, mj):
        raise CryptoError("the member's keys are not the ones its log entry names",
                          code="fed.unknown_key")
    index = check_log(ctx, entry, body["log"])
    sql = ctx.sql
    known = member_of(sql, mj["id"])
    home = q.remote_member(sql, mj["id"])
    moved = False
    if known is not None and (home is None or home[0] != ctx.peer.node):
        moves = ctx.ex.part(Moves)
        check_move = moves.check if moves is not None else None
        if home is None or check_move is None:
            raise CryptoError(f"{mj['id']} is homed at another node",
                              code="fed.forged_originator")
        check_move(ctx, home[0], body)  # raises fed.forged_originator without the proof
        moved = True
    if home is not None and not moved and index <= home[1]:
        return noop  # an older or the same event
    event = str(entry["event"])
    name = f"{mj['name']}@{ctx.peer.name}"

    def write() -> None:
        if known is None:
            sql.execute("INSERT INTO members(id, name, display_name, country, kind, "
                        "sign_key, sign_key_id, enc_key, enc_key_id, created, active) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                        (mj["id"], name, str(mj["display_name"]), str(mj["country"]),
                         MemberKind(mj["kind"]).value, sign_key, mj["sign_key_id"], enc_key,
                         mj["enc_key_id"], str(mj["created"]), event != "deactivate"))
            sql.execute("INSERT INTO fed_members(member_id, node_id, log_index, "
                        "revoked_index) VALUES(?,?,?,?)",
                        (mj["id"], ctx.peer.node, index,
                         index if event == "deactivate" else None))
        else:
            sql.execute("UPDATE members SET sign_key=?, sign_key_id=?, enc_key=?, "
                        "enc_key_id=?, active=? WHERE id=?",
                        (sign_key, mj["sign_key_id"], enc_key, mj["enc_key_id"],
                         event != "deactivate", mj["id"]))
            sql.execute("UPDATE fed_members SET node_id=?, log_index=?, revoked_index=? "
                        "WHERE member_id=?",
                        (ctx.peer.node, index, index if event == "deactivate" else None,
                         mj["id"]))
        # this node's own log records the keys it took, so its members' clients check
        # them as they check local members' keys
        ctx.ex.log.append(sql, member_entry(mj["id"], event, mj["sign_key_id"],
                                            mj["enc_key_id"], ctx.now), locked=True)
        bump_directory(sql)

    return write


def _enc_key_ok(enc_key: bytes, mj: Mapping[str, Any]) -> bool:
    alg = str(mj["enc_key_id"]).split(":", 1)[0]
    try:
        return bool(key_id(alg, enc_key) == mj["enc_key_id"])
    except VigilError:
        return False


# -- channel ----------------------------------------------------------------------------

def check_channel(ctx: Context, body: Mapping[str, Any]) -> Write:
    ch, epoch = body["channel"], int(body["epoch"])
    sql = ctx.sql
    homed_at_origin(ctx, str(ch["owner"]))  # a channel is ordered by its owner's node
    members = sorted(str(m) for m in ch["members"])
    if any(member_of(sql, m) is None for m in members):
        raise InputError("the channel names a member unknown here", code="fed.bad_item")
    row = sql.execute("SELECT epoch FROM fed_channels WHERE channel_id=?",
                      (ch["id"],)).fetchone()
    if row is not None and int(row[0]) >= epoch:
        return noop
    local = sql.execute("SELECT 1 FROM channels WHERE id=?", (ch["id"],)).fetchone()
    if local is not None and row is None:
        raise CryptoError("a channel homed here", code="fed.forged_originator")

    def write() -> None:
        if local is None:
            sql.execute("INSERT INTO channels(id, name, kind, owner, created) "
                        "VALUES(?,?,?,?,?)", (ch["id"], ch["name"], ch["kind"], ch["owner"],
                                              ch["created"]))
            sql.execute("INSERT INTO fed_channels(channel_id, node_id, epoch) VALUES(?,?,?)",
                        (ch["id"], ctx.peer.node, epoch))
        else:
            sql.execute("UPDATE fed_channels SET epoch=? WHERE channel_id=?",
                        (epoch, ch["id"]))
        before = {str(r[0]) for r in sql.execute(
            "SELECT member_id FROM channel_members WHERE channel_id=?", (ch["id"],)
        ).fetchall()}
        for m in sorted(set(members) - before):
            sql.execute("INSERT INTO channel_members(channel_id, member_id) VALUES(?,?)",
                        (ch["id"], m))
            sql.execute("INSERT INTO channel_events(channel_id, member_id, event, actor, at) "
                        "VALUES(?,?,?,?,?)", (ch["id"], m, "join", ch["owner"], ctx.now))
        for m in sorted(before - set(members)):
            sql.execute("DELETE FROM channel_members WHERE channel_id=? AND member_id=?",
                        (ch["id"], m))
            sql.execute("INSERT INTO channel_events(channel_id, member_id, event, actor, at) "
                        "VALUES(?,?,?,?,?)", (ch["id"], m, "leave", ch["owner"], ctx.now))
        bump_directory(sql)

    return write


register("share", check_share)
register("recall", check_recall_item)
register("receipt", check_receipt_item)
register("member", check_member)
register("channel", check_channel)
