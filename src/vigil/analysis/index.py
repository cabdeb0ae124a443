"""An in-process index of observables: exact values, and IP containment.

``ObservableIndex[R]`` maps observables to references (share ids, or anything
hashable). ``match(o)`` answers every stored ``(observable, ref)`` that matches ``o``:
the same key, or, for the kind ``ip``, any overlapping address or network (an address
inside a network, a network inside or around another).

IP entries are kept per version as one dict per prefix length (network start as an
int -> refs), which answers "which stored networks contain this one" with one dict
probe per prefix length in use, and one sorted list of ``(start, prefix length)``,
which answers "which stored networks lie inside this one" with a range scan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from sortedcontainers import SortedList

from vigil.analysis.observables import Observable

R = TypeVar("R", bound=Hashable)

IpNet = tuple[int, int, int]  # (version, start, prefix length)


def parse_ip(value: str) -> IpNet | None:
    """(version, network start as an int, prefix length) of a normalised ``ip`` value."""
    if "/" not in value and ":" not in value:  # a bare IPv4 address: the common case
        parts = value.split(".")
        if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
            a, b, c, d = (int(p) for p in parts)
            if a < 256 and b < 256 and c < 256 and d < 256:
                return 4, (a << 24) | (b << 16) | (c << 8) | d, 32
            return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return net.version, int(net.network_address), net.prefixlen


def ip_text(version: int, start: int, plen: int) -> str:
    addr = ipaddress.IPv4Address(start) if version == 4 else ipaddress.IPv6Address(start)
    bits = 32 if version == 4 else 128
    return str(addr) if plen == bits else f"{addr}/{plen}"


def overlap(a: str, b: str) -> bool:
    """Do two ``ip`` values (addresses or networks) overlap?"""
    na, nb = parse_ip(a), parse_ip(b)
    if na is None or nb is None or na[0] != nb[0]:
        return False
    bits = 32 if na[0] == 4 else 128
    a_end = na[1] | ((1 << (bits - na[2])) - 1)
    b_end = nb[1] | ((1 << (bits - nb[2])) - 1)
    return na[1] <= b_end and nb[1] <= a_end


class _IpFamily(Generic[R]):
    __slots__ = ("added", "bits", "by_len", "lens", "starts")

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.by_len: dict[int, dict[int, list[R]]] = {}
        self.lens: list[int] = []  # prefix lengths in use, ascending
        self.starts: SortedList = SortedList()  # (start, plen)
        self.added: list[tuple[int, int]] = []  # new (start, plen), sorted in when needed

    def _sorted(self) -> SortedList:
        if self.added:
            self.starts.update(self.added)
            self.added.clear()
        return self.starts

    def add(self, start: int, plen: int, ref: R) -> bool:
        table = self.by_len.get(plen)
        if table is None:
            table = self.by_len[plen] = {}
            self.lens = sorted(self.by_len)
        refs = table.get(start)
        if refs is None:
            table[start] = [ref]
            self.added.append((start, plen))
            return True
        if ref in refs:
            return False
        refs.append(ref)
        return True

    def discard(self, start: int, plen: int, ref: R) -> bool:
        table = self.by_len.get(plen)
        refs = table.get(start) if table is not None else None
        if refs is None or ref not in refs:
            return False
        refs.remove(ref)
        if not refs:
            assert table is not None
            del table[start]
            self._sorted().remove((start, plen))
            if not table:
                del self.by_len[plen]
                self.lens = sorted(self.by_len)
        return True

    def match(self, start: int, plen: int) -> Iterator[tuple[int, int, list[R]]]:
        bits = self.bits
        for p in self.lens:  # stored networks holding (or equal to) the query
            if p > plen:
                break
            s = start >> (bits - p) << (bits - p)
            refs = self.by_len[p].get(s)
            if refs:
                yield s, p, refs
        if plen < bits:  # stored networks and addresses inside the query
            end = start | ((1 << (bits - plen)) - 1)
            for s, p in self._sorted().irange((start, plen + 1), (end, bits)):
                yield s, p, self.by_len[p][s]


class ObservableIndex(Generic[R]):
    """Observables -> refs, with IP containment. Not thread-safe: callers lock."""

    def __init__(self) -> None:
        self._exact: dict[str, list[R]] = {}
        self._ip: dict[int, _IpFamily[R]] = {4: _IpFamily(32), 6: _IpFamily(128)}
        self._size = 0

    def __len__(self) -> int:
        """The number of (observable, ref) pairs held."""
        return self._size

    def add(self, obs: Observable, ref: R) -> bool:
        """Hold ``ref`` under ``obs``; False if it was held already."""
        if obs.kind == "ip":
            net = parse_ip(obs.value)
            if net is None:
                return False
            added = self._ip[net[0]].add(net[1], net[2], ref)
        else:
            key = f"{obs[0]}:{obs[1]}"
            refs = self._exact.get(key)
            if refs is None:
                self._exact[key] = [ref]
                added = True
            elif ref in refs:
                added = False
            else:
                refs.append(ref)
                added = True
        self._size += added
        return added

    def discard(self, obs: Observable, ref: R) -> bool:
        if obs.kind == "ip":
            net = parse_ip(obs.value)
            removed = net is not None and self._ip[net[0]].discard(net[1], net[2], ref)
        else:
            key = obs.key
            refs = self._exact.get(key)
            removed = refs is not None and ref in refs
            if removed:
                assert refs is not None
                refs.remove(ref)
                if not refs:
                    del self._exact[key]
        self._size -= removed
        return removed

    def holds(self, obs: Observable) -> bool:
        """Whether ``obs`` itself (this exact value) is held."""
        if obs.kind == "ip":
            net = parse_ip(obs.value)
            return net is not None and net[1] in self._ip[net[0]].by_len.get(net[2], {})
        return obs.key in self._exact

    def match(self, obs: Observable) -> list[tuple[Observable, R]]:
        """Every held (observable, ref) that matches ``obs``: the same value, or an
        overlapping IP address or network."""
        if obs.kind != "ip":
            return [(obs, r) for r in self._exact.get(obs.key, ())]
        net = parse_ip(obs.value)
        if net is None:
            return []
        version, start, plen = net
        out: list[tuple[Observable, R]] = []
        for s, p, refs in self._ip[version].match(start, plen):
            held = obs if (s == start and p == plen) else Observable("ip", ip_text(version, s, p))
            out.extend((held, r) for r in refs)
        return out

    def containing(self, obs: Observable) -> list[tuple[Observable, R]]:
        """Like ``match``, but for ``ip`` only the held networks that hold ``obs`` (or
        equal it), not those inside it."""
        if obs.kind != "ip":
            return self.match(obs)
        net = parse_ip(obs.value)
        if net is None:
            return []
        version, start, plen = net
        out: list[tuple[Observable, R]] = []
        for s, p, refs in self._ip[version].match(start, plen):
            if p <= plen:
                held = obs if p == plen else Observable("ip", ip_text(version, s, p))
                out.extend((held, r) for r in refs)
        return out

    def refs(self, obs: Observable) -> set[R]:
        """The refs of every match of ``obs``."""
        return {r for _, r in self.match(obs)}
