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

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.config import Settings
from vigil.envelope import open_share
from vigil.exchange import Exchange
from vigil.lru import Lru
from vigil.model import ChannelKind, Decision, Directory, Envelope, Form, ShareRequest, Tlp
from vigil.policy import decide_read, visible_channels
from vigil.policy.decide import channel_members
from vigil.storage.base import Sql

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
        payload = env.payload if env.form is Form.PLAIN else \
            open_share(env, kr.member_id, kr.enc_private) if kr is not None else None
        if payload is not None:
            doc = orjson.loads(payload)
            objs = doc.get("objects") if isinstance(doc, dict) else None
            objects = len(objs) if isinstance(objs, list) else 0
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
            for share_id, m in due:
                cur = sql.execute("UPDATE share_delays SET released=? WHERE share_id=? AND "
                                  "member_id=? AND released=?", (True, share_id, m, False))
                if cur.rowcount:
                    sql.execute("DELETE FROM inbox WHERE member_id=? AND share_id=?",
                                (m, share_id))
                    sql.execute("INSERT INTO inbox(member_id, share_id, added) VALUES(?,?,?)",
                                (m, share_id, now))

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


def _readable_shares(ex: Exchange, viewer: str) -> dict[str, tuple[int, str, str | None,
                                                                  int | None]]:
    """{share id: (seq, originator, channel, objects)} of the shares the viewer may read
    now. The SQL only narrows the candidates (its own shares and its inbox); the policy
    decides each one."""
    rows = ex.store.read(lambda sql: sql.execute(
        "SELECT s.seq, s.id, s.header, s.recalled, s.purged, l.objects FROM shares s "
        "LEFT JOIN ledger_shares l ON l.share_id=s.id "
        "WHERE s.originator=? OR s.id IN (SELECT share_id FROM inbox WHERE member_id=?)",
        (viewer, viewer)).fetchall())
    from vigil.model import ShareState

    d = ex.directory()
    now = clock.now()
    held = ex.read_gate.not_before(viewer, [r[1] for r in rows]) \
        if ex.read_gate is not None and rows else {}
    out = {}
    for seq, sid, header, recalled, purged, objects in rows:
        h = orjson.loads(bytes(header))
        if decide_read(d, viewer, h, ShareState(bool(recalled), bool(purged)), now=now,
                       not_before=held.get(sid)):
            out[sid] = (int(seq), h["originator"], h["audience"].get("channel"),
                        None if objects is None else int(objects))
    return out


def _first_reports(groups: Iterable[list[tuple[int, str, str]]],
                   sighted: set[str]) -> list[tuple[str, str]]:
    """One credit (first share, its originator) per observable whose earliest share's
    originator saw another member publish it later, or another member report a sighting
    of that first share. Each group lists (seq, share id, originator) of the shares
    holding one observable."""
    credits = []
    for group in groups:
        group.sort()
        _, first_share, first = group[0]
        if first_share in sighted or any(o != first for _, _, o in group[1:]):
            credits.append((first_share, first))
    return credits


def report(ex: Exchange, viewer: str) -> dict[str, Any]:
    """The ledger as ``viewer`` may see it: per member, and per channel it is in."""
    shares = _readable_shares(ex, viewer)
    ids = sorted(shares)

    def read(sql: Sql) -> tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]:
        inbox = _in(sql, "SELECT member_id, share_id FROM inbox WHERE share_id IN ({ids})", ids)
        # opened: the member's signed "opened" receipt, or the node's record of its
        # reading the share by id (clients that send no receipts)
        opens = _in(sql, "SELECT member_id, share_id FROM share_opens "
                         "WHERE share_id IN ({ids})", ids)
        opens += _in(sql, "SELECT member_id, share_id FROM receipts "
                          "WHERE share_id IN ({ids}) AND what=?", ids, "opened")
        sightings = _in(sql, "SELECT share_id, reporter, verdict FROM sightings "
                             "WHERE share_id IN ({ids})", ids)
        # Only an observable held by two shares, or one in a share others sighted, can
        # earn a first-report credit: leave every other row in the database.
        seen = sorted({r[0] for r in sightings if r[2] == "sighted"})
        toks = _in(sql, "SELECT t.share_id, t.channel_id, t.epoch, t.token FROM blind_tokens t "
                        "WHERE t.share_id IN ({ids}) AND EXISTS (SELECT 1 FROM blind_tokens u "
                        "WHERE u.channel_id=t.channel_id AND u.epoch=t.epoch "
                        "AND u.token=t.token AND u.share_id<>t.share_id)", ids)
        toks += _in(sql, "SELECT share_id, channel_id, epoch, token FROM blind_tokens "
                         "WHERE share_id IN ({ids})", seen)
        obs = _in(sql, "SELECT o.share_id, o.kind, o.value FROM observables o "
                       "WHERE o.share_id IN ({ids}) AND EXISTS (SELECT 1 FROM observables p "
                       "WHERE p.kind=o.kind AND p.value=o.value AND p.share_id<>o.share_id)",
                  ids)
        obs += _in(sql, "SELECT share_id, kind, value FROM observables "
                        "WHERE share_id IN ({ids})", seen)
        return inbox, opens, sightings, toks, obs

    inbox, opens, sightings, toks, obs = ex.store.read(read)
    d = ex.directory()
    scopes: dict[str | None, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(FIELDS, 0)))

    def add(share_id: str, member: str, field: str, n: int = 1) -> None:
        scopes[None][member][field] += n
        channel = shares[share_id][2]
        if channel is not None:
            scopes[channel][member][field] += n

    for sid, (_, origin, _, objects) in shares.items():
        add(sid, origin, "shares")
        add(sid, origin, "objects", objects or 0)
    for member, sid in inbox:
        add(sid, member, "received")
    for member, sid in {(r[0], r[1]) for r in opens}:
        if member != shares[sid][1]:
            add(sid, member, "opened")
    sighted: set[str] = set()  # shares whose indicators others reported seeing
    for sid, reporter, verdict in sightings:
        origin = shares[sid][1]
        if reporter == origin:
            continue
        if verdict == "sighted":
            add(sid, origin, "sightings_confirmed")
            sighted.add(sid)
        elif verdict == "false-positive":
            add(sid, origin, "false_positives")
    # one group per observable: plain (and node-readable) values from the correlation
    # index, sealed ones by their blind token within one channel and key epoch
    groups: dict[tuple[Any, ...], list[tuple[int, str, str]]] = defaultdict(list)
    for sid, channel, epoch, tok in {(r[0], r[1], int(r[2]), bytes(r[3])) for r in toks}:
        groups[("blind", channel, epoch, tok)].append((shares[sid][0], sid, shares[sid][1]))
    for sid, kind, value in {tuple(r) for r in obs}:
        groups[("plain", kind, value)].append((shares[sid][0], sid, shares[sid][1]))
    for first_share, member in _first_reports(groups.values(), sighted):
        add(first_share, member, "first_reports")

    def rows(members: Iterable[str], counts: Mapping[str, Mapping[str, int]]
             ) -> list[dict[str, Any]]:
        return [{"member": m, "name": d.members[m].name,
                 **{f: counts.get(m, {}).get(f, 0) for f in FIELDS}}
                for m in sorted(members, key=lambda m: d.members[m].name)]

    channels = []
    for ch in visible_channels(d, viewer):
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
