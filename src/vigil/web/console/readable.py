"""Every share a member may read, as the console lists them: its inbox (through the
access gate, as ``Exchange.inbox_page`` applies it) and what it sent and may still read
(``Exchange.sent_page``, the gate's ``own``), each once, with its inbox or sent seq."""

from __future__ import annotations

from collections.abc import Iterator

from vigil.errors import NotFound
from vigil.model import Envelope, ShareState
from vigil.node.exchange import Exchange

PAGE = 500


def readable_shares(ex: Exchange, member: str) -> Iterator[tuple[Envelope, ShareState]]:
    """The member's readable shares (its inbox, then what it sent), each once."""
    seen: set[str] = set()
    cursor = 0
    while True:
        page, cursor, more = ex.inbox_page(member, cursor, PAGE)
        for _entry, env, state in page:
            if env.id not in seen:
                seen.add(env.id)
                yield env, state
        if not more:
            break
    after = 0
    while True:
        rows, nxt = ex.sent_page(member, after, PAGE)
        for _seq, env, state in rows:
            if env.id not in seen:
                seen.add(env.id)
                yield env, state
        if nxt == after:
            break
        after = nxt


def readable_by_id(ex: Exchange, member: str, ids: list[str]
                   ) -> dict[str, tuple[Envelope, ShareState]]:
    """The shares among ``ids`` the member may read now (``Exchange.share``, the gate)."""
    out = {}
    for sid in ids:
        try:
            out[sid] = ex.share(member, sid)
        except NotFound:
            continue
    return out
