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

import functools
import ipaddress
import re
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from sortedcontainers import SortedList

from vigil.analysis.observables import Observable

R = TypeVar("R", bound=Hashable)

IpNet = tuple[int, int, int]  # (version, start, prefix length)


_V4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z", re.ASCII)


@functools.lru_cache(maxsize=1 << 16)
def parse_ip(value: str) -> IpNet | None:
    """(version, network start as an int, prefix length) of a normalised ``ip`` value.
    (Cached: a pass parses each value it matches and then indexes.)"""
    m = _V4.match(value)
    if m is not None:  # a bare IPv4 address: the common case
        a, b, c, d = map(int, m.groups())
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


# A key's refs are held as the bare ref while there is one (the common case: most values
# are shared once), as a list from the second on. Bare refs (strings, ints) are not
# tracked by Python's cycle collector, so a large index costs its full collections
# next to nothing; a list per key would be scanned at each of them.


def _refs(held: Any) -> Sequence[Any]:
    return held if type(held) is list else (held,)


def _add_ref(table: dict[Any, Any], key: Any, ref: Any) -> int:
    """Hold ``ref`` under ``key``: 2 if the key is new, 1 if only the ref, 0 if held."""
    held = table.get(key)
    if held is None:
        table[key] = ref
        return 2
    if type(held) is list:
        if ref in held:
            return 0
        held.append(ref)
        return 1
    if held == ref:
        return 0
    table[key] = [held, ref]
    return 1


def _discard_ref(table: dict[Any, Any], key: Any, ref: Any) -> int:
    """Drop ``ref`` from ``key``: 2 if the key is gone with it, 1 if only the ref, 0 if
    it was not held."""
    held = table.get(key)
    if held is None:
        return 0
    if type(held) is list:
        if ref not in held:
            return 0
        held.remove(ref)
        if len(held) == 1:
            table[key] = held[0]
        return 1
    if held != ref:
        return 0
    del table[key]
    return 2


class _IpFamily(Generic[R]):
    __slots__ = ("added", "bits", "by_len", "lens", "starts")

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.by_len: dict[int, dict[int, Any]] = {}  # plen -> start -> ref(s)
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
        added = _add_ref(table, start, ref)
        if added == 2:
            self.added.append((start, plen))
        return added > 0

    def discard(self, start: int, plen: int, ref: R) -> bool:
        table = self.by_len.get(plen)
        removed = _discard_ref(table, start, ref) if table is not None else 0
        if removed == 2:
            assert table is not None
            self._sorted().remove((start, plen))
            if not table:
                del self.by_len[plen]
                self.lens = sorted(self.by_len)
        return removed > 0

    def holders(self, start: int, plen: int) -> list[R]:
        """The refs of the stored networks that hold (or equal) the query."""
        bits = self.bits
        out: list[R] = []
        for p in self.lens:
            if p > plen:
                break
            held = self.by_len[p].get(start >> (bits - p) << (bits - p))
            if held is not None:
                out.extend(_refs(held))
        return out

    def match(self, start: int, plen: int) -> Iterator[tuple[int, int, Sequence[R]]]:
        bits = self.bits
        for p in self.lens:  # stored networks holding (or equal to) the query
            if p > plen:
                break
            s = start >> (bits - p) << (bits - p)
            held = self.by_len[p].get(s)
            if held is not None:
                yield s, p, _refs(held)
        if plen < bits:  # stored networks and addresses inside the query
            end = start | ((1 << (bits - plen)) - 1)
            for s, p in self._sorted().irange((start, plen + 1), (end, bits)):
                yield s, p, _refs(self.by_len[p][s])


class ObservableIndex(Generic[R]):
    """Observables -> refs, with IP containment. Not thread-safe: callers lock."""

    def __init__(self) -> None:
        self._exact: dict[str, Any] = {}  # kind:value -> ref(s)
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
            added = _add_ref(self._exact, f"{obs[0]}:{obs[1]}", ref) > 0
        self._size += added
        return added

    def discard(self, obs: Observable, ref: R) -> bool:
        if obs.kind == "ip":
            net = parse_ip(obs.value)
            removed = net is not None and self._ip[net[0]].discard(net[1], net[2], ref)
        else:
            removed = _discard_ref(self._exact, obs.key, ref) > 0
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
            held = self._exact.get(obs.key)
            return [] if held is None else [(obs, r) for r in _refs(held)]
        net = parse_ip(obs.value)
        if net is None:
            return []
        version, start, plen = net
        out: list[tuple[Observable, R]] = []
        for s, p, refs in self._ip[version].match(start, plen):
            held = obs if (s == start and p == plen) else Observable("ip", ip_text(version, s, p))
            out.extend((held, r) for r in refs)
        return out

    def containing_refs(self, obs: Observable) -> list[R]:
        """The refs under ``obs`` itself and, for ``ip``, under the held networks that
        hold it (not those inside it)."""
        if obs.kind != "ip":
            held = self._exact.get(obs.key)
            return [] if held is None else list(_refs(held))
        net = parse_ip(obs.value)
        if net is None:
            return []
        return self._ip[net[0]].holders(net[1], net[2])

    def refs(self, obs: Observable) -> set[R]:
        """The refs of every match of ``obs``."""
        return {r for _, r in self.match(obs)}
