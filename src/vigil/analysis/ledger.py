"""The reciprocity ledger: who gives and who only takes, derived from the store.

Nothing here is a running counter. Every figure is counted from rows that exist for
their own sake (shares, inbox rows, sightings, blind tokens, recorded openings) at the
moment the report is asked for, so nothing can drift.

A member sees the ledger **over the shares it may read** (the policy decides each one):
the report as member V sees it is a function of the shares V may read and the
sightings, openings and inbox rows of those shares, so a share V may not read changes
nothing V sees (tests/analysis/test_ledger.py checks this on random cases). Counts per
channel are shown only to the channel's members.

The **community rule** (node settings ``ledger_delay_*``, the same for every member, off
by default) holds AMBER community-wide shares back from members whose own share count
is below ``ratio`` times the shares they have received, once they have received
``grace`` shares. A held recipient's inbox row is hidden by the policy until
``not_before``; at its first inbox read after that time the row is moved to the end of
its inbox, so a client resuming from its cursor sees it as new.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.analysis.correlate import installed
from vigil.config import Settings
from vigil.lru import Lru
from vigil.model import (
    ChannelKind,
    Decision,
    Directory,
    Envelope,
    Form,
    ShareRequest,
    ShareState,
    Tlp,
)
from vigil.node.exchange import Exchange
from vigil.policy.access import Access
from vigil.policy.decide import channel_members
from vigil.protocol.envelope import open_share
from vigil.stix import parsed
from vigil.storage import ledger as stored
from vigil.storage.base import Sql

log = logging.getLogger(__name__)
FIELDS = ("shares", "objects", "first_reports", "sightings_confirmed", "false_positives",
          "received", "opened")


# -- rows written beside each share and each opening -----------------------------------

class ShareFacts:
    """Share-transaction hook: the facts of a share the ledger groups by: its channel,
    and its number of STIX objects where the node can count them (plain payloads, and
    sealed ones of members whose keyring the node holds; NULL otherwise)."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def __call__(self, sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
        # counted when the bundle was checked, if it was posted to this node
        objects = self.ex.object_counts.get(env.id)
        stored.insert_facts(sql, env.id, env.originator, env.channel,
                            self.count(env) if objects is None else objects)

    def many(self, sql: Sql, shares: Sequence[tuple[Envelope, tuple[str, ...]]]) -> None:
        """The same rows for several shares of one transaction (``share_tx_many``)."""
        rows = []
        for env, _ in shares:
            objects = self.ex.object_counts.get(env.id)
            rows.append((env.id, env.originator, env.channel,
                         self.count(env) if objects is None else objects))
        stored.insert_facts_many(sql, rows)

    def count(self, env: Envelope) -> int | None:
        kr = self.ex.held.get(env.originator)
        if env.form is Form.PLAIN:
            return len(parsed.objects_of(env.payload))
        if kr is None:
            return None
        bundle = parsed.of_share(env.id)  # parsed once by the publish that stores it
        if bundle is not None:
            objs = bundle.get("objects")
            return len(objs) if isinstance(objs, list) else 0
        return len(parsed.objects_of(open_share(env, kr.member_id, kr.enc_private)))


