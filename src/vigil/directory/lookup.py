"""Looking up a member of another node: entries, inclusion proofs, a witnessed checkpoint.

The home node (:mod:`vigil.directory.answers`) answers with every entry of the member
up to its newest checkpoint that carries ``k`` peer cosignatures, each with its
inclusion proof against it::

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

from vigil.crypto.encoding import b64u_decode
from vigil.directory.entries import MemberKeys, SignedEntry, directory_origin, fold
from vigil.errors import CryptoError, VigilError
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.protocol.witnessing import verify_witnessed

__all__ = ["chain_sign_keys", "verify_lookup"]


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


def chain_sign_keys(answer: Mapping[str, Any], home: str, home_key: bytes
                    ) -> dict[str, bytes]:
    """Every signing key the member's chain in a lookup answer registered, by key id
    (each prefix of the chain replayed as :func:`fold` checks it). Call it on an answer
    :func:`verify_lookup` accepted."""
    entries = [SignedEntry.from_json(item["entry"]) for item in answer["entries"]]
    out: dict[str, bytes] = {}
    for n in range(1, len(entries) + 1):
        keys = fold(entries[:n], home, home_key)
        if keys.sign_key is not None and keys.sign_key_id is not None:
            out[keys.sign_key_id] = keys.sign_key
    return out
