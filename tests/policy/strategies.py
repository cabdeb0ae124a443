"""Random directories, publish requests, headers and share states for the policy tests.

Every generator is written once against a small ``Chooser`` interface and runs on two
back ends:

* ``HypothesisChooser`` draws each choice from Hypothesis, so failures shrink to small,
  readable examples; it costs roughly 0.1-0.2 ms per choice.
* ``RandomChooser`` takes every choice from one ``random.Random`` seeded by a single
  Hypothesis draw. A failure then shrinks only to a smaller seed, but an example costs
  a fraction of a millisecond, which is what lets the end-to-end property run 10,000
  examples well inside its time budget.

Ids come from small fixed pools so that collisions (the originator naming itself, a
channel listing an id that is not in the directory, ...) happen often.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from vigil.model import (
    Audience,
    Channel,
    ChannelKind,
    Directory,
    Form,
    Handling,
    Member,
    MemberKind,
    ShareRequest,
    ShareState,
    Tlp,
)

T = TypeVar("T")

MAX_MEMBERS = 12
N_UNKNOWN = 3
MAX_CHANNELS = 6

MEMBER_IDS = tuple(
    f"identity--00000000-0000-4000-8000-{i:012d}" for i in range(MAX_MEMBERS + N_UNKNOWN)
)
CHANNEL_IDS = tuple(f"channel--00000000-0000-4000-9000-{i:012d}" for i in range(MAX_CHANNELS))
UNKNOWN_CHANNEL = "channel--ffffffff-ffff-4fff-bfff-ffffffffffff"

CREATED = "2025-01-01T00:00:00.000Z"
NOW = "2025-06-01T12:00:00.000Z"  # the publish time
PAST = "2025-06-01T11:59:59.999Z"
LONG_AGO = "2024-01-01T00:00:00.000Z"
FUTURE = "2025-06-01T12:00:00.001Z"
LATER = "2025-07-01T00:00:00.000Z"
FAR_FUTURE = "2030-01-01T00:00:00.000Z"

# weighted towards no expiry; three in eleven have passed at publish time (NOW included)
EXPIRIES: tuple[str | None, ...] = (
    None,
    None,
    None,
    None,
    None,
    FUTURE,
    LATER,
    FAR_FUTURE,
    LONG_AGO,
    PAST,
    NOW,
)
READ_TIMES = (NOW, FUTURE, LATER, FAR_FUTURE)


# ------------------------------------------------------------------------- choosers


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...


class HypothesisChooser:
    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(st.integers(lo, hi))


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self._rnd = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self._rnd.randint(lo, hi)


def pick(c: Chooser, items: Sequence[T]) -> T:
    return items[c.integer(0, len(items) - 1)]


def subset(c: Chooser, items: Sequence[T], *, sparse: bool = False) -> set[T]:
    """A subset as one bit mask; ``sparse`` keeps about one item in four."""
    full = (1 << len(items)) - 1
    mask = c.integer(0, full)
    if sparse:
        mask &= c.integer(0, full)
    return {x for i, x in enumerate(items) if mask >> i & 1}


# ------------------------------------------------------------------------- members


class _Member(Member):
    """A Member with a short repr, so that failing examples stay readable."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{self.name}{'' if self.active else ' inactive'} {self.kind.value}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def member(i: int, *, active: bool = True, kind: MemberKind = MemberKind.CERT) -> Member:
    return _Member(
        id=MEMBER_IDS[i],
        name=f"m{i}",
        display_name=f"Member {i}",
        country="EU",
        kind=kind,
        sign_key=bytes(32),
        sign_key_id=f"ed25519:{i}",
        enc_key=bytes(32),
        enc_key_id=f"x25519:{i}",
        created=CREATED,
        active=active,
    )


def channel(i: int, kind: ChannelKind, owner: str, members: frozenset[str]) -> Channel:
    return Channel(
        id=CHANNEL_IDS[i], name=f"c{i}", kind=kind, owner=owner, members=members, created=CREATED
    )


