"""An independent reference for the rules in docs/policy.md.

Written from the document alone, without looking at ``vigil.policy.decide``, and kept
deliberately naive: every rule is a literal predicate over plain Python sets, evaluated
in the order the document lists them, and "who may read" is a set comprehension over
every member of the directory. Nothing here is shared with the implementation except
the frozen value types of ``vigil.model``.

Each ``ref_*`` function returns a :class:`RefDecision`; the tests compare it field by
field with the implementation's ``Decision``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.model import (
    Action,
    Channel,
    ChannelKind,
    Directory,
    Form,
    ShareRequest,
    ShareState,
    Tlp,
)

# Reason codes named in docs/policy.md.
UNKNOWN_MEMBER = "policy.unknown_member"
EXPIRED = "policy.expired"
UNKNOWN_RECIPIENT = "policy.unknown_recipient"
NOT_IN_CHANNEL = "policy.not_in_channel"
RECIPIENT_NOT_IN_CHANNEL = "policy.recipient_not_in_channel"
RED_NEEDS_RECIPIENTS = "policy.red_needs_recipients"
NO_RECIPIENTS = "policy.no_recipients"
PURGED = "policy.purged"
RECALLED = "policy.recalled"
NOT_RECIPIENT = "policy.not_recipient"
NO_ONWARD = "policy.no_onward"
TLP_FORBIDS_ONWARD = "policy.tlp_forbids_onward"
NOT_FOUND = "policy.not_found"
NOT_OWNER = "policy.not_owner"
CHANNEL_FIXED = "policy.channel_fixed"
OK_ORIGINATOR = "ok.originator"
OK_RECIPIENT = "ok.recipient"
# The document names no code for an allowed publish or channel action; the
# Decision type's docstring gives "ok" as the example of a stable code.
OK = "ok"

ALL_REASONS = frozenset(
    {
        UNKNOWN_MEMBER,
        EXPIRED,
        UNKNOWN_RECIPIENT,
        NOT_IN_CHANNEL,
        RECIPIENT_NOT_IN_CHANNEL,
        RED_NEEDS_RECIPIENTS,
        NO_RECIPIENTS,
        PURGED,
        RECALLED,
        NOT_RECIPIENT,
        NO_ONWARD,
        TLP_FORBIDS_ONWARD,
        NOT_FOUND,
        NOT_OWNER,
        CHANNEL_FIXED,
        OK_ORIGINATOR,
        OK_RECIPIENT,
        OK,
    }
)

WIDE = {Tlp.CLEAR, Tlp.GREEN}


@dataclass(frozen=True)
class RefDecision:
    allow: bool
    reason: str
    recipients: tuple[str, ...] = ()
    form: Form | None = None


def _no(reason: str) -> RefDecision:
    return RefDecision(False, reason)


# ----------------------------------------------------------------------------- basics


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_past_or_now(expires: str | None, now: str) -> bool:
    """True when an expiry is given and does not lie in the future."""
    if expires is None:
        return False
    return not (_instant(expires) > _instant(now))


def active_members(d: Directory) -> set[str]:
    return {mid for mid, m in d.members.items() if m.active}


def is_active(d: Directory, mid: str) -> bool:
    return mid in active_members(d)


def members_of(d: Directory, ch: Channel) -> set[str]:
    """Everyone 'in' a channel: the community holds every active member; any other
    channel holds exactly its listed members."""
    if ch.kind == ChannelKind.COMMUNITY:
        return active_members(d)
    return set(ch.members)


def active_members_of(d: Directory, ch: Channel) -> set[str]:
    return members_of(d, ch) & active_members(d)


# ---------------------------------------------------------------------------- publish


def ref_publish(d: Directory, req: ShareRequest, *, now: str) -> RefDecision:
    me = req.originator
    tlp = req.audience.tlp
    named = set(req.audience.recipients) - {me}  # rule 3: self as recipient is ignored
    channel_id = req.audience.channel
    channel = d.channels.get(channel_id) if channel_id is not None else None

    # 1
    if not is_active(d, me):
        return _no(UNKNOWN_MEMBER)
    # 2
    if is_past_or_now(req.expires, now):
        return _no(EXPIRED)
    # 3
    if not named <= active_members(d):
        return _no(UNKNOWN_RECIPIENT)
    # 4
    if channel_id is not None and (channel is None or me not in members_of(d, channel)):
        return _no(NOT_IN_CHANNEL)
    # 5
    if channel is not None and named and not named <= active_members_of(d, channel):
        return _no(RECIPIENT_NOT_IN_CHANNEL)
    # 6
    if tlp == Tlp.RED and not named:
        return _no(RED_NEEDS_RECIPIENTS)
    # 7
    if named:
        audience = set(named)
    elif channel is not None:
        audience = active_members_of(d, channel)
    else:
        audience = active_members(d)
    audience = audience - {me}
    if len(audience) == 0:
        return _no(NO_RECIPIENTS)
    # 8
    community_wide = not named and (channel is None or channel.kind == ChannelKind.COMMUNITY)
    form = Form.PLAIN if (community_wide and tlp in WIDE) else Form.SEALED
    return RefDecision(True, OK, tuple(sorted(audience)), form)


# ------------------------------------------------------------------------------- read


def ref_read(
    d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *, now: str
) -> RefDecision:
    if not is_active(d, mid):  # 1
        return _no(UNKNOWN_MEMBER)
    if state.purged:  # 2
        return _no(PURGED)
    if mid == header["originator"]:  # 3
        return RefDecision(True, OK_ORIGINATOR)
    if state.recalled:  # 4
        return _no(RECALLED)
    if is_past_or_now(header.get("expires"), now):  # 5
        return _no(EXPIRED)
    if mid in set(header["audience"]["recipients"]):  # 6
        return RefDecision(True, OK_RECIPIENT)
    return _no(NOT_RECIPIENT)


def ref_readers(
    d: Directory, header: Mapping[str, Any], state: ShareState, *, now: str
) -> frozenset[str]:
    """Every member of the directory that may read the share."""
    return frozenset(mid for mid in d.members if ref_read(d, mid, header, state, now=now).allow)


def ref_readers_closed_form(
    d: Directory, header: Mapping[str, Any], state: ShareState, *, now: str
) -> frozenset[str]:
    """The same set, stated as one formula instead of per-member rules."""
    act = active_members(d)
    if state.purged:
        return frozenset()
    own = {header["originator"]} & act
    if state.recalled or is_past_or_now(header.get("expires"), now):
        return frozenset(own)
    return frozenset(own | (set(header["audience"]["recipients"]) & act))


# ---------------------------------------------------------------------------- forward


def ref_forward(
    d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *, now: str
) -> RefDecision:
    """The document names no code for an allowed forward. Convention (observed, not
    documented): the originator's forward keeps its read reason ``ok.originator``;
    anyone else's allowed forward is ``ok``."""
    r = ref_read(d, mid, header, state, now=now)
    if not r.allow:
        return r
    if mid == header["originator"]:
        return r
    if header["handling"]["no_onward"]:
        return _no(NO_ONWARD)
    if Tlp(header["audience"]["tlp"]) not in WIDE:
        return _no(TLP_FORBIDS_ONWARD)
    return RefDecision(True, OK)


