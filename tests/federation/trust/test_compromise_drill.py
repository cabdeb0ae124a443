"""The compromise drill across nodes: `vigil key revoke --compromised` at a member's home
puts the revocation point in the home's witnessed key directory, so every peer and every
member's proving client learns it. A share signed by the revoked key at or past the
point is refused on every node -- at intake with ``fed.revoked_key`` when it arrives
after the revocation, and by the REST, TAXII, SSE and console surfaces when it was
delivered before -- and by the client's proof check; a share before the point stays
readable, shown "signed before revocation"."""

from __future__ import annotations

import asyncio
import re
import time
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from click.testing import CliRunner
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil import clock
from vigil.cli import main as cli_mod
from vigil.client import Client, InboxItem
from vigil.client.keys import SIGNED_BEFORE_REVOCATION
from vigil.directory.log import DirectoryLog
from vigil.errors import CryptoError, VigilError
from vigil.gateway import LocalStore, ingest
from vigil.model import Envelope
from vigil.storage import keys as keys_sql
from vigil.testing import stix
from vigil.trust_client import TrustingClient

TAXII = {"Accept": "application/taxii+json;version=2.1"}


def trust(node: FedNode) -> Any:
    return node.server.app.state.trust


def taxii_names(node: FedNode, member: str) -> set[str]:
    h = node.auth(member) | TAXII
    cols = httpx.get(node.url + "/taxii2/api/collections/", headers=h, timeout=10)
    out: set[str] = set()
    for c in cols.json()["collections"]:
        r = httpx.get(node.url + f"/taxii2/api/collections/{c['id']}/objects/", headers=h,
                      timeout=10)
        if r.status_code == 200:
            out |= {str(o.get("name")) for o in r.json().get("objects", [])}
    return out


