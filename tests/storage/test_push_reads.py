"""The push path's event-loop read (PostgreSQL) gives what the threaded read gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.web.helpers import bundle_text, indicator

from vigil.lru import Lru
from vigil.model import Actor, Tlp
from vigil.testing import make_node

pytestmark = pytest.mark.service


def test_async_push_reads_match_the_threaded_reads(tmp_path: Path, pg_url: str) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True},
                     store=pg_url)
    ex = node.exchange()
    m = node.members
    try:
        for tlp, to in ((Tlp.AMBER, ["member:bravo"]), (Tlp.GREEN, []), (Tlp.AMBER,
                                                                         ["member:charlie"])):
            req = ex.make_request(m["alpha"].id, tlp=tlp, to=to)
            ex.publish_bundle(Actor(m["alpha"].id, "u"), bundle_text(indicator()).encode(),
                              req)
        requests = [(m["bravo"].id, 0), (m["charlie"].id, 0), (m["bravo"].id, 1),
                    (m["alpha"].id, 0)]
        want = ex.inbox_pages(requests, 100, notices=True)
        ex.envelopes = Lru(16)  # a worker that has seen none of these shares
        ex.log.refs = Lru(16)

        async def run() -> object:
            try:
                return await ex.inbox_pages_async(requests, 100, notices=True)
            finally:
                await ex.store.aclose()  # type: ignore[attr-defined]

        got = asyncio.run(run())
        assert got == want
        assert sum(len(rows) for rows, _, _ in want) == 5
        for rows, _, _ in want:
            for entry, env, _ in rows:
                ref = ex.log.refs.get(entry.share_id)
                assert ref is not None and ref == ex.log.share_refs([env.id])[env.id]
    finally:
        ex.store.close()
