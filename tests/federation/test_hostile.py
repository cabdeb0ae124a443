"""A hostile or broken peer is refused with stable codes, its evidence kept, and one bad
item never stalls the link."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from tests.federation.pairs import (
    Node,
    batch,
    cursor,
    deliver,
    inbox_ids,
    network,
    publish,
    quarantined,
    resign,
    sync,
)

from vigil.crypto.encoding import b64u
from vigil.errors import Conflict, CryptoError
from vigil.federation import receiver
from vigil.federation.batches import heartbeat_body
from vigil.model import Audience, ChannelKind, Form, Handling, Tlp
from vigil.protocol.envelope import build_share
from vigil.signin import users as access
from vigil.storage import federation as q
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture(scope="module")
def abc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, Node]]:
    """One network for the module: each test adds its own shares and checks the newest
    quarantine entry, so they do not depend on each other's order."""
    with network(tmp_path_factory.mktemp("hostile"), {
            "athens": {"alpha": True, "alpha2": True, "alpha3": True},
            "berlin": {"bravo": True}, "cairo": {"charlie": True}}) as (a, b, c):
        yield a, b, c


@pytest.fixture(autouse=True)
def aligned(abc: tuple[Node, Node, Node]) -> None:
    """Every link caught up before a test (a test before may have moved a cursor by
    hand, as a hostile peer would)."""
    for x in abc:
        for y in abc:
            if x is not y:
                deliver(x, y)


def test_members_reach_other_nodes_with_their_log_proof(abc: tuple[Node, Node, Node]) -> None:
    _, b, _ = abc
    names = {m.name for m in b.ex.directory().members.values()}
    assert {"alpha@athens", "alpha2@athens", "charlie@cairo", "bravo"} <= names


