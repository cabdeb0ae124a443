"""A share that crossed two running nodes, for the gateway tests across nodes: athens
(alpha) and berlin (bravo) running and peered, bravo's share to alpha@athens stored at
athens; and a gateway store that refuses an inbox item."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil.client import Client, InboxItem
from vigil.crypto.keyring import Keyring
from vigil.gateway import LocalStore, ingest
from vigil.testing import stix


@contextlib.asynccontextmanager
async def share_across(tmp_path: Path, canary: str
                       ) -> AsyncIterator[tuple[FedNode, FedNode, str]]:
    """(athens, berlin, the share's id), the nodes running while the block runs."""
    a = make_fed_node(tmp_path, "athens", {"alpha": True})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True})
    bravo = b.node.members["bravo"]
    with running([a, b]):
        peer_all([a, b])
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))  # berlin addresses alpha
        with Client(b.url, bravo.token, bravo.keyring) as cb:
            sid = cb.publish(stix.canary_bundle(canary), tlp="green",
                             to=["member:alpha@athens"])["id"]
        ex_a = a.exchange()
        await asyncio.to_thread(wait_for, lambda: ex_a.store.get_share(sid) is not None)
        yield a, b, sid


async def refused_codes(client: Client, store: LocalStore, keyring: Keyring,
                        item: InboxItem) -> list[str]:
    """Ingest ``item`` into a gateway store that holds no share and must take none of
    it: the codes it refused it with."""
    await asyncio.to_thread(ingest, client, store, keyring, item)
    assert store.counts()["shares"] == 0
    return [str(c) for (c,) in store._db.execute("SELECT code FROM refused").fetchall()]
