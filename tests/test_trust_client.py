"""A member that requires witnessed shares (``vigil.trust_client.TrustingClient``) checks
the proof itself, never the node's word.

A real node behind a transport that answers ``GET /api/v1/federation/witnessed/{share}``
as a hostile operator (who holds the node key) would: the client pins three witnesses of
other nodes (keys made here, standing in for peers) plus the node's own, needs k = 2, and
refuses every forged answer with a stable code. The honest answer (the node's own signed
checkpoint and inclusion proof, cosigned by two pinned witnesses) passes.

Also, what every surface a member reads a share on says of another node's member's share
signed before its key was revoked (`vigil key revoke --compromised` at the home): the
SDK's proving client, with or without ``require_witnessed``, `vigil show --witnesses`,
`vigil inbox --witnesses`, the console's share page and the gateway say "signed before
revocation", proved with the home's cosigned log (the origin proof); a client that
cannot prove it -- no pinned witnesses, or a node that withholds the origin proof --
refuses the share with a stable code instead of calling it verified."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil import clock, testing
from vigil.cli import main as cli_mod
from vigil.client import Client, InboxItem
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.errors import CryptoError, VigilError
from vigil.gateway import LocalStore, ingest
from vigil.log.checkpoint import DEFAULT_AUTHORITY, Checkpoint, parse_checkpoint, sign_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import MemoryTree, leaf_hash
from vigil.log.note import NoteSignature, parse_note
from vigil.protocol.cosignature import cosign
from vigil.protocol.witnessing import SIGNED_BEFORE_REVOCATION
from vigil.storage import trust as tq
from vigil.testing import stix
from vigil.trust_client import TrustingClient

Answer = Callable[[str], dict[str, Any]]


def witness_name(node_id: str) -> str:
    return f"{DEFAULT_AUTHORITY}/witness/{node_id}"


class Forge(httpx.BaseTransport):
    """The node; its witnessed answers are what ``answer(share_id)`` makes."""

    def __init__(self, answer: Answer) -> None:
        self.inner = httpx.HTTPTransport()
        self.answer = answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        prefix = "/api/v1/federation/witnessed/"
        if request.url.path.startswith(prefix):
            return httpx.Response(200, json=self.answer(request.url.path[len(prefix):]))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Bed:
    node: testing.TestNode
    url: str
    tmp: Path
    node_key: Ed25519PrivateKey
    node_id: str
    origin: str
    key_name: str
    witnesses: dict[str, Ed25519PrivateKey]  # of other nodes, pinned by the client
    shares: list[str]
    opened: list[TrustingClient] = field(default_factory=list)

    def pinned(self) -> dict[str, bytes]:
        out = {n: k.public_key().public_bytes_raw() for n, k in self.witnesses.items()}
        out[witness_name(self.node_id)] = self.node_key.public_key().public_bytes_raw()
        return out

    def ref(self, share_id: str) -> dict[str, Any]:
        """The node's real log place of a share (index, proof, signed checkpoint)."""
        m = self.node.members["bravo"]
        r = httpx.get(f"{self.url}/api/v1/shares/{share_id}",
                      headers={"authorization": f"Bearer {m.token}"}, timeout=10)
        r.raise_for_status()
        log: dict[str, Any] = r.json()["log"]
        return log

    def entry(self, share_id: str) -> bytes:
        m = self.node.members["bravo"]
        with TrustingClient(self.url, m.token, m.keyring,
                            log_state=self.tmp / "peek.json") as c:
            return entry_bytes(share_entry(c.envelope(share_id)[0]))

    def client(self, answer: Answer, **kw: Any) -> TrustingClient:
        m = self.node.members["bravo"]
        c = TrustingClient(self.url, m.token, m.keyring, transport=Forge(answer),
                           log_state=self.tmp / f"{uuid.uuid4().hex}.json",
                           require_witnessed=True, witnesses=self.pinned(), k=2, **kw)
        self.opened.append(c)
        return c


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    tmp = tmp_path_factory.mktemp("witnessed")
    node = testing.make_node(tmp / "node", {"alpha": False, "bravo": False})
    ex = node.exchange()
    key, node_id, origin, key_name = ex.node_key, ex.node_id, ex.log.origin, ex.log.key_name
    ex.store.close()
    assert isinstance(key, Ed25519PrivateKey)
    witnesses = {witness_name(f"node--{uuid.uuid4()}"): Ed25519PrivateKey.generate()
                 for _ in range(3)}
    with testing.ServerProcess(node.data) as srv:
        a = node.members["alpha"]
        with TrustingClient(srv.url, a.token, a.keyring, log_state=tmp / "alpha.json") as c:
            shares = [c.publish(stix.bundle(stix.indicator(f"w{i}.example")), tlp="amber",
                                to=["member:bravo"])["id"] for i in range(2)]
        made = Bed(node, srv.url, tmp, key, node_id, origin, key_name, witnesses, shares)
        yield made
        for opened in made.opened:
            opened.close()


