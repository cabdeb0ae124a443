"""The collector of cosignatures (``vigil.witness.collector``): it submits each log's
checkpoint to the witnesses, follows a witness's 409 to the size it holds, counts a quorum
and hands out the note with enough cosignatures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.federation.trust.conftest import Node


def test_collector_follows_409_and_counts_quorum(trio: Callable[..., list[Node]]) -> None:
    from vigil.protocol.witnessing import quorum, verify_witnessed

    nodes = trio(5)
    origin_node, peers = nodes[0], nodes[1:]
    col = origin_node.collector()
    origin_node.append(3)
    assert col.round([p.peer() for p in peers]) == {origin_node.log.origin: 4}
    k = quorum(5)
    assert k == 2 and quorum(3) == 1 and quorum(8) == 3 and quorum(1) == 0
    assert col.witnessed_size(origin_node.log.origin, k) == 3
    assert not col.is_witnessed(origin_node.log.origin, 3, k)
    # the collector forgets what one witness holds: the 409 puts it right
    origin_node.store.write(lambda sql: sql.execute("DELETE FROM witness_held"))
    origin_node.append(2)
    assert col.round([p.peer() for p in peers[:2]]) == {origin_node.log.origin: 2}
    assert col.is_witnessed(origin_node.log.origin, 4, k)
    note = col.cosigned(origin_node.log.origin, k)
    assert note is not None
    witnesses = {p.witness.name: p.witness.public_raw for p in peers}
    cp, found = verify_witnessed(
        note, (origin_node.log.key_name, origin_node.log.public_raw), witnesses, k
    )
    assert cp.size == 5 and len(found) == 2
    with pytest.raises(Exception) as e:
        verify_witnessed(note, (origin_node.log.key_name, origin_node.log.public_raw), witnesses, 3)
    assert getattr(e.value, "code", "") == "witness.quorum"
