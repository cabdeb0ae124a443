"""Blind correlation of sealed shares: channel keys, tokens, matching, rotation, and a
node that never holds a value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.analysis.nodes import Api, bundle, feodo_ips, serve, store_url

from vigil.analysis import blind
from vigil.analysis.extract import extract_bundle
from vigil.client.blind import bundle_tokens
from vigil.crypto.encoding import b64u
from vigil.crypto.keys import alg_of, enc_key_id, enc_public_raw, generate_enc_key
from vigil.errors import CryptoError, NotFound
from vigil.model import ChannelKind
from vigil.protocol import blind as wire
from vigil.protocol.envelope import envelope_to_json
from vigil.storage.base import Sql


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with serve(tmp_path / "node", store_url(request)) as a:
        yield a


# -- the client's crypto ------------------------------------------------------------------

@pytest.mark.parametrize(("hybrid", "blob_len"), [(False, 80), (True, 1168)])
def test_channel_key_opens_only_in_its_own_context(hybrid: bool, blob_len: int) -> None:
    priv = generate_enc_key(hybrid)
    pub = enc_public_raw(priv)
    kid = enc_key_id(priv)
    key = wire.new_channel_key()
    blob = wire.seal_channel_key(key, "channel--1", 3, "identity--m", kid, pub)
    assert len(blob) == blob_len == blind.SEALED_KEY_LENS[alg_of(kid)]
    assert wire.open_channel_key(blob, "channel--1", 3, "identity--m", priv) == key
    for ctx in (("channel--2", 3, "identity--m"), ("channel--1", 4, "identity--m"),
                ("channel--1", 3, "identity--n")):
        with pytest.raises(CryptoError):
            wire.open_channel_key(blob, *ctx, priv)
    with pytest.raises(CryptoError):
        wire.open_channel_key(blob, "channel--1", 3, "identity--m", generate_enc_key(hybrid))
    with pytest.raises(CryptoError):
        wire.seal_channel_key(key, "channel--1", 3, "identity--m",
                               alg_of(kid) + ":" + "0" * 32, pub)


def test_tokens_are_keyed_and_name_the_kind() -> None:
    k1, k2 = bytes(32), bytes([1]) * 32
    assert wire.token(k1, "ip:192.0.2.1") == wire.token(k1, "ip:192.0.2.1")
    assert wire.token(k1, "ip:192.0.2.1") != wire.token(k2, "ip:192.0.2.1")
    assert wire.token(k1, "ip:192.0.2.1") != wire.token(k1, "domain:192.0.2.1")
    # refanged and differently written values give one token (the shared normaliser)
    a, _ = bundle("evil.example")
    b = a.replace(b"evil.example", b"EVIL[.]example")
    assert bundle_tokens(k1, a) == bundle_tokens(k1, b) != []


# -- over the API --------------------------------------------------------------------------

def table_bytes(api: Api) -> bytes:
    """Every value of every table of the node's store, as bytes."""
    def read(sql: Sql) -> bytes:
        if sql.dialect == "sqlite":
            names = [r[0] for r in sql.execute(
                "SELECT name FROM sqlite_master WHERE type=?", ("table",)).fetchall()]
        else:
            names = [r[0] for r in sql.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema=?",
                ("public",)).fetchall()]
        out = bytearray()
        for name in names:
            for row in sql.execute(f'SELECT * FROM "{name}"').fetchall():
                for v in row:
                    out += bytes(v) if isinstance(v, bytes | bytearray | memoryview) \
                        else str(v).encode()
                    out += b"\0"
        return bytes(out)
    return api.exchange.store.read(read)


def count(api: Api, table: str) -> int:
    return api.exchange.store.read(
        lambda sql: int(sql.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))


def dark_channel(api: Api) -> str:
    """A group channel whose members all keep their keys in their own clients."""
    m = api.node.members
    ch = api.exchange.create_channel(m["delta"].id, "dark", ChannelKind.GROUP, [m["echo"].id])
    return ch.id


