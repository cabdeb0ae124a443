"""The home node's side of directory lookups: the answers
:func:`vigil.directory.lookup.verify_lookup` and the owner's monitor check."""

from __future__ import annotations

from typing import Any

from vigil.crypto.encoding import b64u
from vigil.directory.log import DirectoryLog
from vigil.errors import NotFound
from vigil.log.checkpoint import parse_checkpoint
from vigil.witness.collector import Collector

__all__ = ["answer_lookup", "answer_range"]


def answer_lookup(dirlog: DirectoryLog, collector: Collector, member: str,
                  k: int, by: str | None = None) -> dict[str, Any]:
    """The home node's answer for ``member`` (``dir.not_witnessed`` while no checkpoint
    holding its registration has k cosignatures yet, ``by``'s among them if given;
    ``dir.unknown_member`` if none)."""
    note = collector.cosigned(dirlog.origin, k, by)
    size = 0
    if note is not None:
        size = parse_checkpoint(note)[0].size
    mine = dirlog.member_entries(member, size)
    if not mine:
        if dirlog.member_entries(member):
            raise NotFound("the member's entries are not witnessed yet; ask again in a "
                           "second", code="dir.not_witnessed")
        raise NotFound("no such member at this node", code="dir.unknown_member")
    assert note is not None
    return {"member": member, "home": dirlog.node_id, "checkpoint": note,
            "entries": [{"index": i, "entry": e.to_json(),
                         "proof": [b64u(h) for h in dirlog.inclusion(i, size)]}
                        for i, e in mine]}


def answer_range(dirlog: DirectoryLog, collector: Collector, start: int,
                 k: int) -> dict[str, Any]:
    """What a member's monitor fetches: the newest k-cosigned checkpoint and every leaf
    from ``start`` up to it (base64url of the exact leaf bytes)."""
    note = collector.cosigned(dirlog.origin, k)
    if note is None:
        raise NotFound("no witnessed directory checkpoint yet", code="dir.not_witnessed")
    size = parse_checkpoint(note)[0].size
    return {"checkpoint": note,
            "entries": [b64u(e.data()) for _, e in dirlog.entries(start, size)]}
