"""vigil.policy.decide against the independent reference in reference.py, on random cases.

The main property runs publish -> header -> read-set end to end on 10,000 random
directories and requests; smaller properties cover reads and forwards of arbitrary
headers, the channel actions, and invariants stated directly in docs/policy.md.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.model import (
    Action,
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
    all_member_ids,
    directories,
    header,
    headers,
    later_directories,
    requests,
    share_states,
)

MAIN = settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fields(dec: Decision | ref.RefDecision) -> tuple[Any, ...]:
    return (dec.allow, dec.reason, tuple(dec.recipients), dec.form)


def assert_same(got: Decision, want: ref.RefDecision, what: str) -> None:
    assert isinstance(got, Decision), what
    assert bool(got) is got.allow, what
    assert fields(got) == fields(want), f"{what}: implementation {got} != reference {want}"


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


# ------------------------------------------------------------------ main: end to end


@MAIN
@given(d=directories(), data=st.data())
def test_publish_then_read_set_matches_reference(d: Directory, data: st.DataObject) -> None:
    req = data.draw(requests(d), label="request")
    got = decide_publish(d, req, now=NOW)
    assert_same(got, ref.ref_publish(d, req, now=NOW), "publish")
    assert fields(decide(d, req.originator, Action.PUBLISH, req, now=NOW)) == fields(got)
    if not got.allow:
        return
    h = publish_header(req, got)

    # Right after publishing, exactly the recipients and the originator may read it.
    fresh = ref.ref_readers(d, h, ShareState(), now=NOW)
    assert impl_readers(d, h, ShareState(), NOW) == fresh
    assert fresh == frozenset(got.recipients) | {req.originator}

    # Later: membership changed, the share may be recalled/purged/expired.
    later = data.draw(st.just(d) | later_directories(d), label="later directory")
    state = data.draw(share_states, label="state")
    t = data.draw(st.sampled_from(READ_TIMES), label="read time")
    want = ref.ref_readers(later, h, state, now=t)
    assert want == ref.ref_readers_closed_form(later, h, state, now=t)
    assert impl_readers(later, h, state, t) == want
    for m in all_member_ids(later):
        r = decide_read(later, m, h, state, now=t)
        assert_same(r, ref.ref_read(later, m, h, state, now=t), f"read by {m}")
        assert fields(decide(later, m, Action.READ, h, now=t, state=state)) == fields(r)
        f = decide_forward(later, m, h, state, now=t)
        assert_same(f, ref.ref_forward(later, m, h, state, now=t), f"forward by {m}")
        assert fields(decide(later, m, Action.FORWARD, h, now=t, state=state)) == fields(f)


# ------------------------------------------------------------------ smaller properties


@SMALL
@given(d=directories(), data=st.data())
def test_read_and_forward_of_any_header_match_reference(
    d: Directory, data: st.DataObject
) -> None:
    h = data.draw(headers(d), label="header")
    state = data.draw(share_states, label="state")
    t = data.draw(st.sampled_from(READ_TIMES), label="read time")
    assert impl_readers(d, h, state, t) == ref.ref_readers(d, h, state, now=t)
    for m in all_member_ids(d):
        assert_same(decide_read(d, m, h, state, now=t),
                    ref.ref_read(d, m, h, state, now=t), f"read by {m}")
        assert_same(decide_forward(d, m, h, state, now=t),
                    ref.ref_forward(d, m, h, state, now=t), f"forward by {m}")


@SMALL
@given(d=directories())
def test_channel_actions_match_reference(d: Directory) -> None:
    targets = [None, *d.channels.values()]
    for m in all_member_ids(d):
        for ch in targets:
            for action in (Action.SEE_CHANNEL, Action.MANAGE_CHANNEL):
                got = decide_channel(d, m, action, ch)
                assert_same(got, ref.ref_channel(d, m, action, ch), f"{action} {m} {ch}")
                assert fields(decide(d, m, action, ch, now=NOW)) == fields(got)
        seen = visible_channels(d, m)
        ids = [c.id for c in seen]
        assert len(ids) == len(set(ids))
        assert frozenset(ids) == ref.ref_visible_channels(d, m), m
        for c in seen:
            assert c is d.channels[c.id] or c == d.channels[c.id]


# ------------------------------------------------------------------ invariants


def explicit(req: ShareRequest) -> set[str]:
    return set(req.audience.recipients) - {req.originator}


@SMALL
@given(d=directories(), data=st.data())
def test_red_reaches_only_named_recipients(d: Directory, data: st.DataObject) -> None:
    req = data.draw(requests(d))
    red = ShareRequest(
        req.originator,
        type(req.audience)(Tlp.RED, req.audience.channel, req.audience.recipients),
        req.handling, req.themes, req.regions, req.expires,
    )
    dec = decide_publish(d, red, now=NOW)
    if dec.allow:
        assert explicit(red), dec
        assert set(dec.recipients) == explicit(red)
        assert dec.form is Form.SEALED
    elif not explicit(red):
        # Without named recipients a RED share is refused, for this or an earlier rule.
        assert dec.reason in {
            ref.UNKNOWN_MEMBER, ref.EXPIRED, ref.NOT_IN_CHANNEL, ref.RED_NEEDS_RECIPIENTS,
        }


@SMALL
@given(d=directories(), data=st.data())
def test_recipients_stay_inside_the_audience(d: Directory, data: st.DataObject) -> None:
    req = data.draw(requests(d))
    dec = decide_publish(d, req, now=NOW)
    if not dec.allow:
        assert dec.recipients == ()
        return
    active = d.active_member_ids()
    got = set(dec.recipients)
    assert list(dec.recipients) == sorted(got), "recipients are sorted, without duplicates"
    assert req.originator not in got
    assert got <= active
    ch = d.channels.get(req.audience.channel) if req.audience.channel else None
    if ch is None:
        in_channel: set[str] = set(active)
    elif ch.kind is ChannelKind.COMMUNITY:
        in_channel = set(active)
    else:
        in_channel = set(ch.members)
    assert got <= in_channel | explicit(req)
    if explicit(req):
        assert got == explicit(req)
    if ch is not None:
        assert got <= in_channel


@SMALL
@given(d=directories(), data=st.data())
def test_plain_only_for_community_wide_clear_or_green(
    d: Directory, data: st.DataObject
) -> None:
    req = data.draw(requests(d))
    dec = decide_publish(d, req, now=NOW)
    if dec.allow and dec.form is Form.PLAIN:
        assert req.audience.tlp in (Tlp.CLEAR, Tlp.GREEN)
        assert not explicit(req)
        ch = req.audience.channel
        assert ch is None or d.channels[ch].kind is ChannelKind.COMMUNITY
        assert set(dec.recipients) == d.active_member_ids() - {req.originator}


@SMALL
@given(d=directories(), data=st.data())
def test_channel_not_in_is_refused_like_a_missing_one(
    d: Directory, data: st.DataObject
) -> None:
    req = data.draw(requests(d))
    missing = ShareRequest(
        req.originator,
        type(req.audience)(req.audience.tlp, UNKNOWN_CHANNEL, req.audience.recipients),
        req.handling, req.themes, req.regions, req.expires,
    )
    outside = [c for c in d.channels.values() if not ref.sees(d, req.originator, c)]
    for ch in outside:
        other = ShareRequest(
            req.originator,
            type(req.audience)(req.audience.tlp, ch.id, req.audience.recipients),
            req.handling, req.themes, req.regions, req.expires,
        )
        assert fields(decide_publish(d, other, now=NOW)) == fields(
            decide_publish(d, missing, now=NOW)
        )
        # ... and so is seeing or managing it.
        for action in (Action.SEE_CHANNEL, Action.MANAGE_CHANNEL):
            assert fields(decide_channel(d, req.originator, action, ch)) == fields(
                decide_channel(d, req.originator, action, None)
            )
