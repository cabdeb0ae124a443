"""decide(directory, actor, action, target) -> Decision.

A pure function: it reads only its arguments. Every surface (REST, SSE, TAXII, CLI,
web pages, counts, errors) asks it, and nothing else, whether an actor may see or do
something. The rules are stated in docs/policy.md; tests compare this module with an
independent reference implementation on random cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.intel.handling import USES, forbids
from vigil.model import (
    Action,
    Channel,
    ChannelKind,
    Decision,
    Directory,
    Form,
    IntelRules,
    ShareHeader,
    ShareRequest,
    ShareState,
    Tlp,
)
from vigil.policy.intel import decide_intel

WIDE_TLPS = frozenset({Tlp.CLEAR, Tlp.GREEN})
GRANT_REQUIRED = "policy.grant_required"
NO_GRANTS: frozenset[str] = frozenset()
DEFAULT_RULES = IntelRules()


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


def _active(directory: Directory, member_id: str) -> bool:
    m = directory.members.get(member_id)
    return m is not None and m.active


def channel_members(directory: Directory, channel: Channel) -> frozenset[str]:
    """The active members of a channel (community: every active member)."""
    if channel.kind is ChannelKind.COMMUNITY:
        return directory.active_member_ids()
    return frozenset(m for m in channel.members if _active(directory, m))


def _in_channel(directory: Directory, member_id: str, channel: Channel) -> bool:
    if not _active(directory, member_id):
        return False
    if channel.kind is ChannelKind.COMMUNITY:
        return True
    return member_id in channel.members


def decide_publish(directory: Directory, request: ShareRequest, *, now: str,
                   rules: IntelRules = DEFAULT_RULES) -> Decision:
    """May the originator publish this request, and who exactly receives it. ``rules``:
    the node's rules for intelligence beyond cyber (evaluation, legal basis, personal
    data)."""
    origin = request.originator
    aud = request.audience
    if not _active(directory, origin):
        return _deny("policy.unknown_member")
    if request.expires is not None and request.expires <= now:
        return _deny("policy.expired")
    explicit = frozenset(aud.recipients) - {origin}
    for r in explicit:
        if not _active(directory, r):
            return _deny("policy.unknown_recipient")
    channel: Channel | None = None
    if aud.channel is not None:
        channel = directory.channels.get(aud.channel)
        # A channel the originator is not in looks exactly like one that does not exist.
        if channel is None or not _in_channel(directory, origin, channel):
            return _deny("policy.not_in_channel")
        members = channel_members(directory, channel)
        if not explicit <= members:
            return _deny("policy.recipient_not_in_channel")
    if aud.tlp is Tlp.RED and not explicit:
        return _deny("policy.red_needs_recipients")
    if explicit:
        recipients = explicit
    elif channel is not None:
        recipients = channel_members(directory, channel) - {origin}
    else:
        recipients = directory.active_member_ids() - {origin}
    if not recipients:
        return _deny("policy.no_recipients")
    form = share_form(aud.tlp, explicit=bool(explicit),
                      channel_kind=None if channel is None else channel.kind)
    refused = decide_intel(request, form, rules)
    if refused is not None:
        return refused
    return Decision(True, "ok", tuple(sorted(recipients)), form)


def share_form(tlp: Tlp, *, explicit: bool, channel_kind: ChannelKind | None) -> Form:
    """Plain only for a community-wide TLP:CLEAR or TLP:GREEN share (no named members,
    no channel or the community channel); sealed otherwise. Pure, so a member's client
    decides the form itself and never takes it from a node."""
    community_wide = not explicit and channel_kind in (None, ChannelKind.COMMUNITY)
    return Form.PLAIN if (community_wide and tlp in WIDE_TLPS) else Form.SEALED


def decide_read(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
    *,
    now: str,
    not_before: str | None = None,
    granted: frozenset[str] = NO_GRANTS,
) -> Decision:
    """May this member see this share (its header, payload, existence, count).
    ``not_before``: when the community rule delays this share for this member, the
    time from which it may read it. ``granted``: the uses the originator granted this
    member on this share (consent grants in force now); ``retain`` lets it read the
    share past its expiry."""
    if not _active(directory, member_id):
        return _deny("policy.unknown_member")
    is_origin = header["originator"] == member_id
    if state.purged:
        return _deny("policy.purged")
    if is_origin:
        return Decision(True, "ok.originator")
    if state.revoked:
        return _deny("policy.key_revoked")
    if state.recalled:
        return _deny("policy.recalled")
    expires = header.get("expires")
    if expires is not None and str(expires) <= now and "retain" not in granted:
        return _deny("policy.expired")
    if member_id in header["audience"]["recipients"]:
        if not_before is not None and now < not_before:
            return _deny("policy.delayed")
        return Decision(True, "ok.recipient")
    return _deny("policy.not_recipient")


def decide_recall_notice(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
) -> Decision:
    """May this member be told that a share was recalled: its signed header, with no
    payload and no wraps (the node removed them), so its client drops its copy and
    acknowledges. Only active recipients of a recalled share that is not purged."""
    if not _active(directory, member_id):
        return _deny("policy.unknown_member")
    if state.purged:
        return _deny("policy.purged")
    if not state.recalled:
        return _deny("policy.not_recalled")
    if member_id in header["audience"]["recipients"]:
        return Decision(True, "ok.recall_notice")
    return _deny("policy.not_recipient")


def decide_forward(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
    *,
    now: str,
    not_before: str | None = None,
    granted: frozenset[str] = NO_GRANTS,
) -> Decision:
    """May this member pass the share on outside vigil (feeds, exports to other tools).
    A ``forward`` grant of the originator allows what its marking forbids."""
    read = decide_read(directory, member_id, header, state, now=now, not_before=not_before,
                       granted=granted)
    if not read:
        return read
    if header["originator"] == member_id:
        return Decision(True, "ok.originator")
    onward = decide_onward(header)
    if not onward and "forward" in granted:
        return Decision(True, "ok.grant")
    return onward


def decide_use(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
    use: str,
    *,
    now: str,
    not_before: str | None = None,
    granted: frozenset[str] = NO_GRANTS,
) -> Decision:
    """May this member put a share it reads to this use (``forward``, ``court``,
    ``retain``)? Needs a read permission (a ``retain`` grant included); a use the
    share's handling forbids needs the originator's grant of it (``policy.grant_required``
    until then); ``forward`` also follows the onward rule unless granted."""
    read = decide_read(directory, member_id, header, state, now=now, not_before=not_before,
                       granted=granted)
    if not read:
        return read
    if use not in USES:
        return _deny("policy.bad_action")
    if header["originator"] == member_id:
        return Decision(True, "ok.originator")
    if use in granted:
        return Decision(True, "ok.grant")
    if forbids(header, use):
        return _deny(GRANT_REQUIRED)
    if use == "forward":
        onward = decide_onward(header)
        return onward if onward else _deny(GRANT_REQUIRED)
    return Decision(True, "ok")


def decide_onward(header: ShareHeader) -> Decision:
    """May a share that a member holds leave that member's own analysts (feeds, exports,
    the member's gateway serving other tools)? Decided by the originator's marking and
    handling alone, so the member side can apply it without a node."""
    if header["handling"]["no_onward"]:
        return _deny("policy.no_onward")
    if Tlp(header["audience"]["tlp"]) not in WIDE_TLPS:
        return _deny("policy.tlp_forbids_onward")
    return Decision(True, "ok")


def decide_sighting_counts(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
    *,
    now: str,
    not_before: str | None = None,
) -> Decision:
    """May this member see the sighting counts of a share: only its originator, and
    only while it may read the share."""
    read = decide_read(directory, member_id, header, state, now=now, not_before=not_before)
    if not read:
        return read
    if header["originator"] != member_id:
        return _deny("policy.not_originator")
    return Decision(True, "ok.originator")


def sighting_reporter_shown(viewer: str, originator: str, reporter: str, disclose: bool) -> bool:
    """Whether a sighting names its reporter to a viewer: always to the reporter itself;
    to the share's originator only when the reporter allowed it; to nobody else."""
    return viewer == reporter or (viewer == originator and disclose)


