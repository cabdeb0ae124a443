"""The exchange put together: one object with every use case, and the keyrings a node
holds for its own members loaded from its data directory."""

from __future__ import annotations

import uuid
from pathlib import Path

from vigil.config import Settings
from vigil.crypto.keyring import create_keyring
from vigil.node import channels, members, publishing, reading, state
from vigil.node.datadir import keyring_dir
from vigil.node.exchange import Exchange, hold_keyrings
from vigil.testing import PASSPHRASE, TestNode


def test_the_exchange_has_every_use_case_of_its_parts() -> None:
    parts = (state.ExchangeState, members.Members, channels.Channels,
             publishing.Publishing, reading.Reading)
    for part in parts:
        assert issubclass(Exchange, part)
        for name, value in vars(part).items():
            if callable(value) and not name.startswith("__"):
                assert getattr(Exchange, name) is value, name


def test_a_node_holds_the_keyrings_of_its_own_members_only(
        four: tuple[TestNode, Exchange], tmp_path: Path) -> None:
    node, ex = four
    settings: Settings = node.settings
    held = hold_keyrings(keyring_dir(settings), PASSPHRASE, ex.store)
    assert set(held) == {node.members[n].id for n in ("alpha", "bravo", "charlie")}
    assert held[node.members["alpha"].id].sign_key_id == ex.member("alpha").sign_key_id
    stray = keyring_dir(settings) / "stray.keyring"
    (keyring_dir(settings) / "alpha.keyring").rename(stray)  # any name: its member counts
    # a keyring of no member of this node is not held
    create_keyring(keyring_dir(settings) / "other.keyring", f"identity--{uuid.uuid4()}",
                   PASSPHRASE, hybrid=False)
    assert set(hold_keyrings(keyring_dir(settings), PASSPHRASE, ex.store)) == set(held)
    assert hold_keyrings(tmp_path / "none", PASSPHRASE, ex.store) == {}
    assert set(ex.held) == set(held)
