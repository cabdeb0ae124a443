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
from vigil.storage.base import Sql, queue_inbox, serialize_writes

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
        objects: int | None = None
        kr = self.ex.held.get(env.originator)
        if env.form is Form.PLAIN:
            objects = len(parsed.objects_of(env.payload))
        elif kr is not None:
            bundle = parsed.of_share(env.id)
            objects = len(parsed.objects_of(open_share(env, kr.member_id, kr.enc_private))
                          if bundle is None else bundle.get("objects") or [])
        sql.execute("INSERT INTO ledger_shares(share_id, originator, channel_id, objects) "
                    "VALUES(?,?,?,?) ON CONFLICT DO NOTHING",
                    (env.id, env.originator, env.channel, objects))


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
        self.ex.store.write(lambda sql: sql.execute(
            "INSERT INTO share_opens(member_id, share_id, first_at) VALUES(?,?,?) "
            "ON CONFLICT DO NOTHING", (member, env.id, at)))
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
    given = dict(sql.execute("SELECT originator, COUNT(*) FROM shares WHERE purged=? "
                             "AND id<>? GROUP BY originator", (False, leave_out)).fetchall())
    got = dict(sql.execute("SELECT member_id, COUNT(*) FROM inbox WHERE share_id<>? "
                           "GROUP BY member_id", (leave_out,)).fetchall())
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
        sql.executemany(
            "INSERT INTO share_delays(share_id, member_id, not_before, released) "
            "VALUES(?,?,?,?)",
            [(env.id, m, until, False) for m in self.held_back(sql, recipients, env.id)])

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

        def find(sql: Sql) -> list[tuple[str, str]]:
            return [(r[0], m) for m in members for r in sql.execute(
                "SELECT share_id FROM share_delays WHERE member_id=? AND released=? "
                "AND not_before<=?", (m, False, now)).fetchall()]

        due = self.ex.store.read(find)
        if not due:
            return

        def write(sql: Sql) -> None:
            serialize_writes(sql)  # inbox positions become visible in order
            for share_id, m in due:
                cur = sql.execute("UPDATE share_delays SET released=? WHERE share_id=? AND "
                                  "member_id=? AND released=?", (True, share_id, m, False))
                if cur.rowcount:
                    sql.execute("DELETE FROM inbox WHERE member_id=? AND share_id=?",
                                (m, share_id))
                    queue_inbox(sql, share_id, [m], now)

        self.ex.store.write(write)

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        ids = list(dict.fromkeys(share_ids))
        return self.ex.store.read(lambda sql: {r[0]: r[1] for r in _in(
            sql, "SELECT share_id, not_before FROM share_delays WHERE share_id IN ({ids}) "
                 "AND member_id=?", ids, member)})

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

def _in(sql: Sql, query: str, ids: Sequence[str], *extra: Any) -> list[Any]:
    """Rows of ``query`` (with ``{ids}`` for an IN list) for many ids, in chunks."""
    rows: list[Any] = []
    for i in range(0, len(ids), 500):
        chunk = list(ids[i:i + 500])
        rows += sql.execute(query.format(ids=",".join("?" * len(chunk))),
                            (*chunk, *extra)).fetchall()
    return rows


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
        cond = f"s.id IN ({self.select})"
        params: list[Any] = list(self.select_params)
        if self.extra:
            cond = f"({cond} OR s.id IN ({','.join('?' * len(self.extra))}))"
            params += self.extra
        if self.wrong:
            cond += f" AND s.id NOT IN ({','.join('?' * len(self.wrong))})"
            params += self.wrong
        return ("WITH r AS (SELECT s.seq AS seq, s.id AS id, s.originator AS originator, "
                "l.channel_id AS ch, l.objects AS objects FROM shares s "
                f"LEFT JOIN ledger_shares l ON l.share_id=s.id WHERE {cond}) ",
                tuple(params))


