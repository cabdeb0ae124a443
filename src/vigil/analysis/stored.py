"""The observable index that lives in the store: keys, and matching against them.

Memory does not grow with the store: the node's observables are the ``observables``
rows, looked up through the B-tree of their keys (``vigil.storage.observables``) and,
for the rows not yet merged into it, the keys each process holds of those
(``vigil.analysis.pending``, bounded by the merge); what a process holds besides is the
store's page cache and, during a pass, the observables of the shares in that pass
(``ObservableIndex``). A key is

- for an exact value: ``h`` and the first 8 bytes of BLAKE2b of ``kind:value`` (a
  collision is told apart by comparing the stored kind and value);
- for an IP address or network: the version byte, the network start (4 or 16 bytes,
  big-endian) and the prefix length, so keys of one version sort by start, then length.

``lookup`` answers, for many observables at once, every stored ``(observable, share,
originator)`` that matches each: the same value, or an overlapping IP address or
network (networks that hold it: one probe per prefix length in use; networks and
addresses inside it: one range scan).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from vigil.analysis.index import parse_ip
from vigil.analysis.observables import Observable
from vigil.analysis.pending import PendingKeys
from vigil.storage import observables as rows
from vigil.storage.base import Sql

Held = tuple[int, Observable, str, str]  # row seq, stored observable, share id, originator


def ip_key(version: int, start: int, plen: int) -> bytes:
    return bytes((version,)) + start.to_bytes(4 if version == 4 else 16, "big") + bytes((plen,))


def key(obs: Observable) -> bytes | None:
    """The stored key of an observable (None: an ``ip`` value that is not one)."""
    if obs.kind == "ip":
        net = parse_ip(obs.value)
        return None if net is None else ip_key(*net)
    return b"h" + hashlib.blake2b(obs.key.encode(), digest_size=8).digest()


def ip_len(obs: Observable) -> tuple[int, int] | None:
    """(version, prefix length) of an ``ip`` observable."""
    net = parse_ip(obs.value) if obs.kind == "ip" else None
    return None if net is None else (net[0], net[2])


def lookup(sql: Sql, observables: Iterable[Observable], upto: int | None = None,
           pending: PendingKeys | None = None) -> dict[Observable, list[Held]]:
    """Every stored row matching each of ``observables`` (of the shares up to the seq
    ``upto`` if given), oldest first; observables without a match are left out.
    ``pending``: the process's keys of the rows not yet merged (without it, they are
    read for this lookup alone)."""
    keys = (pending or PendingKeys()).view(sql)
    wanted: dict[bytes, list[Observable]] = {}
    ranges: list[tuple[Observable, bytes, bytes]] = []
    lens: dict[int, list[int]] | None = None
    for obs in set(observables):
        if obs.kind != "ip":
            k = key(obs)
            assert k is not None
            wanted.setdefault(k, []).append(obs)
            continue
        net = parse_ip(obs.value)
        if net is None:
            continue
        if lens is None:
            lens = {4: [], 6: []}
            for v, p in sorted(rows.ip_lens(sql)):
                lens[v].append(p)
        version, start, plen = net
        bits = 32 if version == 4 else 128
        for p in lens[version]:  # stored networks that hold (or equal) it
            if p > plen:
                break
            wanted.setdefault(ip_key(version, start >> (bits - p) << (bits - p), p),
                              []).append(obs)
        if plen < bits:  # stored networks and addresses inside it
            end = start | ((1 << (bits - plen)) - 1)
            ranges.append((obs, ip_key(version, start, plen + 1), ip_key(version, end, bits)))
    out: dict[Observable, list[Held]] = {}
    for seq, _k, kind, value, sid, originator in rows.by_keys(sql, wanted, upto,
                                                              keys.seqs(wanted)):
        held = Observable(kind, value)
        for obs in wanted[_k]:
            if obs.kind == "ip" or held == obs:  # (a hash collision is no match)
                out.setdefault(obs, []).append((seq, held, sid, originator))
    for obs, lo, hi in ranges:
        found = [(seq, Observable(kind, value), sid, originator)
                 for seq, _k, kind, value, sid, originator
                 in rows.in_range(sql, lo, hi, upto, keys.between(lo, hi))]
        if found:
            out[obs] = sorted([*out.get(obs, []), *found])
    return out
