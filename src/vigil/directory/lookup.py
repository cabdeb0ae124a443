"""Looking up a member of another node: entries, inclusion proofs, a witnessed checkpoint.

The home node answers with every entry of the member up to its newest checkpoint that
carries ``k`` peer cosignatures, each with its inclusion proof against it::

    {"member": "identity--…", "home": "node--…", "checkpoint": "<note + cosignatures>",
     "entries": [{"index": i, "entry": {signed entry}, "proof": [b64u, …]}, …]}

Whoever asks (SDK, CLI, gateway, another node) accepts the keys only after
:func:`verify_lookup`: the home node's signature on the checkpoint, ``k`` valid
cosignatures of witnesses it knows, every inclusion proof, and the member's chain
replayed from its registration (signatures of the member, its recovery key and the
home node). A node cannot show one member's key to some and another to others without
a fork the witnesses see, and cannot add a key without the member's monitor seeing it
(:mod:`vigil.directory.monitor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.crypto.encoding import b64u, b64u_decode
from vigil.directory.entries import MemberKeys, SignedEntry, fold
from vigil.directory.log import DirectoryLog, directory_origin
from vigil.errors import CryptoError, NotFound, VigilError
from vigil.log.checkpoint import parse_checkpoint
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.witness.collector import Collector
from vigil.witness.quorum import verify_witnessed

__all__ = ["answer_lookup", "answer_range", "verify_lookup"]


def answer_lookup(dirlog: DirectoryLog, collector: Collector, member: str,
                  k: int) -> dict[str, Any]:
    """The home node's answer for ``member`` (``dir.not_witnessed`` while no checkpoint
    holding its registration has k cosignatures yet; ``dir.unknown_member`` if none)."""
    note = collector.cosigned(dirlog.origin, k)
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


def verify_lookup(answer: Mapping[str, Any], home: str, home_key: bytes,
                  witnesses: Mapping[str, bytes], k: int,
                  member: str | None = None) -> MemberKeys:
    """The member's keys, if the answer proves them (``dir.bad_lookup`` otherwise)."""
    try:
        origin = directory_origin(home)
        cp, _ = verify_witnessed(str(answer["checkpoint"]), (origin, home_key), witnesses, k,
                                 origin=origin)
        entries: list[SignedEntry] = []
        who = member or str(answer["member"])
        last = -1
        for item in answer["entries"]:
            signed = SignedEntry.from_json(item["entry"])
            index = int(item["index"])
            if signed.member != who or index <= last:
                raise CryptoError("entries of another member or out of order",
                                  code="dir.bad_lookup")
            last = index
            proof = [b64u_decode(p) for p in item["proof"]]
            verify_inclusion(leaf_hash(signed.data()), index, cp.size, proof, cp.root)
            entries.append(signed)
        return fold(entries, home, home_key)
    except CryptoError as e:
        raise CryptoError(f"the directory lookup does not prove the keys: {e.message}",
                          code="dir.bad_lookup") from e
    except (VigilError, KeyError, TypeError, ValueError) as e:
        raise CryptoError(f"malformed directory lookup: {e}", code="dir.bad_lookup") from e


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
