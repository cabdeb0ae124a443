"""What goes to which node: outbox rows written in the transaction of their event, and
the bodies of items built when they are sent.

* a share: one row per destination node that hosts at least one recipient, in the
  share's own transaction (``Exchange.share_tx_hooks``); a node that hosts none gets
  nothing;
* a recall: one row per such node, in the recall's transaction (``purge_tx_hooks``),
  so it follows its share on the same ordered stream;
* member key events, channel changes of channels homed here, and receipts for shares
  of other nodes' members: from this node's log, scanned per destination up to its end
  (``sync``), before any share to that destination and by the sender's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.encoding import b64u
from vigil.crypto.seal import wraps_json
from vigil.model import Envelope
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.storage import outgoing, peers, received
from vigil.storage import trust as tq
from vigil.storage.base import Sql, wraps_from_bytes

SCAN = "log"
SCANNED_KINDS = ("member", "channel", "receipt")


def _leaf_json(ex: Exchange, idx: int, root: bytes, proof: bytes) -> dict[str, Any]:
    return ex.log.ref_of(idx, root, proof).to_json()


def sync(ex: Exchange, sql: Sql, dest: str) -> None:
    """Queue, for ``dest``, every member, channel and receipt entry of this node's log
    it should have and was not given yet (a scan cursor per destination)."""
    at = q.scan_at(sql, SCAN, dest)
    end = q.log_end(sql)
    if at >= end:
        return
    now = clock.now()
    channels: set[str] = set()
    for idx, kind, data in q.log_leaves(sql, SCANNED_KINDS, at, 100000):
        entry = orjson.loads(data)
        if kind == "member":
            if q.remote_member(sql, str(entry["member"])) is None:
                q.enqueue(sql, dest, "member", str(idx), now)
        elif kind == "receipt":
            home = q.remote_member(sql, str(entry["originator"]))
            if home is not None and home[0] == dest \
                    and q.remote_member(sql, str(entry["member"])) is None:
                q.enqueue(sql, dest, "receipt", str(idx), now)
        else:
            channels.add(str(entry["channel"]))
    for ch in sorted(channels):
        if dest in channel_nodes(sql, ch):
            q.enqueue(sql, dest, "channel", ch, now)
    q.set_scan(sql, SCAN, dest, end)


def reannounce(sql: Sql, member: str | None = None) -> int:
    """Queue the latest key event of ``member`` (default: of every member hosted here)
    again for every peer: after a member's first entry in the key directory, or when
    this node counts k higher (peers refused announcements with fewer cosignatures than
    they count); how many rows. A peer that took an event already changes nothing."""
    latest = tq.last_member_leaves(sql)
    if member is not None:
        latest = {member: latest[member]} if member in latest else {}
    now = clock.now()
    dests = sorted(active_peers(sql))
    rows = 0
    for m, idx in sorted(latest.items(), key=lambda x: x[1]):
        if q.remote_member(sql, m) is not None:
            continue
        for d in dests:
            q.enqueue(sql, d, "member", str(idx), now)
            rows += 1
    return rows


def channel_nodes(sql: Sql, channel: str) -> set[str]:
    """The other nodes a channel homed here goes to: those hosting a member it has or
    had (a removed member's node learns of the removal)."""
    row = outgoing.channel_row(sql, channel)
    if row is None or q.remote_member(sql, str(row[3])) is not None:
        return set()
    members = list(dict.fromkeys(outgoing.channel_event_members(sql, channel)))
    return set(q.home_nodes(sql, members).values())


def active_peers(sql: Sql) -> set[str]:
    return peers.active_nodes(sql)


def destinations(sql: Sql, recipients: Sequence[str]) -> list[str]:
    return sorted(set(q.home_nodes(sql, recipients).values()))


class Hooks:
    """The transaction hooks of one exchange; listeners are told, per destination, the
    dseq of the row just queued. They are called inside the transaction (before its
    commit): a listener that reads the outbox at once may not see the row yet, so it
    waits for that dseq (vigil.federation.sender does)."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.listeners: list[Any] = []

    def _wake(self, dseqs: Mapping[str, int]) -> None:
        for fn in self.listeners:
            fn(dseqs)

    def on_share(self, sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
        if q.remote_member(sql, env.originator) is not None:
            return  # received from its home node: it goes nowhere from here
        dests = destinations(sql, recipients)
        now = clock.now()
        queued = {}
        for d in dests:
            sync(self.ex, sql, d)  # the originator and the channel reach it first
            queued[d] = q.enqueue(sql, d, "share", env.id, now)
        if queued:
            self._wake(queued)

    def on_shares(self, sql: Sql, shares: Sequence[tuple[Envelope, tuple[str, ...]]]
                  ) -> None:
        """``on_share`` for several shares of one transaction: a received batch's
        shares, homed elsewhere, are looked up once per originator."""
        remote: dict[str, bool] = {}
        for env, recipients in shares:
            if env.originator not in remote:
                remote[env.originator] = q.remote_member(sql, env.originator) is not None
            if not remote[env.originator]:
                self.on_share(sql, env, recipients)

    def on_purge(self, sql: Sql, share_id: str) -> None:
        row = outgoing.recalled_share(sql, share_id)
        if row is None or q.remote_member(sql, row[0]) is not None:
            return  # expiry (every node purges itself) or a recall from another node
        header = orjson.loads(row[1])
        dests = destinations(sql, header["audience"]["recipients"])
        now = clock.now()
        queued = {d: q.enqueue(sql, d, "recall", share_id, now) for d in dests}
        if queued:
            self._wake(queued)


def install(ex: Exchange) -> Hooks:
    """Register the outbox hooks on an exchange (once); the hooks."""
    for h in ex.share_tx_hooks:
        owner = getattr(h, "__self__", None)
        if isinstance(owner, Hooks):
            return owner
    hooks = Hooks(ex)
    ex.share_tx_hooks.append(hooks.on_share)
    ex.share_tx_many[hooks.on_share] = hooks.on_shares
    ex.purge_tx_hooks.append(hooks.on_purge)
    return hooks


# -- bodies, built when sent -----------------------------------------------------------

LogJson = Callable[[int, bytes, bytes], dict[str, Any]]
# shares read ahead for a batch: their rows (``shares_to_send``), their leaves
Read = tuple[Mapping[str, outgoing.SentShare], Mapping[str, tuple[int, bytes, bytes, bytes]]]


def body(ex: Exchange, sql: Sql, kind: str, ref: str,
         log_json: LogJson | None = None, read: Read | None = None) -> dict[str, Any]:
    """The body of an outbox item as it is sent now. ``log_json`` makes the ``log``
    part from (index, root, proof) of the stored leaf (default: the leaf's own proof
    in the tree it completed, under that tree's checkpoint). ``read``: the batch's
    shares and their leaves, read together (a share not in them is gone)."""
    at = log_json or (lambda idx, root, proof: _leaf_json(ex, idx, root, proof))
    if kind == "share":
        if read is not None:
            got, leaf = read[0].get(ref), read[1].get(ref)
        else:
            got, leaf = outgoing.share_to_send(sql, ref), q.leaf_of(sql, ref, "share")
        if got is None or leaf is None:
            return {"share": ref, "gone": True}  # recalled or expired before it left
        return {"envelope": envelope_json(*got), "log": at(*_ref(leaf))}
    if kind == "recall":
        leaf = q.leaf_of(sql, ref, "recall")
        if leaf is None:
            return {"share": ref, "gone": True}
        return {"entry": orjson.loads(leaf[1]), "log": at(*_ref(leaf))}
    if kind in ("member", "receipt"):
        idx = int(ref)
        got_leaf = q.leaf(sql, idx)
        assert got_leaf is not None
        entry = orjson.loads(got_leaf[0])
        out: dict[str, Any] = {"entry": entry, "log": at(idx, got_leaf[1], got_leaf[2])}
        if kind == "member":
            out["member"] = member_json(sql, str(entry["member"]))
        return out
    if kind == "channel":
        return channel_json(sql, ref)
    raise ValueError(f"no body for outbox kind {kind!r}")


def envelope_json(header: bytes, signature: bytes, payload: bytes | None, wraps: bytes
                  ) -> dict[str, Any]:
    """``envelope_to_json`` of a stored share, made from its row: the same wire form,
    without building the Envelope and copying its header again."""
    return {"header": orjson.loads(header), "signature": b64u(bytes(signature)),
            "payload": b64u(b"" if payload is None else bytes(payload)),
            "wraps": wraps_json(wraps_from_bytes(bytes(wraps)))}


def _ref(leaf: tuple[int, bytes, bytes, bytes]) -> tuple[int, bytes, bytes]:
    return leaf[0], leaf[2], leaf[3]


def member_json(sql: Sql, member: str) -> dict[str, Any]:
    m = received.member_of(sql, member)
    if m is None:
        raise LookupError(f"no member {member!r}")
    return {"id": m.id, "name": m.name, "display_name": m.display_name, "country": m.country,
            "kind": m.kind.value, "sign_key": b64u(m.sign_key), "sign_key_id": m.sign_key_id,
            "enc_key": b64u(m.enc_key), "enc_key_id": m.enc_key_id, "created": m.created,
            "active": m.active}


def channel_json(sql: Sql, channel: str) -> dict[str, Any]:
    """A channel homed here as its peers mirror it: state and epoch (its event count)."""
    r = outgoing.channel_row(sql, channel)
    members = sorted(received.channel_members(sql, channel))
    epoch = len(outgoing.channel_event_members(sql, channel))
    return {"channel": {"id": r[0], "name": r[1], "kind": r[2], "owner": r[3],
                        "created": r[4], "members": members}, "epoch": epoch}


def revocations(ex: Exchange, sql: Sql, limit: int = 20) -> list[dict[str, Any]]:
    """The latest revocations (``member`` entries ``deactivate``) of members homed here,
    as member item bodies: heartbeats carry them ahead of the queue."""
    out = []
    for idx in outgoing.latest_leaves(sql, "member", limit * 5):
        b = body(ex, sql, "member", str(idx))
        if b["entry"]["event"] == "deactivate" and \
                q.remote_member(sql, str(b["entry"]["member"])) is None:
            out.append(b)
    return out[:limit]


class MemberProofs:
    """The proofs a member's announcement carries, as extra body fields: its witnessed
    directory entries (``directory``) and, for a member that moved here, its old home's
    lookup showing the move (``moved``). One per exchange (``Exchange.attach``); its
    source is set by vigil.federation.trust while a trust service runs on the exchange.

    ``source(member, body, dest)`` raises :class:`Held` when the announcement must wait
    (its directory entries are not witnessed yet): the batch ends before it."""

    def __init__(self) -> None:
        self.source: Callable[[str, Mapping[str, Any], str | None], Mapping[str, Any]] \
            | None = None


class Held(Exception):
    """A member announcement that may not leave yet (see :class:`MemberProofs`)."""


def bodies(ex: Exchange, sql: Sql, rows: Sequence[tuple[int, str, str, str]]
           ) -> list[tuple[int, str, Mapping[str, Any]]]:
    """(dseq, kind, body) for outbox rows, in the caller's read. Every log proof in
    them is against one checkpoint, the log's latest: the receiver checks its signature
    once per batch rather than once per item. The shares among them, and their log
    leaves, are read in one statement each."""
    places: list[tuple[int, dict[str, Any]]] = []

    def later(idx: int, root: bytes, proof: bytes) -> dict[str, Any]:
        part: dict[str, Any] = {}
        places.append((idx, part))
        return part

    ids = [r for _, k, r, _ in rows if k == "share"]
    read = (outgoing.shares_to_send(sql, ids), q.leaves_of(sql, ids, "share")) if ids \
        else None
    out: list[tuple[int, str, Mapping[str, Any]]] = [
        (d, k, body(ex, sql, k, r, later, read)) for d, k, r, _ in rows]
    refs = ex.log.refs_in(sql, [i for i, _ in places])
    for idx, part in places:
        part.update(refs[idx].to_json())
    return out


def with_proofs(ex: Exchange, items: Sequence[tuple[int, str, Mapping[str, Any]]],
                dest: str | None = None) -> list[tuple[int, str, Mapping[str, Any]]]:
    """The items with the proofs of the exchange's :class:`MemberProofs` added to each
    member item (its directory entries, its move), so the receiver (``dest``) checks the
    announced keys and home against them; read outside the outbox read. The items end before the
    first member item whose proofs are not ready (:class:`Held`): the batch ends there
    and that item leaves in a later one, with everything after it."""
    part = ex.part(MemberProofs)
    proofs = part.source if part is not None else None
    if proofs is None:
        return list(items)
    out: list[tuple[int, str, Mapping[str, Any]]] = []
    for d, k, b in items:
        if k == "member":
            try:
                b = {**b, **proofs(str(b["member"]["id"]), b, dest)}
            except Held:
                break
        out.append((d, k, b))
    return out
