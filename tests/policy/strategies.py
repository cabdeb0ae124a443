"""Hypothesis strategies for random directories, publish requests, headers and states.

Ids come from small fixed pools so that collisions (the originator naming itself, a
channel naming a member that is not in the directory, ...) happen often.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

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

MAX_MEMBERS = 12
N_UNKNOWN = 3

MEMBER_IDS = tuple(
    f"identity--00000000-0000-4000-8000-{i:012d}" for i in range(MAX_MEMBERS + N_UNKNOWN)
)
CHANNEL_IDS = tuple(f"channel--00000000-0000-4000-9000-{i:012d}" for i in range(8))
UNKNOWN_CHANNEL = "channel--ffffffff-ffff-4fff-bfff-ffffffffffff"

CREATED = "2025-01-01T00:00:00.000Z"
NOW = "2025-06-01T12:00:00.000Z"
PAST = "2025-06-01T11:59:59.999Z"
LONG_AGO = "2024-01-01T00:00:00.000Z"
FUTURE = "2025-06-01T12:00:00.001Z"
LATER = "2025-07-01T00:00:00.000Z"
FAR_FUTURE = "2030-01-01T00:00:00.000Z"

EXPIRIES = (None, LONG_AGO, PAST, NOW, FUTURE, LATER, FAR_FUTURE)
READ_TIMES = (NOW, FUTURE, LATER, FAR_FUTURE)


class _Member(Member):
    """A Member with a short repr, so that failing examples stay readable."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{self.name}{'' if self.active else ' inactive'} {self.kind.value}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def member(i: int, *, active: bool, kind: MemberKind) -> Member:
    mid = MEMBER_IDS[i]
    return _Member(
        id=mid,
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
    return Channel(id=CHANNEL_IDS[i], name=f"c{i}", kind=kind, owner=owner, members=members,
                   created=CREATED)


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    n = draw(st.integers(2, MAX_MEMBERS))
    members = {}
    for i in range(n):
        active = draw(st.integers(0, 3)) != 0  # about one in four inactive
        kind = draw(st.sampled_from(MemberKind))
        members[MEMBER_IDS[i]] = member(i, active=active, kind=kind)
    ids = list(members)
    unknown = list(MEMBER_IDS[n:n + N_UNKNOWN])
    channels: dict[str, Channel] = {}
    n_channels = draw(st.integers(0, 6))
    has_community = False
    for c in range(n_channels):
        kind = draw(st.sampled_from(ChannelKind))
        if kind is ChannelKind.COMMUNITY and has_community:
            kind = ChannelKind.GROUP
        if kind is ChannelKind.BILATERAL:
            pair = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
            owner = pair[draw(st.integers(0, 1))]
            channels[CHANNEL_IDS[c]] = channel(c, kind, owner, frozenset(pair))
        elif kind is ChannelKind.GROUP:
            owner = draw(st.sampled_from(ids))
            others = draw(st.sets(st.sampled_from(ids + unknown), max_size=n))
            channels[CHANNEL_IDS[c]] = channel(c, kind, owner, frozenset({owner, *others}))
        else:
            has_community = True
            owner = draw(st.sampled_from(ids))
            # The community holds every active member whatever its stored member list
            # says; draw that list at random (often empty, sometimes stale).
            listed = draw(st.sets(st.sampled_from(ids + unknown), max_size=n))
            channels[CHANNEL_IDS[c]] = channel(c, kind, owner, frozenset(listed))
    return Directory(members=members, channels=channels)


def all_member_ids(d: Directory) -> list[str]:
    """The directory's members followed by ids the directory does not know."""
    known = list(d.members)
    unknown = [m for m in MEMBER_IDS if m not in d.members][:N_UNKNOWN]
    return known + unknown


def channel_choices(d: Directory) -> list[str | None]:
    return [None, *d.channels, UNKNOWN_CHANNEL]


@st.composite
def requests(draw: st.DrawFn, d: Directory) -> ShareRequest:
    ids = all_member_ids(d)
    known = list(d.members)
    originator = draw(st.sampled_from(known) | st.sampled_from(ids))
    channel_id = draw(st.sampled_from(channel_choices(d)))
    # Explicit recipients: often drawn from the chosen channel (to reach the allowed
    # paths), otherwise from everyone including unknown ids and the originator itself.
    pool = list(ids)
    ch = d.channels.get(channel_id) if channel_id else None
    if ch is not None and ch.kind is not ChannelKind.COMMUNITY and ch.members:
        near = sorted(ch.members)
    else:
        near = [m for m in known if d.members[m].active] or known
    how_many = draw(st.sampled_from((0, 0, 1, 1, 2, 3, 5)))
    recipients = draw(
        st.lists(
            st.sampled_from(near) | st.sampled_from(pool) | st.just(originator),
            min_size=how_many,
            max_size=how_many,
        )
    )
    if draw(st.booleans()):
        recipients = sorted(set(recipients))  # what make_request hands over
    return ShareRequest(
        originator=originator,
        audience=Audience(
            tlp=draw(st.sampled_from(Tlp)), channel=channel_id, recipients=tuple(recipients)
        ),
        handling=Handling(
            purpose=draw(st.sampled_from((None, "investigation"))),
            no_onward=draw(st.booleans()),
            codes=(),
        ),
        themes=draw(st.sampled_from(((), ("cyber",), ("terrorism", "cyber")))),
        regions=(),
        expires=draw(st.sampled_from(EXPIRIES)),
    )


share_states = st.builds(ShareState, recalled=st.booleans(), purged=st.booleans())


def header(
    *,
    originator: str,
    tlp: Tlp,
    channel_id: str | None,
    recipients: tuple[str, ...] | list[str],
    form: Form,
    no_onward: bool,
    expires: str | None,
) -> dict[str, Any]:
    """A share header shaped like ``vigil.envelope.share_header`` makes (the fields the
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


@st.composite
def headers(draw: st.DrawFn, d: Directory) -> dict[str, Any]:
    """An arbitrary header, not necessarily one the policy would have allowed."""
    ids = all_member_ids(d)
    originator = draw(st.sampled_from(ids))
    return header(
        originator=originator,
        tlp=draw(st.sampled_from(Tlp)),
        channel_id=draw(st.sampled_from(channel_choices(d))),
        recipients=draw(st.lists(st.sampled_from(ids), max_size=6)),
        form=draw(st.sampled_from(Form)),
        no_onward=draw(st.booleans()),
        expires=draw(st.sampled_from(EXPIRIES)),
    )


@st.composite
def later_directories(draw: st.DrawFn, d: Directory) -> Directory:
    """The directory after some membership changes: members deactivated or reactivated,
    group channels gaining and losing members."""
    members = dict(d.members)
    for mid in list(members):
        if draw(st.integers(0, 4)) == 0:
            members[mid] = replace(members[mid], active=not members[mid].active)
    channels = dict(d.channels)
    ids = list(d.members)
    for cid, ch in list(channels.items()):
        if ch.kind is ChannelKind.GROUP and draw(st.booleans()):
            new = draw(st.sets(st.sampled_from(ids), max_size=len(ids)))
            channels[cid] = replace(ch, members=frozenset({ch.owner, *new}))
    return Directory(members=members, channels=channels)

