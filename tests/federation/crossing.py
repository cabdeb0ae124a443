"""For the gateway tests across nodes: a gateway store that refuses an inbox item (the
share that crossed two running nodes is ``tests.federation.nodes.share_across``)."""

from __future__ import annotations

import asyncio

from vigil.client import Client, InboxItem
from vigil.crypto.keyring import Keyring
from vigil.gateway import LocalStore, ingest


async def refused_codes(client: Client, store: LocalStore, keyring: Keyring,
                        item: InboxItem) -> list[str]:
    """Ingest ``item`` into a gateway store that holds no share and must take none of
    it: the codes it refused it with."""
    await asyncio.to_thread(ingest, client, store, keyring, item)
    assert store.counts()["shares"] == 0
    return [str(c) for (c,) in store._db.execute("SELECT code FROM refused").fetchall()]
