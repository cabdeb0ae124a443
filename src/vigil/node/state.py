"""What an exchange holds: its store, keys and caches, the hooks and rules that
features install, and the running parts of features."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from vigil.crypto.keyring import Keyring
from vigil.crypto.keys import SignPrivate, key_id
from vigil.crypto.secretfile import SecretBox
from vigil.log.tree import StoredLog
from vigil.lru import Lru
from vigil.model import (
    Envelope,
    IntelRules,
)
from vigil.node.bundle_pool import BundlePool
from vigil.node.hooks import Published, ReadGate, ShareHook, SharesHook
from vigil.node.keybook import KeyBook
from vigil.policy.suites import SuiteRule
from vigil.storage import Store
from vigil.storage.base import Sql
from vigil.storage.intel import StoredGrants

PartT = TypeVar("PartT")


def envelope_weight(env: Envelope) -> int:
    """About the bytes an envelope holds (payload, signature, wraps, header)."""
    return (len(env.payload) + len(env.signature) + sum(len(w.blob) + 128 for w in env.wraps)
            + 1024)


class ExchangeState:
    """One node's state over a Store, below its use cases (``Exchange``)."""

    def __init__(
        self,
        store: Store,
        *,
        node_id: str,
        node_key: SignPrivate,
        held: Mapping[str, Keyring] | None = None,
        max_body: int = 32 * 1024 * 1024,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.node_key = node_key
        self.node_key_raw: bytes = node_key.public_key().public_bytes_raw()
        self.node_key_id = key_id("ed25519", self.node_key_raw)
        self.held: dict[str, Keyring] = dict(held or {})
        self.max_body = max_body
        # Envelopes are immutable once stored: a small cache serves the push path, where
        # every recipient of a new share reads the same envelope at the same moment.
        # Bounded by bytes, so that its memory does not follow the size of the shares.
        self.envelopes: Lru[str, Envelope] = Lru(4096, max_bytes=cache_bytes,
                                                 weigh=envelope_weight)
        # Called after a new share is durably stored (features such as correlation
        # follow publishing here); a hook that raises does not undo the publish.
        self.published_hooks: list[Callable[[Published], None]] = []
        # Called inside the transaction that stores a new share (log entry, object
        # index): an error here fails the publish and stores nothing.
        self.share_tx_hooks: list[ShareHook] = []
        # The form of a share_tx_hook that takes several shares at once, for the
        # transaction that stores a batch of them (``run_share_hooks``); a hook without
        # one is called share by share.
        self.share_tx_many: dict[ShareHook, SharesHook] = {}
        # Called (with the share id) inside the transaction that recalls a share or
        # purges it at expiry: features drop the rows they derived from its payload.
        self.purge_tx_hooks: list[Callable[[Sql, str], None]] = []
        # Called when a member was allowed to read one share by its id (the ledger
        # records opened shares here).
        self.read_hooks: list[Callable[[str, Envelope], None]] = []
        # A rule that holds shares back from some recipients (None: no such rule).
        self.read_gate: ReadGate | None = None
        # The consent grants in force, read by the access gate (vigil.consent).
        self.consent_gate: StoredGrants | None = StoredGrants(store)
        # The rules for intelligence beyond cyber (evaluation, legal basis, personal data).
        self.intel_rules = IntelRules()
        # Where shares must use the hybrid (post-quantum) suites; checked in _store,
        # which every path into the store goes through.
        self.suite_rule = SuiteRule()
        # The transparency log: every share, channel change and key event is appended
        # in the transaction that makes it happen.
        self.log = StoredLog(store, node_id, node_key)
        # Parsing, validating and sealing large posted bundles: in worker processes
        # when the node is given some (``vigil.node.bundle_pool``), else in the caller.
        self.bundles = BundlePool(0)
        # Objects counted while a bundle was checked, taken by the share transaction's
        # hooks (the ledger) so that they need not parse the payload under the lock.
        self.object_counts: Lru[str, int] = Lru(64)
        # retired, expiring and revoked member keys (vigil.node.keylife)
        self.keybook = KeyBook(store)
        # secrets kept in the store sealed under a key in the data directory
        # (open_exchange names it; an Exchange made without one keeps a key in memory)
        self.secrets = SecretBox(None)
        # the running parts of features, one per kind (``attach``)
        self._parts: dict[type, object] = {}
        self._parts_lock = threading.Lock()

    def attach(self, kind: type[PartT], make: Callable[[], PartT]) -> tuple[PartT, bool]:
        """The exchange's one part of this kind (a feature's running state, such as its
        correlator), made by ``make`` if it has none; and whether it was made now."""
        with self._parts_lock:
            got = self._parts.get(kind)
            if got is not None:
                return cast(PartT, got), False
            part = make()
            self._parts[kind] = part
            return part, True

    def part(self, kind: type[PartT]) -> PartT | None:
        """The exchange's part of this kind, if one is attached."""
        with self._parts_lock:
            return cast("PartT | None", self._parts.get(kind))

    def run_share_hooks(self, sql: Sql, shares: Sequence[tuple[Envelope, tuple[str, ...]]]
                        ) -> None:
        """Every ``share_tx_hooks`` entry, in order, for new shares stored together in
        ``sql``'s transaction: its ``share_tx_many`` form once, else share by share."""
        if not shares:
            return
        for hook in self.share_tx_hooks:
            many = self.share_tx_many.get(hook)
            if many is not None:
                many(sql, shares)
            else:
                for env, recipients in shares:
                    hook(sql, env, recipients)

    def _log(self, sql: Sql, entry: Mapping[str, Any]) -> None:
        self.log.append(sql, entry)

