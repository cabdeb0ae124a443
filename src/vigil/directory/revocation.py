"""Revocation, enforced by every node: a signature by a revoked key on an item at or
after the revocation point is refused, whenever and in whatever order things arrive.

A revocation is a ``revoke`` directory entry countersigned by the member's home node
(signed too by the member's old key or its recovery key, or by the home node alone for
a lost key). Its point is ``after``: the home node's main-log size when it took effect.
The rule compares log indexes, never arrival times, so a node that learns of the
revocation late, or receives items out of order, decides exactly as one that knew it
first:

- :meth:`Revocations.check` refuses an item by key K at origin-log index i >= after(K)
  (``fed.revoked_key``);
- :meth:`Revocations.record_use` remembers which key signed which item, so learning a
  revocation later marks every item already delivered at or past its point
  (:meth:`Revocations.marked`), and the client shows them as signed by a revoked key.

Revocations travel in every heartbeat (:meth:`Revocations.heads`), ahead of any queued
batch, and in directory lookups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from vigil import clock
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import SignPrivate
from vigil.directory.entries import (
    SignedEntry,
    check_node_sig,
    next_entry,
    sign_entry,
    sign_kid,
)
from vigil.directory.log import DirectoryLog
from vigil.errors import CryptoError, PolicyDenied
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store

__all__ = ["Revocations", "learn_in", "refuse", "revoke_at_home", "verify_revocation"]


def verify_revocation(signed: SignedEntry, home_key: bytes) -> tuple[str, int]:
    """``(revoked key id, after)`` of a revocation countersigned by its home node."""
    e = signed.entry
    check_node_sig(signed, home_key)
    after = e.get("after")
    try:
        kid = sign_kid(b64u_decode(str(e.get("sign_key"))))
    except (CryptoError, ValueError) as err:
        raise CryptoError("a revocation names a malformed key",
                          code="dir.bad_entry") from err
    if e.get("kind") != "revoke" or e.get("revoked") != kid or not isinstance(after, int) \
            or isinstance(after, bool) or after < 0:
        raise CryptoError("not a revocation", code="dir.bad_entry")
    return kid, after


def learn_in(sql: Sql, signed: SignedEntry, home_key: bytes) -> int:
    """:meth:`Revocations.learn` in the caller's write transaction."""
    kid, after = verify_revocation(signed, home_key)
    at = clock.now()
    q.add_revocation(sql, kid, signed.member, str(signed.entry.get("home")), after,
                     json.dumps(signed.to_json(), sort_keys=True), at)
    point = q.revocation_point(sql, kid)
    assert point is not None
    return q.mark_key_uses(sql, kid, point, at)


def revoke_at_home(directory: DirectoryLog, sql: Sql, member: str, after: int,
                   node_key: SignPrivate, key_id: str | None = None) -> int | None:
    """The home node's own revocation of a member's current signing key from its
    main-log index ``after`` on, in the caller's write transaction: a ``revoke`` entry
    ``by`` node, countersigned with the node key, appended to the node's directory log
    (witnessed and sent to every peer like any entry) and taken here as a revocation.
    The one path of ``vigil directory revoke --lost`` and of ``vigil key revoke
    --compromised`` (:func:`vigil.node.keylife.revoke`). The entry's index; None when
    the member has no chain here, its key is revoked there already, or (``key_id``
    given) the chain's current key is another one: nothing to revoke in the directory.
    Run it through :meth:`DirectoryLog.write` (or forget the entry on a rollback)."""
    state = directory.keys_in(sql, member)
    if state is None or state.sign_key is None or \
            (key_id is not None and state.sign_key_id != key_id):
        return None
    entry = next_entry(state, "revoke", member, directory.node_id, by="node", after=after)
    signed = sign_entry(entry, None, node_key)
    index = directory.append_in(sql, signed)
    learn_in(sql, signed, node_key.public_key().public_bytes_raw())
    return index


def refuse(key_id: str, log_index: int, point: int | None) -> None:
    """``fed.revoked_key`` for a signature by ``key_id`` at origin-log index
    ``log_index`` at or past its revocation ``point``."""
    if point is not None and log_index >= point:
        raise PolicyDenied(f"signed by {key_id}, revoked from log index {point}",
                           code="fed.revoked_key")


class Revocations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def learn(self, signed: SignedEntry, home_key: bytes) -> int:
        """Take a revocation (checked against the home node's key); how many items
        already delivered it marks (refused from then on by every read surface)."""
        return self.store.write(lambda sql: learn_in(sql, signed, home_key))

    def point(self, key_id: str) -> int | None:
        return self.store.read(lambda sql: q.revocation_point(sql, key_id))

    def check(self, key_id: str, log_index: int) -> None:
        refuse(key_id, log_index, self.point(key_id))

    def record_use(self, sql: Sql, share_id: str, home: str, key_id: str,
                   log_index: int) -> None:
        """In the intake transaction: refuse a revoked signature, else remember it."""
        refuse(key_id, log_index, q.revocation_point(sql, key_id))
        q.add_key_use(sql, share_id, home, key_id, log_index)

    @staticmethod
    def points(sql: Sql, key_ids: Sequence[str]) -> dict[str, int | None]:
        """The revocation points of ``key_ids`` (None: not revoked), read at once, for
        :func:`refuse` of a batch's items in the intake transaction (read again after
        anything in it that could learn a revocation)."""
        return q.revocation_points(sql, key_ids)

    @staticmethod
    def record_uses(sql: Sql, uses: Sequence[tuple[str, str, str, int]]) -> None:
        """``record_use``'s memory of ``(share id, home, key id, log index)`` for items
        each checked with :func:`refuse` already, one statement; before anything in the
        transaction could learn a revocation, so that it marks them."""
        q.add_key_uses(sql, uses)

    def marked(self, share_id: str) -> bool:
        use = self.store.read(lambda sql: q.key_use(sql, share_id))
        return use is not None and use[2]

    def use(self, share_id: str) -> tuple[str, int, bool] | None:
        """(home node, log index, marked) of a received share."""
        return self.store.read(lambda sql: q.key_use(sql, share_id))

    def marked_shares(self) -> list[str]:
        return self.store.read(q.marked_shares)

    def count(self) -> int:
        return len(self.store.read(q.revocation_entries))

    def heads(self, newest: int = 3, window: int = 3, turn: int = 0) -> list[dict[str, Any]]:
        """Revocations for the next heartbeat: the ``newest`` ones, and a ``window`` of the
        older ones that moves with ``turn``, so every revocation reaches a peer within a
        bounded number of heartbeats while a heartbeat stays small."""
        rows = self.store.read(q.revocation_entries)
        out = [json.loads(r) for r in rows[:newest]]
        older = rows[newest:]
        if older and window > 0:
            start = (turn * window) % len(older)
            picked = (older[start:] + older[:start])[:window]
            out.extend(json.loads(r) for r in picked)
        return out

    def learn_all(self, revocations: Sequence[Mapping[str, Any]],
                  home_keys: Mapping[str, bytes]) -> int:
        """Take the revocations of a heartbeat; unknown homes and bad ones are skipped."""
        marked = 0
        for obj in revocations:
            try:
                signed = SignedEntry.from_json(obj)
                key = home_keys.get(str(signed.entry.get("home")))
                if key is not None:
                    marked += self.learn(signed, key)
            except CryptoError:
                continue
        return marked
