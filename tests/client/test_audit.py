"""A member's audit of the node's log (``vigil.client.audit``): a share dropped from its
inbox behind the node's back, an entry that is not its leaf, and a recalled share closed
by its recall."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import Api
from tests.web.helpers import GOOD, bundle_text, indicator, publish, sdk

from vigil.client.audit import audit


def test_audit_finds_a_silently_dropped_share(api: Api, tmp_path: Path) -> None:
    ids = [publish(api, "alpha", bundle_text(indicator()), tlp="amber", to="a-b")["id"]
           for _ in range(3)]
    with sdk(api, "bravo", tmp_path / "cp.json") as c:
        clean = audit(c)
        assert clean.ok and clean.root_ok and clean.shares_checked == 3
        assert clean.undelivered == []
        # the inbox row of one share disappears behind the node's back
        api.exchange.store.write(lambda sql: sql.execute(
            "DELETE FROM inbox WHERE share_id=? AND member_id=?",
            (ids[1], api.node.members["bravo"].id)))
        found = audit(c)
        assert not found.ok and found.undelivered == [ids[1]]
    with sdk(api, "charlie", tmp_path / "cp2.json") as c:
        assert audit(c).undelivered == []  # not addressed to charlie



def test_audit_catches_an_entry_that_is_not_its_leaf(api: Api, tmp_path: Path) -> None:
    publish(api, "alpha", GOOD, tlp="amber", to="a-b")
    api.exchange.store.write(lambda sql: sql.execute(
        "UPDATE log_leaves SET data=? WHERE kind='share'", (b'{"kind":"share","v":1}',)))
    with sdk(api, "bravo", tmp_path / "cp.json") as c:
        report = audit(c)
    assert not report.ok and not report.root_ok



def test_audit_after_a_recall_checks_the_header_and_the_recall(api: Api, tmp_path: Path) -> None:
    ids = [publish(api, "alpha", bundle_text(indicator()), tlp="amber", to="a-b")["id"]
           for _ in range(2)]
    with sdk(api, "alpha", tmp_path / "a.json") as alpha:
        alpha.recall(str(ids[0]))  # the node signs it with the keyring it holds
        report = audit(alpha)
        assert report.ok, report.problems
        assert report.shares_checked == 2 and report.signatures_checked >= 3
    with sdk(api, "bravo", tmp_path / "b.json") as bravo:
        report = audit(bravo)
        assert report.ok, report.problems
        assert report.undelivered == []  # the recalled share is closed by its recall
