"""Member announcements from a peer are checked against the member's directory entries:
a home node that announces a key its (witnessed) directory does not hold is refused with
``fed.directory_mismatch``, its signed announcement and directory proof kept as
evidence; a proof that does not hold is ``fed.bad_directory_proof``."""

from __future__ import annotations

import copy
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from tests.federation.pairs import (
    Node,
    batch,
    deliver,
    make,
    peer,
    publish,
    quarantined,
    resign,
    sync,
)
from tests.federation.trusting import trusting_pair, witness_of

from vigil import clock
from vigil.crypto.keys import ALG_ED25519, ALG_X25519, key_id
from vigil.directory.entries import SignedEntry
from vigil.directory.revocation import learn_in, revoke_at_home
from vigil.errors import PolicyDenied
from vigil.federation import kinds, receiver
from vigil.federation.trust import TrustService, witness_name
from vigil.log.entries import ENTRY_VERSION
from vigil.storage import federation as q
from vigil.storage import keys as keys_sql
from vigil.storage.base import Sql


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, TrustService, TrustService]]:
    a, b, ta, tb = trusting_pair(tmp_path)
    assert ta.register_held() == 1
    # berlin witnesses athens' logs (k = 1 of 2 nodes)
    assert ta.collector.round([witness_of(tb)])[ta.directory.origin] == 1
    yield a, b, ta, tb
    ta.uninstall()
    tb.uninstall()
    a.close()
    b.close()


def member_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for i, b in zip(data["batch"]["items"], data["bodies"], strict=True)
            if i["kind"] == "member"]


