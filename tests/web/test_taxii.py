"""The TAXII endpoints (``vigil.web.taxii``) in process (full app, SQLite): filters, versions,
manifest, headers, sealed shares, delete as recall, status."""

from __future__ import annotations

import base64
import copy
import json
import uuid

import pytest
from tests.taxii.conftest import ROOT, Taxii, attack_objects, indicator
from tests.taxii.conftest import taxii as taxii  # the fixture

from vigil.model import ChannelKind
from vigil.storage import taxii as taxii_rows


def test_discovery_root_and_collections(taxii: Taxii) -> None:
    r = taxii.client.get("/taxii2/", headers=taxii.h("alpha", basic=True))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/taxii+json;version=2.1"
    assert r.json()["default"].endswith("/taxii2/api/")
    r = taxii.get("alpha", "/")
    assert r.json()["versions"] == ["application/taxii+json;version=2.1"]
    cols = taxii.get("delta", "/collections/").json()["collections"]
    aliases = {c["alias"] for c in cols}
    assert {"inbox", "channel-group1", "channel-everyone"} <= aliases
    assert "channel-a-b" not in aliases  # delta is not in a-b
    # ids are stable and the same for every member
    alpha = {c["alias"]: c["id"] for c in taxii.get("alpha", "/collections/").json()
             ["collections"]}
    assert {c["alias"]: c["id"] for c in cols}["inbox"] == alpha["inbox"]
    one = taxii.get("alpha", f"/collections/{alpha['channel-a-b']}/")
    assert one.json()["alias"] == "channel-a-b"
    hidden = taxii.get("delta", f"/collections/{alpha['channel-a-b']}/")
    missing = taxii.get("delta", f"/collections/{uuid.uuid4()}/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"] == \
        "taxii.collection_not_found"


def test_filters_versions_and_headers(taxii: Taxii) -> None:
    objs = attack_objects()
    oid = f"indicator--{uuid.uuid4()}"
    taxii.publish("alpha", objs, tlp="green")
    taxii.publish("alpha", [indicator(oid, "2026-01-01T00:00:00.000Z")], tlp="green")
    taxii.publish("charlie", [indicator(oid, "2026-03-01T00:00:00.000Z", "v3"),
                              objs[0]], tlp="green")  # objs[0] again: one copy shown
    taxii.publish("alpha", [indicator(oid, "2026-02-01T00:00:00.000Z", "v2")], tlp="green")
    inbox = taxii.collection("bravo", "inbox")
    every = taxii.all_objects("bravo", inbox, limit=7)
    assert len(every) == len(objs) + 1
    assert [o["modified"] for o in every if o["id"] == oid] == ["2026-03-01T00:00:00.000Z"]
    path = f"/collections/{inbox}/objects/"
    first = taxii.get("bravo", path, **{"match[id]": oid, "match[version]": "first"}).json()
    assert [o["name"] for o in first["objects"]] == ["probe"]
    allv = taxii.get("bravo", path, **{"match[id]": oid, "match[version]": "all"}).json()
    assert [o["name"] for o in allv["objects"]] == ["probe", "v3", "v2"]
    stamp = taxii.get("bravo", path, **{"match[id]": oid,
                                        "match[version]": "2026-02-01T00:00:00Z"}).json()
    assert [o["name"] for o in stamp["objects"]] == ["v2"]
    both = taxii.get("bravo", path, **{"match[id]": oid, "match[version]": "first,last"})
    assert [o["name"] for o in both.json()["objects"]] == ["probe", "v3"]
    types = {o["type"] for o in objs}
    one_type = sorted(types)[0]
    typed = taxii.all_objects("bravo", inbox, **{"match[type]": one_type})
    assert typed and {o["type"] for o in typed} == {one_type}
    assert len(typed) == sum(o["type"] == one_type for o in objs)
    assert taxii.all_objects("bravo", inbox, **{"match[spec_version]": "2.0"}) == []
    versions = taxii.get("bravo", f"/collections/{inbox}/objects/{oid}/versions/").json()
    assert versions["versions"] == ["2026-01-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z",
                                    "2026-02-01T00:00:00.000Z"]
    r = taxii.get("bravo", path, limit=5)
    assert r.headers["X-TAXII-Date-Added-First"] <= r.headers["X-TAXII-Date-Added-Last"]
    assert r.json()["more"] is True and len(r.json()["objects"]) == 5
    man = taxii.get("bravo", f"/collections/{inbox}/manifest/", limit=2).json()
    assert [m["id"] for m in man["objects"]] == [o["id"] for o in objs[:2]]
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in man["objects"])
    # added_after: everything stored after the first share's time
    first_added = r.headers["X-TAXII-Date-Added-First"]
    later = taxii.all_objects("bravo", inbox, added_after=first_added)
    assert {o["id"] for o in later} == {oid}
    assert taxii.all_objects("bravo", inbox, added_after="2999-01-01T00:00:00Z") == []
    got = taxii.get("bravo", f"/collections/{inbox}/objects/{objs[1]['id']}/").json()
    assert got["objects"] == [objs[1]]


