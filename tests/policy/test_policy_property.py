"""vigil.policy.decide against the independent reference in reference.py, on random cases.

``test_publish_then_read_set_matches_reference`` runs 10,000 seeded end-to-end cases:
publish (allow, reason, resolved recipients, form; also through ``decide``), then the
header the share would carry, then every member's read and forward of it in a later
directory and state, and the full set of members allowed to read. Each case also checks
the four invariants below, a second, arbitrary header, and the originator's view of every
channel. Smaller properties (500 examples each, drawn choice by choice so that failures
shrink) repeat the end-to-end check and cover each part on its own.

Budget: the whole file takes about 35 s of CPU on one core.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.model import (
    Action,
    Audience,
    ChannelKind,
    Decision,
    Directory,
    Form,
    ShareRequest,
    ShareState,
    Tlp,
)
from vigil.policy.decide import (
    decide,
    decide_channel,
    decide_forward,
    decide_publish,
    decide_read,
    visible_channels,
)

from . import reference as ref
from .strategies import (
    NOW,
    READ_TIMES,
    UNKNOWN_CHANNEL,
    Scenario,
    all_member_ids,
    directories,
    header,
    headers,
    requests,
    scenarios,
    seeded_scenarios,
    share_states,
)

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
MAIN = settings(max_examples=10_000, deadline=None, suppress_health_check=_QUIET)
SMALL = settings(max_examples=500, deadline=None, suppress_health_check=_QUIET)


def fields(dec: Decision | ref.RefDecision) -> tuple[Any, ...]:
    return (dec.allow, dec.reason, tuple(dec.recipients), dec.form)


def assert_same(got: Decision, want: ref.RefDecision, *what: Any) -> None:
    """``what`` describes the case; it is formatted only on failure (hot path)."""
    if type(got) is Decision and bool(got) is got.allow and fields(got) == fields(want):
        return
    label = " ".join(map(str, what))
    assert isinstance(got, Decision), label
    assert bool(got) is got.allow, label
    assert fields(got) == fields(want), f"{label}: implementation {got} != reference {want}"


def with_audience(req: ShareRequest, **kw: Any) -> ShareRequest:
    a = req.audience
    aud = Audience(
        tlp=kw.get("tlp", a.tlp),
        channel=kw.get("channel", a.channel),
        recipients=kw.get("recipients", a.recipients),
    )
    return ShareRequest(req.originator, aud, req.handling, req.themes, req.regions, req.expires)


def publish_header(req: ShareRequest, dec: Decision) -> dict[str, Any]:
    assert dec.form is not None
    return header(
        originator=req.originator,
        tlp=req.audience.tlp,
        channel_id=req.audience.channel,
        recipients=dec.recipients,
        form=dec.form,
        no_onward=req.handling.no_onward,
        expires=req.expires,
    )


def impl_readers(d: Directory, h: dict[str, Any], state: ShareState, now: str) -> frozenset[str]:
    return frozenset(m for m in all_member_ids(d) if decide_read(d, m, h, state, now=now))


def explicit(req: ShareRequest) -> set[str]:
    return set(req.audience.recipients) - {req.originator}


# ------------------------------------------------------------- invariants (impl only)


def check_red_only_named(d: Directory, req: ShareRequest, dec: Decision) -> None:
    """TLP:RED reaches only members named one by one."""
    if req.audience.tlp is not Tlp.RED:
        return
    if dec.allow:
        assert explicit(req), dec
        assert set(dec.recipients) == explicit(req), dec
        assert dec.form is Form.SEALED, dec
    elif not explicit(req):
        assert dec.reason in {
            ref.UNKNOWN_MEMBER,
            ref.EXPIRED,
            ref.NOT_IN_CHANNEL,
            ref.RED_NEEDS_RECIPIENTS,
        }, dec


def check_inside_audience(d: Directory, req: ShareRequest, dec: Decision) -> None:
    """Nothing reaches a member outside the audience."""
    if not dec.allow:
        assert dec.recipients == (), dec
        return
    active = d.active_member_ids()
    got = set(dec.recipients)
    assert got, dec
    assert list(dec.recipients) == sorted(got), "recipients are sorted, without duplicates"
    assert req.originator not in got
    assert got <= active
    ch = d.channels[req.audience.channel] if req.audience.channel else None
    if ch is None or ch.kind is ChannelKind.COMMUNITY:
        in_channel: set[str] = set(active)
    else:
        in_channel = set(ch.members)
    assert got <= in_channel | explicit(req)
    if ch is not None:
        assert got <= in_channel
    if explicit(req):
        assert got == explicit(req)


def check_plain_only_community_wide(d: Directory, req: ShareRequest, dec: Decision) -> None:
    """Plain form only for community-wide CLEAR/GREEN."""
    if not dec.allow:
        assert dec.form is None, dec
        return
    assert dec.form in (Form.PLAIN, Form.SEALED)
    ch = req.audience.channel
    community_wide = not explicit(req) and (
        ch is None or d.channels[ch].kind is ChannelKind.COMMUNITY
    )
    if dec.form is Form.PLAIN:
        assert req.audience.tlp in (Tlp.CLEAR, Tlp.GREEN), dec
        assert community_wide, dec
        assert set(dec.recipients) == d.active_member_ids() - {req.originator}
    else:
        assert not (community_wide and req.audience.tlp in (Tlp.CLEAR, Tlp.GREEN)), dec


def check_not_in_channel_like_missing(d: Directory, req: ShareRequest) -> None:
    """A channel the actor is not in is refused exactly like one that does not exist."""
    missing = decide_publish(d, with_audience(req, channel=UNKNOWN_CHANNEL), now=NOW)
    for ch in d.channels.values():
        if ref.sees(d, req.originator, ch):
            continue
        other = decide_publish(d, with_audience(req, channel=ch.id), now=NOW)
        assert fields(other) == fields(missing), (ch, other, missing)
        for action in (Action.SEE_CHANNEL, Action.MANAGE_CHANNEL):
            assert fields(decide_channel(d, req.originator, action, ch)) == fields(
                decide_channel(d, req.originator, action, None)
            )


def check_all_invariants(d: Directory, req: ShareRequest, dec: Decision) -> None:
    check_red_only_named(d, req, dec)
    check_inside_audience(d, req, dec)
    check_plain_only_community_wide(d, req, dec)


# ------------------------------------------------------------------ main: end to end


def check_reads(d: Directory, h: dict[str, Any], state: ShareState, t: str) -> None:
    """Every member's read and forward of ``h``, and the set of members who may read."""
    want = ref.ref_readers(d, h, state, now=t)
    assert want == ref.ref_readers_closed_form(d, h, state, now=t)
    assert impl_readers(d, h, state, t) == want, "who may read"
    for m in all_member_ids(d):
        r = decide_read(d, m, h, state, now=t)
        assert_same(r, ref.ref_read(d, m, h, state, now=t), "read by", m)
        assert fields(decide(d, m, Action.READ, h, now=t, state=state)) == fields(r)
        f = decide_forward(d, m, h, state, now=t)
        assert_same(f, ref.ref_forward(d, m, h, state, now=t), "forward by", m)
        assert fields(decide(d, m, Action.FORWARD, h, now=t, state=state)) == fields(f)


