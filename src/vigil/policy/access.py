"""The one access gate: the only place that answers "may member M see X".

Every read surface of a node (REST, the push stream, the console, TAXII, search,
correlations, sightings, the ledger, the log, blind matches, feeds) asks an
:class:`Access` -- one member's view of a node at one instant -- and nothing outside
``vigil.policy`` calls a ``decide_*`` function directly (a test walks the code).

A share is judged only as a :class:`ShareView`, which only :meth:`Access.views` (for
stored rows) and :meth:`Access.fetch` (by id, from the store) build: both take the
share's recall/purge state as a required value and fetch the community hold (the
node's ``read_gate.not_before``) themselves, so no caller can forget either (no module
outside ``vigil.policy`` builds a view itself; the same test checks it). Deciding
whether a share may be read never records that it was opened: that is
``Exchange.record_opened``, a separate call.

Where a list is selected in SQL (the ledger's counts), :meth:`Access.readable_sql` hands
out the predicate, and a test checks it against :meth:`Access.read` on random cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import orjson

from vigil import clock
from vigil.model import (
    Action,
    Channel,
    Decision,
    Directory,
    Envelope,
    IntelRules,
    ShareHeader,
    ShareRequest,
    ShareState,
)
from vigil.policy.decide import (
    decide,
    decide_correlation_hint,
    decide_forward,
    decide_log_entry,
    decide_publish,
    decide_read,
    decide_recall_notice,
    decide_sighting_counts,
    decide_use,
    sighting_reporter_shown,
    visible_channels,
)
from vigil.policy.member_side import local_serve
from vigil.policy.suites import SuiteRule, decide_suite
from vigil.storage.readable import readable_sql


class Hold(Protocol):
    """A node rule that holds some shares back from some recipients for a while (the
    ledger's community rule)."""

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        """{share id: the time from which the member may read it} for held shares."""
        ...


class Grants(Protocol):
    """The consent grants in force (``vigil.consent``): the uses each share's originator
    granted a member."""

    def granted(self, member: str, share_ids: Sequence[str], now: str
                ) -> Mapping[str, frozenset[str]]:
        """{share id: the uses granted to the member, in force at ``now``}."""
        ...

    def granted_many(self, members: Sequence[str], share_ids: Sequence[str], now: str
                     ) -> Mapping[str, Mapping[str, frozenset[str]]]:
        """``granted`` for several members: {member: {share id: uses}}."""
        ...


class Shares(Protocol):
    def get_share(self, share_id: str) -> tuple[Envelope, ShareState] | None: ...


class Node(Protocol):
    """What the gate reads of a node (an ``Exchange``)."""

    @property
    def read_gate(self) -> Hold | None: ...

    @property
    def store(self) -> Shares: ...

    @property
    def consent_gate(self) -> Grants | None: ...

    def directory(self) -> Directory: ...

    def revoked_shares(self, share_ids: Iterable[str], directory: Directory | None = None
                       ) -> set[str]:
        """The ids among ``share_ids`` that a key revocation marks (as of ``directory``,
        the node's current one if None)."""
        ...


@dataclass(frozen=True, slots=True)
class ShareView:
    """One stored share as the gate judges it for one member: its signed header, its
    recall/purge state and the community hold on it for that member (None: none).
    Built only by :meth:`Access.views` and :meth:`Access.fetch`."""

    share_id: str
    header: ShareHeader
    state: ShareState
    not_before: str | None
    granted: frozenset[str] = frozenset()  # the uses the originator granted the member


class Access:
    """One member's view of a node at one instant: every "may it see X" answer."""

    def __init__(self, node: Node, member: str, *, directory: Directory | None = None,
                 now: str | None = None) -> None:
        self.node = node
        self.member = member
        self.directory = node.directory() if directory is None else directory
        self.now = clock.now() if now is None else now

    # -- building views (state and hold are never optional) ---------------------------
    def views(self, rows: Iterable[tuple[str, ShareHeader, ShareState]]
              ) -> list[ShareView]:
        """The views of stored shares: (id, header, state) each; the hold and the
        shares a key revocation marks and the consent grants are fetched here, with one
        call each for all of them."""
        got = list(rows)
        ids = sorted({r[0] for r in got})
        gate = self.node.read_gate
        held = gate.not_before(self.member, ids) if gate is not None and got else {}
        revoked = self.node.revoked_shares(ids, self.directory) if got else set()
        grants = self.node.consent_gate
        granted = grants.granted(self.member, ids, self.now) if grants is not None and got \
            else {}
        return [ShareView(sid, header, replace(state, revoked=True) if sid in revoked
                          else state, held.get(sid), granted.get(sid, frozenset()))
                for sid, header, state in got]

    @staticmethod
    def views_many(gates: Sequence[Access],
                   rows: Sequence[Sequence[tuple[str, ShareHeader, ShareState]]]
                   ) -> list[list[ShareView]]:
        """``gates[i].views(rows[i])`` for the gates of several members on one node at
        one instant (one directory, one ``now``): the push path, where one share wakes
        every stream. The same views, with one revocation lookup and one consent read
        for all the members instead of one each; the hold stays each member's own."""
        if not gates:
            return []
        first = gates[0]
        node, directory, now = first.node, first.directory, first.now
        if any(g.node is not node or g.directory is not directory or g.now != now
               for g in gates):
            raise ValueError("views_many: gates of one node, directory and instant")
        got = [list(r) for r in rows]
        ids = sorted({r[0] for part in got for r in part})
        if not ids:
            return [[] for _ in got]
        revoked = node.revoked_shares(ids, directory)
        grants = node.consent_gate
        members = [g.member for g, part in zip(gates, got, strict=True) if part]
        granted = grants.granted_many(members, ids, now) if grants is not None else {}
        hold = node.read_gate
        out: list[list[ShareView]] = []
        for g, part in zip(gates, got, strict=True):
            mine = sorted({r[0] for r in part})
            held = hold.not_before(g.member, mine) if hold is not None and part else {}
            uses = granted.get(g.member, {})
            out.append([ShareView(sid, header, replace(state, revoked=True)
                                  if sid in revoked else state, held.get(sid),
                                  uses.get(sid, frozenset()))
                        for sid, header, state in part])
        return out

    def view(self, share_id: str, header: ShareHeader, state: ShareState
             ) -> ShareView:
        return self.views([(share_id, header, state)])[0]

    def view_of(self, env: Envelope, state: ShareState) -> ShareView:
        return self.view(env.id, env.header, state)

    def fetch(self, share_id: str) -> tuple[Envelope, ShareView] | None:
        """A stored share by id with its view (state and hold from the node); None if
        there is no such share."""
        got = self.node.store.get_share(share_id) if isinstance(share_id, str) else None
        if got is None:
            return None
        return got[0], self.view_of(*got)

    # -- shares ------------------------------------------------------------------------
    def read(self, v: ShareView) -> Decision:
        """May the member see this share: header, payload, existence, log place, counts."""
        return decide_read(self.directory, self.member, v.header, v.state, now=self.now,
                           not_before=v.not_before, granted=v.granted)

    def readable(self, v: ShareView) -> bool:
        return bool(self.read(v))

    def readable_ids(self, rows: Iterable[tuple[str, ShareHeader, ShareState]]
                     ) -> set[str]:
        """The ids among stored shares that the member may read."""
        return {v.share_id for v in self.views(rows) if self.read(v)}

    def recall_notice(self, v: ShareView) -> Decision:
        """May the member be told that this share was recalled (its signed header, no
        payload, no wraps)."""
        return decide_recall_notice(self.directory, self.member, v.header, v.state)

    def delivery(self, v: ShareView, *, notices: bool) -> Literal["share", "notice"] | None:
        """What an inbox or stream delivers of a share: ``"share"``, ``"notice"`` (a
        recall notice; only with ``notices``) or None (nothing)."""
        if self.read(v):
            return "share"
        if notices and self.recall_notice(v):
            return "notice"
        return None

    def own(self, v: ShareView) -> bool:
        """Is this a share the member originated and may still read (sent list,
        receipts, recalls)?"""
        return v.header["originator"] == self.member and self.readable(v)

    def forward(self, v: ShareView) -> Decision:
        """May the member pass the share on outside vigil (feeds, exports)."""
        return decide_forward(self.directory, self.member, v.header, v.state, now=self.now,
                              not_before=v.not_before, granted=v.granted)

    def use(self, v: ShareView, use: str) -> Decision:
        """May the member put the share to this use (forward, court, retain): a use its
        handling forbids needs the originator's consent grant."""
        return decide_use(self.directory, self.member, v.header, v.state, use, now=self.now,
                          not_before=v.not_before, granted=v.granted)

    def sighting_counts(self, v: ShareView) -> Decision:
        """May the member see the sighting counts of the share (its originator only)."""
        return decide_sighting_counts(self.directory, self.member, v.header, v.state,
                                      now=self.now, not_before=v.not_before)

    def reporter_shown(self, originator: str, reporter: str, disclose: bool) -> bool:
        """Does a sighting name its reporter to the member."""
        return reporter_shown(self.member, originator, reporter, disclose)

    def hint(self, v: ShareView, *, value: str, other_value: str) -> Decision:
        """May a correlation with a share the member cannot read tell it "a member of
        channel X holds a match" (only for ``other_value`` equal to the member's own
        ``value``: an overlap could be bisected)."""
        return decide_correlation_hint(self.directory, self.member, v.header, v.state,
                                       now=self.now, value=value, other_value=other_value)

    def correlation(self, own: ShareView, other: ShareView, *, value: str,
                    other_value: str) -> Literal["match", "hint"] | None:
        """What a correlation between the member's ``own`` share and ``other`` (its
        ``value`` matching the other's ``other_value``) tells it: ``"match"`` (the other
        share in full), ``"hint"`` or None (nothing)."""
        if not self.read(own):
            return None
        if self.read(other):
            return "match"
        if self.hint(other, value=value, other_value=other_value):
            return "hint"
        return None

    def readable_sql(self) -> tuple[str, tuple[Any, ...]]:
        """The ids of the shares the member may read, as one SQL query with its
        parameters (``vigil.storage.readable``: the rule of :meth:`read` over the
        ``members``, ``shares``, ``inbox`` and ``share_delays`` tables; tests compare
        the two)."""
        return readable_sql(self.member, self.now)

    # -- log entries ---------------------------------------------------------------------
    def log_entry(self, entry: Mapping[str, Any]) -> bool:
        return decide_log_entry(self.directory, self.member, entry)

    def log_entries(self, rows: Sequence[tuple[int, bytes]]
                    ) -> list[tuple[int, bytes, dict[str, Any] | None]]:
        """Each log row with its entry where the member may see it, else None. Entries
        about a share the community rule still holds back from the member stay hidden
        until it is due, like the share."""
        out: list[tuple[int, bytes, dict[str, Any] | None]] = []
        for index, data in rows:
            entry: dict[str, Any] = orjson.loads(data)
            out.append((index, data, entry if self.log_entry(entry) else None))
        gate = self.node.read_gate
        if gate is not None:
            ids = sorted({str(e["share"]) for _, _, e in out if e is not None and "share" in e})
            due = gate.not_before(self.member, ids) if ids else {}
            if due:
                out = [(i, d, None if e is not None
                        and self.now < due.get(str(e.get("share")), "") else e)
                       for i, d, e in out]
        return out

    # -- feeds ---------------------------------------------------------------------------
    def feed(self, publishes_as: str) -> bool:
        """May the member see and pull one of the node's TAXII feeds: only a feed that
        publishes as itself, while it is active (the others are the operator's)."""
        m = self.directory.members.get(self.member)
        return publishes_as == self.member and m is not None and m.active

    # -- channels ------------------------------------------------------------------------
    def channel(self, ch: Channel | None) -> Decision:
        return decide(self.directory, self.member, Action.SEE_CHANNEL, ch, now=self.now)

    def manage_channel(self, ch: Channel | None) -> Decision:
        return decide(self.directory, self.member, Action.MANAGE_CHANNEL, ch, now=self.now)

    def channels(self) -> list[Channel]:
        return visible_channels(self.directory, self.member)


def publish(directory: Directory, request: ShareRequest, *, now: str,
            rules: IntelRules | None = None) -> Decision:
    """May the originator publish this request, and who exactly receives it (and in
    which form). ``rules``: the node's rules for intelligence beyond cyber (default:
    evaluation, legal basis and purposes required for terrorism and organised crime)."""
    if rules is None:
        return decide_publish(directory, request, now=now)
    return decide_publish(directory, request, now=now, rules=rules)


def suite(rule: SuiteRule, directory: Directory, header: ShareHeader,
          recipients: Iterable[str]) -> Decision:
    """May a share with these recipients be stored with the suites its header names (a
    node, member or channel rule may require the hybrid suites)?"""
    return decide_suite(rule, directory, header, recipients)


def reporter_shown(viewer: str, originator: str, reporter: str, disclose: bool) -> bool:
    """Does a sighting name its reporter to a viewer: always to the reporter itself; to
    the share's originator only when the reporter allowed it; to nobody else."""
    return sighting_reporter_shown(viewer, originator, reporter, disclose)


def onward(header: ShareHeader) -> Decision:
    """May a share held by a member be served beyond that member's own analysts to the
    member's own tools (its gateway's local TAXII)? no-onward, TLP:AMBER+STRICT and
    TLP:RED stay (``member_side.local_serve``). Passing a share on outside the member
    (feeds, exports) is :meth:`Access.forward`: TLP:CLEAR/GREEN only."""
    return local_serve(header)
