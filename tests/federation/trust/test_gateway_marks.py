"""The gateway and a revoked key: a share its home logged before the revocation point,
proven by the home's cosigned log (not by the serving node's word), is served, marked
"signed before revocation"; without that proof it is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.federation.nodes import share_across, wait_for

from vigil.cli import main as cli_mod
from vigil.client import InboxItem
from vigil.client.keys import SIGNED_BEFORE_REVOCATION
from vigil.directory.lookup import verify_lookup
from vigil.gateway import LocalStore, ingest
from vigil.protocol.witnessing import witness_name
from vigil.storage import trust as tq
from vigil.trust_client import TrustingClient


class EarlierIndex(TrustingClient):
    """A node that moves the share's proven index (its word, against the proof)."""

    def witnessed(self, share_id: str) -> dict[str, Any]:
        out = super().witnessed(share_id)
        out["origin_index"] = 0
        out["origin_proof"]["index"] = max(0, out["origin_proof"]["index"] - 1)
        return out


class OwnLog(TrustingClient):
    """A node that proves the share's place in its own log (where the share is an entry
    too, at an index of another numbering) instead of the home's."""

    def witnessed(self, share_id: str) -> dict[str, Any]:
        out = super().witnessed(share_id)
        out["origin_proof"] = {k: out[k] for k in ("origin", "index", "witnessed",
                                                    "checkpoint", "size", "proof")}
        return out


class NoProof(TrustingClient):
    """A node that answers as before the origin's proof: its word only."""

    def witnessed(self, share_id: str) -> dict[str, Any]:
        out = super().witnessed(share_id)
        del out["origin_proof"]
        return out


async def test_gateway_marks_a_share_signed_before_its_keys_revocation(
        tmp_path: Path) -> None:
    async with share_across(tmp_path, "before") as (a, b, sid):
        alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
        ex_a = a.exchange()
        args = ["--data", str(b.node.data), "directory"]
        for cmd in (["register", "bravo"], ["revoke", "bravo", "--lost"]):
            run = CliRunner().invoke(cli_mod.cli, [*args, *cmd], catch_exceptions=False)
            assert run.exit_code == 0, run.output
        kid = bravo.keyring.sign_key_id
        witnesses = a.server.app.state.trust.witnesses()  # pinned out of band
        made: list[TrustingClient] = []

        def member(cls: type[TrustingClient] = TrustingClient) -> TrustingClient:
            made.append(cls(a.url, alpha.token, alpha.keyring, witnesses=witnesses,
                            log_state=tmp_path / f"cp{len(made)}.json"))
            return made[-1]
        client = member()

        def proven_revoked() -> bool:  # athens carries berlin's witnessed revocation
            got = client._call("GET", f"/api/v1/directory/lookup/{bravo.id}")
            home = str(got["home"])
            keys = verify_lookup(got["answer"], home, witnesses[witness_name(home)],
                                 witnesses, client.k, bravo.id)
            return kid in keys.revoked
        stores: list[LocalStore] = []

        def gateway(c: TrustingClient) -> LocalStore:
            stores.append(LocalStore(tmp_path / f"gw{len(stores)}.db"))
            ingest(c, stores[-1], alpha.keyring, InboxItem(1, sid, "", env, state))
            return stores[-1]
        try:
            await asyncio.to_thread(wait_for, proven_revoked, 60.0, 0.2)
            # athens learnt the revocation and kept berlin's proof before anyone asked
            await asyncio.to_thread(
                wait_for, lambda: ex_a.store.read(lambda sql: tq.origin_proof(sql, sid)),
                60.0, 0.2)
            env, state = await asyncio.to_thread(client.envelope, sid)
            store = await asyncio.to_thread(gateway, client)
            assert store.counts()["shares"] == 1 and store.counts()["refused"] == 0
            (signer,) = store._db.execute("SELECT signer FROM shares").fetchone()
            assert SIGNED_BEFORE_REVOCATION in signer
            # the lies of a serving node: each refused, the share not served
            for cls, code in ((EarlierIndex, "log.bad_inclusion"), (OwnLog, "keys.other_log"),
                              (NoProof, "keys.order_unproven")):
                refused = await asyncio.to_thread(gateway, member(cls))
                assert refused.counts()["shares"] == 0, cls
                assert refused._db.execute("SELECT code FROM refused").fetchall() == [
                    (code,)], cls
            # the proof athens kept holds without berlin
            kept = ex_a.store.read(lambda sql: tq.origin_proof(sql, sid))
            assert kept is not None and kept[0] == b.exchange().log.origin
            b.server.stop()
            answer = await asyncio.to_thread(client.witnessed, sid)
            assert answer["origin_proof"]["witnessed"] is True
            assert answer["origin_proof"]["origin"] == kept[0]
            again = await asyncio.to_thread(gateway, client)  # keys proven a moment ago
            assert again.counts()["shares"] == 1 and again.counts()["refused"] == 0
        finally:
            for c in made:
                c.close()
            for st in stores:
                st.close()