def cosigned(note: str, *sigs: NoteSignature) -> str:
    return note + "".join(s.line() for s in sigs)


def by(bed: Bed, i: int, note: str, when: int | None = None) -> NoteSignature:
    name, key = list(bed.witnesses.items())[i]
    return cosign(parse_note(note)[0], name, key, when or int(time.time()))


def answer_of(ref: dict[str, Any], note: str, **more: Any) -> dict[str, Any]:
    return {"witnessed": True, "k": 2, "index": ref["index"], "size": ref["size"],
            "proof": ref["proof"], "checkpoint": note, "witnesses": ["a", "b"]} | more


def refused(bed: Bed, answer: Answer, code: str, share: int = 0) -> None:
    c = bed.client(answer)
    with pytest.raises(VigilError) as got:
        c.get(bed.shares[share])
    assert got.value.code == code, got.value.message


def honest(bed: Bed, share_id: str, *witnesses: int) -> dict[str, Any]:
    ref = bed.ref(share_id)
    note = ref["checkpoint"]
    return answer_of(ref, cosigned(note, *(by(bed, i, note) for i in witnesses)))


def test_honest_proof_passes(bed: Bed) -> None:
    for who in ((0, 1), (0, 1, 2)):
        c = bed.client(lambda sid, who=who: honest(bed, sid, *who))
        share = c.get(bed.shares[0])
        assert share.bundle is not None and b"w0.example" in share.bundle
        proven = c.check_witnessed(share.envelope)
        assert len(proven.witnesses) == len(who) and proven.index == share.log_index


def test_the_node_saying_witnessed_is_not_enough(bed: Bed) -> None:
    refused(bed, lambda sid: {"witnessed": True, "k": 1, "witnesses": list(bed.witnesses)},
            "client.not_witnessed")
    refused(bed, lambda sid: honest(bed, sid, 0, 1) | {"witnessed": False},
            "client.not_witnessed")


def test_missing_cosignatures_refused(bed: Bed) -> None:
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        return answer_of(ref, ref["checkpoint"], k=0)
    refused(bed, answer, "witness.quorum")


def test_too_few_witnesses_refused(bed: Bed) -> None:
    refused(bed, lambda sid: honest(bed, sid, 0), "witness.quorum")


def test_forged_cosignature_refused(bed: Bed) -> None:
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        note = ref["checkpoint"]
        good = by(bed, 1, note)
        forged = NoteSignature(good.name, good.key_id,
                               good.signature[:8] + bytes(64))  # right key id, no signature
        return answer_of(ref, cosigned(note, by(bed, 0, note), forged))
    refused(bed, answer, "witness.quorum")


def test_unknown_witness_keys_refused(bed: Bed) -> None:
    """Cosignatures by keys the client did not pin, under new names or under a pinned
    name, even when the node offers those keys alongside."""
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        note = ref["checkpoint"]
        body = parse_note(note)[0]
        mine = Ed25519PrivateKey.generate()
        stranger = cosign(body, witness_name(f"node--{uuid.uuid4()}"), mine, int(time.time()))
        impostor = cosign(body, list(bed.witnesses)[1], mine, int(time.time()))
        offered = {stranger.name: b64u(mine.public_key().public_bytes_raw())}
        return answer_of(ref, cosigned(note, by(bed, 0, note), stranger, impostor),
                         witness_keys=offered)
    refused(bed, answer, "witness.quorum")