def test_channel_collection_and_sealed_shares(taxii: Taxii) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    secret = [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z", canary)]
    plain = [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")]
    taxii.publish("alpha", secret, tlp="amber", to="group1")  # sealed: bravo, delta
    taxii.publish("alpha", plain, tlp="green")
    bravo = taxii.collection("bravo", "channel-group1")
    assert taxii.all_objects("bravo", bravo) == secret  # bravo's keys are on the node
    # delta's keys are not: nothing of it is served, and the page says so
    delta_inbox = taxii.collection("delta", "inbox")
    r = taxii.get("delta", f"/collections/{delta_inbox}/objects/")
    assert [o["id"] for o in r.json()["objects"]] == [plain[0]["id"]]
    assert r.headers["X-Vigil-Sealed-Withheld"] == "1"
    desc = taxii.get("delta", f"/collections/{delta_inbox}/").json()["description"]
    assert "Sealed shares are not listed" in desc
    # charlie is not a recipient: the channel collection does not exist for it
    cols = {c["alias"] for c in taxii.get("charlie", "/collections/").json()["collections"]}
    assert "channel-group1" not in cols
    assert canary not in taxii.get("charlie", f"/collections/{taxii.collection('charlie', 'inbox')}"
                                              "/objects/").text
    # the index holds nothing of the sealed share's content
    hits = taxii.exchange.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_objects WHERE object_id = ? OR CAST(obj AS TEXT) LIKE ?",
        (secret[0]["id"], f"%{canary}%")).fetchone()[0])
    assert hits == 0


