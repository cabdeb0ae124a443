"""What features plug into an exchange: the hooks run when a share is stored and
what they are given, and the rule that holds shares back from some recipients."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vigil.model import (
    Decision,
    Envelope,
    InboxEntry,
    ShareRequest,
    ShareState,
)
from vigil.storage.base import Sql


class ReadGate(Protocol):
    """A node rule that holds some shares back from some recipients for a while (the
    ledger's community rule): the read path asks it, and passes its answer to the policy."""

    def release(self, members: Sequence[str]) -> None:
        """Re-queue, at the end of each member's inbox, the held shares now due."""
        ...

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        """{share id: the time from which the member may read it} for held shares."""
        ...

    def preview(self, request: ShareRequest, decision: Decision) -> dict[str, Any]:
        """What the rule would do to a share with this audience."""
        ...


Page = tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]
"""Readable entries after a cursor, the cursor to resume from, and whether more may
follow at once."""


@dataclass(frozen=True, slots=True)
class Published:
    envelope: Envelope
    recipients: tuple[str, ...]
    new: bool


Claim = Callable[[Sql, Published], None]
"""Run in the transaction that stores a new share, with what the publish returns."""

Committed = Callable[[Published], None]
"""Called in the publishing thread once a new share's transaction has committed (it is
durable and readable), before the after-publish hooks: the web layer rings the
recipients' streams from here, so that fan-out does not wait for the rest of the
publish to come back to the event loop."""

ShareHook = Callable[[Sql, Envelope, tuple[str, ...]], None]
"""Run in the transaction that stores a new share, with its recipients here."""
SharesHook = Callable[[Sql, Sequence[tuple[Envelope, tuple[str, ...]]]], None]
"""A ``ShareHook`` for several new shares of one transaction, in the order stored."""