def check_channels(d: Directory, members: list[str] | None = None) -> None:
    """Seeing and managing every channel (and a missing one), for every member (or the
    ones given)."""
    targets = [None, *d.channels.values()]
    for m in all_member_ids(d) if members is None else members:
        for ch in targets:
            for action in (Action.SEE_CHANNEL, Action.MANAGE_CHANNEL):
                got = decide_channel(d, m, action, ch)
                assert_same(got, ref.ref_channel(d, m, action, ch), action, m, ch)
                assert fields(decide(d, m, action, ch, now=NOW)) == fields(got)
        seen = visible_channels(d, m)
        ids = [c.id for c in seen]
        assert len(ids) == len(set(ids))
        assert frozenset(ids) == ref.ref_visible_channels(d, m), m
        assert all(c == d.channels[c.id] for c in seen)


def check_scenario(sc: Scenario) -> None:
    d, req = sc.directory, sc.request
    check_channels(d, [req.originator])
    check_reads(sc.later, sc.other_header, sc.state, sc.read_time)
    got = decide_publish(d, req, now=NOW)
    assert_same(got, ref.ref_publish(d, req, now=NOW), "publish")
    assert fields(decide(d, req.originator, Action.PUBLISH, req, now=NOW)) == fields(got)
    check_all_invariants(d, req, got)
    check_not_in_channel_like_missing(d, req)
    if not got.allow:
        return
    h = publish_header(req, got)

    # Right after publishing, exactly the recipients and the originator may read it.
    fresh = ref.ref_readers(d, h, ShareState(), now=NOW)
    assert fresh == frozenset(got.recipients) | {req.originator}
    assert impl_readers(d, h, ShareState(), NOW) == fresh

    # Later: membership changed (or not), the share may be recalled, purged, expired.
    check_reads(sc.later, h, sc.state, sc.read_time)


@MAIN
@given(sc=seeded_scenarios())
def test_publish_then_read_set_matches_reference(sc: Scenario) -> None:
    """10,000 seeded end-to-end cases (fast generation; shrinks only to a smaller seed)."""
    check_scenario(sc)


@SMALL
@given(sc=scenarios())
def test_publish_then_read_set_matches_reference_shrinking(sc: Scenario) -> None:
    """The same property drawn choice by choice, so that a failure shrinks well."""
    check_scenario(sc)


# ------------------------------------------------------------------ smaller properties


@SMALL
@given(d=directories(), data=st.data())
def test_read_and_forward_of_any_header_match_reference(d: Directory, data: st.DataObject) -> None:
    h = data.draw(headers(d), label="header")
    state = data.draw(share_states(), label="state")
    t = data.draw(st.sampled_from(READ_TIMES), label="read time")
    check_reads(d, h, state, t)


@SMALL
@given(d=directories())
def test_channel_actions_match_reference(d: Directory) -> None:
    check_channels(d)


# ------------------------------------------------------------------ invariants


@SMALL
@given(d=directories(), data=st.data())
def test_red_reaches_only_named_recipients(d: Directory, data: st.DataObject) -> None:
    req = with_audience(data.draw(requests(d)), tlp=Tlp.RED)
    check_red_only_named(d, req, decide_publish(d, req, now=NOW))


@SMALL
@given(d=directories(), data=st.data())
def test_recipients_stay_inside_the_audience(d: Directory, data: st.DataObject) -> None:
    req = data.draw(requests(d))
    check_inside_audience(d, req, decide_publish(d, req, now=NOW))


@SMALL
@given(d=directories(), data=st.data(), tlp=st.sampled_from([Tlp.CLEAR, Tlp.GREEN]))
def test_plain_only_for_community_wide_clear_or_green(
    d: Directory, data: st.DataObject, tlp: Tlp
) -> None:
    req = with_audience(data.draw(requests(d)), tlp=tlp)
    check_plain_only_community_wide(d, req, decide_publish(d, req, now=NOW))


@SMALL
@given(d=directories(), data=st.data())
def test_channel_not_in_is_refused_like_a_missing_one(d: Directory, data: st.DataObject) -> None:
    check_not_in_channel_like_missing(d, data.draw(requests(d)))
