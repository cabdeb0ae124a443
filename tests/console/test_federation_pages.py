"""The console's federation page: a node that does not federate says so; one that does
lists its peer links (none yet here), for a signed-in user only."""

from __future__ import annotations

from types import SimpleNamespace

from tests.console.conftest import Console


def test_the_page_says_whether_the_node_federates(console: Console) -> None:
    anonymous = console.client().get("/federation")
    assert anonymous.status_code in (303, 401) and "Peer" not in anonymous.text
    c = console.sign_in("alpha")
    off = c.get("/federation")
    assert off.status_code == 200 and "does not federate" in off.text
    assert 'id="peers"' not in off.text
    console.app.state.federation = SimpleNamespace(links={}, refused=None)
    try:
        on = c.get("/federation")
    finally:
        del console.app.state.federation
    assert on.status_code == 200 and "does not federate" not in on.text
    assert 'id="peers"' in on.text and "No peers yet" in on.text
