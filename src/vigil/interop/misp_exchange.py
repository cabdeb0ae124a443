"""MISP events through a node's exchange: import as a member's shares (the ordinary
publish path: policy, signing or attestation, sealing), and export of the shares a
member may read (the ordinary read path: the member's inbox, each share opened for
it) as MISP events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.errors import VigilError
from vigil.intel.export import add_misp_tags
from vigil.interop.misp import check_tlp, convert, to_misp
from vigil.model import Actor, ShareRequest
from vigil.node.exchange import Exchange
from vigil.stix.tlp import parse_tlp
from vigil.stix.validate import ObjectChecker, ValidBundle

PUBLISH_BATCH = 32
"""Events published together: their shares are stored in one write (one commit and
sync on SQLite), each still refused or stored on its own."""


def audience_words(to: Sequence[str]) -> tuple[str, ...]:
    """``--to`` words with ``community`` meaning every member (no channel, no names)."""
    return tuple(t for t in to if t != "community")


def import_events(exchange: Exchange, actor: Actor, events: list[dict[str, Any]], *,
                  to: Sequence[str] | None, tlp: str | None,
                  fast: bool = True) -> list[dict[str, Any]]:
    """Convert each event and, when the member named the audience (``to``), publish it
    as one share. Without ``to`` nothing is published: each report carries the proposed
    audience to confirm. An event that cannot be shared (an audience wider than its
    distribution, a TLP wider than its tag, nothing left to publish) is reported and
    the others still go. The shares of up to ``PUBLISH_BATCH`` events are stored in
    one write of the store (``Exchange.publish_bundles``), and the reports come back
    once it is durable. The events' objects are validated as the objects of one
    bundle (the slow pattern checks are bounded per call, that is per request), once:
    each event's bundle is written from the objects the validator passed, and the
    publish takes it without validating it again.
    ``fast=False`` has misp-stix convert every attribute (the baseline
    ``bench.interop`` measures the direct path against)."""
    names = [c.name for c in exchange.channels(actor.member)]
    words = None if to is None else audience_words(to)
    out: list[dict[str, Any]] = []
    checker = ObjectChecker()
    batch: list[tuple[dict[str, Any], bytes, ShareRequest, ValidBundle | None]] = []

    def flush() -> None:
        got = exchange.publish_bundles(actor, [(raw, req, valid)
                                               for _, raw, req, valid in batch])
        for (report, _, req, _), pub in zip(batch, got, strict=True):
            if isinstance(pub, VigilError):
                report["error"] = _error(pub)
            else:
                report["share"] = {"id": pub.envelope.id, "tlp": req.audience.tlp.value,
                                   "recipients": list(pub.recipients)}
        batch.clear()

    for event in events:
        try:
            conv = convert(event, to=words, channels=names, fast=fast, checker=checker)
        except VigilError as exc:
            out.append({"uuid": str(event["Event"].get("uuid", "")),
                        "info": str(event["Event"].get("info", "")),
                        "error": _error(exc)})
            continue
        report = conv.report()
        out.append(report)
        if words is None:
            continue
        try:
            level = check_tlp(conv.marking, parse_tlp(tlp) if tlp else None)
            if not conv.objects:
                raise VigilError("nothing of the event can be published",
                                 code="misp.nothing_left", status=422)
            req = exchange.make_request(actor.member, tlp=level, to=words,
                                        codes=conv.marking.codes)
        except VigilError as exc:
            report["error"] = _error(exc)
            continue
        # written from the objects the checker passed: not parsed or validated
        # again by the publish
        valid = checker.bundle(conv.objects)
        batch.append((report, valid.raw if valid is not None else conv.bundle(), req,
                      valid))
        if len(batch) >= PUBLISH_BATCH:
            flush()
    if batch:
        flush()
    return out


def _error(exc: VigilError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "pointer": exc.pointer}


def export_events(exchange: Exchange, member: str, after: int, limit: int
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """The shares in the member's inbox after a cursor as MISP events; the shares left
    out (sealed to keys the node does not hold, or not convertible) with the reason;
    and the cursor to resume from."""
    events: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    rows, cursor, _ = exchange.inbox_page(member, after, limit)
    for entry, env, _state in rows:
        plain = exchange.open(member, env)
        if plain is None:
            skipped.append({"share_id": env.id, "code": "share.sealed",
                            "reason": "sealed to keys this node does not hold: export it "
                                      "with the member's keyring (vigil export misp)"})
            continue
        event, losses = to_misp(plain)
        add_misp_tags(event, env.header)
        event["Event"].setdefault("uuid", env.id.split("--", 1)[-1])
        events.append({"share_id": env.id, "seq": entry.seq, "event": event,
                       "losses": [x.to_dict() for x in losses]})
    return events, skipped, cursor