def test_the_nodes_own_cosignature_does_not_count(bed: Bed) -> None:
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        note = ref["checkpoint"]
        own = cosign(parse_note(note)[0], witness_name(bed.node_id), bed.node_key,
                     int(time.time()))
        return answer_of(ref, cosigned(note, by(bed, 0, note), own))
    refused(bed, answer, "witness.quorum")


def test_one_witness_twice_counts_once(bed: Bed) -> None:
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        note = ref["checkpoint"]
        now = int(time.time())
        return answer_of(ref, cosigned(note, by(bed, 0, note, now), by(bed, 0, note, now - 5)))
    refused(bed, answer, "witness.quorum")


def test_checkpoint_not_signed_by_the_node_key_refused(bed: Bed) -> None:
    """Witnesses cosigned a tree head the node key never signed (another key did)."""
    def answer(sid: str) -> dict[str, Any]:
        ref = bed.ref(sid)
        cp = parse_checkpoint(ref["checkpoint"])[0]
        note = sign_checkpoint(cp, bed.key_name, Ed25519PrivateKey.generate())
        return answer_of(ref, cosigned(note, by(bed, 0, note), by(bed, 1, note)))
    refused(bed, answer, "log.unsigned")


def test_proof_for_another_leaf_refused(bed: Bed) -> None:
    """The honest, cosigned proof of the other share, handed out for this one."""
    refused(bed, lambda sid: honest(bed, bed.shares[1], 0, 1), "log.bad_inclusion")


def fake_tree(bed: Bed, sid: str) -> tuple[dict[str, Any], Checkpoint, list[bytes]]:
    """A tree of the same size as the real one where the share's entry does sit at its
    index: its root differs from the node's real one."""
    ref = bed.ref(sid)
    leaves = [leaf_hash(uuid.uuid4().bytes) for _ in range(ref["size"])]
    leaves[ref["index"]] = leaf_hash(bed.entry(sid))
    tree = MemoryTree(leaves)
    cp = Checkpoint(bed.origin, tree.size, tree.root())
    return ref, cp, tree.inclusion_proof(ref["index"])


def test_proof_against_another_root_refused(bed: Bed) -> None:
    """The cosigned checkpoint is the real one; the proof leads to a fake tree's root."""
    def answer(sid: str) -> dict[str, Any]:
        proof = fake_tree(bed, sid)[2]
        good = honest(bed, sid, 0, 1)
        return good | {"proof": [b64u(h) for h in proof]}
    refused(bed, answer, "log.bad_inclusion")


def test_cosignatures_of_another_root_refused(bed: Bed) -> None:
    """The node signs the fake tree's head and copies the witnesses' lines from the real
    one: they do not verify on another root."""
    def answer(sid: str) -> dict[str, Any]:
        ref, cp, proof = fake_tree(bed, sid)
        real = ref["checkpoint"]
        note = sign_checkpoint(cp, bed.key_name, bed.node_key)
        return answer_of(ref, cosigned(note, by(bed, 0, real), by(bed, 1, real)),
                         proof=[b64u(h) for h in proof])
    refused(bed, answer, "witness.quorum")


def test_checkpoint_short_of_the_entry_refused(bed: Bed) -> None:
    """A properly cosigned checkpoint that ends before the share's entry."""
    def answer(sid: str) -> dict[str, Any]:
        first = honest(bed, bed.shares[0], 0, 1)
        ref = bed.ref(sid)
        assert parse_checkpoint(first["checkpoint"])[0].size <= ref["index"]
        return first | {"index": ref["index"], "proof": ref["proof"]}
    refused(bed, answer, "client.not_witnessed", share=1)


def test_malformed_answer_refused(bed: Bed) -> None:
    refused(bed, lambda sid: honest(bed, sid, 0, 1) | {"index": "0"},
            "client.bad_witness_proof")
    refused(bed, lambda sid: honest(bed, sid, 0, 1) | {"proof": None},
            "client.bad_witness_proof")