def test_a_share_goes_only_to_nodes_hosting_a_recipient(abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    for dest, want in ((b, 1), (c, 0)):
        rows = a.ex.store.read(lambda sql, d=dest: q.pending(sql, d.ex.node_id, 0, 1000))
        assert sum(1 for _, k, r, _ in rows if k == "share" and r == sid) == want
    deliver(a, b)
    deliver(a, c)
    assert sid in inbox_ids(b, "bravo")
    assert c.ex.store.get_share(sid) is None


def test_changed_header_byte_is_quarantined_and_the_rest_flows(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    bad = publish(a, "alpha", ["member:bravo@berlin"])
    good = publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    # one byte of the first share's header changes, and the origin signs the batch again
    env = data["bodies"][0]["envelope"]
    env["header"]["audience"]["tlp"] = "green"
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == [data["batch"]["from"]]
    assert good in inbox_ids(b, "bravo") and bad not in inbox_ids(b, "bravo")
    assert b.ex.store.get_share(bad) is None
    qi = quarantined(b)[0]
    assert qi["code"] == "fed.bad_originator_signature"
    ev = b.ex.store.read(lambda sql: q.evidence(sql, qi["seq"]))
    assert ev is not None and orjson.loads(ev)["body"]["envelope"]["header"]["id"] == bad
    assert cursor(b, a) == data["batch"]["to"]


def test_body_not_matching_the_signed_digest_is_quarantined(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    data["bodies"][-1]["envelope"]["header"]["themes"] = ["cyber"]
    got = receiver.receive(b.ex, b.peers["athens"], data)
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.bad_digest"


def test_changed_batch_head_is_refused_whole_with_evidence(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    publish(a, "alpha", ["member:bravo@berlin"])
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    data["batch"]["checkpoint"] = data["batch"]["checkpoint"].replace("\n", "\n ", 1)
    before = cursor(b, a)
    with pytest.raises(CryptoError) as e:
        receiver.receive(b.ex, b.peers["athens"], data)
    assert e.value.code == "fed.bad_batch_signature"
    assert cursor(b, a) == before and b.ex.store.get_share(sid) is None
    qi = quarantined(b)[0]
    assert qi["code"] == "fed.bad_batch_signature" and qi["dseq"] is None


def test_forged_originator_is_quarantined(abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    # cairo's member signs a share to bravo; athens passes it off as its own item
    sid = publish(c, "charlie", ["member:bravo@berlin"])
    sync(c, b)
    stolen = batch(c, b)["bodies"][-1]
    sync(a, b)
    publish(a, "alpha", ["member:bravo@berlin"])
    data = batch(a, b)
    data["bodies"][-1] = stolen
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.forged_originator"
    assert b.ex.store.get_share(sid) is None


def test_recipient_not_hosted_is_quarantined(abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    publish(a, "alpha", ["member:charlie@cairo"])
    sync(a, c)
    item = batch(a, c)["bodies"][-1]
    publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    data["bodies"][-1] = item
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.not_hosted"


def test_replay_and_gap_answer_409_with_the_cursor(abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    deliver(a, b, data)
    n = len(inbox_ids(b, "bravo"))
    with pytest.raises(Conflict) as e:
        receiver.receive(b.ex, b.peers["athens"], data)
    assert e.value.code == "fed.replay" and e.value.detail["cursor"] == data["batch"]["to"]
    assert len(inbox_ids(b, "bravo")) == n
    publish(a, "alpha", ["member:bravo@berlin"])
    publish(a, "alpha", ["member:bravo@berlin"])
    later = batch(a, b, after=data["batch"]["to"] + 1)  # skips one item
    with pytest.raises(Conflict) as e:
        receiver.receive(b.ex, b.peers["athens"], later)
    assert e.value.code == "fed.gap" and e.value.detail["cursor"] == data["batch"]["to"]
    deliver(a, b)
    assert len(inbox_ids(b, "bravo")) == n + 2


def test_signature_after_revocation_is_refused(abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    early = publish(a, "alpha2", ["member:bravo@berlin"])
    access.set_member_active(a.ex, "alpha2", False)
    # athens (hostile, or still holding the key) signs with the revoked key afterwards
    kr = a.ex.held[a.id("alpha2")]
    to = (b.id("bravo"),)
    env = build_share(plaintext=bundle_with("late"), originator=a.id("alpha2"),
                      audience=Audience(Tlp.AMBER, None, to), recipients=to,
                      form=Form.SEALED, handling=Handling(), themes=(), regions=(),
                      expires=None, signer_private=kr.sign_private,
                      signer_key_id=kr.sign_key_id,
                      recipient_keys=a.ex.recipient_keys((*to, a.id("alpha2"))))
    late = a.ex._store(env, to)
    deliver(a, b)
    assert early in inbox_ids(b, "bravo")
    assert late.envelope.id not in inbox_ids(b, "bravo")
    assert quarantined(b)[0]["code"] == "fed.revoked_key"


def test_an_empty_batch_moves_no_cursor(abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    before = cursor(b, a)
    data = batch(a, b)
    data["batch"]["to"] = before + 5
    data["batch"]["from"] = before + 6
    receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert cursor(b, a) == before


def test_a_share_without_a_valid_log_proof_is_quarantined(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    log = data["bodies"][-1]["log"]
    log["index"] = log["index"] - 1  # the proof of another place in the log
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.bad_log_proof"
    assert b.ex.store.get_share(sid) is None


def test_a_revocation_overtakes_the_queue(abc: tuple[Node, Node, Node]) -> None:
    a, _, c = abc
    early = publish(a, "alpha3", ["member:charlie@cairo"])  # queued, not sent yet
    access.set_member_active(a.ex, "alpha3", False)
    hb = heartbeat_body(a.ex, c.ex.node_id, 0, 0)
    assert hb["heartbeat"]["revocations"]
    receiver.heartbeat(c.ex, c.peers["athens"], hb)
    # cairo knows of the revocation before any queued item reached it
    assert not next(m for m in c.ex.directory().members.values()
                    if m.name == "alpha3@athens").active
    deliver(a, c)
    assert early in inbox_ids(c, "charlie")  # signed before the revocation: kept


def test_a_batch_rests_on_one_checkpoint_verified_once(
        abc: tuple[Node, Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every item of a batch is proven against one checkpoint, whose signature the
    receiver checks once; an item that names another checkpoint is still checked on
    its own (a forged note is refused, the rest flows)."""
    a, b, _ = abc
    sids = [publish(a, "alpha", ["member:bravo@berlin"]) for _ in range(3)]
    sync(a, b)
    data = batch(a, b)
    notes = {body["log"]["checkpoint"] for body in data["bodies"]}
    assert len(notes) == 1
    forged = data["bodies"][-1]["log"]
    # the last line of the note is its signature: another key's bytes there
    lines = forged["checkpoint"].rstrip("\n").split("\n")
    name, sig = lines[-1].rsplit(" ", 1)
    lines[-1] = f"{name} {b64u(bytes(64))[:len(sig)]}"
    forged["checkpoint"] = "\n".join(lines) + "\n"
    from vigil.federation import prepared
    calls: list[str] = []
    real = prepared.verify_checkpoint

    def counted(note: str, *args: object, **kw: object) -> object:
        calls.append(note)
        return real(note, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(prepared, "verify_checkpoint", counted)
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert sorted(calls) == sorted([next(iter(notes)), forged["checkpoint"]])
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.bad_log_proof"
    assert [s in inbox_ids(b, "bravo") for s in sids] == [True, True, False]


def test_a_channel_of_another_node_is_not_taken_over(abc: tuple[Node, Node, Node]) -> None:
    """cairo passes off athens's channel as one its own member owns, with a higher epoch
    and itself in it: quarantined, the channel as athens made it."""
    a, b, c = abc
    def bravo(n: Node) -> str:
        return next(m.id for m in n.ex.directory().members.values()
                    if m.name == "bravo@berlin")
    ch = a.ex.create_channel(a.id("alpha"), "pair-ab", ChannelKind.GROUP, [bravo(a)]).id
    deliver(a, b)
    before = set(b.ex.directory().channels[ch].members)
    c.ex.create_channel(c.id("charlie"), "decoy-ab", ChannelKind.GROUP, [bravo(c)])
    sync(c, b)
    data = batch(c, b)
    k = next(k for k, it in enumerate(data["batch"]["items"]) if it["kind"] == "channel")
    body = data["bodies"][k]
    body["channel"]["id"], body["epoch"] = ch, 99
    got = receiver.receive(b.ex, b.peers["cairo"], resign(c, data))
    assert got.quarantined == [data["batch"]["items"][k]["dseq"]]
    assert quarantined(b)[0]["code"] == "fed.forged_originator"
    assert set(b.ex.directory().channels[ch].members) == before