def test_add_objects_status_and_partial_failure(taxii: Taxii) -> None:
    good = indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
    bad = copy.deepcopy(good)
    bad["id"] = f"indicator--{uuid.uuid4()}"
    del bad["pattern"]
    r = taxii.post("bravo", "publish-community-green", [good, bad])
    assert r.status_code == 202
    st = r.json()
    assert (st["status"], st["total_count"], st["success_count"], st["failure_count"]) == \
        ("complete", 2, 1, 1)
    assert st["successes"][0]["id"] == good["id"]
    assert st["failures"][0]["id"] == bad["id"] and "pattern" in st["failures"][0]["message"]
    # an envelope with more than its objects is published too
    extra = taxii.post_raw("bravo", "publish-community-green", json.dumps(
        {"objects": [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")],
         "more": False}).encode())
    assert extra.status_code == 202 and extra.json()["success_count"] == 1
    again = taxii.get("bravo", f"/status/{st['id']}/").json()
    assert again == st
    assert taxii.get("alpha", f"/status/{st['id']}/").status_code == 404
    inbox = taxii.collection("alpha", "inbox")
    ids = [o["id"] for o in taxii.all_objects("alpha", inbox)]
    assert ids[0] == good["id"] and bad["id"] not in ids and len(ids) == 2
    # a sealed publish keeps only counts in the stored status
    r = taxii.post("bravo", "publish-channel-a-b-amber",
                   [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")])
    assert r.json()["success_count"] == 1 and len(r.json()["successes"]) == 1
    kept = taxii.get("bravo", f"/status/{r.json()['id']}/").json()
    assert kept["success_count"] == 1 and "successes" not in kept
    # ... failures too, even when nothing was published
    lost = indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
    del lost["pattern"]
    r = taxii.post("bravo", "publish-channel-a-b-amber", [lost])
    assert r.json()["failures"][0]["id"] == lost["id"]
    kept = taxii.get("bravo", f"/status/{r.json()['id']}/").json()
    assert kept["failure_count"] == 1 and "failures" not in kept
    bodies = taxii.exchange.store.read(lambda sql: [
        taxii_rows.status(sql, i, m) for i, m in sql.execute(
            "SELECT id, member_id FROM taxii_status").fetchall()])
    assert len(bodies) >= 4 and all(b is not None and b.startswith(b"{") for b in bodies)
    assert not any(lost["id"].encode() in b for b in bodies if b is not None)


def test_a_status_is_stored_compressed_and_read_the_same(taxii: Taxii) -> None:
    objs = [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
            for _ in range(200)]
    st = taxii.post("bravo", "publish-community-green", objs).json()
    assert st["success_count"] == 200
    assert taxii.get("bravo", f"/status/{st['id']}/").json() == st
    raw = taxii.exchange.store.read(lambda sql: sql.execute(
        "SELECT body FROM taxii_status WHERE id = ?", (st["id"],)).fetchone()[0])
    assert len(raw) * 3 < len(json.dumps(st))  # the ids and versions, compressed
    # a row stored before compression is served as stored
    old = json.dumps({**st, "id": str(uuid.uuid4())}).encode()
    member = taxii.exchange.store.read(lambda sql: sql.execute(
        "SELECT member_id FROM taxii_status WHERE id = ?", (st["id"],)).fetchone()[0])
    taxii.exchange.store.write(lambda sql: sql.execute(
        "INSERT INTO taxii_status(id, member_id, body, created) VALUES(?,?,?,?)",
        (json.loads(old)["id"], member, old, st["request_timestamp"])))
    assert taxii.get("bravo", f"/status/{json.loads(old)['id']}/").content == old


def test_delete_recalls_only_the_originators_share(taxii: Taxii) -> None:
    obj = indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
    other = indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
    sid = taxii.publish("alpha", [obj, other], tlp="green")
    inbox_b = taxii.collection("bravo", "inbox")
    inbox_a = taxii.collection("alpha", "inbox")
    r = taxii.client.delete(f"{ROOT}/collections/{inbox_b}/objects/{obj['id']}/",
                            headers=taxii.h("bravo"))
    assert r.status_code == 403 and r.json()["error_code"] == "taxii.not_originator"
    r = taxii.client.delete(f"{ROOT}/collections/{inbox_a}/objects/{obj['id']}/",
                            headers=taxii.h("alpha"))
    assert r.status_code == 200, r.text
    for who, cid in (("alpha", inbox_a), ("bravo", inbox_b)):
        assert taxii.all_objects(who, cid) == []  # the whole share is recalled
    got = taxii.client.get(f"/api/v1/shares/{sid}", headers=taxii.h("alpha")).json()
    assert got["state"]["recalled"] is True
    left = taxii.exchange.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_objects WHERE object_id IN (?, ?)",
        (obj["id"], other["id"])).fetchone()[0])
    assert left == 0  # the index's copies went with the payload
    r = taxii.client.delete(f"{ROOT}/collections/{inbox_a}/objects/{obj['id']}/",
                            headers=taxii.h("alpha"))
    assert r.status_code == 404


def test_next_cursor_counts_only_the_members_own_shares(taxii: Taxii) -> None:
    """bravo's next cursor names its own position, whatever others receive between."""
    inbox = taxii.collection("bravo", "inbox")
    for i in range(4):
        for _ in range(i):  # shares bravo does not receive
            taxii.publish("alpha", [indicator(f"indicator--{uuid.uuid4()}",
                                              "2026-01-01T00:00:00.000Z")],
                          tlp="red", to="member:charlie")
        taxii.publish("alpha", [indicator(f"indicator--{uuid.uuid4()}",
                                          "2026-01-01T00:00:00.000Z")], tlp="green")
    cursors = []
    nxt = None
    while True:
        params: dict[str, object] = {"limit": 1, **({"next": nxt} if nxt else {})}
        doc = taxii.get("bravo", f"/collections/{inbox}/objects/", **params).json()
        if not doc["more"]:
            break
        nxt = doc["next"]
        cursors.append(base64.urlsafe_b64decode(nxt + "=" * (-len(nxt) % 4)).decode())
    assert [c.split(".")[1] for c in cursors] == ["1", "2", "3"]


def test_aliases_stay_unique_when_two_visible_channels_share_a_name(taxii: Taxii) -> None:
    """Channel names are unique per owner: bravo may see two channels named group1, and
    its collection aliases stay unique (by id for those two)."""
    m = taxii.node.members
    other = taxii.exchange.create_channel(m["charlie"].id, "group1", ChannelKind.GROUP,
                                          [m["bravo"].id])
    cols = taxii.get("bravo", "/collections/").json()["collections"]
    aliases = [c["alias"] for c in cols]
    assert len(aliases) == len(set(aliases))
    assert f"channel-{other.id}" in aliases and "channel-group1" not in aliases
    assert [c["alias"] for c in taxii.get("charlie", "/collections/").json()["collections"]
            if c["alias"].startswith("channel-")] == ["channel-everyone", "channel-group1"]


def test_a_post_is_parsed_once_and_stored_in_one_transaction(taxii: Taxii,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The share, its object index, its ledger facts and the status resource go in one
    write transaction; the body is parsed strictly once."""
    from vigil.stix import strictjson

    def post(n: int) -> dict[str, object]:
        objs = [indicator(f"indicator--{uuid.uuid4()}", "2026-01-01T00:00:00.000Z")
                for _ in range(n)]
        r = taxii.post("bravo", "publish-community-green", objs)
        assert r.status_code == 202 and r.json()["success_count"] == n
        return r.json()

    post(1)  # the collections' first use may write (index backfill)
    store = taxii.exchange.store
    writes: list[int] = []
    parses: list[int] = []
    real_tx, real_loads = store._tx, strictjson.loads  # type: ignore[attr-defined]
    # every write transaction of the SQLite store
    monkeypatch.setattr(store, "_tx", lambda: (writes.append(1), real_tx())[1])
    monkeypatch.setattr(strictjson, "loads",
                        lambda *a, **k: (parses.append(1), real_loads(*a, **k))[1])
    st = post(3)
    assert (len(writes), len(parses)) == (1, 1)
    monkeypatch.undo()
    assert taxii.get("bravo", f"/status/{st['id']}/").json() == st
    sid = store.read(lambda sql: sql.execute(
        "SELECT share_id FROM taxii_shares ORDER BY share_seq DESC LIMIT 1").fetchone()[0])
    assert store.read(lambda sql: sql.execute(
        "SELECT objects FROM ledger_shares WHERE share_id=?", (sid,)).fetchone()[0]) == 3
    assert store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_objects o JOIN taxii_shares s ON s.share_seq = o.share_seq "
        "WHERE s.share_id=?", (sid,)).fetchone()[0]) == 3


def test_sealed_shares_paged_a_slice_at_a_time(taxii: Taxii,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A large opened sealed share fills a page a slice at a time: every object once,
    in order, across pages and shares, with the versions of plain shares still kept
    apart (the same answer as taking the whole share at once)."""
    from vigil.taxii import view

    monkeypatch.setattr(view, "SLICE", 3)
    at = "2026-01-01T00:00:00.000Z"
    first = [indicator(f"indicator--{uuid.uuid4()}", at, f"first {i}") for i in range(11)]
    second = [indicator(f"indicator--{uuid.uuid4()}", at, f"second {i}") for i in range(7)]
    taxii.publish("alpha", first, tlp="amber", to="group1")  # sealed: bravo, delta
    # a later version of one object of the first share, in a plain share
    newer = dict(first[4], modified="2026-02-01T00:00:00.000Z", name="newer")
    taxii.publish("alpha", [newer], tlp="green")
    taxii.publish("alpha", second, tlp="amber", to="group1")
    bravo = taxii.collection("bravo", "channel-group1")
    whole = [*first, *second]
    for limit in (1, 2, 4, 5, 100):
        assert taxii.all_objects("bravo", bravo, limit=limit) == whole, limit
    inbox = taxii.collection("bravo", "inbox")
    every = taxii.all_objects("bravo", inbox, limit=4, **{"match[version]": "all"})
    assert [o["name"] for o in every] == [o["name"] for o in [*first, newer, *second]]
    last = taxii.all_objects("bravo", inbox, limit=4, **{"match[version]": "last"})
    assert [o["name"] for o in last] == \
        [o["name"] for o in [*first[:4], *first[5:], newer, *second]]


def test_a_page_of_a_large_sealed_share_takes_only_the_slices_it_needs(
        taxii: Taxii, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.taxii import view

    monkeypatch.setattr(view, "SLICE", 3)
    made = []
    real = view.Item
    monkeypatch.setattr(view, "Item", lambda *a: made.append(a) or real(*a))
    at = "2026-01-01T00:00:00.000Z"
    objs = [indicator(f"indicator--{uuid.uuid4()}", at, f"n {i}") for i in range(40)]
    taxii.publish("alpha", objs, tlp="amber", to="group1")
    bravo = taxii.collection("bravo", "channel-group1")
    r = taxii.get("bravo", f"/collections/{bravo}/objects/", limit=2)
    assert [o["id"] for o in r.json()["objects"]] == [o["id"] for o in objs[:2]]
    assert r.json()["more"] and len(made) <= 3  # one slice, not the 40 objects