def decide_channel(
    directory: Directory, member_id: str, action: Action, channel: Channel | None
) -> Decision:
    if channel is None or not _in_channel(directory, member_id, channel):
        return _deny("policy.not_found")
    if action is Action.SEE_CHANNEL:
        return Decision(True, "ok")
    if action is Action.MANAGE_CHANNEL:
        if channel.kind is not ChannelKind.GROUP:
            return _deny("policy.channel_fixed")
        if channel.owner != member_id:
            return _deny("policy.not_owner")
        return Decision(True, "ok")
    return _deny("policy.bad_action")


HINT_TLPS = frozenset({Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER})


def decide_correlation_hint(
    directory: Directory,
    member_id: str,
    header: ShareHeader,
    state: ShareState,
    *,
    now: str,
    value: str,
    other_value: str,
) -> Decision:
    """May a correlation with a share the member cannot read tell it only "a member of
    channel X holds a match" (never the share, its id, originator or values).
    ``value`` is the member's own matching value, ``other_value`` the other share's:
    a hint is given only when they are equal, so it tells the member nothing beyond
    "this exact value of yours is held there" (an overlap of IP ranges would let it
    bisect the other value by publishing narrower ranges)."""
    if not _active(directory, member_id):
        return _deny("policy.unknown_member")
    if value != other_value:
        return _deny("policy.hint_not_exact")
    if state.purged:
        return _deny("policy.purged")
    if state.recalled:
        return _deny("policy.recalled")
    expires = header.get("expires")
    if expires is not None and str(expires) <= now:
        return _deny("policy.expired")
    if header["handling"]["no_onward"]:
        return _deny("policy.no_onward")
    if Tlp(header["audience"]["tlp"]) not in HINT_TLPS:
        return _deny("policy.tlp_forbids_hint")
    channel_id = header["audience"].get("channel")
    channel = directory.channels.get(channel_id) if channel_id is not None else None
    if channel is None or not _in_channel(directory, member_id, channel):
        return _deny("policy.not_in_channel")
    return Decision(True, "ok.hint")


