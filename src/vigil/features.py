"""The built-in features of a node, installed from this one list on every exchange a
process opens: the server, the CLI, the demo and the tests all open theirs with
``open_exchange`` here, so which features are live can be read from this file.

A feature is a function that registers its hooks on an ``Exchange`` (its same-transaction
hooks on shares and purges, its hooks after a publish or a read), idempotently. A new
feature adds one line to ``FEATURES``.

The list lives above ``vigil.node`` (not inside it) because the features import the
exchange they install on; ``tests/test_layout.py`` keeps packages free of cycles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vigil.analysis import correlate, ledger
from vigil.config import Settings
from vigil.federation import outbox
from vigil.feeds import registry as feeds
from vigil.node import accountability
from vigil.node.datadir import core_exchange
from vigil.node.exchange import Exchange
from vigil.signin import sso
from vigil.storage import Store
from vigil.taxii import index as taxii_index


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    install: Callable[[Exchange, Settings], object]


FEATURES: tuple[Feature, ...] = (
    # observables and correlation after each publish (docs/analysis.md)
    Feature("correlation", lambda ex, s: correlate.install(
        ex, processes=int(s.correlation_processes))),
    # sightings, reciprocity ledger, blind tokens, first openings (docs/ledger.md)
    Feature("ledger", ledger.install),
    # the TAXII object index, kept in the share's transaction (docs/taxii.md)
    Feature("taxii-index", lambda ex, s: taxii_index.install(ex.share_tx_hooks,
                                                             ex.purge_tx_hooks,
                                                             ex.share_tx_many)),
    # node-signed "opened" receipts of members whose keys the node holds
    Feature("held-receipts", lambda ex, s: accountability.install(ex)),
    # which feed objects a share carried, in the share's transaction (docs/feeds.md)
    Feature("feed-marks", lambda ex, s: feeds.install(ex)),
    # one outbox row per destination node, in the share's and recall's transaction
    # (docs/federation.md); only on a node with a federation name
    Feature("federation-outbox", lambda ex, s: outbox.install(ex) if s.fed_name else None),
)


def install(ex: Exchange, settings: Settings) -> Exchange:
    """Install every built-in feature on ``ex``; returns it."""
    for feature in FEATURES:
        feature.install(ex, settings)
    return ex


def open_exchange(settings: Settings, store: Store | None = None) -> Exchange:
    """The node's exchange with every built-in feature installed."""
    ex = install(core_exchange(settings, store), settings)
    # OpenID client secrets stored in clear by earlier versions, sealed (docs/sign-in.md):
    # a step on opening, not a feature (it installs no hook)
    sso.seal_stored(ex)
    return ex
