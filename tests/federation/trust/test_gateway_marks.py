"""The gateway and a revoked key: a share its origin logged before the revocation point
is served, marked "signed before revocation"; one at or after the point is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.federation.crossing import refused_codes, share_across
from tests.federation.nodes import wait_for

from vigil.cli import main as cli_mod
from vigil.client import InboxItem
from vigil.client.keys import SIGNED_BEFORE_REVOCATION
from vigil.directory.lookup import verify_lookup
from vigil.gateway import LocalStore, ingest
from vigil.protocol.witnessing import witness_name
from vigil.trust_client import TrustingClient


class LaterIndex(TrustingClient):
    """A node that says the share was logged at the revocation point (its word only)."""

    def witnessed(self, share_id: str) -> dict[str, Any]:
        out = super().witnessed(share_id)
        out["origin_index"] = 10**9
        return out


async def test_gateway_marks_a_share_signed_before_its_keys_revocation(
        tmp_path: Path) -> None:
    async with share_across(tmp_path, "before") as (a, b, sid):
        alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
        args = ["--data", str(b.node.data), "directory"]
        for cmd in (["register", "bravo"], ["revoke", "bravo", "--lost"]):
            run = CliRunner().invoke(cli_mod.cli, [*args, *cmd], catch_exceptions=False)
            assert run.exit_code == 0, run.output
        kid = bravo.keyring.sign_key_id
        witnesses = a.server.app.state.trust.witnesses()  # pinned out of band
        client = TrustingClient(a.url, alpha.token, alpha.keyring, witnesses=witnesses,
                                log_state=tmp_path / "cp.json")
        lying = LaterIndex(a.url, alpha.token, alpha.keyring, witnesses=witnesses,
                           log_state=tmp_path / "cp2.json")

        def proven_revoked() -> bool:  # athens carries berlin's witnessed revocation
            got = client._call("GET", f"/api/v1/directory/lookup/{bravo.id}")
            home = str(got["home"])
            keys = verify_lookup(got["answer"], home, witnesses[witness_name(home)],
                                 witnesses, client.k, bravo.id)
            return kid in keys.revoked
        store, refused = LocalStore(tmp_path / "gw.db"), LocalStore(tmp_path / "gw2.db")
        try:
            await asyncio.to_thread(wait_for, proven_revoked, 60.0, 0.2)
            env, state = await asyncio.to_thread(client.envelope, sid)
            await asyncio.to_thread(ingest, client, store, alpha.keyring,
                                    InboxItem(1, sid, "", env, state))
            assert store.counts()["shares"] == 1 and store.counts()["refused"] == 0
            (signer,) = store._db.execute("SELECT signer FROM shares").fetchone()
            assert SIGNED_BEFORE_REVOCATION in signer
            # the same share said to be logged at or past the point: refused
            assert await refused_codes(lying, refused, alpha.keyring,
                                       InboxItem(1, sid, "", env, state)) == ["keys.revoked"]
        finally:
            client.close()
            lying.close()
            store.close()
            refused.close()