def test_sealed_shares_match_blindly_and_the_node_holds_no_value(api: Api, tmp_path: Path
                                                                 ) -> None:
    dark = dark_channel(api)
    ips = feodo_ips(6)
    delta, echo = api.sdk("delta"), api.sdk("echo")
    one, _ = bundle(*ips[:4], "c2.evil.example")
    two, _ = bundle(ips[2], ips[4], "C2.EVIL[.]example")  # two values in common
    three, _ = bundle(ips[5])  # nothing in common
    r1 = delta.publish(one, tlp="amber", to=["dark"])
    assert r1["form"] == "sealed" and r1["blind_matches"] == []
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["epoch"] == 1 and not st["rotate"] and st["missing"] == []
    r2 = echo.publish(two, tlp="amber", to=["dark"])
    assert r2["blind_matches"] == [r1["id"]]
    r3 = echo.publish(three, tlp="amber", to=["dark"])
    assert r3["blind_matches"] == []
    for c in (delta, echo):
        notes, cursor = c.blind_matches()
        assert [(n["share_id"], n["other_id"], n["tokens"], n["channel"]) for n in notes] == \
            [(r2["id"], r1["id"], 2, dark)]
        assert cursor == notes[0]["seq"]
    # members outside the channel learn nothing: no notice, no key, no channel
    for who in ("alpha", "charlie"):
        r = api.client.get("/api/v1/blind/matches", headers=api.h(who))
        assert r.json()["matches"] == []
        k = api.client.get("/api/v1/channels/dark/key", headers=api.h(who))
        assert k.status_code == 404
    # the node's store holds tokens and sealed keys, never a value
    assert count(api, "blind_tokens") == 5 + 3 + 1
    everything = table_bytes(api)
    values = [*ips, "c2.evil.example", "evil.example", "C2.EVIL"]
    values += [o.key for b in (one, two, three) for o in extract_bundle(b)]
    for v in values:
        assert v.encode() not in everything, v
    if api.exchange.store.dialect == "sqlite":
        for f in api.node.data.iterdir():
            if f.name.startswith("vigil.db"):
                raw = f.read_bytes()
                assert not any(v.encode() in raw for v in values), f
    # a canary that must be found proves the scan reads the tables
    assert r1["id"].encode() in everything


def test_new_member_gets_the_key_and_a_removed_one_forces_a_new_epoch(api: Api) -> None:
    dark = dark_channel(api)
    delta, echo, fox = api.sdk("delta"), api.sdk("echo"), api.sdk("foxtrot")
    ip = feodo_ips(1, skip=10)[0]
    body, _ = bundle(ip)
    r1 = delta.publish(body, tlp="amber", to=["dark"])
    delta.channel_add("dark", "foxtrot")
    st = fox._call("GET", "/api/v1/channels/dark/key")
    assert st["sealed"] is None and st["missing"] == [api.id("foxtrot")]
    with pytest.raises(NotFound) as exc:
        fox.channel_key("dark")
    assert exc.value.code == "blind.no_copy"
    # without a copy the share still goes out, without tokens
    tokens_before = count(api, "blind_tokens")
    r2 = fox.publish(body, tlp="amber", to=["dark"])
    assert r2["blind_matches"] == [] and count(api, "blind_tokens") == tokens_before
    assert echo.share_channel_key("dark") == [api.id("foxtrot")]
    assert echo.share_channel_key("dark") == []
    r3 = fox.publish(body, tlp="amber", to=["dark"])
    # foxtrot may not read r1 (shared before it joined): the node matched, but tells
    # only the members that may read both shares
    assert r3["blind_matches"] == []
    assert [(n["share_id"], n["other_id"]) for n in delta.blind_matches()[0]] == \
        [(r3["id"], r1["id"])]
    assert fox.blind_matches()[0] == []
    # echo leaves: it still holds epoch 1, so epoch 1 takes no more tokens
    delta.channel_remove("dark", "echo")
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["epoch"] == 1 and st["rotate"] is True
    assert api.client.get("/api/v1/channels/dark/key", headers=api.h("echo")).status_code == 404
    stale = attach(api, "delta", body, "dark", 1, [b"\x01" * 32])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "blind.rotate"
    # the next publish by a remaining member makes epoch 2 for the remaining members
    r4 = delta.publish(body, tlp="amber", to=["dark"])
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["epoch"] == 2 and not st["rotate"] and st["missing"] == []
    holders = api.exchange.store.read(lambda sql: {r[0] for r in sql.execute(
        "SELECT member_id FROM channel_keys WHERE channel_id=? AND epoch=?",
        (dark, 2)).fetchall()})
    assert holders == {api.id("delta"), api.id("foxtrot")}
    # epoch 2 tokens do not match epoch 1 shares (a new key gives new tokens)
    assert r4["blind_matches"] == []
    r5 = fox.publish(body, tlp="amber", to=["dark"])
    assert r5["blind_matches"] == [r4["id"]]


