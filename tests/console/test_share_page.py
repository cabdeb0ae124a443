"""One share's page: shown verified to a recipient, "not found" to anyone else, with
receipts for its originator, sealed content named for a member whose keys the node lacks."""

from __future__ import annotations

import re

from .conftest import Console, publish


def test_a_share_renders_for_its_recipients_and_is_not_found_for_others(
        console: Console) -> None:
    sid = publish(console, "alpha", ["a-b"], themes=("critical-infrastructure/energy",),
                  regions=("EE",))
    b, c, a = console.sign_in("bravo"), console.sign_in("charlie"), console.sign_in("alpha")
    page = b.get(f"/shares/{sid}")
    assert page.status_code == 200
    t = page.text
    assert "signed by alpha (member:alpha" in t and "verified" in t
    assert "T0855" in t and "Unauthorized Command Message" in t
    assert "Industroyer2" in t and "Sandworm Team" in t and "ELECTRUM" in t
    assert re.search(r"Sandworm Team</td><td>→ uses →</td><td>Industroyer2", t)
    assert "ipv4-addr:value <code>198.51.100.7</code>" in t
    assert "<svg" in t and "<line" in t and "and receipts</h2>" not in t  # B: not originator
    # C: not in the channel: the same "not found" as a share that does not exist
    for ref in (sid, "share--00000000-0000-4000-8000-000000000000", "junk"):
        r = c.get(f"/shares/{ref}")
        assert r.status_code == 404 and "Not found" in r.text and "Industroyer2" not in r.text
    # the originator sees the recipients
    ta = a.get(f"/shares/{sid}").text
    assert "Recipients and receipts</h2>" in ta and "member:bravo" in ta


def test_sealed_share_for_a_member_whose_keys_the_node_lacks(console: Console) -> None:
    sid = publish(console, "alpha", ["group1"])
    d = console.sign_in("delta")
    t = d.get(f"/shares/{sid}").text
    assert "Sealed to your organisation" in t and f"vigil show {sid} --keyring FILE" in t
    assert "verified" in t and "Industroyer2" not in t
