"""The proofs a member announcement carries and the move check are parts of one
exchange (``Exchange.attach``): another exchange in the same process, even of the same
node, neither sees nor loses them."""

from __future__ import annotations

from pathlib import Path

from tests.federation.pairs import batch, make, peer, sync

from vigil.features import open_exchange
from vigil.federation import kinds, outbox
from vigil.federation.trust import TrustService, service_of


def test_member_proofs_and_moves_are_held_per_exchange(tmp_path: Path) -> None:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    peer(a, b)
    twin = open_exchange(a.node.settings)  # the same node, opened again
    assert twin.node_id == a.ex.node_id
    ta = TrustService(a.ex)
    ta.install()
    try:
        ta.register_held()
        proofs, moves = a.ex.part(outbox.MemberProofs), a.ex.part(kinds.Moves)
        assert proofs is not None and proofs.source == ta.member_proofs
        assert moves is not None and moves.check == ta.check_move
        assert twin.part(outbox.MemberProofs) is None and twin.part(kinds.Moves) is None
        sync(a, b)
        item = (1, "member", {"member": {"id": a.id("alpha")}})
        assert outbox.with_proofs(twin, [item]) == [item]  # nothing of athens' service
        assert outbox.with_proofs(a.ex, [item]) == []  # held: not witnessed yet
        tt = TrustService(twin)
        tt.install()
        assert service_of(a.ex) is ta and service_of(twin) is tt  # each its own gate
        tt.uninstall()  # the twin's service leaves athens' parts as they are
        assert proofs.source == ta.member_proofs and moves.check == ta.check_move
        assert batch(a, b)["batch"]["items"] == []  # alpha's announcement waits
    finally:
        ta.uninstall()
        twin.store.close()
        a.close()
        b.close()
    assert proofs.source is None and moves.check is None and service_of(a.ex) is None