def sse_shares(node: FedNode, member: str) -> list[str]:
    """The share ids a member's event stream sends from the start, up to its first
    keep-alive (everything the stream had to send by then)."""
    seen: list[str] = []
    with httpx.stream("GET", node.url + "/api/v1/stream", headers=node.auth(member),
                      timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                seen.append(str(orjson.loads(line[5:])["share_id"]))
            elif line.startswith(": keep-alive"):
                return seen
    return seen


def surfaces(node: FedNode, member: str, share: str) -> dict[str, bool]:
    """Whether each read surface of ``node`` (REST, inbox, SSE stream, console page)
    serves ``share`` to ``member``."""
    r = httpx.get(node.url + f"/api/v1/shares/{share}", headers=node.auth(member),
                  timeout=10)
    assert r.status_code in (200, 404), r.text
    inbox = httpx.get(node.url + "/api/v1/inbox", headers=node.auth(member),
                      timeout=10).json()["entries"]
    return {"rest": r.status_code == 200,
            "inbox": share in [x["share_id"] for x in inbox],
            "sse": share in sse_shares(node, member),
            "console": console_status(node, member, share) == 200}


def console_status(node: FedNode, member: str, share: str) -> int:
    """The status of the share's console page for the member, signed in with its token."""
    with httpx.Client(base_url=node.url, timeout=10) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/signin").text)
        assert csrf is not None
        r = http.post("/signin", data={"csrf": csrf.group(1),
                                       "token": node.node.members[member].token})
        assert r.status_code == 303, r.text
        page = http.get(f"/shares/{share}")
        assert page.status_code in (200, 404), page.text
        return page.status_code


class StaleNode(TrustingClient):
    """A node that ignores the revocation: it serves the proofs it gave before it."""

    kept: ClassVar[dict[str, dict[str, Any]]] = {}

    def witnessed(self, share_id: str) -> dict[str, Any]:
        return self.kept.get(share_id) or super().witnessed(share_id)


def published(node: FedNode, share: str) -> bool:
    return node.exchange().store.get_share(share) is not None


def key_event(node: FedNode, member: str, event: str) -> bool:
    """Whether ``node``'s log holds ``member``'s key event ``event``."""
    rows = node.exchange().store.read(keys_sql.member_entries)
    return any((e := orjson.loads(bytes(data))).get("member") == member
               and e.get("event") == event for _, data in rows)


def quarantined(node: FedNode, peer: str, code: str) -> bool:
    link = {p["peer"]: p for p in node.status()["peers"]}.get(peer)
    return link is not None and any(q.get("code") == code for q in link["quarantined"])


async def test_compromise_drill_across_nodes(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": True})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True, "bob": True})
    c = make_fed_node(tmp_path, "cairo", {"charlie": True})
    nodes = [a, b, c]
    for n in nodes:  # a stream sends a keep-alive as soon as it has sent everything
        n.server.settings = n.server.settings.with_overrides(keepalive=1)
    alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
    to = ["member:alpha@athens", "member:charlie@cairo", "member:bob"]
    made: list[TrustingClient] = []
    with running(nodes):
        peer_all(nodes)
        for n, who in ((a, "bravo@berlin"), (c, "bravo@berlin"), (b, "alpha@athens"),
                       (b, "charlie@cairo")):
            await asyncio.to_thread(wait_for, knows(n, who), 60.0)
        run = CliRunner().invoke(cli_mod.cli, ["--data", str(b.node.data), "directory",
                                               "register", "bravo"], catch_exceptions=False)
        assert run.exit_code == 0, run.output
        cb = Client(b.url, bravo.token, bravo.keyring)

        def publish(name: str) -> str:
            return str(cb.publish(stix.canary_bundle(name), tlp="green", to=to)["id"])
        before = await asyncio.to_thread(publish, "signed before the compromise")
        for n in (a, c):
            await asyncio.to_thread(wait_for, partial(published, n, before), 60.0)
        # cairo is down while the thief signs; it gets the share only after the revocation
        c.server.stop()
        time.sleep(0.01)
        point = clock.now()
        time.sleep(0.01)
        stolen = await asyncio.to_thread(publish, "signed by the thief")
        await asyncio.to_thread(wait_for, lambda: published(a, stolen), 60.0)
        witnesses = trust(a).witnesses()  # pinned out of band

        def member(cls: type[TrustingClient] = TrustingClient) -> TrustingClient:
            made.append(cls(a.url, alpha.token, alpha.keyring, witnesses=witnesses,
                            log_state=tmp_path / f"cp{len(made)}.json"))
            return made[-1]
        client = member()
        stores: list[LocalStore] = []

        def gateway(c: TrustingClient, sid: str, env: Envelope, state: dict[str, Any]
                    ) -> LocalStore:
            stores.append(LocalStore(tmp_path / f"gw{len(stores)}.db"))
            ingest(c, stores[-1], alpha.keyring, InboxItem(1, sid, "", env, state))
            return stores[-1]
        try:
            # what athens served of the stolen share before the revocation, proofs too
            stolen_env, stolen_state = await asyncio.to_thread(client.envelope, stolen)
            proofs = await asyncio.to_thread(wait_for, lambda: (lambda w: w if w[
                "origin_proof"]["witnessed"] else None)(client.witnessed(stolen)), 60.0,
                0.2)
            assert all(surfaces(a, "alpha", stolen).values())

            run = CliRunner().invoke(cli_mod.cli, ["--data", str(b.node.data), "key",
                                                   "revoke", "bravo", "--compromised",
                                                   "--since", point],
                                     catch_exceptions=False)
            assert run.exit_code == 0, run.output
            kid = bravo.keyring.sign_key_id
            # the directory holds the revocation, from the stolen share's index on
            ex_b = b.exchange()
            stolen_index = ex_b.log.share_refs([stolen])[stolen].index
            before_index = ex_b.log.share_refs([before])[before].index
            d = DirectoryLog(ex_b.store, ex_b.node_id, ex_b.node_key)
            assert d.keys(bravo.id).revoked == {kid: stolen_index}
            assert trust(b).revocations.point(kid) == stolen_index > before_index

            # athens learns it from berlin; the stolen share, delivered before, is marked
            await asyncio.to_thread(
                wait_for, lambda: trust(a).revocations.point(kid) == stolen_index, 60.0)
            assert trust(a).revocations.marked(stolen)
            # berlin's `revoke` key event is taken too, not quarantined as a key the
            # directory does not hold
            await asyncio.to_thread(wait_for, partial(key_event, a, bravo.id, "revoke"),
                                    60.0, 0.2)
            assert not quarantined(a, "berlin", "fed.directory_mismatch")
            assert not trust(a).revocations.marked(before)
            # every read surface of every node refuses it; the share before stays
            for node, reader in ((a, "alpha"), (b, "bob")):
                assert not any(surfaces(node, reader, stolen).values()), node.name
                assert all(surfaces(node, reader, before).values()), node.name
                names = " ".join(await asyncio.to_thread(taxii_names, node, reader))
                assert "signed before the compromise" in names, node.name
                assert "signed by the thief" not in names, node.name

            # the member's proving client: before the point, "signed before revocation"
            await asyncio.to_thread(
                wait_for, lambda: (lambda w: w["origin_proof"]["witnessed"])(
                    client.witnessed(before)), 60.0, 0.2)
            env_before, state_before = await asyncio.to_thread(client.envelope, before)
            keys = await asyncio.to_thread(member().proven_signer, env_before)
            assert keys is not None and keys.revoked == {kid: stolen_index}
            gw = await asyncio.to_thread(gateway, member(), before, env_before, state_before)
            assert gw.counts()["shares"] == 1 and gw.counts()["refused"] == 0
            (signer,) = gw._db.execute("SELECT signer FROM shares").fetchone()
            assert SIGNED_BEFORE_REVOCATION in signer
            # ... past it, refused by the client itself even from a node that serves it
            StaleNode.kept = {stolen: proofs}
            with pytest.raises(CryptoError) as info:
                await asyncio.to_thread(member(StaleNode).proven_signer, stolen_env)
            assert info.value.code == "keys.revoked"
            gw = await asyncio.to_thread(gateway, member(StaleNode), stolen, stolen_env,
                                         stolen_state)
            assert gw.counts()["shares"] == 0
            assert gw._db.execute("SELECT code FROM refused").fetchall() == [
                ("keys.revoked",)]
            with pytest.raises(VigilError) as missing:
                await asyncio.to_thread(member().get, stolen)
            assert missing.value.code == "share.not_found"

            # cairo comes back: the revocation overtakes the queued share, which is
            # refused at intake
            c.server.start()
            await asyncio.to_thread(
                wait_for, lambda: quarantined(c, "berlin", "fed.revoked_key"), 90.0, 0.2)
            assert trust(c).revocations.point(kid) == stolen_index
            assert not published(c, stolen)
            assert published(c, before)
            assert not any(surfaces(c, "charlie", stolen).values())
            assert all(surfaces(c, "charlie", before).values())
            # and the home itself takes nothing more signed with the key
            with pytest.raises(VigilError) as later:
                await asyncio.to_thread(publish, "after the revocation")
            assert later.value.code == "keys.revoked"
        finally:
            cb.close()
            for cl in made:
                cl.close()
            for st in stores:
                st.close()
