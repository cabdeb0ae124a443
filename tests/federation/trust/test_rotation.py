"""A member that rotates its keys with ``vigil key rotate`` keeps being verified and
reached across nodes: the rotation enters its home node's key directory in the same
transaction (a ``rotate`` entry signed by the old key), the announcement of the new
keys waits for that entry to be witnessed, and peers take the new keys with the
directory's proof. End to end over HTTP, between two nodes on loopback ports; the
member holds its own keys and registers itself in the directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from tests.federation.nodes import knows, make_fed_node, peer_all, running, wait_for

from vigil.client import Client
from vigil.client import keys as client_side
from vigil.directory.entries import next_entry
from vigil.testing.node import PASSPHRASE
from vigil.testing.stix import canary_bundle as bundle_with
from vigil.trust_client import TrustingClient


def quarantined(node: Any) -> list[dict[str, Any]]:
    return [q for p in node.status()["peers"] for q in p["quarantined"]]


async def test_a_rotated_member_keeps_receiving_and_being_verified(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": False})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True})
    with running([a, b]):
        peer_all([a, b])
        alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
        trust_a = a.server.app.state.trust
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        # alpha holds its keys: it registers them in athens' directory itself, and
        # athens announces it again (berlin refused the announcement without an entry)
        with TrustingClient(a.url, alpha.token) as ca:
            reg = next_entry(None, "register", alpha.id, trust_a.ex.node_id,
                             sign_key=alpha.keyring.sign_private,
                             enc_key=alpha.keyring.enc_public)
            await asyncio.to_thread(ca.submit_entry, reg, alpha.keyring.sign_private)
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))

        def witnessed() -> bool:
            r = httpx.get(a.url + "/fed/v1/directory/lookup", params={"member": alpha.id},
                          timeout=5)
            return r.status_code == 200
        await asyncio.to_thread(wait_for, witnessed)
        before = len(quarantined(b))

        # vigil key rotate
        old = Client(a.url, alpha.token, alpha.keyring)
        new = await asyncio.to_thread(client_side.rotate, old, alpha.keyring_path, PASSPHRASE)
        old.close()
        assert new.sign_key_id != alpha.keyring.sign_key_id
        def berlin_has_the_new_keys() -> bool:
            m = b.exchange().directory().members.get(alpha.id)
            return m is not None and (m.sign_key_id, m.enc_key_id) == (new.sign_key_id,
                                                                       new.enc_key_id)
        await asyncio.to_thread(wait_for, berlin_has_the_new_keys)
        kinds = [e.kind for _, e in trust_a.directory.member_entries(alpha.id)]
        assert kinds == ["register", "rotate"]
        assert len(quarantined(b)) == before  # nothing of alpha's refused since

        # alpha, signing with its new key, reaches bravo: berlin verifies the signature
        with Client(a.url, alpha.token, new) as ca2:
            sent = await asyncio.to_thread(ca2.publish, bundle_with("after rotation"),
                                           tlp="amber", to=["member:bravo@berlin"])
        with Client(b.url, bravo.token, bravo.keyring) as cb:
            def arrived() -> Any:
                return b.exchange().store.get_share(sent["id"])
            await asyncio.to_thread(wait_for, arrived)
            assert (await asyncio.to_thread(cb.get, sent["id"])).bundle is not None
            # and bravo reaches alpha: berlin seals to alpha's new key
            back = await asyncio.to_thread(cb.publish, bundle_with("to the new key"),
                                           tlp="amber", to=["member:alpha@athens"])
        await asyncio.to_thread(
            wait_for, lambda: a.exchange().store.get_share(back["id"]) is not None)
        with Client(a.url, alpha.token, new) as ca3:
            assert (await asyncio.to_thread(ca3.get, back["id"])).bundle is not None
        assert len(quarantined(b)) == before


def test_a_rotation_and_its_directory_entry_commit_together(tmp_path: Path) -> None:
    """The node takes new keys only with their directory entry, in one transaction: an
    entry the directory refuses (not signed by the old key, or naming other keys than
    the statement) leaves the member's keys and the directory as they were."""
    from tests.federation.pairs import make

    from vigil.crypto.keyring import Keyring
    from vigil.errors import VigilError
    from vigil.federation.trust import TrustService
    from vigil.protocol import key_statements as statements
    from vigil.protocol.directory_entries import member_signature, rotation_after

    a = make(tmp_path, "athens", {"alpha": True})
    ta = TrustService(a.ex)
    try:
        ta.register_held()
        alpha = a.node.members["alpha"]
        old = alpha.keyring
        last = ta.directory.member_entries(alpha.id)[-1][1].to_json()

        def attempt(new: Keyring, entry_keys: Keyring, signer: Any) -> Any:
            doc = statements.signed(statements.rotation(alpha.id, old, new),
                                    old=old.sign_private, new=new.sign_private)
            entry = rotation_after(last, entry_keys.sign_public, entry_keys.enc_public)
            return ta.rotate(alpha.id, doc, {"entry": entry,
                                             "sig": member_signature(entry, signer)})

        def unchanged() -> bool:
            m = a.ex.directory().members[alpha.id]
            return m.sign_key_id == old.sign_key_id and [
                e.kind for _, e in ta.directory.member_entries(alpha.id)] == ["register"]

        new = Keyring.generate(alpha.id, hybrid=False)
        for entry_keys, signer, code in (
                (new, new.sign_private, "dir.bad_entry"),  # signed by the new key only
                (Keyring.generate(alpha.id, hybrid=False), old.sign_private,
                 "dir.bad_entry")):  # other keys than the statement's
            try:
                attempt(new, entry_keys, signer)
                raise AssertionError("the rotation was taken")
            except VigilError as e:
                assert e.code == code
            assert unchanged()
            assert ta.directory.size() == 1  # in memory too
        m = attempt(new, new, old.sign_private)
        assert m.sign_key_id == new.sign_key_id
        assert [e.kind for _, e in ta.directory.member_entries(alpha.id)] == ["register",
                                                                          "rotate"]
        assert ta.directory.keys(alpha.id).sign_key_id == new.sign_key_id
    finally:
        a.close()
