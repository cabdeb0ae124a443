"""Private selector matching: a hit names only the holder; the node's database and the
traffic hold no selector and no OPRF key; an asker over its rate gets 429; the old
channel tokens would let a channel member test guesses, this does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.intel.conftest import IntelApi

from vigil.crypto import oprf
from vigil.crypto.encoding import b64u
from vigil.errors import VigilError
from vigil.match import sdk
from vigil.match.member import Blinded, MatchKey
from vigil.match.selectors import normalise
from vigil.model import IntelRules
from vigil.storage import intel as db

PHONE = "+44 20 7946 0958"
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"
IBAN = "DE89 3704 0044 0532 0130 00"


def keys(tmp_path: Path) -> dict[str, MatchKey]:
    return {n: MatchKey.load(tmp_path / f"{n}.match", create=True)
            for n in ("alpha", "bravo", "charlie", "delta")}


def test_a_hit_names_only_the_holder(iapi: IntelApi, tmp_path: Path) -> None:
    k = keys(tmp_path)
    m = iapi.node.members
    with iapi.sdk("bravo") as c:
        assert sdk.publish_index(c, k["bravo"], [("phone", PHONE), ("iban", IBAN)]) == 2
    with iapi.sdk("charlie") as c:
        sdk.publish_index(c, k["charlie"], [("wallet", WALLET)])
    with iapi.sdk("delta") as c:
        sdk.publish_index(c, k["delta"], [("wallet", WALLET.lower())])
    with iapi.sdk("alpha") as asker:
        qid, b = sdk.ask(asker, "phone", "0044 20 7946 0958")
        qw, bw = sdk.ask(asker, "wallet", WALLET)
        qn, bn = sdk.ask(asker, "phone", "+33 1 23 45 67 89")
        for holder in ("bravo", "charlie", "delta"):
            with iapi.sdk(holder) as c:
                assert sdk.answer_pending(c, k[holder]) == 3
        assert sdk.hits(asker, qid, b) == [m["bravo"].id]
        assert sorted(sdk.hits(asker, qw, bw)) == sorted([m["charlie"].id, m["delta"].id])
        assert sdk.hits(asker, qn, bn) == []
        res = asker._call("POST", f"/api/v1/match/queries/{qid}/lookup", json={
            "outputs": {m["bravo"].id: b.output(
                asker._call("GET", f"/api/v1/match/queries/{qid}")["evaluations"][
                    m["bravo"].id])}})
        assert res == {"hits": [m["bravo"].id]}  # nothing but who holds it
    # disclosure takes the holder's consent: asked of a holder the query found only
    ask = lambda who, holder: iapi.client.post(  # noqa: E731
        f"/api/v1/match/queries/{qid}/consent",
        json={"holder": m[holder].id, "reason": "same number in our case 12"},
        headers=iapi.h(who))
    assert ask("alpha", "charlie").status_code == 404  # no hit there
    assert ask("delta", "bravo").status_code == 404  # not delta's query
    r = ask("alpha", "bravo")
    assert r.status_code == 201 and r.json()["use"] == "disclose"
    answered = iapi.client.post(f"/api/v1/consent/{r.json()['id']}/answer",
                                json={"grant": True}, headers=iapi.h("bravo"))
    assert answered.json()["state"] == "granted"
    # nobody else reads another's query or its evaluations
    with iapi.sdk("bravo") as c, pytest.raises(VigilError) as e:
        c._call("GET", f"/api/v1/match/queries/{qid}")
    assert e.value.code == "match.not_found"
    # a holder is never told who asked
    with iapi.sdk("bravo") as c:
        assert set(c._call("GET", "/api/v1/match/pending")) == {"queries"}


def test_no_selector_and_no_key_on_the_node_or_the_wire(iapi: IntelApi,
                                                        tmp_path: Path) -> None:
    k = keys(tmp_path)
    with iapi.sdk("bravo") as c:
        sdk.publish_index(c, k["bravo"], [("phone", PHONE), ("wallet", WALLET)])
    with iapi.sdk("alpha") as asker:
        qid, b = sdk.ask(asker, "phone", PHONE)
        with iapi.sdk("bravo") as c:
            sdk.answer_pending(c, k["bravo"])
        assert sdk.hits(asker, qid, b) == [iapi.node.members["bravo"].id]
    iapi.exchange.store.query("PRAGMA wal_checkpoint(FULL)")
    data = b"".join(p.read_bytes() for p in iapi.node.data.rglob("*") if p.is_file())
    wire = b"".join(iapi.wire.seen)
    assert wire and b"match" in wire  # the recording saw the traffic
    for value in (PHONE, normalise("phone", PHONE), "2079460958", WALLET, WALLET.lower()[2:],
                  normalise("wallet", WALLET)):
        for where in (data, wire):
            assert value.encode() not in where
    for key in k.values():
        for form in (key.key, key.key.hex().encode(), b64u(key.key).encode()):
            assert form not in data and form not in wire
    seeds = [(tmp_path / f"{n}.match").read_bytes() for n in k]
    for s in seeds:
        assert s not in data and b64u(s).encode() not in wire


def test_over_rate_is_429(iapi: IntelApi, tmp_path: Path) -> None:
    iapi.exchange.intel_rules = IntelRules(match_rate=3, match_window=3600.0)
    with iapi.sdk("alpha") as asker:
        for i in range(3):
            sdk.ask(asker, "phone", f"+4420794609{i:02d}")
        r = iapi.client.post("/api/v1/match/queries",
                             json={"blinded": Blinded.of("phone", "+442079460999").blinded},
                             headers=iapi.h("alpha"))
        assert r.status_code == 429 and r.json()["error"]["code"] == "match.rate_limited"
        assert int(r.headers["Retry-After"]) > 0
    # the rate is the asker's own: another member still asks
    with iapi.sdk("bravo") as c:
        sdk.ask(c, "phone", "+442079460999")


def test_the_node_cannot_test_guesses_against_an_index(iapi: IntelApi,
                                                       tmp_path: Path) -> None:
    """Unlike a channel's HMAC tokens (a key every channel member holds), an index is
    keyed by its holder alone: neither the node nor any other member computes the
    output of a guess without asking the holder, one rate-limited query at a time."""
    k = keys(tmp_path)
    with iapi.sdk("bravo") as c:
        sdk.publish_index(c, k["bravo"], [("phone", PHONE)])
    stored = db.index_outputs(iapi.exchange.store)
    right = b64u(oprf.evaluate(
        k["bravo"].key, b"vigil/selector/v1\0phone\0" + normalise("phone", PHONE).encode()))
    assert stored == {right}
    for other in ("alpha", "charlie"):  # any other key gives another output
        assert k[other].index([("phone", PHONE)]) != [right]