def test_an_announcement_matching_the_directory_is_taken(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    a, b, _, _ = pair
    sync(a, b)
    items = member_items(batch(a, b))
    assert items and all("directory" in it for it in items)
    deliver(a, b)
    assert b.ex.directory().members.get(a.id("alpha")) is not None
    assert quarantined(b) == []


def test_a_key_the_directory_does_not_hold_is_refused(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    """Athens gives alpha a key alpha never registered (no directory entry): berlin
    refuses the announcement and keeps it, with athens' own directory proof."""
    a, b, _, _ = pair
    alpha = a.id("alpha")
    new_sign = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    new_enc = X25519PrivateKey.generate().public_key().public_bytes_raw()
    s, e = (key_id(ALG_ED25519, new_sign), new_sign), (key_id(ALG_X25519, new_enc), new_enc)

    def invent(sql: Sql) -> None:
        keys_sql.set_member_keys(sql, alpha, s, e)
        a.ex.log.append(sql, {"v": ENTRY_VERSION, "kind": "member", "member": alpha,
                              "event": "add", "sign_key": s[0], "enc_key": e[0],
                              "at": clock.now()})
    a.ex.store.write(invent)
    got = deliver(a, b)
    assert got.quarantined, "the invented key was taken"
    qi = quarantined(b)[0]
    assert qi["code"] == "fed.directory_mismatch" and qi["kind"] == "member"
    ev = b.ex.store.read(lambda sql: q.evidence(sql, qi["seq"]))
    assert ev is not None
    body = orjson.loads(ev)["body"]
    assert body["member"]["sign_key_id"] == s[0]
    assert body["directory"]["member"] == alpha and body["directory"]["checkpoint"]
    m = b.ex.directory().members.get(alpha)
    assert m is None or m.sign_key_id != s[0]


def test_a_directory_proof_that_does_not_hold_is_refused(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    a, b, _, _ = pair
    sync(a, b)
    data = copy.deepcopy(batch(a, b))
    item = member_items(data)[0]
    note = item["directory"]["checkpoint"]
    item["directory"]["checkpoint"] = note[: note.index("\n\n") + 2]  # no signatures
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined
    assert quarantined(b)[0]["code"] == "fed.bad_directory_proof"


def test_an_older_announcement_sent_again_is_not_checked(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    """After alpha rotates its key in the directory, athens announces its members again
    (as after peering): alpha's old key event changes nothing at berlin and is not
    refused, though the directory now names another key."""
    from vigil.crypto.keys import generate_sign_key
    from vigil.directory.entries import member_signature, next_entry

    a, b, ta, tb = pair
    deliver(a, b)
    alpha = a.id("alpha")
    kr = a.node.members["alpha"].keyring
    rotation = next_entry(ta.directory.keys(alpha), "rotate", alpha, a.ex.node_id,
                          sign_key=generate_sign_key(False))
    ta.submit_entry(alpha, {"entry": rotation,
                            "sig": member_signature(rotation, kr.sign_private)})
    assert ta.collector.round([witness_of(tb)])[ta.directory.origin] == 1
    a.ex.store.write(lambda sql: q.reset_scans(sql, b.ex.node_id))
    sync(a, b)
    items = member_items(batch(a, b))
    assert items and items[0]["directory"]["entries"][-1]["entry"]["entry"]["kind"] == "rotate"
    got = deliver(a, b)
    assert got.quarantined == [] and quarantined(b) == []


def test_a_proof_with_fewer_cosignatures_than_k_is_refused(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    """The home node's checkpoint without the cosignature lines: its own signature and
    the member's chain hold, but no roster node vouches for the tree."""
    a, b, _, _ = pair
    sync(a, b)
    data = copy.deepcopy(batch(a, b))
    item = member_items(data)[0]
    note = item["directory"]["checkpoint"]
    item["directory"]["checkpoint"] = "".join(
        line for line in note.splitlines(keepends=True) if "/witness/" not in line)
    assert item["directory"]["checkpoint"] != note
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined
    assert quarantined(b)[0]["code"] == "fed.bad_directory_proof"
    assert b.ex.directory().members.get(a.id("alpha")) is None


def test_an_announcement_without_its_directory_entries_is_refused(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    """Athens announces alpha by its main log alone: berlin refuses it and keeps it."""
    a, b, _, _ = pair
    sync(a, b)
    data = copy.deepcopy(batch(a, b))
    for item in member_items(data):
        del item["directory"]
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined
    qi = quarantined(b)[0]
    assert qi["code"] == "fed.no_directory_proof" and qi["kind"] == "member"
    assert b.ex.directory().members.get(a.id("alpha")) is None


def test_an_announcement_waits_for_its_directory_entries_to_be_witnessed(
        tmp_path: Path) -> None:
    """Before alpha's registration has k cosignatures athens' batch ends before alpha's
    announcement (so it is never refused for it); once berlin cosigned, it leaves with
    its proof and is taken."""
    a, b, ta, tb = trusting_pair(tmp_path)
    try:
        sync(a, b)
        assert member_items(batch(a, b)) == []  # held, not registered yet
        assert ta.register_held() == 1
        assert member_items(batch(a, b)) == []  # registered, not witnessed yet
        assert ta.collector.round([witness_of(tb)])[ta.directory.origin] == 1
        assert member_items(batch(a, b))
        deliver(a, b)
        assert quarantined(b) == []
        assert b.ex.directory().members.get(a.id("alpha")) is not None
    finally:
        ta.uninstall()
        tb.uninstall()
        a.close()
        b.close()


def _cosigned(note: str, lines: list[str]) -> str:
    return note + "".join(lines)


@pytest.mark.parametrize("seed", range(12))
def test_cosignatures_are_counted_per_roster_node(tmp_path: Path, seed: int) -> None:
    """Berlin counts, on athens' directory checkpoint, the distinct roster nodes other
    than athens with a valid cosignature, and takes the announcement only with k of
    them. The lines are drawn at random: valid ones by roster nodes, the same node
    twice, forged ones, athens' own, and nodes off the roster, shuffled; the reference
    count (the roster nodes but athens drawn with a valid line) is made here from what
    was drawn, not by vigil's code."""
    from vigil.log.note import parse_note
    from vigil.protocol.cosignature import cosign
    from vigil.protocol.witnessing import quorum
    from vigil.roster.statements import statement

    rng = random.Random(seed)
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    peer(a, b)
    ta, tb = TrustService(a.ex), TrustService(b.ex)
    try:
        others = {f"node--{uuid.uuid4()}": Ed25519PrivateKey.generate()
                  for _ in range(rng.randint(1, 6))}
        keys = {a.ex.node_id: a.ex.node_key, b.ex.node_id: b.ex.node_key, **others}
        genesis = statement("genesis", 0, None, nodes={
            n: k.public_key().public_bytes_raw() for n, k in keys.items()})
        for n, k in keys.items():
            genesis = genesis.cosign(n, k)
        tb.roster.apply(genesis)
        k = quorum(len(keys))
        assert tb.k() == k
        ta.install()
        tb.install()
        assert ta.register_held() == 1
        ta.collector.round([witness_of(tb)])
        sync(a, b)
        data = copy.deepcopy(batch(a, b))
        item = member_items(data)[0]
        text, _ = parse_note(item["directory"]["checkpoint"])
        bare = item["directory"]["checkpoint"].split("\n\n")[0] + "\n\n"
        home_line = next(ln for ln in item["directory"]["checkpoint"].splitlines(True)
                         if "/directory/" in ln and ln.startswith("\u2014"))
        stamps = iter(range(int(time.time()), int(time.time()) + 100))
        voters = [n for n in keys if n != a.ex.node_id]  # athens never counts for itself
        valid: set[str] = set()
        lines = []
        for _ in range(rng.randint(0, 8)):
            pick = rng.random()
            if pick < 0.5:
                n = rng.choice(voters)
                lines.append(cosign(text, witness_name(n), keys[n], next(stamps)).line())
                valid.add(n)
            elif pick < 0.65:  # forged: another key under a roster node's name
                n = rng.choice(voters)
                lines.append(cosign(text, witness_name(n), Ed25519PrivateKey.generate(),
                                    next(stamps)).line())
            elif pick < 0.8:  # athens cosigning its own log
                lines.append(cosign(text, witness_name(a.ex.node_id), a.ex.node_key,
                                    next(stamps)).line())
            else:  # a node off the roster
                lines.append(cosign(text, witness_name(f"node--{uuid.uuid4()}"),
                                    Ed25519PrivateKey.generate(), next(stamps)).line())
        kept = lines
        rng.shuffle(kept)
        item["directory"]["checkpoint"] = _cosigned(bare + home_line, kept)
        got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
        taken = b.ex.directory().members.get(a.id("alpha")) is not None
        assert taken == (len(valid) >= k), (len(valid), k, kept)
        if not taken:
            assert got.quarantined
            assert quarantined(b)[0]["code"] == "fed.bad_directory_proof"
    finally:
        ta.uninstall()
        tb.uninstall()
        a.close()
        b.close()


def test_an_announcement_refused_for_its_count_goes_again_once_the_sender_counts_k_higher(
        tmp_path: Path) -> None:
    """Athens peers with berlin alone (k = 1), berlin with three nodes (k = 2): berlin
    refuses athens' announcement proven by one cosignature. Once athens peers with the
    others too it counts k = 2, queues its members' events again, and berlin takes the
    announcement proven by two."""
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    c = make(tmp_path, "cairo", {"charlie": True})
    d = make(tmp_path, "dublin", {"delta": True})
    peer(a, b)
    peer(b, c)
    peer(b, d)
    ts = {n.name: TrustService(n.ex) for n in (a, b, c, d)}
    ta, tb = ts["athens"], ts["berlin"]
    try:
        for t in ts.values():
            t.install()
        assert (ta.k(), tb.k()) == (1, 2)
        ta.register_held()
        ta.collector.round([witness_of(tb)])
        got = deliver(a, b)
        assert got.quarantined
        assert quarantined(b)[0]["code"] == "fed.bad_directory_proof"
        assert b.ex.directory().members.get(a.id("alpha")) is None
        peer(a, c)
        peer(a, d)
        for t in ts.values():
            t.refresh_peers()  # as each round does
        assert ta.k() == 2
        assert member_items(batch(a, b)) == []  # held: one cosignature is not k
        ta.collector.round([witness_of(tb), witness_of(ts["cairo"])])
        for _ in range(2):
            deliver(a, b)
        assert b.ex.directory().members.get(a.id("alpha")) is not None
        assert len(quarantined(b)) == 1
    finally:
        for t in ts.values():
            t.uninstall()
        for n in (a, b, c, d):
            n.close()


def _two_shares(a: Node, b: Node, ta: TrustService, tb: TrustService
                ) -> tuple[dict[str, Any], list[Any]]:
    """A batch from athens carrying two shares by alpha for bravo (alpha announced at
    berlin before), and the share bodies in it."""
    assert tb.register_held() == 1
    assert tb.collector.round([witness_of(ta)])[tb.directory.origin] == 1
    deliver(a, b)
    deliver(b, a)  # bravo announced at athens
    for _ in range(2):
        publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    shares = [body for it, body in zip(data["batch"]["items"], data["bodies"], strict=True)
              if it["kind"] == "share"]
    assert len(shares) == 2
    return data, shares


def _revoke_alpha(a: Node, ta: TrustService, after: int) -> SignedEntry:
    """Athens revokes alpha's signing key from its log index ``after``: the signed entry."""
    alpha = a.id("alpha")
    assert ta.directory.write(lambda sql: revoke_at_home(ta.directory, sql, alpha, after,
                                                         a.ex.node_key)) is not None
    return SignedEntry.from_json(ta.revocations.heads()[0])


def test_a_revocation_known_before_the_batch_refuses_its_shares_from_the_point(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    a, b, ta, tb = pair
    data, (first, second) = _two_shares(a, b, ta, tb)
    point = int(second["log"]["index"])
    assert tb.revocations.learn(_revoke_alpha(a, ta, point), a.ex.node_key_raw) == 0
    got = receiver.receive(b.ex, b.peers["athens"], data)
    first_id, second_id = (s["envelope"]["header"]["id"] for s in (first, second))
    assert [r["code"] for r in quarantined(b)] == ["fed.revoked_key"]
    assert got.quarantined == [next(int(i["dseq"]) for i, body in zip(
        data["batch"]["items"], data["bodies"], strict=True) if body is second)]
    assert b.ex.store.get_share(first_id) is not None
    assert b.ex.store.get_share(second_id) is None
    # the key use of the share taken is recorded, so a later revocation marks it
    assert tb.revocations.use(first_id) == (a.ex.node_id, int(first["log"]["index"]), False)
    assert tb.revocations.use(second_id) is None


def test_a_revocation_taken_within_the_batch_reaches_its_later_shares(
        pair: tuple[Node, Node, TrustService, TrustService]) -> None:
    """The revocation points are read once for the batch's shares: an item that takes a
    revocation in the same transaction (the shares before it stored, ``forget`` after
    it, as the receiver does) makes the later shares of that key read them again, and
    the shares before it are marked by it."""
    a, b, ta, tb = pair
    data, (first, second) = _two_shares(a, b, ta, tb)
    signed = _revoke_alpha(a, ta, int(first["log"]["index"]))
    peer_ = b.peers["athens"]
    ahead = receiver.check_ahead(b.ex, peer_, data)

    def tx(sql: Sql) -> tuple[int, str]:
        ctx = kinds.Context(b.ex, peer_, sql, clock.now(), ahead.head,
                            checkpoints=ahead.checkpoints, prepared=ahead.ready)
        ctx.read_heads()
        kinds.check(ctx, "share", first)()
        ctx.flush()
        marked = learn_in(sql, signed, a.ex.node_key_raw)
        ctx.forget()
        with pytest.raises(PolicyDenied) as e:
            kinds.check(ctx, "share", second)
        return marked, e.value.code

    assert b.ex.store.write(tx) == (1, "fed.revoked_key")
    assert tb.revocations.marked(first["envelope"]["header"]["id"])