class Openings:
    """Records the first time each recipient reads a share by its id (``GET
    /api/v1/shares/ID`` and the console's share page): with the signed ``opened``
    receipts, the ledger's "opened"."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.seen: Lru[tuple[str, str], bool] = Lru(65536)

    def __call__(self, member: str, env: Envelope) -> None:
        if member == env.originator or self.seen.get((member, env.id)):
            return
        at = clock.now()
        self.ex.store.write(lambda sql: stored.insert_opening(sql, member, env.id, at))
        self.seen.put((member, env.id), True)


# -- the community rule ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CommunityRule:
    ratio: float  # shares contributed per share received, below which a member waits
    hours: float
    grace: int  # shares received before the rule applies to a member

    def to_json(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "hours": self.hours, "grace": self.grace,
                "applies_to": "TLP:AMBER shares to the whole community"}


def rule_of(settings: Settings) -> CommunityRule | None:
    ratio = float(settings.values.get("ledger_delay_ratio", 0.0))
    if ratio <= 0:
        return None
    return CommunityRule(ratio, float(settings.values.get("ledger_delay_hours", 24.0)),
                         int(settings.values.get("ledger_delay_grace", 20)))


def standing(sql: Sql, members: Iterable[str], leave_out: str = ""
             ) -> dict[str, tuple[int, int]]:
    """(shares contributed, shares received) of each member, over the whole node, leaving
    out one share (the one being published, inside its own transaction)."""
    ids = list(members)
    out = {m: (0, 0) for m in ids}
    if not ids:
        return out
    given, got = stored.given_and_got(sql, leave_out)
    for m in ids:
        out[m] = (int(given.get(m, 0)), int(got.get(m, 0)))
    return out


def community_wide(d: Directory, channel: str | None, explicit: Sequence[str]) -> bool:
    """An audience of the whole community: no member named one by one, and no channel
    or the community channel."""
    if explicit:
        return False
    ch = d.channels.get(channel) if channel else None
    return channel is None or (ch is not None and ch.kind is ChannelKind.COMMUNITY)


class Delays:
    """The community rule in the read path (``Exchange.read_gate``) and in the share
    transaction (``Exchange.share_tx_hooks``)."""

    def __init__(self, ex: Exchange, rule: CommunityRule) -> None:
        self.ex = ex
        self.rule = rule

    def applies(self, d: Directory, tlp: Tlp, channel: str | None,
                explicit: Sequence[str]) -> bool:
        return tlp is Tlp.AMBER and community_wide(d, channel, explicit)

    def held_back(self, sql: Sql, recipients: Iterable[str], leave_out: str = "") -> list[str]:
        r = self.rule
        return sorted(m for m, (given, got) in standing(sql, recipients, leave_out).items()
                      if got >= r.grace and given < r.ratio * got)

    def not_before_from(self, at: str) -> str:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
        return clock.fmt(t.astimezone(UTC) + timedelta(hours=self.rule.hours))

    # share transaction
    def __call__(self, sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
        d = self.ex.directory()
        if not self.applies(d, env.tlp, env.channel, self._explicit(d, env, recipients)):
            return
        until = self.not_before_from(clock.now())
        stored.insert_delays(sql, env.id, self.held_back(sql, recipients, env.id), until)

    @staticmethod
    def _explicit(d: Directory, env: Envelope, recipients: Sequence[str]) -> list[str]:
        """The recipients, when they are not exactly what the channel (or, without one,
        the community) gives on its own: then they were named one by one."""
        ch = d.channels.get(env.channel) if env.channel else None
        whole = d.active_member_ids() if ch is None else channel_members(d, ch)
        return [] if set(recipients) == whole - {env.originator} else list(recipients)

    # read gate
    def release(self, members: Sequence[str]) -> None:
        now = clock.now()

        due = self.ex.store.read(lambda sql: stored.due_delays(sql, members, now))
        if due:
            self.ex.store.write(lambda sql: stored.release_delays(sql, due, now))

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        ids = list(dict.fromkeys(share_ids))
        return self.ex.store.read(lambda sql: stored.delays_of(sql, member, ids))

    def preview(self, request: ShareRequest, decision: Decision) -> dict[str, Any]:
        d = self.ex.directory()
        aud = request.audience
        explicit = [r for r in aud.recipients if r != request.originator]
        applies = self.applies(d, aud.tlp, aud.channel, explicit)
        held = self.ex.store.read(
            lambda sql: self.held_back(sql, decision.recipients)) if applies else []
        return {"rule": self.rule.to_json(), "applies": applies,
                "held_back": sorted(({"id": m, "name": d.members[m].name} for m in held),
                                    key=lambda x: x["name"]),
                "not_before": self.not_before_from(clock.now()) if held else None}


# -- the report ---------------------------------------------------------------------------

# The shares a viewer may read, as SQL (the access gate's ``readable_sql``). It only
# lets the database aggregate; the gate still decides every candidate share
# (``_readable``), and any share on which the two disagree is added or removed by id.
@dataclass(frozen=True, slots=True)
class _Readable:
    """The readable-share condition for one viewer: the gate's SQL, its parameters, and
    the ids the gate adds (``extra``) or removes (``wrong``)."""

    select: str
    select_params: tuple[Any, ...]
    extra: tuple[str, ...]
    wrong: tuple[str, ...]

    def cte(self) -> tuple[str, tuple[Any, ...]]:
        """``WITH r AS (...)``: (seq, id, originator, channel, objects) of every share
        the viewer may read."""
        return stored.readable_cte(self.select, self.select_params, self.extra, self.wrong)


def _readable(ex: Exchange, viewer: str) -> _Readable:
    """Decide every candidate share (the viewer's own and its inbox) with the access
    gate, and compare with what the gate's SQL selects."""
    gate = Access(ex, viewer)
    select, params = gate.readable_sql()

    cands, chosen = ex.store.read(lambda sql: stored.candidates(sql, viewer, select, params))
    allowed = gate.readable_ids(
        (sid, orjson.loads(bytes(header)), ShareState(bool(recalled), bool(purged)))
        for sid, header, recalled, purged in cands)
    extra, wrong = sorted(allowed - chosen), sorted(chosen - allowed)
    if extra or wrong:
        log.warning("ledger: the policy and the readable-share SQL differ on %d share(s)",
                    len(extra) + len(wrong))
    return _Readable(select, params, tuple(extra), tuple(wrong))


def report(ex: Exchange, viewer: str) -> dict[str, Any]:
    """The ledger as ``viewer`` may see it: per member, and per channel it is in.
    Every count is a SQL aggregate over the shares the viewer may read."""
    c = installed(ex)
    if c is not None:  # first-reporter credits count the observables of every share
        c.process()
    d = ex.directory()
    scopes: dict[str | None, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(FIELDS, 0)))
    if viewer in d.members and d.members[viewer].active:
        cte, params = _readable(ex, viewer).cte()

        for field, member, channel, n in ex.store.read(
                lambda sql: stored.report_counts(sql, cte, params)):
            scopes[None][member][field] += n
            if channel is not None:
                scopes[channel][member][field] += n

    def rows(members: Iterable[str], counts: Mapping[str, Mapping[str, int]]
             ) -> list[dict[str, Any]]:
        return [{"member": m, "name": d.members[m].name,
                 **{f: counts.get(m, {}).get(f, 0) for f in FIELDS}}
                for m in sorted(members, key=lambda m: d.members[m].name)]

    channels = []
    for ch in Access(ex, viewer, directory=d).channels():
        channels.append({"id": ch.id, "name": ch.name, "kind": ch.kind.value,
                         "members": rows(channel_members(d, ch), scopes.get(ch.id, {}))})
    rule = getattr(ex.read_gate, "rule", None)
    return {
        "viewer": viewer,
        "basis": "the shares this member may read",
        "members": rows(d.active_member_ids(), scopes.get(None, {})),
        "channels": channels,
        "community_rule": rule.to_json() if isinstance(rule, CommunityRule) else None,
    }


# -- wiring -------------------------------------------------------------------------------

def install(ex: Exchange, settings: Settings) -> None:
    """Register the sightings/ledger hooks and the removal of blind tokens with an
    Exchange (once); a share's tokens are stored by the publish they come with
    (``vigil.analysis.blind.store_tokens``)."""
    from vigil.analysis.blind import drop_tokens

    if not any(isinstance(h, ShareFacts) for h in ex.share_tx_hooks):
        facts = ShareFacts(ex)
        ex.share_tx_hooks.append(facts)
        ex.share_tx_many[facts] = facts.many
    if not any(isinstance(h, Openings) for h in ex.read_hooks):
        ex.read_hooks.append(Openings(ex))
    if drop_tokens not in ex.purge_tx_hooks:
        ex.purge_tx_hooks.append(drop_tokens)
    rule = rule_of(settings)
    if rule is not None and ex.read_gate is None:
        delays = Delays(ex, rule)
        ex.read_gate = delays
        ex.share_tx_hooks.append(delays)
