"""Private selector matching and consent from a member's client (``vigil.match.sdk``):
the index replaced whole, pending queries answered once, hits named by holder, and a
consent request answered with the originator's own signature before the use."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.intel.conftest import IntelApi, share

from vigil.client import Client
from vigil.errors import KeyringError, VigilError
from vigil.match import sdk
from vigil.match.member import MatchKey
from vigil.storage import intel as db

WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


def test_index_queries_and_hits(iapi: IntelApi, tmp_path: Path) -> None:
    bravo = MatchKey.load(tmp_path / "bravo.match", create=True)
    with iapi.sdk("bravo") as c:
        assert sdk.publish_index(c, bravo, [("wallet", "0x" + "1" * 40)]) == 1
        assert (
            sdk.publish_index(c, bravo, [("wallet", WALLET), ("wallet", WALLET.lower())]) == 1
        )  # replaced whole; one wallet written two ways
    assert db.index_outputs(iapi.exchange.store) == set(bravo.index([("wallet", WALLET)]))
    with iapi.sdk("alpha") as asker:
        qid, blinded = sdk.ask(asker, "wallet", WALLET)
        with iapi.sdk("bravo") as c:
            assert sdk.answer_pending(c, bravo) == 1
            assert sdk.answer_pending(c, bravo) == 0  # answered once
        assert sdk.hits(asker, qid, blinded) == [iapi.node.members["bravo"].id]
        q2, b2 = sdk.ask(asker, "wallet", WALLET)
        assert sdk.hits(asker, q2, b2) == []  # no holder has evaluated it yet


def test_consent_from_the_client(iapi: IntelApi) -> None:
    sid = share(iapi)
    with iapi.sdk("bravo") as c:
        with pytest.raises(VigilError) as e:
            sdk.use(c, sid, "court", "trial of case 42")
        assert e.value.code == "policy.grant_required"
        req = sdk.ask_consent(c, sid, "court", "trial of case 42")
    assert req["state"] == "pending"
    with iapi.sdk("alpha") as c:
        done = sdk.answer_consent(c, req, True)
        assert done["state"] == "granted" and done["answer"]["answer"] == "grant"
        assert done["answer"]["key"] == iapi.node.members["alpha"].keyring.sign_key_id
    with iapi.sdk("bravo") as c:
        assert sdk.use(c, sid, "court", "trial of case 42")["use"] == "court"
    m = iapi.node.members["alpha"]
    with (
        Client(
            "http://testserver",
            m.token,
            None,
            transport=iapi.wire,
            verify_log=False,
            receipts=False,
        ) as bare,
        pytest.raises(KeyringError),
    ):
        sdk.answer_consent(bare, req, False)  # no keyring: nothing to sign with