# ---------------------------------------------------------------------------- channels


def sees(d: Directory, mid: str, ch: Channel) -> bool:
    """A member sees a channel it is in. The document does not say so for channels, but
    an inactive member is refused everywhere else (publish and read rule 1), so it is
    taken to see no channel even where a group or bilateral channel still lists it."""
    return is_active(d, mid) and mid in members_of(d, ch)


def ref_channel(d: Directory, mid: str, action: Action, ch: Channel | None) -> RefDecision:
    if ch is None or not sees(d, mid, ch):
        return _no(NOT_FOUND)
    if action == Action.SEE_CHANNEL:
        return RefDecision(True, OK)
    assert action == Action.MANAGE_CHANNEL
    if ch.kind != ChannelKind.GROUP:
        return _no(CHANNEL_FIXED)
    if ch.owner != mid:
        return _no(NOT_OWNER)
    return RefDecision(True, OK)


def ref_visible_channels(d: Directory, mid: str) -> frozenset[str]:
    return frozenset(cid for cid, ch in d.channels.items() if sees(d, mid, ch))


# ------------------------------------------------------ the gate's other questions
# (docs/policy.md: the community hold, recall notices, hints, log entries, sightings)


def ref_read_held(
    d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *, now: str,
    not_before: str | None,
) -> bool:
    """Read rule 6 with the community hold: a recipient (not the originator) whose copy
    the node holds back reads it only from ``not_before`` on."""
    if not ref_read(d, mid, header, state, now=now).allow:
        return False
    if mid == header["originator"]:
        return True
    return not_before is None or not (_instant(now) < _instant(not_before))


def ref_recall_notice(d: Directory, mid: str, header: Mapping[str, Any],
                      state: ShareState) -> bool:
    return (is_active(d, mid) and state.recalled and not state.purged
            and mid in set(header["audience"]["recipients"]))


HINT_TLPS = {Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER}


def ref_hint(d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *,
             now: str, value: str, other_value: str) -> bool:
    """"a member of channel X holds a match": every condition listed in the document."""
    if value != other_value:
        return False
    if not is_active(d, mid) or state.purged or state.recalled:
        return False
    if is_past_or_now(header.get("expires"), now):
        return False
    if header["handling"]["no_onward"] or Tlp(header["audience"]["tlp"]) not in HINT_TLPS:
        return False
    channel_id = header["audience"].get("channel")
    ch = d.channels.get(channel_id) if channel_id else None
    return ch is not None and sees(d, mid, ch)


def ref_log_entry(d: Directory, mid: str, entry: Mapping[str, Any]) -> bool:
    """May the member see a log entry in full (before any community hold)."""
    if not is_active(d, mid):
        return False
    kind = entry["kind"]
    if kind in ("share", "recall", "purge"):
        return mid == entry.get("originator") or mid in set(entry.get("to") or [])
    if kind == "receipt":
        return mid in {entry.get("member"), entry.get("originator")}
    if kind == "channel":
        ch = d.channels.get(entry.get("channel", ""))
        return mid == entry.get("member") or (ch is not None and sees(d, mid, ch))
    return bool(kind == "member")
