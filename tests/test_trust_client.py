"""What every surface a member reads a share on says of another node's member's share
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
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil import clock
from vigil.cli import main as cli_mod
from vigil.client import Client, InboxItem
from vigil.errors import VigilError
from vigil.gateway import LocalStore, ingest
from vigil.protocol.witnessing import SIGNED_BEFORE_REVOCATION
from vigil.storage import trust as tq
from vigil.testing import stix
from vigil.trust_client import TrustingClient

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
