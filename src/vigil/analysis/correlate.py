"""Correlation: which shares hold the same observable, told to each member only as far
as the policy lets it see.

Correlation follows the publish in a *pass* (``Correlator.process``), run by a thread
of the process after a publish, and by notices, search and the ledger before they
answer. A pass takes the shares stored after the node's correlation mark (``meta``), in
order; extracts the observables of each **plain** payload (from the envelope the
process still holds, else from the store) and looks them up in the stored index
(``vigil.analysis.stored``: exact value, or an overlapping IP address or network) and
among the earlier shares of the same pass, without holding the store's write lock;
then, in one transaction, stores one ``observables`` row per observable (with its key),
one ``correlations`` row per side of each match — for the publisher and for the
originator of the other share — and moves the mark. Observables and correlations are
derived from stored payloads: a share is durable when its publish is acknowledged, and
a pass lost in a crash is done again from the mark. Passes are serialised across the
node (SQLite's one writer, a PostgreSQL advisory lock; a pass that finds the mark moved
by another worker starts again), so each pair is compared once. Observables on a
shipped warninglist raise no correlation. Sealed payloads are never read here: the node
does not index what it cannot read for every recipient (blind tokens cover sealed
shares).

A correlation row is a raw fact, not a message: what a member is shown is decided when
it reads (``notices``), with the access gate (``Access.correlation``): the other share in
full if the member may read it, else only "a member of channel X holds a match" when
the gate's hint rule allows it (only for a value equal to the member's own), else
nothing at all.

The index is the ``observables`` rows themselves, so a process holds no copy of it:
memory does not grow with the store, and a process that did not run a pass has nothing
to catch up on beyond the mark.
"""

from __future__ import annotations

from typing import Any

from vigil.analysis.correlation_reads import CorrelationReads
from vigil.analysis.correlation_rebuild import CorrelationRebuild
from vigil.node.exchange import Exchange


class Correlator(CorrelationReads, CorrelationRebuild):
    """The correlation engine of one Exchange (one per process): its passes
    (``correlation_pass``), what members are told (``correlation_reads``) and
    re-correlation (``correlation_rebuild``)."""


def install(ex: Exchange, **kw: Any) -> Correlator:
    """Register correlation with an Exchange (once) and return its Correlator."""
    c, made = ex.attach(Correlator, lambda: Correlator(ex, **kw))
    if made:
        ex.published_hooks.append(c.after_publish)
        ex.purge_tx_hooks.append(c.on_purge)
        ex.store.on_close.append(c.stop)
    return c


def installed(ex: Exchange) -> Correlator | None:
    """The Correlator of an Exchange if one is registered."""
    return ex.part(Correlator)


def correlator(ex: Exchange) -> Correlator:
    """The Correlator of an Exchange, registering it if nobody has."""
    return install(ex)