def attach(api: Api, who: str, body: bytes, channel: str, epoch: int,
           toks: list[bytes], **extra: Any) -> Any:
    """POST a client-built sealed envelope with hand-made blind tokens."""
    c = api.sdk(who)
    sent: dict[str, Any] = {}

    def capture(method: str, path: str, **kw: Any) -> Any:
        if path == "/api/v1/envelopes":
            sent["envelope"] = orjson.loads(kw["content"])
            return {}
        return type(c)._call(c, method, path, **kw)

    c._call = capture  # type: ignore[method-assign]
    c.publish(body, tlp="amber", to=[channel], blind=False)
    ch = api.client.get(f"/api/v1/channels/{channel}", headers=api.h(who)).json()
    doc = {"envelope": sent["envelope"],
           "blind": {"channel": ch["id"], "epoch": epoch, "tokens": [b64u(t) for t in toks]}}
    doc["blind"].update(extra)
    return api.client.post("/api/v1/blind/envelopes", content=orjson.dumps(doc),
                           headers={**api.h(who), "Content-Type": "application/json"})


def test_bad_tokens_are_refused_with_stable_codes_and_nothing_is_stored(api: Api) -> None:
    dark_channel(api)
    delta = api.sdk("delta")
    body, _ = bundle(feodo_ips(1, skip=20)[0])
    delta.publish(body, tlp="amber", to=["dark"])  # epoch 1 exists
    shares, toks = api.exchange.store.share_count(), count(api, "blind_tokens")
    good = b"\x02" * 32
    cases: list[tuple[list[bytes], dict[str, Any], int, str]] = [
        ([b"\x01" * 31], {}, 400, "input.blind"),
        ([good, good], {}, 400, "input.blind"),
        ([good], {"extra": 1}, 400, "input.blind"),
    ]
    for t, extra, status, code in cases:
        r = attach(api, "delta", body, "dark", 1, t, **extra)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    r = attach(api, "delta", body, "dark", 7, [good])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "blind.stale_epoch")
    r = attach(api, "delta", body, "dark", 0, [good])
    assert r.json()["error"]["code"] == "input.blind"
    # tokens naming another channel than the envelope's
    r = attach(api, "delta", body, "dark", 1, [good])
    assert r.status_code == 201
    shares += 1
    toks += 1
    doc_other = {"envelope": envelope_to_json(api.exchange.store.sent(api.id("delta"), 0, 1)[0][1]),
                 "blind": {"channel": f"channel--{uuid.uuid4()}", "epoch": 1,
                           "tokens": [b64u(good)]}}
    r = api.client.post("/api/v1/blind/envelopes", content=orjson.dumps(doc_other),
                        headers={**api.h("delta"), "Content-Type": "application/json"})
    assert r.json()["error"]["code"] == "blind.channel_mismatch"
    r = api.client.post("/api/v1/blind/envelopes", content=b'{"blind": null}',
                        headers={**api.h("delta"), "Content-Type": "application/json"})
    assert r.json()["error"]["code"] == "input.missing_field"
    assert api.exchange.store.share_count() == shares
    assert count(api, "blind_tokens") == toks