def test_witnessing_needs_pinned_witnesses(bed: Bed) -> None:
    m = bed.node.members["bravo"]
    with pytest.raises(VigilError) as got:
        TrustingClient(bed.url, m.token, require_witnessed=True)
    assert got.value.code == "client.no_witnesses"


def test_proof_helpers_are_sound(bed: Bed) -> None:
    """The fake tree really includes the entry (so the refusals above are about the
    root, not a broken proof)."""
    from vigil.log.merkle import verify_inclusion

    ref, cp, proof = fake_tree(bed, bed.shares[0])
    verify_inclusion(leaf_hash(bed.entry(bed.shares[0])), ref["index"], cp.size, proof,
                     cp.root)
    with pytest.raises(CryptoError):
        verify_inclusion(leaf_hash(bed.entry(bed.shares[0])), ref["index"], cp.size,
                         [b64u_decode(h) for h in ref["proof"]], cp.root)


def test_the_protocol_check_alone_needs_the_node_key(bed: Bed) -> None:
    """:func:`verify_witnessed_entry` by itself (without the client's log state, which
    checks the node key too) refuses a tree head the node key did not sign."""
    from vigil.protocol.witnessing import verify_witnessed_entry

    sid = bed.shares[0]
    ref = bed.ref(sid)
    cp = parse_checkpoint(ref["checkpoint"])[0]
    log_key = (bed.key_name, bed.node_key.public_key().public_bytes_raw())
    good = honest(bed, sid, 0, 1)
    assert verify_witnessed_entry(good, bed.entry(sid), log_key, bed.pinned(), 2,
                                  origin=bed.origin).index == ref["index"]
    note = sign_checkpoint(cp, bed.key_name, Ed25519PrivateKey.generate())
    forged = answer_of(ref, cosigned(note, by(bed, 0, note), by(bed, 1, note)))
    with pytest.raises(CryptoError) as got:
        verify_witnessed_entry(forged, bed.entry(sid), log_key, bed.pinned(), 2,
                               origin=bed.origin)
    assert got.value.code == "log.unsigned"


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class NoProof(TrustingClient):
    """A node that answers without the origin's proof of the share's place: its word."""

    def witnessed(self, share_id: str) -> dict[str, Any]:
        out = super().witnessed(share_id)
        del out["origin_proof"]
        return out


def code_of(fn: Any) -> str | None:
    try:
        fn()
    except VigilError as e:
        return e.code
    return None


def console_page(node: FedNode, token: str, share: str) -> str:
    with httpx.Client(base_url=node.url, timeout=10) as http:
        csrf = CSRF.search(http.get("/signin").text)
        assert csrf is not None
        r = http.post("/signin", data={"csrf": csrf.group(1), "token": token})
        assert r.status_code == 303, r.text
        page = http.get(f"/shares/{share}")
        assert page.status_code == 200, page.text
        return page.text


def show(node: FedNode, token: str, share: str, data: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli_mod.cli, ["--data", str(data), "show", share, "--node",
                                            node.url, "--token", token, *extra])


