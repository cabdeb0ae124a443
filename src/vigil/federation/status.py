"""What an operator reads of each peer link (``vigil peer status``, the console)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vigil import clock
from vigil.federation.peers import peers
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.storage.base import Sql
from vigil.witness.alarms import Alarms


def _age(at: str | None) -> float | None:
    if at is None:
        return None
    t = datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round((datetime.now(UTC) - t).total_seconds(), 3)


def status(ex: Exchange, service: Any = None) -> dict[str, Any]:
    """Every peer link: state, cursors both ways, backlog, lag, heartbeat, quarantine."""
    ps = peers(ex.store)
    alarms = {a.node: a for a in Alarms(ex.store).all()}

    def read(sql: Sql) -> list[dict[str, Any]]:
        out = []
        for p in ps:
            head, acked, acked_at, last_ok, last_error = q.link(sql, p.node)
            cursor, peer_head, last_batch, last_hb, withheld = q.cursor(sql, p.node)
            link = service.links.get(p.node) if service is not None else None
            out.append({
                "peer": p.name, "node": p.node, "url": p.url,
                "state": link.state if link is not None else ("down" if last_error
                                                               else "up" if last_ok
                                                               else "new"),
                "error": (link.error if link is not None else None) or last_error,
                "sent": {"head": head, "acked": acked, "backlog": head - acked,
                         "acked_at": acked_at,
                         "lag": _age(q.oldest_unacked(sql, p.node, acked))},
                "received": {"cursor": cursor, "peer_head": peer_head,
                             "behind": max(0, peer_head - cursor), "last_batch": last_batch,
                             "last_heartbeat": last_hb,
                             "heartbeat_age": _age(last_hb), "withheld": withheld,
                             "held": q.held_count(sql, p.node)},
                "quarantined": q.quarantined(sql, p.node, 20),
                "fork_alarm": alarms[p.node].status if p.node in alarms else None,
            })
        return out

    return {"node": ex.node_id, "at": clock.now(), "peers": ex.store.read(read),
            "alarms": [a.to_json() for a in alarms.values()],
            "refused": None if service is None or service.refused is None
            else service.refused.to_dict()}