def test_channel_key_uploads_are_checked(api: Api) -> None:
    dark_channel(api)
    m = api.node.members
    me = api.client.get("/api/v1/channels/dark/key", headers=api.h("delta")).json()
    assert me["epoch"] == 0 and me["sealed"] is None
    keys = {x["id"]: x["enc_key"] for x in me["members"]}
    blob = b64u(b"\0" * blind.SEALED_KEY_LENS[alg_of(m["delta"].keyring.enc_key_id)])

    def put(epoch: Any, sealed: Any) -> Any:
        return api.client.post("/api/v1/channels/dark/keys", json={"epoch": epoch,
                               "sealed": sealed}, headers=api.h("delta"))

    only_me = [{"member": m["delta"].id, "key": keys[m["delta"].id]["id"], "blob": blob}]
    both = [*only_me, {"member": m["echo"].id, "key": keys[m["echo"].id]["id"], "blob": blob}]
    nobody = alg_of(keys[m["delta"].id]["id"]) + ":" + "0" * 32
    outsider = [*both, {"member": m["alpha"].id, "key": nobody, "blob": blob}]
    r = put(1, only_me)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "blind.incomplete_epoch")
    assert put(1, outsider).json()["error"]["code"] == "blind.not_channel_member"
    wrong_key = [only_me[0], {**both[1], "key": keys[m["delta"].id]["id"]}]
    assert put(1, wrong_key).json()["error"]["code"] == "blind.wrong_key"
    assert put(1, [{**only_me[0], "blob": "AA"}]).json()["error"]["code"] == "input.channel_key"
    assert put("1", both).json()["error"]["code"] == "input.channel_key"
    assert put(2, both).json()["error"]["code"] == "blind.epoch_exists"
    assert count(api, "channel_keys") == 0
    assert put(1, both).status_code == 201
    again = put(1, both)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "blind.copy_exists")
    r = api.client.post("/api/v1/channels/dark/keys", json={"epoch": 1, "sealed": both},
                        headers=api.h("charlie"))
    assert r.status_code == 404
    assert count(api, "channel_keys") == 2


def test_a_recall_takes_the_shares_tokens_and_notices_with_it(api: Api) -> None:
    dark_channel(api)
    delta, echo = api.sdk("delta"), api.sdk("echo")
    body, _ = bundle(*feodo_ips(2, skip=4))
    r1 = delta.publish(body, tlp="amber", to=["dark"])
    r2 = echo.publish(body, tlp="amber", to=["dark"])
    assert r2["blind_matches"] == [r1["id"]]
    assert len(echo.blind_matches()[0]) == 1
    delta.recall(r1["id"])
    assert echo.blind_matches()[0] == [] and delta.blind_matches()[0] == []
    left = api.exchange.store.read(lambda sql: sql.execute(
        "SELECT COUNT(*) FROM blind_tokens WHERE share_id=?", (r1["id"],)).fetchone()[0])
    assert left == 0
    r3 = echo.publish(body, tlp="amber", to=["dark"])
    assert r3["blind_matches"] == [r2["id"]]


def test_blind_match_cursor_counts_only_the_members_own_notices(api: Api) -> None:
    """delta's blind-match seq and next name its own notices: matches between echo and
    foxtrot in a channel delta is not in do not move them."""
    dark_channel(api)
    m = api.node.members
    api.exchange.create_channel(m["echo"].id, "night", ChannelKind.GROUP, [m["foxtrot"].id])
    delta, echo, fox = api.sdk("delta"), api.sdk("echo"), api.sdk("foxtrot")
    for k in range(3):
        body, _ = bundle(*feodo_ips(1, skip=k))
        echo.publish(body, tlp="amber", to=["night"])
        assert fox.publish(body, tlp="amber", to=["night"])["blind_matches"] != []
    body, _ = bundle(*feodo_ips(1, skip=5))
    delta.publish(body, tlp="amber", to=["dark"])
    echo.publish(body, tlp="amber", to=["dark"])
    notes, cursor = delta.blind_matches()
    assert [n["seq"] for n in notes] == [1] and cursor == 1
    assert [n["seq"] for n in echo.blind_matches()[0]] == [1, 2, 3, 4]


def test_an_old_epoch_is_replaced_on_schedule(api: Api) -> None:
    """A channel key epoch older than EPOCH_MAX_AGE takes no more tokens; the next
    publish makes a new epoch for the same members."""
    dark = dark_channel(api)
    delta = api.sdk("delta")
    body, _ = bundle(feodo_ips(1, skip=20)[0])
    delta.publish(body, tlp="amber", to=["dark"])
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["epoch"] == 1 and st["rotate"] is False
    api.exchange.store.write(lambda sql: sql.execute(
        "UPDATE channel_keys SET created=? WHERE channel_id=?",
        ("2000-01-01T00:00:00.000Z", dark)))
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["rotate"] is True
    old = attach(api, "delta", body, "dark", 1, [b"\x02" * 32])
    assert old.status_code == 409 and old.json()["error"]["code"] == "blind.rotate"
    assert "older than" in old.json()["error"]["message"]
    delta.publish(body, tlp="amber", to=["dark"])
    st = delta._call("GET", "/api/v1/channels/dark/key")
    assert st["epoch"] == 2 and st["rotate"] is False
