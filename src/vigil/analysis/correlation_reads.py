"""What a member is told of correlations: its notices (the other share in full, a
hint, or nothing, as the access gate decides when it reads) and a search for an
observable among the shares it may read."""

from __future__ import annotations

import functools
from typing import Any

from vigil.analysis import stored
from vigil.analysis.correlation_pass import CorrelationPass
from vigil.analysis.correlation_rows import (
    _obs_json,
    share_states,
)
from vigil.analysis.index import parse_ip
from vigil.analysis.observables import Observable, guess
from vigil.errors import InputError
from vigil.model import Directory, ShareHeader, ShareState
from vigil.policy.access import Access
from vigil.storage import correlations as corr
from vigil.storage.base import Sql


def wide(text: str) -> bool:
    """Whether a search for ``text`` may be long: an IP network, which may overlap many
    stored addresses and networks (one range scan). Any other observable -- an address,
    a URL (whose "/" makes no network), a hash, a domain -- is a few probes of the
    index's keys, and so is text that is no observable (refused)."""
    obs = guess(text)
    net = parse_ip(obs.value) if obs is not None and obs.kind == "ip" else None
    return net is not None and net[2] < (32 if net[0] == 4 else 128)


class CorrelationReads(CorrelationPass):
    """Notices and search over a correlation engine."""

    # -- what a member sees ---------------------------------------------------------------
    def notices(self, member: str, after: int = 0, limit: int = 100
                ) -> tuple[list[dict[str, Any]], int]:
        """The member's correlation notices after a cursor, and the cursor to resume from
        (past rows the policy hides as well). A hint depends only on the member's own
        share and value and on the channel: one per (own share, value, channel), at the
        first row that gives it, and with its own share's time, so neither how many
        shares it may not read hold the value nor when they came is told."""
        self.process()

        def read(sql: Sql) -> tuple[list[Any], list[Any],
                                    dict[str, tuple[ShareHeader, ShareState]]]:
            rows = corr.member_rows(sql, member, after, limit)
            # the rows of the same own shares up to this page: which one hints first
            own_ids = sorted({r[1] for r in rows}) if rows else []
            same = corr.same_value_rows(sql, member, rows[-1][0], own_ids) if rows else []
            ids = {r[1] for r in rows} | {r[2] for r in rows} | {r[2] for r in same}
            return rows, same, share_states(sql, ids)

        rows, same, states = self.store.read(read)
        gate = Access(self.ex, member)
        d = gate.directory
        views = {v.share_id: v for v in gate.views((sid, h, s) for sid, (h, s) in states.items())}
        first_hint: dict[tuple[str, str, str, str], int] = {}
        for pos, share_id, other_id, kind, value, other_value in sorted(same):
            own, other = views.get(share_id), views.get(other_id)
            if own is not None and other is not None and gate.correlation(
                    own, other, value=value, other_value=other_value) == "hint":
                key = (share_id, kind, value, str(other.header["audience"]["channel"]))
                first_hint.setdefault(key, int(pos))
        mine = self.member_lists.of(member)
        out = []
        for seq, share_id, other_id, kind, value, other_value in rows:
            own = views.get(share_id)
            if own is None or not gate.read(own):
                continue
            obs, other_obs = Observable(kind, value), Observable(kind, other_value)
            # the member's own lists apply to its own value, and to the other share's
            # only where it may read that share: applied to a value it may not read,
            # they would let it test that value against lists of its choosing
            if mine.hits(obs):
                continue
            other = views.get(other_id)
            if other is None:
                continue
            header = other.header
            # the correlation arose when the later of the two shares was published
            notice: dict[str, Any] = {"seq": int(seq),
                                      "created": max(own.header["created"], header["created"]),
                                      "share": share_id, "observable": _obs_json(kind, value)}
            told = gate.correlation(own, other, value=value, other_value=other_value)
            if told == "match":
                if mine.hits(other_obs):
                    continue
                notice["match"] = self._match_json(d, other_id, header, other_obs)
            elif told == "hint":
                channel = str(header["audience"]["channel"])
                if first_hint.get((share_id, kind, value, channel)) != seq:
                    continue
                notice["created"] = own.header["created"]
                notice["hint"] = self._hint_json(d, header)
            else:
                continue
            out.append(notice)
        return out, int(rows[-1][0]) if rows else after

    @staticmethod
    def _match_json(d: Directory, share_id: str, header: ShareHeader, obs: Observable
                    ) -> dict[str, Any]:
        origin = d.members.get(header["originator"])
        channel = header["audience"].get("channel")
        ch = d.channels.get(channel) if channel else None
        return {"share": share_id, "originator": header["originator"],
                "originator_name": origin.name if origin else None,
                "created": header["created"], "tlp": header["audience"]["tlp"],
                "channel": channel, "channel_name": ch.name if ch else None,
                "observable": _obs_json(obs.kind, obs.value)}

    @staticmethod
    def _hint_json(d: Directory, header: ShareHeader) -> dict[str, Any]:
        channel = str(header["audience"]["channel"])
        name = d.channels[channel].name
        return {"channel": channel, "channel_name": name,
                "text": f"a member of channel {name} holds a match"}

    def search(self, member: str, text: str, limit: int = 100) -> dict[str, Any]:
        """Shares the member may read that hold the observable written in ``text``
        (normalised; IP addresses and networks match by overlap), newest first, with
        the warninglists that name it."""
        obs = guess(text)
        if obs is None:
            raise InputError(f"{text.strip()[:80]!r} is not an observable vigil compares "
                             "(IP address or network, domain, URL, e-mail address, hash, "
                             "ASN, wallet; or kind:value)", code="input.observable",
                             pointer="/q")
        if not 1 <= limit <= 1000:
            raise InputError("limit must be 1..1000", code="input.limit", pointer="/limit")
        self.process()
        found = self.store.read(functools.partial(stored.lookup, observables=[obs],
                                                  pending=self.pending))
        held: dict[str, list[Observable]] = {}
        for _seq, o, sid, _originator in found.get(obs, []):
            held.setdefault(sid, []).append(o)
        states = self.store.read(lambda sql: share_states(sql, held)) if held else {}
        gate = Access(self.ex, member)
        d = gate.directory
        readable = gate.readable_ids((sid, h, s) for sid, (h, s) in states.items())
        results = []
        for sid, values in held.items():
            got = states.get(sid)
            if got is None or sid not in readable:
                continue
            item = self._match_json(d, sid, got[0], values[0])
            del item["observable"]
            item["observables"] = [_obs_json(o.kind, o.value) for o in sorted(set(values))]
            results.append(item)
        results.sort(key=lambda r: (r["created"], r["share"]), reverse=True)
        hits = sorted({*self.lists.hits(obs), *self.member_lists.of(member).hits(obs)})
        return {"query": _obs_json(obs.kind, obs.value), "warninglists": hits,
                "count": len(results), "results": results[:limit]}