def all_member_ids(d: Directory) -> list[str]:
    """The directory's members followed by ids the directory does not know."""
    unknown = [m for m in MEMBER_IDS if m not in d.members][:N_UNKNOWN]
    return [*d.members, *unknown]


def channel_choices(d: Directory) -> list[str | None]:
    return [None, *d.channels, UNKNOWN_CHANNEL]


# ----------------------------------------------------------------------- generators


def gen_directory(c: Chooser) -> Directory:
    """2-12 members (about one in four inactive, any kinds) and 0-6 channels:
    bilateral (exactly two members, possibly inactive ones), group (owner + members,
    sometimes inactive members or ids the directory lacks) and at most one community
    channel, whose stored member list is random (empty, partial or stale) because the
    community holds every active member whatever that list says."""
    n = c.integer(2, MAX_MEMBERS)
    inactive = c.integer(0, (1 << n) - 1) & c.integer(0, (1 << n) - 1)
    kinds = c.integer(0, 4**n - 1)
    kind_list = list(MemberKind)
    members = {
        MEMBER_IDS[i]: member(i, active=not inactive >> i & 1, kind=kind_list[kinds >> 2 * i & 3])
        for i in range(n)
    }
    ids = list(members)
    with_unknown = [*ids, *MEMBER_IDS[n : n + N_UNKNOWN]]
    channels: dict[str, Channel] = {}
    has_community = False
    for i in range(c.integer(0, MAX_CHANNELS)):
        kind = pick(c, list(ChannelKind))
        if kind is ChannelKind.COMMUNITY and has_community:
            kind = ChannelKind.GROUP
        a = c.integer(0, n - 1)
        owner = ids[a]
        if kind is ChannelKind.BILATERAL:
            b = c.integer(0, n - 2)
            other = ids[b + 1 if b >= a else b]
            channels[CHANNEL_IDS[i]] = channel(i, kind, owner, frozenset({owner, other}))
        elif kind is ChannelKind.GROUP:
            listed = subset(c, with_unknown, sparse=bool(c.integer(0, 1)))
            channels[CHANNEL_IDS[i]] = channel(i, kind, owner, frozenset({owner, *listed}))
        else:
            has_community = True
            listed = subset(c, with_unknown)
            channels[CHANNEL_IDS[i]] = channel(i, kind, owner, frozenset(listed))
    return Directory(members=members, channels=channels)


def gen_request(c: Chooser, d: Directory) -> ShareRequest:
    """Any TLP; no channel, an existing one (the originator may or may not be in it) or
    a missing one; explicit recipients often from the chosen channel (to reach the
    allowed paths), else from everyone including unknown ids, inactive members and the
    originator itself; expiry None, in the past, exactly now or in the future."""
    ids = all_member_ids(d)
    active = [m for m in d.members if d.members[m].active]
    originator = pick(c, [*active, *active, *active, *ids])
    channel_id = pick(c, channel_choices(d))
    ch = d.channels.get(channel_id) if channel_id else None
    near = active if ch is None or ch.kind is ChannelKind.COMMUNITY else sorted(ch.members)
    pool = [*near, *near, *active, *ids, originator]
    how_many = pick(c, (0, 0, 0, 1, 1, 2, 3, 5))
    recipients = [pick(c, pool) for _ in range(how_many)]
    flags = c.integer(0, 15)
    if flags & 1:
        recipients = sorted(set(recipients))  # what Exchange.make_request hands over
    return ShareRequest(
        originator=originator,
        audience=Audience(tlp=pick(c, list(Tlp)), channel=channel_id, recipients=tuple(recipients)),
        handling=Handling(
            purpose="investigation" if flags & 2 else None, no_onward=bool(flags & 4)
        ),
        themes=("cyber",) if flags & 8 else (),
        expires=pick(c, EXPIRIES),
    )


def gen_state(c: Chooser) -> ShareState:
    k = c.integer(0, 7)  # mostly neither; a quarter recalled, a quarter purged
    return ShareState(recalled=k in (5, 7), purged=k in (6, 7))


