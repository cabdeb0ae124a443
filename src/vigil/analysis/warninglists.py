"""MISP warninglists: known-benign values that must not raise correlations.

A warninglist is a JSON document in the MISP format: ``name``, ``description``,
``version``, ``type`` (``string``, ``hostname``, ``substring``, ``regex`` or ``cidr``),
``list`` (the entries) and optionally ``matching_attributes`` (the MISP attribute types
it applies to, which vigil maps to observable kinds). How an entry hits an observable:

* ``string``: the normalised value equals the entry (case-insensitive);
* ``hostname``: the host of a domain, URL or e-mail address is the entry or under it;
  an entry written with a leading dot (``.bmw.de``, as MISP's lists have many) holds
  the hosts under it only, as in MISP;
* ``substring``: the entry occurs in the value (case-insensitive);
* ``regex``: the entry (``/.../flags`` or bare) searches the value. Matching uses RE2,
  whose time is linear in the value, never Python's backtracking ``re``: a list with an
  entry RE2 refuses (backreferences, look-around) or one over ``MAX_REGEX_CHARS``, or
  with more than ``MAX_REGEXES`` entries, is refused with ``warninglist.bad_regex``;
* ``cidr``: an IP address or network lies inside the entry's network.

vigil ships a curated set (``vigil/data/warninglists``, CC0) that applies to every
correlation on the node; members add their own, which apply to what they see.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
import re2

from vigil import clock
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable, guess, host_value, normalise
from vigil.errors import InputError
from vigil.storage import Store
from vigil.storage import warninglists as stored
from vigil.storage.base import Sql

TYPES = frozenset({"string", "hostname", "substring", "regex", "cidr"})
MAX_LIST_BYTES = 16 * 1024 * 1024
MAX_REGEXES = 1000  # entries of one regex list
MAX_REGEX_CHARS = 1024  # characters of one regex entry
REGEX_MEMORY = 1 << 20  # bytes RE2 may use to compile one entry

# MISP attribute types -> vigil observable kinds
_MISP_KINDS: dict[str, tuple[str, ...]] = {
    "ip-src": ("ip",), "ip-dst": ("ip",), "ip-src|port": ("ip",), "ip-dst|port": ("ip",),
    "domain|ip": ("domain", "ip"), "domain": ("domain",), "hostname": ("domain",),
    "hostname|port": ("domain",), "url": ("url",), "uri": ("url",), "link": ("url",),
    "email": ("email",), "email-src": ("email",), "email-dst": ("email",),
    "md5": ("md5",), "sha1": ("sha1",), "sha224": ("sha224",), "sha256": ("sha256",),
    "sha384": ("sha384",), "sha512": ("sha512",), "ssdeep": ("ssdeep",), "tlsh": ("tlsh",),
    "filename|md5": ("md5",), "filename|sha1": ("sha1",), "filename|sha224": ("sha224",),
    "filename|sha256": ("sha256",), "filename|sha512": ("sha512",),
    "filename|ssdeep": ("ssdeep",), "x509-fingerprint-md5": ("md5",),
    "x509-fingerprint-sha1": ("sha1",), "x509-fingerprint-sha256": ("sha256",),
    "AS": ("asn",), "btc": ("wallet",), "phone-number": ("phone",),
    "user-agent": ("user-agent",), "mutex": ("mutex",), "regkey": ("regkey",),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Warninglist:
    name: str
    description: str
    version: str
    type: str
    entries: tuple[str, ...]
    kinds: frozenset[str] | None  # None: every kind
    owner: str | None = None  # the member that added it; None for the shipped lists

    def applies(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def usable(self) -> int:
        """How many entries can hit anything (an unparsable host, network or regex
        cannot)."""
        if self.type == "hostname":
            return sum(1 for e in self.entries if hostname_entry(e) is not None)
        if self.type == "regex":
            return sum(1 for e in self.entries if _regex(e) is not None)
        if self.type == "cidr":
            return sum(1 for e in self.entries if normalise("ip", e) is not None)
        return len(self.entries)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "version": self.version,
                "type": self.type, "entries": len(self.entries), "usable": self.usable(),
                "kinds": sorted(self.kinds) if self.kinds is not None else None,
                "shipped": self.owner is None}


def _bad(message: str, pointer: str = "") -> InputError:
    return InputError(f"not a MISP warninglist: {message}", code="warninglist.invalid",
                      pointer=pointer)


def parse(doc: Any, *, owner: str | None = None, check: bool = True) -> Warninglist:
    """A warninglist from a decoded MISP warninglist document; ``warninglist.invalid``
    if it is not one (``check``: and ``warninglist.bad_regex`` for a regex list RE2
    cannot run; a stored list is read without it, its refused entries skipped)."""
    if not isinstance(doc, Mapping):
        raise _bad("must be a JSON object")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise _bad("name must be a string of 1-256 characters", "/name")
    wtype = doc.get("type", "string")
    if not isinstance(wtype, str) or wtype not in TYPES:
        raise _bad(f"type must be one of {', '.join(sorted(TYPES))}", "/type")
    entries = doc.get("list")
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise _bad("list must be an array of strings", "/list")
    attrs = doc.get("matching_attributes")
    kinds: frozenset[str] | None = None
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise _bad("matching_attributes must be an array of strings",
                       "/matching_attributes")
        mapped = {k for a in attrs for k in _MISP_KINDS.get(a, ())}
        kinds = frozenset(mapped) if attrs else None
    description = doc.get("description", "")
    kept = tuple(e.strip() for e in entries if e.strip())
    if wtype == "regex" and check:
        _check_regexes(kept)
    return Warninglist(name=name.strip(), description=str(description),
                       version=str(doc.get("version", "")), type=wtype,
                       entries=kept, kinds=kinds, owner=owner)


def _check_regexes(entries: Sequence[str]) -> None:
    """Refuse a regex list that RE2 cannot run in linear time and bounded memory."""
    def bad(message: str, pointer: str = "/list") -> InputError:
        return InputError(f"not a usable regex warninglist: {message}",
                          code="warninglist.bad_regex", pointer=pointer)

    if len(entries) > MAX_REGEXES:
        raise bad(f"more than {MAX_REGEXES} entries")
    for i, entry in enumerate(entries):
        try:
            _regex(entry)
        except re2.error as e:
            detail = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else e
            raise bad(f"entry {i} is not an RE2 expression ({detail})", f"/list/{i}") \
                from None


def loads(raw: bytes, *, owner: str | None = None, check: bool = True) -> Warninglist:
    if len(raw) > MAX_LIST_BYTES:
        raise _bad(f"over {MAX_LIST_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _bad(f"not JSON ({e})") from None
    return parse(doc, owner=owner, check=check)


def _regex(entry: str) -> Any:
    """An entry compiled by RE2 (linear-time matching); ``re2.error`` if RE2 refuses it.
    (``re`` only splits off the ``/.../flags`` form: a fixed, linear pattern.)"""
    if len(entry) > MAX_REGEX_CHARS:
        raise re2.error(f"over {MAX_REGEX_CHARS} characters")
    body = entry
    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MEMORY
    m = re.fullmatch(r"/(.*)/([a-z]*)", entry, re.DOTALL)
    if m is not None:
        body = m.group(1)
        options.case_sensitive = "i" not in m.group(2)
    return re2.compile(body, options=options)


def _compiled(entry: str) -> Any:
    """``_regex``, or None for an entry stored before RE2 was required (skipped)."""
    try:
        return _regex(entry)
    except re2.error:
        return None


BENIGN_MEMO = 1 << 16  # observables whose benign() answer a set keeps


def hostname_entry(entry: str) -> str | None:
    """The host a ``hostname`` entry names, without the leading dot MISP writes for
    "the hosts under it" (``.bmw.de``)."""
    return host_value(entry.lstrip("."))


def _host(obs: Observable) -> str | None:
    if obs.kind == "domain":
        return obs.value
    if obs.kind == "email":
        return obs.value.rpartition("@")[2]
    if obs.kind == "url":  # canonical: scheme://[user@]host[:port]/...
        netloc = obs.value.partition("://")[2].partition("/")[0]
        host = netloc.rpartition("@")[2]
        if host.startswith("["):
            return None
        return host.partition(":")[0]
    return None


class WarninglistSet:
    """Several warninglists merged for fast lookups: ``hits(o)`` names the lists that
    hold ``o``."""

    def __init__(self, lists: Iterable[Warninglist] = ()) -> None:
        self.lists: list[Warninglist] = []
        self._strings: dict[str, list[int]] = {}
        self._hosts: dict[str, list[int]] = {}
        self._under: dict[str, list[int]] = {}  # entries with a leading dot: below only
        self._subs: list[tuple[int, str]] = []
        self._regexes: list[tuple[int, Any]] = []  # RE2 patterns
        self._cidr: ObservableIndex[int] = ObservableIndex()
        self._benign: dict[Observable, bool] = {}  # benign() answers, cleared at add()
        for wl in lists:
            self.add(wl)

    def __len__(self) -> int:
        return len(self.lists)

    @property
    def costly(self) -> bool:
        """Whether a lookup scans entries (regex, substring) rather than indexes them."""
        return bool(self._regexes or self._subs)

    def add(self, wl: Warninglist) -> None:
        i = len(self.lists)
        self.lists.append(wl)
        self._benign.clear()
        for entry in wl.entries:
            if wl.type == "string":
                self._strings.setdefault(entry.lower(), []).append(i)
                o = guess(entry)  # and as vigil writes the value ("x.example." too)
                if o is not None and o.value.lower() != entry.lower():
                    self._strings.setdefault(o.value.lower(), []).append(i)
            elif wl.type == "hostname":
                host = hostname_entry(entry)
                if host is not None:
                    hosts = self._under if entry.startswith(".") else self._hosts
                    hosts.setdefault(host, []).append(i)
            elif wl.type == "substring":
                self._subs.append((i, entry.lower()))
            elif wl.type == "regex":
                rx = _compiled(entry)
                if rx is not None:
                    self._regexes.append((i, rx))
            else:
                o = normalise("ip", entry)
                if o is not None:
                    self._cidr.add(o, i)

    def benign(self, obs: Observable) -> bool:
        """Whether any list holds ``obs`` (``hits`` as a yes or no; remembered for the
        most recent values, since a value that correlates tends to come back)."""
        known = self._benign.get(obs)
        if known is None:
            if len(self._benign) >= BENIGN_MEMO:
                self._benign.clear()
            known = self._benign[obs] = self._any(obs)
        return known

    def _holders(self, obs: Observable) -> Iterator[int]:
        """The lists that hold ``obs`` (by index; some more than once), whether or not
        they apply to its kind; lazily, so a caller may stop at the first."""
        yield from self._strings.get(obs.value.lower(), ())
        if obs.kind == "ip":
            yield from self._cidr.containing_refs(obs)
        if self._hosts or self._under:
            host = _host(obs)
            k = 0
            while host:  # the host and each of its parent domains
                yield from self._hosts.get(host[k:], ())
                if k:
                    yield from self._under.get(host[k:], ())
                k = host.find(".", k) + 1
                if k == 0:
                    break
        if self._subs or self._regexes:
            low = obs.value.lower()
            yield from (i for i, sub in self._subs if sub in low)
            yield from (i for i, rx in self._regexes if rx.search(obs.value))

    def _any(self, obs: Observable) -> bool:
        """``bool(hits(obs))``, stopping at the first list that holds it."""
        return any(self.lists[i].applies(obs.kind) for i in self._holders(obs))

    def hits(self, obs: Observable) -> list[str]:
        """The names of the lists that hold ``obs``, sorted."""
        return sorted({self.lists[i].name for i in self._holders(obs)
                       if self.lists[i].applies(obs.kind)})


def shipped_lists() -> list[Warninglist]:
    """The curated warninglists shipped with vigil (``vigil/data/warninglists``)."""
    root = resources.files("vigil") / "data" / "warninglists"
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            out.append(loads(entry.read_bytes()))
    return out


_shipped: WarninglistSet | None = None
_shipped_lock = threading.Lock()


def shipped() -> WarninglistSet:
    """The shipped lists, loaded once per process."""
    global _shipped
    with _shipped_lock:
        if _shipped is None:
            _shipped = WarninglistSet(shipped_lists())
        return _shipped


# -- members' own lists, kept in the store --------------------------------------------


def add_member_list(store: Store, member_id: str, raw: bytes) -> Warninglist:
    """Store a member's warninglist (replacing its list of the same name)."""
    wl = loads(raw, owner=member_id)

    store.write(lambda sql: stored.replace_list(sql, member_id, wl.name, raw, clock.now()))
    return wl


def remove_member_list(store: Store, member_id: str, name: str) -> bool:
    return store.write(lambda sql: stored.delete_list(sql, member_id, name))


class MemberLists:
    """Members' own lists, cached per member and refreshed when the store changes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[int, int], WarninglistSet]] = {}
        self._lock = threading.Lock()

    def of(self, member_id: str) -> WarninglistSet:
        def read(sql: Sql) -> tuple[tuple[int, int], list[Sequence[Any]] | None]:
            stamp = stored.lists_stamp(sql, member_id)
            with self._lock:
                cached = self._cache.get(member_id)
            if cached is not None and cached[0] == stamp:
                return stamp, None
            return stamp, stored.list_bodies(sql, member_id)

        stamp, rows = self.store.read(read)
        if rows is None:
            with self._lock:
                return self._cache[member_id][1]
        lists = WarninglistSet(loads(bytes(r[0]), owner=member_id, check=False)
                               for r in rows)
        with self._lock:
            self._cache[member_id] = (stamp, lists)
        return lists
