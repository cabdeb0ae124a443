"""Reading on a node: inbox pages, one share, sent shares and opening a payload, each
through the access gate (a refused read answers like a missing one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from vigil import clock
from vigil.errors import CryptoError, NotFound
from vigil.model import (
    Directory,
    Envelope,
    Form,
    InboxEntry,
    Provenance,
    ShareState,
)
from vigil.node.hooks import Page
from vigil.node.members import Members
from vigil.policy.access import Access
from vigil.protocol.envelope import (
    open_share,
    verify_envelope,
)


class Reading(Members):
    """Reading on an exchange."""

    # -- reading -----------------------------------------------------------------
    def inbox_page(self, member: str, after: int, limit: int, *, notices: bool = False
                   ) -> tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]:
        """Entries the member may read after a cursor, the cursor to resume from (past
        entries the policy now hides too), and whether more may follow at once. With
        ``notices``, a recalled share its recipients may be told of comes as its signed
        header without payload or wraps (the delivery of a recall)."""
        return self.inbox_pages([(member, after)], limit, notices=notices)[0]

    def inbox_pages(self, requests: Sequence[tuple[str, int]], limit: int, *,
                    notices: bool = False) -> list[Page]:
        """``inbox_page`` for several (member, cursor) pairs with one store read."""
        d = self.directory()
        if self.read_gate is not None:
            self.read_gate.release([m for m, _ in requests])
        ref_lists = self.store.inbox_refs_many(requests, limit)

        def lookup(share_id: str) -> Envelope | None:
            env = self.envelopes.get(share_id)
            if env is None:
                got = self.store.get_share(share_id)
                if got is None:
                    return None
                env = got[0]
                self.envelopes.put(share_id, env)
            return env

        out = self._pages(d, requests, ref_lists, limit, lookup, notices)
        # every delivered share carries its log place and proof: warm that cache with
        # one read for the shares it lacks
        self.log.share_refs(sorted({e.share_id for rows, _, _ in out for e, _, _ in rows}))
        return out

    async def inbox_pages_async(self, requests: Sequence[tuple[str, int]], limit: int, *,
                                notices: bool = False) -> list[Page] | None:
        """``inbox_pages`` on the event loop, for stores that offer ``push_reads`` (two
        round trips and no thread); None when the store does not."""
        push = getattr(self.store, "push_reads", None)
        if push is None or self.read_gate is not None:
            return None

        def missing(ids: list[str]) -> list[str]:
            return [i for i in ids
                    if self.envelopes.get(i) is None or self.log.refs.get(i) is None]

        got = await push(requests, limit, missing)
        if got is None:
            return None
        d, ref_lists, shares = got
        if d is None:
            d = await asyncio.to_thread(self.directory)
        for sid, (env, _, log_row) in shares.items():
            self.envelopes.put(sid, env)
            if log_row is not None:
                self.log.refs.put(sid, self.log.ref_of(*log_row))
        return self._pages(d, requests, ref_lists, limit, self.envelopes.get, notices)

    def _pages(self, d: Directory, requests: Sequence[tuple[str, int]],
               ref_lists: Sequence[Sequence[tuple[InboxEntry, ShareState]]], limit: int,
               lookup: Callable[[str], Envelope | None], notices: bool) -> list[Page]:
        now = clock.now()
        gates = [Access(self, member, directory=d, now=now) for member, _ in requests]
        founds = [[(entry, env, state) for entry, state in refs
                   if (env := lookup(entry.share_id)) is not None] for refs in ref_lists]
        # one revocation lookup and one consent read for every member of the batch
        all_views = Access.views_many(gates, [[(env.id, env.header, state)
                                               for _, env, state in found]
                                              for found in founds])
        out: list[Page] = []
        for (_, after), refs, gate, found, views in zip(requests, ref_lists, gates, founds,
                                                         all_views, strict=True):
            cursor = refs[-1][0].seq if refs else after
            readable = []
            for (entry, env, state), view in zip(found, views, strict=True):
                what = gate.delivery(view, notices=notices)
                if what == "share":
                    readable.append((entry, env, state))
                elif what == "notice":
                    # the delivery of a recall: the signed header, nothing else
                    readable.append((entry, Envelope(env.header, env.signature, b"", ()),
                                     state))
            out.append((readable, cursor, len(refs) == limit))
        return out

    def share(self, member: str, share_id: str) -> tuple[Envelope, ShareState]:
        """A share the member may read now (the community hold included), for its
        content; NotFound otherwise, exactly like a missing share. This does not count
        as an opening: a surface that shows the share to a person calls
        ``record_opened`` as well."""
        gate = Access(self, member)
        got = gate.fetch(share_id)
        if got is None or not gate.read(got[1]):
            raise NotFound(f"no share {share_id!r}", code="share.not_found")
        return got[0], got[1].state

    def record_opened(self, member: str, env: Envelope) -> None:
        """Tell the read hooks (ledger openings, held members' receipts) that the member
        opened a share it was allowed to read."""
        for hook in self.read_hooks:
            hook(member, env)

    def sent(self, member: str, after: int = 0, limit: int = 100
             ) -> list[tuple[int, Envelope, ShareState]]:
        """The shares the member published and may still read (not purged), among the
        ``limit`` it published after the cursor ``after``."""
        return self.sent_page(member, after, limit)[0]

    def sent_page(self, member: str, after: int = 0, limit: int = 100
                  ) -> tuple[list[tuple[int, Envelope, ShareState]], int]:
        """``sent``, and the cursor to resume from (past hidden shares too)."""
        rows = self.store.sent(member, after, limit)
        gate = Access(self, member)
        views = gate.views((env.id, env.header, state) for _, env, state in rows)
        shown = [row for row, view in zip(rows, views, strict=True) if gate.own(view)]
        return shown, rows[-1][0] if rows else after

    def signer_key(self, env: Envelope) -> bytes:
        """The public key that must have signed this envelope."""
        if env.header.get("provenance") == Provenance.ATTESTED.value:
            if env.header["key"] != self.node_key_id:
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            return self.node_key_raw
        return self.keybook.signer(self.directory(), env.originator, str(env.header["key"]))

    def open(self, member: str, env: Envelope) -> bytes | None:
        """The plaintext for a member, verified; None if sealed and the node lacks its keys."""
        verify_envelope(env, self.signer_key(env))
        if env.form is Form.PLAIN:
            return env.payload
        kr = self.held.get(member)
        if kr is None:
            return None
        return open_share(env, member, kr.enc_private)

