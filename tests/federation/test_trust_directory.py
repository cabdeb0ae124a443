"""A member added with `vigil member add` on a federating node is registered in the key
directory at once, signed by its new key (the keyring the node just made, held here
or not); its announcement leaves once the entry is witnessed and peers take it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from tests.federation.pairs import deliver, make, quarantined
from tests.federation.trusting import trusting_pair, witness_of

from vigil.cli.main import cli
from vigil.federation.trust import TrustService
from vigil.testing.node import PASSPHRASE


def test_a_member_added_on_a_federating_node_is_in_the_directory(tmp_path: Path) -> None:
    a, b, ta, tb = trusting_pair(tmp_path)
    try:
        ta.register_held()
        env = {"VIGIL_FED_NAME": "athens", "VIGIL_KEYRING_PASSPHRASE": PASSPHRASE}
        r = CliRunner().invoke(cli, ["--data", str(a.node.data), "member", "add", "delta",
                                     "--country", "GR", "--kind", "cert", "--classical",
                                     "--keyring", str(tmp_path / "delta.keyring")],
                               env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert "directory entry" in r.output
        delta = next(m.id for m in a.ex.directory().members.values() if m.name == "delta")
        assert [e.kind for _, e in ta.directory.member_entries(delta)] == ["register"]
        assert ta.directory.keys(delta).sign_key_id == \
            a.ex.directory().members[delta].sign_key_id
        ta.collector.round([witness_of(tb)])
        for _ in range(3):
            deliver(a, b)
        assert quarantined(b) == []
        assert b.ex.directory().members[delta].name == "delta@athens"
    finally:
        ta.uninstall()
        tb.uninstall()
        a.close()
        b.close()


def test_a_members_revocation_point_is_within_its_homes_log(tmp_path: Path) -> None:
    """``after`` counts the home's main log: a member's revocation naming a point its
    home has not reached is refused (it would leave the key good until then); one at
    the log's end is countersigned and enforced from there."""
    import pytest

    from vigil.directory.entries import member_signature, next_entry
    from vigil.errors import InputError

    a = make(tmp_path, "athens", {"alpha": True})
    ta = TrustService(a.ex)
    try:
        ta.register_held()
        alpha = a.id("alpha")
        kr = a.node.members["alpha"].keyring
        size = a.ex.log.size()

        def revoke(after: int) -> int:
            entry = next_entry(ta.directory.keys(alpha), "revoke", alpha, a.ex.node_id,
                               after=after)
            return ta.submit_entry(alpha, {"entry": entry,
                                           "sig": member_signature(entry, kr.sign_private)})
        with pytest.raises(InputError) as e:
            revoke(size + 1000)
        assert e.value.code == "dir.bad_entry"
        assert ta.revocations.point(kr.sign_key_id) is None
        revoke(size)
        assert ta.revocations.point(kr.sign_key_id) == size
    finally:
        a.close()
