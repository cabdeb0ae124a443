"""A trust service's peers: the witnesses this node and its members trust (this node and
every pinned peer, each under its node key), the logs it witnesses for its peers (their
main and directory logs, never its own), and k counted from them."""

from __future__ import annotations

from pathlib import Path

from tests.federation.pairs import make, peer

from vigil.directory.entries import directory_origin
from vigil.federation.trust import TrustService
from vigil.protocol.witnessing import quorum, witness_name


def test_witnesses_logs_and_k_come_from_the_pinned_peers(tmp_path: Path) -> None:
    a, b, c = (make(tmp_path, n, {m: True}) for n, m in
               (("athens", "alpha"), ("berlin", "bravo"), ("cairo", "charlie")))
    ta = TrustService(a.ex)
    try:
        assert ta.peer_list() == [] and ta.k() == 0
        assert ta.witnesses() == {witness_name(a.ex.node_id): a.ex.node_key_raw}
        peer(a, b)
        peer(a, c)
        assert ta.peer_list() == []  # read again at the next refresh (each round)
        got = ta.refresh_peers()
        assert {p.node for p in got} == {p.node for p in ta.peer_list()} == \
            {b.ex.node_id, c.ex.node_id}
        assert ta.k() == quorum(3) == 1
        assert ta.witnesses() == {witness_name(x.ex.node_id): x.ex.node_key_raw
                                  for x in (a, b, c)}
        assert {w.name for w in ta.witness_peers()} == {witness_name(b.ex.node_id),
                                                        witness_name(c.ex.node_id)}
        for origin in (b.ex.log.origin, directory_origin(b.ex.node_id)):
            assert ta.known_log(origin) == (origin, b.ex.node_key_raw)
        for origin in (a.ex.log.origin, directory_origin(a.ex.node_id), "example.org/x"):
            assert ta.known_log(origin) is None
    finally:
        for n in (a, b, c):
            n.close()