def visible_channels(directory: Directory, member_id: str) -> list[Channel]:
    return sorted(
        (c for c in directory.channels.values() if _in_channel(directory, member_id, c)),
        key=lambda c: (c.kind.value, c.name),
    )


def decide(
    directory: Directory,
    member_id: str,
    action: Action,
    target: Any,
    *,
    now: str,
    state: ShareState | None = None,
) -> Decision:
    """The single entry point: dispatches on the action."""
    if action is Action.PUBLISH:
        if not isinstance(target, ShareRequest) or target.originator != member_id:
            return _deny("policy.bad_request")
        return decide_publish(directory, target, now=now)
    if action is Action.READ:
        return decide_read(directory, member_id, target, state or ShareState(), now=now)
    if action is Action.FORWARD:
        return decide_forward(directory, member_id, target, state or ShareState(), now=now)
    if action in (Action.SEE_CHANNEL, Action.MANAGE_CHANNEL):
        return decide_channel(directory, member_id, action, target)
    return _deny("policy.bad_action")


def decide_log_entry(directory: Directory, member_id: str, entry: Mapping[str, Any]) -> bool:
    """May a member see a log entry in full (docs/policy.md, "Log entries")? Everyone
    may see every leaf hash; the entry itself only:

    * share, recall, purge: its originator and the recipients it names;
    * receipt, use: the member that signed it (or declared the use) and the share's
      originator;
    * consent: the member that asked and the share's originator;
    * channel: the member it is about and the channel's current members;
    * member: every active member (the directory is public to members).
    """
    if not _active(directory, member_id):
        return False
    kind = entry.get("kind")
    if kind in ("share", "recall", "purge"):
        to = entry.get("to")
        return entry.get("originator") == member_id or (
            isinstance(to, list) and member_id in to)
    if kind in ("receipt", "use"):
        return member_id in (entry.get("member"), entry.get("originator"))
    if kind == "consent":
        return member_id in (entry.get("asker"), entry.get("originator"))
    if kind == "channel":
        if entry.get("member") == member_id:
            return True
        ch = directory.channels.get(str(entry.get("channel")))
        return ch is not None and _in_channel(directory, member_id, ch)
    return kind == "member"
