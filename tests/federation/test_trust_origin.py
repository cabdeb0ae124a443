"""A received share's place in its origin's log: the origin proves it to its peers
(``GET /fed/v1/log/proof``, node-signed), the receiving node takes the proof only if it holds (the
origin's key, k cosignatures of roster witnesses, the entry it logged itself at the
index it took on receipt) and keeps it; a member's client checks it again itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from tests.federation.nodes import share_across, wait_for

from vigil.client import Client
from vigil.federation import codec
from vigil.log.entries import entry_bytes, share_entry
from vigil.protocol.witnessing import verify_signed_before
from vigil.storage import trust as tq


async def test_a_received_shares_origin_proof_is_checked_kept_and_proves_its_place(
        tmp_path: Path) -> None:
    async with share_across(tmp_path, "origin") as (a, b, sid):
        alpha = a.node.members["alpha"]
        ex_a, ex_b = a.exchange(), b.exchange()
        ta, tb = a.server.app.state.trust, b.server.app.state.trust
        use = ta.revocations.use(sid)
        assert use is not None and use[0] == ex_b.node_id
        index = use[1]  # the index athens took with berlin's signed log proof
        assert index == ex_b.log.share_refs([sid])[sid].index

        # berlin's route, for its peers: entry `index` under a k-cosigned checkpoint
        def ask(at: int, signed: bool = True) -> httpx.Response:
            url = httpx.URL(b.url + "/fed/v1/log/proof", params={"index": at})
            head = codec.sign_request(ex_a.node_key, "GET", url.raw_path.decode(),
                                      ex_a.node_id, ex_b.node_id, b"")
            return httpx.get(url, headers={codec.HEADER: head} if signed else {},
                             timeout=10)

        def proven() -> dict[str, Any] | None:
            r = ask(index)
            r.raise_for_status()
            got: dict[str, Any] = r.json()
            return got if got["witnessed"] else None
        honest = await asyncio.to_thread(wait_for, proven, 60.0, 0.2)
        assert honest["origin"] == ex_b.log.origin and honest["index"] == index
        r = ask(10**6)
        assert r.status_code == 200 and r.json()["witnessed"] is False
        assert ask(-1).status_code == 400
        r = ask(index, signed=False)  # not a peer's request: no log size for anyone
        assert r.status_code in (401, 403) and "checkpoint" not in r.text

        def part(again: bool = True) -> dict[str, Any]:
            if again:  # not the retry delay after a failed fetch: ask the origin now
                ta._proof_retry.clear()
            out: dict[str, Any] = ta.origin_part(sid, use[0], index)
            return out

        def kept() -> Any:
            return ex_a.store.read(lambda sql: tq.origin_proof(sql, sid))
        # a hostile origin: each lie is refused by athens and nothing is kept
        other = tb.log_proof(index - 1)  # a real proof, of the entry before
        stripped = dict(honest, checkpoint=ex_b.log.checkpoint(honest["size"])[1])
        for lie in ({**other, "index": index}, other, stripped):
            tb.log_proof = lambda i, lie=lie: lie
            got = await asyncio.to_thread(part)
            assert got["witnessed"] is False and got["checkpoint"] is None, lie
            assert kept() is None
        del tb.log_proof
        # a failed fetch is not repeated at once, at every member's request
        assert (await asyncio.to_thread(part, False))["witnessed"] is False
        got = await asyncio.to_thread(part)
        assert got["witnessed"] is True and kept() is not None
        assert got["origin"] == ex_b.log.origin and got["index"] == index
        # the answer a member gets carries it, and its client proves the share's place
        # in berlin's log (the node's own log's index differs and plays no part)
        with Client(a.url, alpha.token, alpha.keyring) as ca:
            answer = ca._call("GET", f"/api/v1/federation/witnessed/{sid}")
            env, _ = ca.envelope(sid)
        assert answer["origin_proof"] == got
        witnesses = ta.witnesses()
        home_key = witnesses[f"vigil.example/witness/{ex_b.node_id}"]
        proof = verify_signed_before(answer, entry_bytes(share_entry(env)), ex_b.node_id,
                                     home_key, witnesses, 1, index + 1)
        assert proof.index == index
