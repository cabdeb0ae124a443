"""PostgreSQL nodes federate like SQLite ones (a node federates only on a store durable
before it acknowledges: tests/federation/test_peers.py)."""

from __future__ import annotations

from pathlib import Path

from tests.federation.pairs import deliver, inbox_ids, make, peer, publish


def test_a_share_crosses_from_sqlite_to_postgresql(tmp_path: Path, pg_url: str) -> None:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True}, store=pg_url)
    try:
        peer(a, b)
        deliver(b, a)
        deliver(a, b)
        sid = publish(a, "alpha", ["member:bravo@berlin"])
        got = deliver(a, b)
        assert got.quarantined == [] and sid in inbox_ids(b, "bravo")
        again = deliver(a, b)  # nothing new: nothing twice
        assert again.quarantined == [] and inbox_ids(b, "bravo").count(sid) == 1
    finally:
        a.close()
        b.close()
