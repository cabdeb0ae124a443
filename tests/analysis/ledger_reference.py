"""A naive reference for ``vigil.analysis.ledger.report``: every readable share fetched,
decided by the policy one by one, and every count made row by row in Python (the
ledger's first implementation). ``report`` computes the same with SQL aggregates; the
random tests compare the two."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from vigil import clock
from vigil.analysis.ledger import FIELDS, CommunityRule
from vigil.model import ShareState
from vigil.node.exchange import Exchange
from vigil.policy import decide_read, visible_channels
from vigil.policy.decide import channel_members
from vigil.storage.base import Sql


def _in(sql: Any, query: str, ids: Sequence[str], *extra: Any) -> list[Any]:
    """Rows of ``query`` (``{ids}``: an IN list) for many ids, 500 at a time (the
    reference's own, so it shares no query code with the ledger it checks)."""
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


def naive_report(ex: Exchange, viewer: str) -> dict[str, Any]:
    """The ledger as ``viewer`` may see it, share by share in Python."""
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
        obs = _in(sql, "SELECT s.id, o.kind, o.value FROM observables o JOIN shares s "
                       "ON s.seq=o.share_seq WHERE s.id IN ({ids}) AND EXISTS (SELECT 1 "
                       "FROM observables p WHERE p.kind=o.kind AND p.value=o.value AND "
                       "p.share_seq<>o.share_seq)", ids)
        obs += _in(sql, "SELECT s.id, o.kind, o.value FROM observables o JOIN shares s "
                        "ON s.seq=o.share_seq WHERE s.id IN ({ids})", seen)
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
