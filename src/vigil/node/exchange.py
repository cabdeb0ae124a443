"""The use cases of a node: members, users, channels, publish, inbox, read. No HTTP.

Every read path asks the access gate (``vigil.policy.access``) and answers a refused
read exactly like a missing one (``NotFound``).

``Exchange`` is put together from one class per concern: its state and hooks
(``node/state.py``), members, users and sessions (``node/members.py``), channels
(``node/channels.py``), publishing (``node/publishing.py``) and reading
(``node/reading.py``).
"""

from __future__ import annotations

from pathlib import Path

from vigil.crypto.keyring import Keyring, load_keyring
from vigil.node.publishing import Publishing
from vigil.node.reading import Reading
from vigil.storage import Store


class Exchange(Publishing, Reading):
    """One node's use cases over a Store. Bus rings are the caller's job (async edge)."""


def hold_keyrings(keyring_dir: Path, passphrase: str, store: Store) -> dict[str, Keyring]:
    """Load the keyrings a node holds for its own members (``<data>/keyrings``)."""
    held: dict[str, Keyring] = {}
    if not keyring_dir.is_dir():
        return held
    members = store.directory().members
    for path in sorted(keyring_dir.glob("*.keyring")):
        kr = load_keyring(path, passphrase)
        if kr.member_id in members:
            held[kr.member_id] = kr
    return held
