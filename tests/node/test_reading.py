"""Reading: a member's inbox holds what it may read, one share answers a stranger
exactly as a missing one does, sent lists what the member published, and a payload is
opened for a member only with its keys."""

from __future__ import annotations

import pytest

from vigil.errors import NotFound
from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.testing import TestNode
from vigil.testing.stix import canary_bundle


def _publish(ex: Exchange, member: str, to: str, canary: str, tlp: Tlp = Tlp.AMBER) -> str:
    return ex.publish_bundle(Actor(member, None), canary_bundle(canary, 1),
                             ex.make_request(member, tlp=tlp, to=[to])).envelope.id


def test_an_inbox_holds_what_its_member_may_read(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    s1 = _publish(ex, m["alpha"], "a-b", "R1")
    s2 = _publish(ex, m["alpha"], "group1", "R2")
    rows, cursor, more = ex.inbox_page(m["bravo"], 0, 10)
    assert [e.share_id for e, _, _ in rows] == [s1, s2] and not more
    assert ex.inbox_page(m["bravo"], cursor, 10)[0] == []
    assert [e.share_id for e, _, _ in ex.inbox_page(m["charlie"], 0, 10)[0]] == []
    pages = ex.inbox_pages([(m["bravo"], 0), (m["delta"], 0)], 1)
    assert [[e.share_id for e, _, _ in p[0]] for p in pages] == [[s1], [s2]]
    assert pages[0][2]  # a full page: more may follow


def test_a_share_answers_a_stranger_as_a_missing_one(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    sid = _publish(ex, m["alpha"], "a-b", "R3")
    env, state = ex.share(m["bravo"], sid)
    assert env.id == sid and not state.recalled
    errors = []
    for member, ref in ((m["charlie"], sid), (m["charlie"], "share--none"),
                        (m["bravo"], "share--none")):
        with pytest.raises(NotFound) as e:
            ex.share(member, ref)
        errors.append(e.value.code)
    assert errors == ["share.not_found"] * 3


def test_sent_lists_the_members_own_shares(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    sids = [_publish(ex, m["alpha"], "a-b", f"S{i}") for i in range(3)]
    _publish(ex, m["charlie"], "everyone", "S9", Tlp.CLEAR)
    assert [e.id for _, e, _ in ex.sent(m["alpha"])] == sids
    page, cursor = ex.sent_page(m["alpha"], 0, 2)
    assert [e.id for _, e, _ in page] == sids[:2]
    assert [e.id for _, e, _ in ex.sent(m["alpha"], cursor)] == sids[2:]
    assert ex.sent(m["bravo"]) == []


def test_a_payload_opens_only_with_the_members_keys(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    sealed = _publish(ex, m["alpha"], "group1", "SEALED")
    env, _ = ex.share(m["bravo"], sealed)
    assert b"SEALED" not in env.payload
    plain = ex.open(m["bravo"], env)
    assert plain is not None and b"SEALED" in plain
    assert ex.open(m["delta"], ex.share(m["delta"], sealed)[0]) is None  # client keys
    clear = _publish(ex, m["alpha"], "everyone", "CLEAR", Tlp.CLEAR)
    got = ex.open(m["delta"], ex.share(m["delta"], clear)[0])
    assert got is not None and b"CLEAR" in got
    assert ex.signer_key(env) == node.members["alpha"].keyring.sign_public
