"""The shared types (``vigil.model``): an envelope published through the exchange reads
its signed header through its properties, a directory names its active members, and a
decision is true only when it allows."""

from __future__ import annotations

from pathlib import Path

from vigil.model import Actor, Decision, Directory, Form, Tlp
from vigil.testing import four_member_exchange
from vigil.testing.stix import ioc_bundle


def test_an_envelope_reads_its_signed_header(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        alpha, bravo = node.members["alpha"].id, node.members["bravo"].id
        raw = ioc_bundle("45.9.9.9")
        plain = ex.publish_bundle(Actor(alpha), raw, ex.make_request(alpha, tlp=Tlp.GREEN)).envelope
        sealed = ex.publish_bundle(
            Actor(alpha), raw, ex.make_request(alpha, tlp=Tlp.AMBER, to=["member:bravo"])
        ).envelope
        h = plain.header
        assert (plain.id, plain.originator, plain.created) == (h["id"], alpha, h["created"])
        assert plain.tlp is Tlp.GREEN and plain.form is Form.PLAIN
        assert plain.expires is None and plain.no_onward is False and plain.channel is None
        assert set(plain.recipients) == set(node.members[m].id for m in node.members) - {alpha}
        assert sealed.tlp is Tlp.AMBER and sealed.form is Form.SEALED
        assert sealed.recipients == (bravo,)
        assert sorted(w.member for w in sealed.wraps) == sorted([alpha, bravo])  # and its own
    finally:
        ex.store.close()


def test_a_directory_and_a_decision(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        d = ex.store.directory()
        assert d.active_member_ids() == frozenset(m.id for m in node.members.values())
        bravo = node.members["bravo"].id
        ex.store.set_member_active(bravo, False)
        assert bravo not in ex.store.directory().active_member_ids()
        assert Directory({}, {}).active_member_ids() == frozenset()
    finally:
        ex.store.close()
    assert Decision(True, "ok")
    assert not Decision(False, "policy.not_in_channel", ("identity--a",))