def gen_later(c: Chooser, d: Directory) -> Directory:
    """The directory after some membership changes, or unchanged: members deactivated
    or reactivated, group channels gaining and losing members."""
    if c.integer(0, 2) == 0:
        return d
    ids = list(d.members)
    flip = subset(c, ids, sparse=True)
    members = {
        mid: replace(m, active=not m.active) if mid in flip else m for mid, m in d.members.items()
    }
    channels = dict(d.channels)
    for cid, ch in d.channels.items():
        if ch.kind is ChannelKind.GROUP and c.integer(0, 1):
            channels[cid] = replace(ch, members=frozenset({ch.owner, *subset(c, ids)}))
    return Directory(members=members, channels=channels)


def header(
    *,
    originator: str,
    tlp: Tlp,
    channel_id: str | None,
    recipients: Sequence[str],
    form: Form,
    no_onward: bool,
    expires: str | None,
) -> dict[str, Any]:
    """A share header shaped like ``vigil.protocol.envelope.share_header`` makes (the fields the
    policy may look at are real; digests and keys are placeholders)."""
    h: dict[str, Any] = {
        "v": 1,
        "kind": "share",
        "id": "share--00000000-0000-4000-8000-000000000001",
        "originator": originator,
        "key": "ed25519:placeholder",
        "provenance": "originator",
        "created": CREATED,
        "expires": expires,
        "audience": {
            "tlp": tlp.value,
            "channel": channel_id,
            "recipients": sorted(set(recipients)),
        },
        "handling": {"purpose": None, "no_onward": no_onward, "codes": []},
        "themes": [],
        "regions": [],
        "payload": {
            "media_type": "application/stix+json;version=2.1",
            "form": form.value,
            "size": 0,
            "digest": "sha256:" + "0" * 64,
        },
    }
    if form is Form.SEALED:
        h["seal"] = {"suite": "placeholder", "wraps_digest": "sha256:" + "0" * 64}
    return h


def gen_header(c: Chooser, d: Directory) -> dict[str, Any]:
    """An arbitrary header, not necessarily one the policy would have allowed."""
    ids = all_member_ids(d)
    return header(
        originator=pick(c, ids),
        tlp=pick(c, list(Tlp)),
        channel_id=pick(c, channel_choices(d)),
        recipients=sorted(subset(c, ids)),
        form=pick(c, list(Form)),
        no_onward=bool(c.integer(0, 1)),
        expires=pick(c, EXPIRIES),
    )


# ----------------------------------------------------------------- hypothesis wrappers


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    return gen_directory(HypothesisChooser(draw))


@st.composite
def requests(draw: st.DrawFn, d: Directory) -> ShareRequest:
    return gen_request(HypothesisChooser(draw), d)


@st.composite
def headers(draw: st.DrawFn, d: Directory) -> dict[str, Any]:
    return gen_header(HypothesisChooser(draw), d)


@st.composite
def later_directories(draw: st.DrawFn, d: Directory) -> Directory:
    return gen_later(HypothesisChooser(draw), d)


@st.composite
def share_states(draw: st.DrawFn) -> ShareState:
    return gen_state(HypothesisChooser(draw))


@dataclass(frozen=True)
class Scenario:
    """One end-to-end case: a directory and request at publish time, and the later
    directory, share state and time at which the share is read."""

    seed: int | None
    directory: Directory
    request: ShareRequest
    later: Directory
    state: ShareState
    read_time: str
    other_header: dict[str, Any]  # an arbitrary header, read in ``later`` too


def gen_scenario(c: Chooser, seed: int | None = None) -> Scenario:
    d = gen_directory(c)
    req = gen_request(c, d)
    later = gen_later(c, d)
    return Scenario(seed, d, req, later, gen_state(c), pick(c, READ_TIMES), gen_header(c, later))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Scenarios drawn choice by choice: slower, shrinks well."""
    return gen_scenario(HypothesisChooser(draw))


def seeded_scenarios() -> st.SearchStrategy[Scenario]:
    """Scenarios from one seed: fast, shrinks only to a smaller seed."""
    return st.integers(0, 2**64 - 1).map(lambda s: gen_scenario(RandomChooser(s), s))
