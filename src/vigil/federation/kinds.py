"""The item kinds a batch carries, each checked fully before it writes anything.

``check(ctx, kind, body)`` runs a kind's checks (raising a ``fed.*`` VigilError, which
quarantines the item) and returns the writes to run in the batch's transaction. Other
kinds (checkpoints, cosignatures, directory entries, roster statements, revocations)
join with :func:`register`.

A share's checks that need nothing of the store (its envelope's form, its log proof
against the origin's signed checkpoint, its signature under the key the directory
names) are made by :func:`vigil.federation.prepared.prepare` before the batch's
transaction, outside the write lock; in the transaction its checks run in the same
order, and a step made already gives its outcome again (the signature only for the same
key). A share's write is
staged; :meth:`Context.flush` stores the staged shares together (one statement per
table), before any other kind of item is checked, so every item still sees what the
items before it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import key_id, sign_alg_of_public
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, verify
from vigil.errors import CryptoError, InputError, PolicyDenied, VigilError
from vigil.federation.peers import Peer
from vigil.federation.prepared import Prepared, prove
from vigil.log.checkpoint import Checkpoint
from vigil.log.entries import member_entry, recall_entry, receipt_entry
from vigil.log.tree import LogRef
from vigil.model import Envelope, Member, MemberKind, Provenance
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.policy.access import suite
from vigil.protocol.receipts import check_recall, check_receipt
from vigil.storage import accountability as stored
from vigil.storage import federation as q
from vigil.storage import payloads
from vigil.storage import received as rows
from vigil.storage import trust as trust_sql
from vigil.storage.base import (
    Sql,
    header_bytes,
    queue_inbox,
    queue_inbox_many,
    wraps_to_bytes,
    write_channel_change,
)
from vigil.storage.common import bump_directory

Write = Callable[[], None]


@dataclass
class Staged:
    """A checked share waiting for ``Context.flush``."""

    env: Envelope
    here: tuple[str, ...]
    entry: Mapping[str, Any]
    data: bytes
    header: bytes


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
    # the log places of the shares stored, for the exchange's cache after the commit
    refs: list[tuple[str, LogRef]] = field(default_factory=list)
    # checkpoint notes whose signature verified in this batch (the sender proves every
    # item of a batch against one), and what the checks read of members, by id; the
    # member reads are forgotten whenever an item writes something else than a share
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    members: dict[str, Member | None] = field(default_factory=dict)
    homes: dict[str, tuple[str, int, int | None] | None] = field(default_factory=dict)
    # share items prepared before the transaction (``prepare``), by id of their body
    prepared: dict[int, Prepared] = field(default_factory=dict)
    # checked shares not yet stored, by share id, in item order (``flush``)
    staged: dict[str, Staged] = field(default_factory=dict)
    # (header bytes, signature) of the prepared shares stored here before this
    # transaction, read at once (``read_heads``); None: not stored
    heads: dict[str, tuple[bytes, bytes] | None] = field(default_factory=dict)
    # the trust gate's (``vigil.federation.trust``): the revocation points of the keys
    # the batch's shares name, read once (None: to read, again after an item that wrote
    # something else than a share), and the key uses of the shares checked, stored by
    # ``flush``
    revoked: dict[str, int | None] | None = None
    key_uses: list[tuple[str, str, str, int]] = field(default_factory=list)

    def read_heads(self) -> None:
        """Read which prepared shares are stored here already, with one statement.
        Only a share item stores a share (staged, which ``share_head`` looks at first), and
        no item changes a stored share's header or signature, so the read holds for
        the whole transaction."""
        ids = sorted({p.env.id for p in self.prepared.values() if p.env is not None})
        found = rows.share_heads(self.sql, ids)
        self.heads = {i: found.get(i) for i in ids}

    def share_head(self, share_id: str) -> tuple[bytes, bytes] | None:
        """(header bytes, signature) of the share with this id, stored or staged."""
        staged = self.staged.get(share_id)
        if staged is not None:
            return staged.header, staged.env.signature
        if share_id in self.heads:
            return self.heads[share_id]
        return rows.share_head(self.sql, share_id)

    def prepared_for(self, body: Mapping[str, Any]) -> Prepared:
        pre = self.prepared.get(id(body))
        if pre is None or pre.body is not body:
            pre = Prepared(body)
        return pre

    def flush(self) -> None:
        """Store the staged shares and the key uses, together, in this transaction."""
        if self.key_uses:
            trust_sql.add_key_uses(self.sql, self.key_uses)
            self.key_uses.clear()
        if self.staged:
            shares = list(self.staged.values())
            self.staged.clear()
            store_shares(self, shares)

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
        self.revoked = None


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
    return rows.member_of(sql, member)


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
    return prove(ctx.peer, ctx.checkpoints, entry, ref, data)


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
    pre = ctx.prepared_for(body)
    env = pre.envelope()
    m, home = homed_at_origin(ctx, env.originator)
    attested = env.header.get("provenance") == Provenance.ATTESTED.value
    if attested and env.header["key"] != ctx.peer.pin:
        raise CryptoError("attested by another key than the origin node's",
                          code="fed.unknown_key")
    signer = ctx.peer.key if attested else m.sign_key
    if not attested and env.header["key"] != m.sign_key_id:
        raise CryptoError(f"{env.header['key']} is not {m.name}'s signing key",
                          code="fed.unknown_key")
    pre.verify(signer)
    entry, data = pre.entry_data()
    index = pre.prove(ctx.peer, ctx.checkpoints)
    if not attested:
        check_key(m, home, str(env.header["key"]), index)
    here = [r for r in env.recipients if ctx.hosted(r)]
    if not here:
        raise InputError("no recipient of this share is hosted here", code="fed.not_hosted")
    rule = ctx.ex.suite_rule  # the hybrid suites this node requires, as for its own
    if rule and not suite(rule, ctx.ex.directory(), env.header, tuple(here)):
        raise PolicyDenied("this node requires the hybrid (post-quantum) suites for this "
                           "share", code="fed.suite_required")
    header = header_bytes(env.header)
    row = ctx.share_head(env.id)
    if row is not None:
        if row[0] != header or row[1] != env.signature:
            raise CryptoError("another share with this id is stored here",
                              code="fed.bad_item")
        return noop  # idempotent: stored already

    def write() -> None:
        ctx.staged[env.id] = Staged(env, tuple(here), entry, data, header)

    return write


def store_shares(ctx: Context, shares: Sequence[Staged]) -> None:
    """Store checked shares in the batch's transaction, in order, with one statement
    (or two) per table for all of them: the shares, their inbox rows, their log
    entries, and every share hook (``Exchange.run_share_hooks``)."""
    sql = ctx.sql
    rows.insert_shares(sql, [
        (s.env.id, s.env.originator, s.header, s.env.signature, s.env.payload,
         wraps_to_bytes(s.env.wraps), s.env.created, s.env.expires) for s in shares])
    queue_inbox_many(sql, [(s.env.id, s.here) for s in shares], ctx.now, new=True)
    refs = ctx.ex.log.append_many(sql, [(s.entry, s.data) for s in shares], locked=True,
                                  one_tree=True)  # one checkpoint for their streams
    ctx.refs.extend(zip((s.env.id for s in shares), refs, strict=True))
    ctx.ex.run_share_hooks(sql, [(s.env, s.here) for s in shares])
    for s in shares:
        ctx.ring.update(s.here)
        ctx.published.append(Published(s.env, s.here, True))


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
    row = rows.share_origin(sql, r["share"])
    if row is None or row[0] != r["originator"] or row[2] or \
            stored.recall_of(sql, r["share"]) is not None:
        return noop  # never held here, purged, or recalled already
    recipients = orjson.loads(row[1])["audience"]["recipients"]

    def write() -> None:
        prev = stored.secure_delete(sql)
        payloads.drop(sql, r["share"])
        stored.clear_payload(sql, r["share"], "recalled")  # not purged: checked above
        for hook in ctx.ex.purge_tx_hooks:
            hook(sql, r["share"])
        here = [x for x in recipients if hosted(sql, x)]
        stored.drop_inbox_rows(sql, r["share"])
        queue_inbox(sql, r["share"], here, ctx.now)
        ref = ctx.ex.log.append(sql, recall_entry(r, recipients, sig), locked=True)
        stored.add_recall(sql, r["share"], r["originator"], r["at"], r["key"], ref.index)
        stored.restore_secure_delete(sql, prev)
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
    row = rows.share_origin(sql, r["share"])
    if row is None or not hosted(sql, row[0]) or r["member"] not in \
            orjson.loads(row[1])["audience"]["recipients"]:
        raise InputError("a receipt for a share of no member here, or not by a recipient",
                         code="fed.not_hosted")
    originator = row[0]
    if stored.has_receipt(sql, r["share"], r["member"], r["what"]):
        return noop

    def write() -> None:
        ref = ctx.ex.log.append(sql, receipt_entry(r, originator, sig), locked=True)
        stored.add_receipt(sql, r["share"], r["member"], r["what"], r["at"], ref.index)
        ctx.ring.add(originator)

    return write


# -- member -----------------------------------------------------------------------------

class Moves:
    """The check that a member known homed at another node moved to the peer announcing
    it (``check(ctx, old home, body)``; raises when not proven). One per exchange
    (``Exchange.attach``), its check set by vigil.federation.trust while a trust service
    runs on the exchange; without it such an announcement is refused."""

    def __init__(self) -> None:
        self.check: Callable[[Context, str, Mapping[str, Any]], None] | None = None


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
        active = event != "deactivate"
        revoked = None if active else index
        if known is None:
            rows.add_remote_member(sql, Member(
                mj["id"], name, str(mj["display_name"]), str(mj["country"]),
                MemberKind(mj["kind"]), sign_key, mj["sign_key_id"], enc_key,
                mj["enc_key_id"], str(mj["created"]), active), ctx.peer.node, index, revoked)
        else:
            rows.update_remote_member(sql, replace(
                known, sign_key=sign_key, sign_key_id=mj["sign_key_id"], enc_key=enc_key,
                enc_key_id=mj["enc_key_id"], active=active), ctx.peer.node, index, revoked)
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
        # held until it is known (vigil.federation.held)
        raise InputError("the channel names a member unknown here",
                         code="fed.unknown_member")
    known = rows.channel_epoch(sql, ch["id"])
    if known is not None and rows.channel_owner(sql, ch["id"]) != ch["owner"]:
        # a peer homing another member cannot take over a channel mirrored here
        raise CryptoError("a channel of another owner", code="fed.forged_originator")
    if known is not None and known >= epoch:
        return noop
    local = rows.has_channel(sql, ch["id"])
    if local and known is None:
        raise CryptoError("a channel homed here", code="fed.forged_originator")

    def write() -> None:
        if not local:
            rows.add_remote_channel(sql, ch["id"], ch["name"], ch["kind"], ch["owner"],
                                    ch["created"], ctx.peer.node, epoch)
        else:
            rows.set_channel_epoch(sql, ch["id"], epoch)
        before = rows.channel_members(sql, ch["id"])
        for m in sorted(set(members) - before):
            write_channel_change(sql.execute, ch["id"], m, ch["owner"], ctx.now, join=True)
        for m in sorted(before - set(members)):
            write_channel_change(sql.execute, ch["id"], m, ch["owner"], ctx.now, join=False)
        bump_directory(sql)

    return write


register("share", check_share)
register("recall", check_recall_item)
register("receipt", check_receipt_item)
register("member", check_member)
register("channel", check_channel)
