"""A member, channel or node rule that requires the hybrid suites, on every path into
the store, and the downgrades a peer or node could try."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.config import load_settings
from vigil.crypto.keyring import Keyring
from vigil.crypto.keys import ALG_X25519, key_id
from vigil.errors import ConfigError, CryptoError, PolicyDenied
from vigil.features import open_exchange
from vigil.model import Actor, Audience, ChannelKind, Form, Handling, MemberKind, Tlp
from vigil.node.exchange import Exchange
from vigil.policy.suites import SUITE_REQUIRED, SuiteRule, decide_suite, meets_hybrid
from vigil.protocol.envelope import build_share
from vigil.testing import TestMember, TestNode, make_node
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestNode, Exchange]]:
    """alpha (hybrid, held), bravo (hybrid, client), old (classical, held), oldc
    (classical, client); channels pq (alpha, bravo) and mixed (alpha, old)."""
    base = tmp_path_factory.mktemp("suites")
    n = make_node(base / "node", {"alpha": True, "bravo": False})
    ex = n.exchange()

    for name, held in (("old", True), ("oldc", False)):
        path = (n.data / "keyrings" if held else base) / f"{name}.keyring"
        m, kr = ex.add_member(name, country="FR", kind=MemberKind.CERT, keyring_path=path,
                              passphrase=str(n.settings.keyring_passphrase), hold=held,
                              hybrid=False)

        n.members[name] = TestMember(name, m.id, "", kr, path, held)
    m = n.members
    ex.create_channel(m["alpha"].id, "pq", ChannelKind.GROUP, [m["bravo"].id])
    ex.create_channel(m["alpha"].id, "mixed", ChannelKind.GROUP, [m["old"].id, m["oldc"].id])
    try:
        yield n, ex
    finally:
        ex.store.close()


def publish(ex: Exchange, who: str, tlp: Tlp = Tlp.AMBER, to: tuple[str, ...] = ()) -> Any:
    return ex.publish_bundle(Actor(who, "u"), bundle_with("PQ", 1),
                             ex.make_request(who, tlp=tlp, to=to))


def client_share(ex: Exchange, kr: Keyring, to: list[str], **kw: Any) -> Any:
    d = ex.directory()
    keys = kw.pop("keys", None) or ex.recipient_keys([*to, kr.member_id])
    env = build_share(plaintext=bundle_with("PQ", 1), originator=kr.member_id,
                      audience=Audience(Tlp.AMBER, None, tuple(sorted(to))),
                      recipients=sorted(to), form=Form.SEALED,
                      handling=Handling(None, False, ()), themes=[], regions=[],
                      expires=None, signer_private=kr.sign_private,
                      signer_key_id=kr.sign_key_id, recipient_keys=keys)
    assert d.members[kr.member_id]
    return ex.accept_envelope(Actor(kr.member_id, "u"), env)


def refused(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises((PolicyDenied, CryptoError)) as e:
        fn(*args, **kw)
    return str(e.value.code)


def test_rule_parse() -> None:
    r = SuiteRule.parse(" node, member:alpha ,channel:pq,identity--x,channel--y ")
    assert r.node and r.members == {"alpha", "identity--x"} and r.channels == {"pq", "channel--y"}
    assert not SuiteRule.parse("")
    with pytest.raises(ConfigError):
        SuiteRule.parse("everyone")


def test_meets_hybrid() -> None:
    hyb = {"key": "ed25519+mldsa65:" + "0" * 32, "payload": {"form": "sealed"},
           "seal": {"suite": "hpke-mlkem768x25519-sha256-aes256gcm+aes256gcm"}}
    assert meets_hybrid(hyb)
    assert not meets_hybrid({**hyb, "key": "ed25519:" + "0" * 32})
    assert not meets_hybrid({**hyb, "seal": {"suite": "hpke-x25519-sha256-aes128gcm+aes256gcm"}})
    assert meets_hybrid({**hyb, "payload": {"form": "plain"}, "seal": None})


def test_no_rule_takes_both_suites(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    m = n.members
    assert publish(ex, m["old"].id, to=("member:alpha",)).new
    assert publish(ex, m["alpha"].id, to=("member:old",)).new
    assert client_share(ex, m["oldc"].keyring, [m["alpha"].id]).new


def test_node_rule(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    m = n.members
    ex.suite_rule = SuiteRule(node=True)
    try:
        # node-built (held classical keyring), attested (no keyring held: classical node
        # key), and client-built classical shares are all refused
        assert refused(publish, ex, m["old"].id, to=("member:alpha",)) == SUITE_REQUIRED
        assert refused(publish, ex, m["bravo"].id, to=("member:alpha",)) == SUITE_REQUIRED
        assert refused(client_share, ex, m["oldc"].keyring, [m["alpha"].id]) \
            == SUITE_REQUIRED
        # a hybrid member sealing to a classical one: classical seal, refused
        assert refused(publish, ex, m["alpha"].id, to=("member:old",)) == SUITE_REQUIRED
        # hybrid both ways, by the node and by a client, and plain hybrid shares pass
        assert publish(ex, m["alpha"].id, to=("member:bravo",)).new
        assert client_share(ex, m["bravo"].keyring, [m["alpha"].id]).new
        assert publish(ex, m["alpha"].id, tlp=Tlp.GREEN).new
    finally:
        ex.suite_rule = SuiteRule()


def test_member_and_channel_rules(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    m = n.members
    ex.suite_rule = SuiteRule(members=frozenset({"alpha"}))
    try:
        # a share to alpha, or from it, must be hybrid; old to oldc is not covered
        assert refused(client_share, ex, m["oldc"].keyring, [m["alpha"].id]) \
            == SUITE_REQUIRED
        assert refused(publish, ex, m["alpha"].id, to=("member:old",)) == SUITE_REQUIRED
        assert publish(ex, m["old"].id, to=("member:oldc",)).new
        assert client_share(ex, m["bravo"].keyring, [m["alpha"].id]).new
        ex.suite_rule = SuiteRule(channels=frozenset({"mixed"}))
        assert refused(publish, ex, m["alpha"].id, to=("mixed",)) == SUITE_REQUIRED
        assert publish(ex, m["alpha"].id, to=("pq",)).new
        assert publish(ex, m["old"].id, to=("member:alpha",)).new
    finally:
        ex.suite_rule = SuiteRule()


def test_x25519_half_of_a_hybrid_key_is_not_the_members_key(
        node: tuple[TestNode, Exchange]) -> None:
    """A peer that seals to the X25519 half of a hybrid recipient key (dropping the
    ML-KEM part) is refused by the node, with or without a rule."""
    n, ex = node
    m = n.members
    x_pub = m["alpha"].keyring.enc_public[-32:]
    keys = {**ex.recipient_keys([m["bravo"].id]),
            m["alpha"].id: (key_id(ALG_X25519, x_pub), x_pub)}
    assert refused(client_share, ex, m["bravo"].keyring, [m["alpha"].id], keys=keys) \
        == "crypto.wrap_key"


def test_rule_read_from_settings(node: tuple[TestNode, Exchange], tmp_path: Path) -> None:
    n, _ = node
    os.environ["VIGIL_REQUIRE_HYBRID"] = "channel:mixed,member:old"
    try:
        ex = open_exchange(load_settings(n.data, keyring_passphrase=n.settings.keyring_passphrase))
    finally:
        del os.environ["VIGIL_REQUIRE_HYBRID"]
    try:
        assert ex.suite_rule == SuiteRule(False, frozenset({"old"}), frozenset({"mixed"}))
        d = ex.directory()
        h = {"originator": n.members["old"].id, "key": "ed25519:" + "0" * 32,
             "payload": {"form": "plain"}, "audience": {"channel": None}}
        assert decide_suite(ex.suite_rule, d, h, []).reason == SUITE_REQUIRED
    finally:
        ex.store.close()
