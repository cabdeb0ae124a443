"""Publishing: a user's words become a share request, a member publishes only as
itself, a client-signed envelope must be what the policy gives for its audience, and a
share is stored once."""

from __future__ import annotations

import pytest

from vigil.errors import InputError, PolicyDenied, VigilError
from vigil.model import Actor, Form, Provenance, Tlp
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.protocol.envelope import build_share
from vigil.testing import TestNode
from vigil.testing.stix import canary_bundle


def test_user_words_become_a_share_request(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    req = ex.make_request(m["alpha"], tlp=Tlp.AMBER, to=["channel:a-b", "member:charlie"],
                          codes=["b", "a", "a"], themes=["Cyber"], regions=["ee"],
                          evaluation="B2")
    assert req.audience.channel == ex.channel(m["alpha"], "a-b").id
    assert req.audience.recipients == (m["charlie"],)
    assert (req.handling.codes, req.themes, req.regions) == (("a", "b"), ("cyber",), ("EE",))
    assert req.evaluation is not None
    cases = [(["member:nobody"], InputError, "input.unknown_recipient"),
             (["a-b", "group1"], InputError, "input.two_channels"),
             (["not-mine"], PolicyDenied, "policy.not_in_channel")]
    for to, exc, code in cases:
        with pytest.raises(exc) as e:
            ex.make_request(m["alpha"], tlp=Tlp.AMBER, to=to)
        assert e.value.code == code, to


def test_a_member_publishes_only_as_itself(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    alpha, bravo = node.members["alpha"].id, node.members["bravo"].id
    req = ex.make_request(alpha, tlp=Tlp.AMBER, to=["a-b"])
    with pytest.raises(PolicyDenied) as e:
        ex.publish_bundle(Actor(bravo, None), canary_bundle("AS", 1), req)
    assert e.value.code == "policy.bad_request"
    pub = ex.publish_bundle(Actor(alpha, None), canary_bundle("AS", 1), req)
    env = pub.envelope
    assert pub.new and pub.recipients == (bravo,)
    assert env.header["provenance"] == Provenance.ORIGINATOR.value  # the node holds alpha
    assert env.form is Form.SEALED and env.originator == alpha


def test_a_member_the_node_does_not_hold_is_attested(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    delta = node.members["delta"].id
    req = ex.make_request(delta, tlp=Tlp.CLEAR, to=["everyone"])
    pub = ex.publish_bundle(Actor(delta, "u1"), canary_bundle("AT", 1), req)
    h = pub.envelope.header
    assert h["provenance"] == Provenance.ATTESTED.value and h["key"] == ex.node_key_id
    assert h["posted_by"] == {"member": delta, "user": "u1"}


def test_a_client_envelope_is_what_the_policy_gives_and_is_stored_once(
        four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    delta = node.members["delta"]
    req = ex.make_request(delta.id, tlp=Tlp.CLEAR, to=["everyone"])
    dec = ex.preview(req)

    def envelope(recipients: tuple[str, ...]) -> object:
        return build_share(
            plaintext=canary_bundle("CE", 1), originator=delta.id, audience=req.audience,
            recipients=recipients, form=dec.form, handling=req.handling, themes=(),
            regions=(), expires=None, signer_private=delta.keyring.sign_private,
            signer_key_id=delta.keyring.sign_key_id, recipient_keys={})

    env = envelope(dec.recipients)
    first = ex.accept_envelope(Actor(delta.id, None), env)  # type: ignore[arg-type]
    again = ex.accept_envelope(Actor(delta.id, None), env)  # type: ignore[arg-type]
    assert first.new and not again.new and len(ex.sent(delta.id)) == 1
    with pytest.raises(PolicyDenied) as e:
        ex.accept_envelope(Actor(node.members["alpha"].id, None), env)  # type: ignore[arg-type]
    assert e.value.code == "policy.bad_request"
    short = envelope(dec.recipients[:1])
    with pytest.raises(PolicyDenied) as mismatch:
        ex.accept_envelope(Actor(delta.id, None), short)  # type: ignore[arg-type]
    assert mismatch.value.code == "policy.audience_mismatch"


def test_publish_bundles_stores_each_share_or_its_refusal(
        four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    alpha, bravo, delta = (node.members[n].id for n in ("alpha", "bravo", "delta"))
    in_tx: list[str] = []
    after: list[str] = []
    ex.share_tx_hooks.append(lambda sql, env, recipients: in_tx.append(env.id))
    ex.published_hooks.append(lambda pub: after.append(pub.envelope.id))
    sealed = ex.make_request(alpha, tlp=Tlp.AMBER, to=["a-b"])
    plain = ex.make_request(alpha, tlp=Tlp.CLEAR, to=["everyone"])
    not_mine = ex.make_request(delta, tlp=Tlp.CLEAR, to=["everyone"])
    raws = [canary_bundle("B1", 1), canary_bundle("B2", 2), canary_bundle("B3", 1),
            b'{"type": "bundle"}']
    got = ex.publish_bundles(Actor(alpha, "u"), [(raws[0], sealed, None),
                                                 (raws[1], not_mine, None),
                                                 (raws[2], plain, None),
                                                 (raws[3], plain, None)])
    assert isinstance(got[1], PolicyDenied) and got[1].code == "policy.bad_request"
    assert isinstance(got[3], VigilError) and got[3].code.startswith("stix.")
    first, third = got[0], got[2]
    assert isinstance(first, Published) and isinstance(third, Published)
    assert first.new and third.new and first.recipients == (bravo,)
    assert first.envelope.form is Form.SEALED and third.envelope.form is Form.PLAIN
    assert in_tx == after == [first.envelope.id, third.envelope.id]
    for pub, raw in ((first, raws[0]), (third, raws[2])):
        stored = ex.store.get_share(pub.envelope.id)
        assert stored is not None and stored[0].header == pub.envelope.header
        assert ex.open(bravo, stored[0]) == raw
        assert ex.log.refs.get(pub.envelope.id) is not None  # in the log, proof cached
    assert [e.id for _, e, _ in ex.store.inbox(bravo, 0, 10)] == \
        [first.envelope.id, third.envelope.id]
    assert ex.publish_bundles(Actor(alpha, "u"), []) == []