def _readable(ex: Exchange, viewer: str) -> _Readable:
    """Decide every candidate share (the viewer's own and its inbox) with the access
    gate, and compare with what the gate's SQL selects."""
    gate = Access(ex, viewer)
    select, params = gate.readable_sql()

    def read(sql: Sql) -> tuple[list[Any], set[str]]:
        cands = sql.execute(
            "SELECT s.id, s.header, s.recalled, s.purged FROM shares s WHERE s.originator=? "
            "OR s.id IN (SELECT share_id FROM inbox WHERE member_id=?)",
            (viewer, viewer)).fetchall()
        chosen = {r[0] for r in sql.execute(select, params).fetchall()}
        return cands, chosen

    cands, chosen = ex.store.read(read)
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

        def read(sql: Sql) -> list[tuple[str, Any, str | None, int]]:
            out: list[tuple[str, Any, str | None, int]] = []

            def q(field: str, query: str, extra: tuple[Any, ...] = ()) -> None:
                out.extend((field, r[0], r[1], int(r[2] or 0))
                           for r in sql.execute(cte + query, (*params, *extra)).fetchall())

            q("shares", "SELECT originator, ch, COUNT(*) FROM r GROUP BY originator, ch")
            q("objects", "SELECT originator, ch, SUM(objects) FROM r GROUP BY originator, ch")
            q("received", "SELECT i.member_id, r.ch, COUNT(*) FROM inbox i "
                          "JOIN r ON r.id=i.share_id GROUP BY i.member_id, r.ch")
            # opened: the member's signed "opened" receipt, or the node's record of its
            # reading the share by id (clients that send no receipts)
            q("opened", "SELECT u.member_id, r.ch, COUNT(*) FROM (SELECT member_id, share_id "
                        "FROM share_opens UNION SELECT member_id, share_id FROM receipts "
                        "WHERE what=?) u JOIN r ON r.id=u.share_id "
                        "WHERE u.member_id<>r.originator GROUP BY u.member_id, r.ch",
              ("opened",))
            for field, verdict in (("sightings_confirmed", "sighted"),
                                   ("false_positives", "false-positive")):
                q(field, "SELECT r.originator, r.ch, COUNT(*) FROM sightings g "
                         "JOIN r ON r.id=g.share_id WHERE g.reporter<>r.originator "
                         "AND g.verdict=? GROUP BY r.originator, r.ch", (verdict,))
            # first reports: per observable (a blind token within one channel and epoch,
            # or a normalised value of the correlation index), the earliest readable
            # share, credited when another member's readable share holds it too or
            # another member reported seeing that first share
            # (only observables held by two shares anywhere, or in a sighted share, can
            # earn one: the rest stay in the database)
            sighted = ("SELECT share_id FROM sightings WHERE verdict=? "
                       "AND reporter<>originator")
            for groups in (
                    "SELECT MIN(r.seq) AS first, COUNT(DISTINCT r.originator) AS n FROM "
                    "(SELECT channel_id, epoch, token FROM blind_tokens "
                    "GROUP BY channel_id, epoch, token HAVING COUNT(*)>1 "
                    "UNION SELECT channel_id, epoch, token FROM blind_tokens "
                    f"WHERE share_id IN ({sighted})) k "
                    "JOIN blind_tokens b ON b.channel_id=k.channel_id AND b.epoch=k.epoch "
                    "AND b.token=k.token JOIN r ON r.id=b.share_id "
                    "GROUP BY b.channel_id, b.epoch, b.token",
                    "SELECT MIN(r.seq) AS first, COUNT(DISTINCT r.originator) AS n FROM "
                    "(SELECT kind, value FROM observables GROUP BY kind, value "
                    "HAVING COUNT(*)>1 UNION SELECT kind, value FROM observables "
                    f"WHERE share_id IN ({sighted})) k "
                    "JOIN observables o ON o.kind=k.kind AND o.value=k.value "
                    "JOIN r ON r.id=o.share_id GROUP BY o.kind, o.value"):
                q("first_reports", f"SELECT r.originator, r.ch, COUNT(*) FROM ({groups}) f "
                                   f"JOIN r ON r.seq=f.first WHERE f.n>1 OR r.id IN "
                                   f"({sighted}) GROUP BY r.originator, r.ch",
                  ("sighted", "sighted"))
            return out

        for field, member, channel, n in ex.store.read(read):
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
    """Register the sightings/ledger/blind-token hooks with an Exchange (once)."""
    from vigil.analysis.blind import drop_tokens, store_tokens

    if not any(isinstance(h, ShareFacts) for h in ex.share_tx_hooks):
        ex.share_tx_hooks.append(ShareFacts(ex))
    if store_tokens not in ex.share_tx_hooks:
        ex.share_tx_hooks.append(store_tokens)
    if not any(isinstance(h, Openings) for h in ex.read_hooks):
        ex.read_hooks.append(Openings(ex))
    if drop_tokens not in ex.purge_tx_hooks:
        ex.purge_tx_hooks.append(drop_tokens)
    rule = rule_of(settings)
    if rule is not None and ex.read_gate is None:
        delays = Delays(ex, rule)
        ex.read_gate = delays
        ex.share_tx_hooks.append(delays)