async def test_every_surface_says_signed_before_revocation(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": True})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True})
    alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
    made: list[TrustingClient | Client] = []
    stores: list[LocalStore] = []
    with running([a, b]):
        peer_all([a, b])
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))
        run = CliRunner().invoke(cli_mod.cli, ["--data", str(b.node.data), "directory",
                                               "register", "bravo"], catch_exceptions=False)
        assert run.exit_code == 0, run.output
        ex_a = a.exchange()
        with Client(b.url, bravo.token, bravo.keyring) as cb:
            def publish(name: str) -> str:
                return str(cb.publish(stix.canary_bundle(name), tlp="green",
                                      to=["member:alpha@athens"])["id"])
            before = await asyncio.to_thread(publish, "signed before the compromise")
            await asyncio.to_thread(wait_for, lambda: ex_a.store.get_share(before))
            time.sleep(0.01)
            point = clock.now()
            time.sleep(0.01)
            stolen = await asyncio.to_thread(publish, "signed by the thief")
            await asyncio.to_thread(wait_for, lambda: ex_a.store.get_share(stolen))
        run = CliRunner().invoke(cli_mod.cli, ["--data", str(b.node.data), "key", "revoke",
                                               "bravo", "--compromised", "--since", point],
                                 catch_exceptions=False)
        assert run.exit_code == 0, run.output
        kid = bravo.keyring.sign_key_id
        trust = a.server.app.state.trust
        witnesses = trust.witnesses()  # pinned out of band
        # athens learns the revocation and keeps berlin's proof of the share before it
        await asyncio.to_thread(wait_for, lambda: trust.revocations.point(kid) is not None,
                                60.0, 0.2)
        await asyncio.to_thread(
            wait_for, lambda: ex_a.store.read(lambda sql: tq.origin_proof(sql, before)),
            60.0, 0.2)

        def client(cls: type[Client] = TrustingClient, **kw: Any) -> Any:
            made.append(cls(a.url, alpha.token, alpha.keyring,
                            log_state=tmp_path / f"cp{len(made)}.json", **kw))
            return made[-1]
        try:
            # the SDK's proving client, with and without requiring the witnessing
            for kw in ({}, {"require_witnessed": True}):
                c = client(witnesses=witnesses, **kw)
                share = await asyncio.to_thread(
                    wait_for, lambda c=c: None if code_of(lambda: c.get(before))
                    == "client.not_witnessed" else c.get(before), 60.0, 0.2)
                assert share.signer.endswith(f"{kid}), verified, {SIGNED_BEFORE_REVOCATION}")
                assert share.bundle is not None and b"signed before the compromise" in \
                    share.bundle
                # past the point: withheld by the node, as missing
                assert code_of(lambda c=c: c.get(stolen)) == "share.not_found"
            # without the proof of the share's place there is no verdict: refused
            assert await asyncio.to_thread(
                code_of, lambda: client(NoProof, witnesses=witnesses).get(before)
            ) == "keys.order_unproven"
            assert await asyncio.to_thread(
                code_of, lambda: client().get(before)) == "dir.key_unproven"
            assert await asyncio.to_thread(
                code_of, lambda: client(Client).get(before)) == "keys.order_unproven"

            # the CLI
            pinned = tmp_path / "witnesses.json"
            pinned.write_text(json.dumps({n: k.hex() for n, k in witnesses.items()}))
            out = await asyncio.to_thread(show, a, alpha.token, before, tmp_path / "cli",
                                          "--witnesses", str(pinned))
            assert out.exit_code == 0, out.output
            assert f"verified, {SIGNED_BEFORE_REVOCATION}" in out.output
            listed = await asyncio.to_thread(
                lambda: CliRunner().invoke(cli_mod.cli, [
                    "--data", str(tmp_path / "cli"), "inbox", "--node", a.url, "--token",
                    alpha.token, "--witnesses", str(pinned)]))
            assert listed.exit_code == 0, listed.output
            (line,) = [x for x in listed.output.splitlines() if before in x]
            assert line.endswith(f"  {SIGNED_BEFORE_REVOCATION}")
            assert stolen not in listed.output
            bare = await asyncio.to_thread(show, a, alpha.token, before, tmp_path / "cli2")
            assert isinstance(bare.exception, VigilError)
            assert bare.exception.code == "keys.order_unproven"

            # the console's share page
            html = await asyncio.to_thread(console_page, a, alpha.token, before)
            assert f"verified, {SIGNED_BEFORE_REVOCATION}" in html

            # the gateway
            c = client(witnesses=witnesses)
            env, state = await asyncio.to_thread(c.envelope, before)
            stores.append(LocalStore(tmp_path / "gw.db"))
            await asyncio.to_thread(ingest, c, stores[-1], alpha.keyring,
                                    InboxItem(1, before, "", env, state))
            (signer,) = stores[-1]._db.execute("SELECT signer FROM shares").fetchone()
            assert signer == share.signer
        finally:
            for cl in made:
                cl.close()
            for st in stores:
                st.close()
