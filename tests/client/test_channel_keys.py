"""A channel's key from the SDK: made (epoch 1) by the first member that needs it and
sealed to the channel's members; a member who joins later has no copy until a holder
seals it one; blind matches read back."""

from __future__ import annotations

import pytest
from tests.client.conftest import Local

from vigil.errors import InputError, NotFound


def test_a_channel_key_made_then_shared(local: Local) -> None:
    m = local.node.members
    with local.sdk("alpha", keyring=False) as alpha:
        alpha.create_channel("ring", "group", ["delta"])
    with local.sdk("delta") as delta:
        cid, epoch, key = delta.channel_key("ring")
        assert cid.startswith("channel--") and epoch == 1 and len(key) == 32
        assert delta.channel_key("ring") == (cid, 1, key)  # the same epoch, kept
        assert delta.share_channel_key("ring") == []  # every member has its copy
    with local.sdk("alpha", keyring=False) as alpha:
        alpha.channel_add("ring", "bravo")
    with local.sdk("bravo") as bravo:
        with pytest.raises(NotFound) as caught:
            bravo.channel_key("ring", create=False)
        assert caught.value.code == "blind.no_copy"
        with local.sdk("delta") as delta:
            assert delta.share_channel_key("ring") == [m["bravo"].id]
        assert bravo.channel_key("ring", create=False) == (cid, 1, key)
        matches, cursor = bravo.blind_matches()
        assert matches == [] and cursor >= 0
    with local.sdk("delta", keyring=False) as plain, pytest.raises(InputError) as no_key:
        plain.channel_key("ring")
    assert no_key.value.code == "keyring.required"
