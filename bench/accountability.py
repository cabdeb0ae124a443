"""Receipts, recall and retention: what each costs the node, one thread.

    python -m bench.accountability                      # SQLite in a temp dir
    python -m bench.accountability --store postgresql://127.0.0.1/vigil_bench --json

A member whose keys live in its client publishes sealed shares of real abuse.ch IOCs
to a group channel of 20 members (client keys too). Then, each timed on its own:

* receipts: every recipient's client signs a ``received`` receipt of every share and
  the node checks it (policy, key, signature) and stores it with its log entry;
* recall: the originator's client signs a recall and the node removes the payload,
  re-delivers the share to the 20 inboxes and logs it (on SQLite: with the WAL
  checkpoint that takes the removed pages out of the ``-wal`` file);
* retention: one pass over shares past their expiry, ``--batch`` per transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.common import cycle_chunks, real_iocs, save, summary
from bench.ingest import Origin, origin_of, setup
from vigil import clock
from vigil.interop.iocs import indicators_bundle
from vigil.model import Actor, Audience, Tlp
from vigil.node import accountability as acc
from vigil.node.exchange import Exchange
from vigil.protocol import receipts as wire
from vigil.protocol.envelope import build_share
from vigil.testing import TestNode


def publish(ex: Exchange, origin: Origin, raw: bytes, expires: str | None) -> str:
    req = ex.make_request(origin.id, tlp=Tlp.AMBER, to=["bench"], expires=expires)
    dec = ex.preview(req)
    assert dec.form is not None
    env = build_share(
        plaintext=raw, originator=origin.id,
        audience=Audience(Tlp.AMBER, req.audience.channel, dec.recipients),
        recipients=dec.recipients, form=dec.form, handling=req.handling, themes=(),
        regions=(), expires=req.expires, signer_private=origin.keyring.sign_private,
        signer_key_id=origin.keyring.sign_key_id,
        recipient_keys=ex.recipient_keys((*dec.recipients, origin.id)))
    return ex.accept_envelope(Actor(origin.id, "bench"), env).envelope.id


def ms(times: list[float]) -> dict[str, float]:
    return {k: v * 1000 if k != "n" else v for k, v in summary(times).items()}


def receipts(ex: Exchange, node: TestNode, shares: list[str]) -> dict[str, Any]:
    rings = [m.keyring for n, m in node.members.items() if n != "origin"]
    times = []
    t_all = time.perf_counter()
    for sid in shares:
        for kr in rings:
            t0 = time.perf_counter()
            obj = wire.receipt_object(sid, kr.member_id, wire.RECEIVED, kr.sign_key_id)
            acc.record_receipt(ex, kr.member_id, obj, wire.sign_receipt(obj, kr.sign_private))
            times.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    return {"receipts": len(times), "per_s": len(times) / total, "ms": ms(times)}


def recalls(ex: Exchange, origin: Origin, shares: list[str]) -> dict[str, Any]:
    times = []
    kr = origin.keyring
    for sid in shares:
        t0 = time.perf_counter()
        obj = wire.recall_object(sid, kr.member_id, kr.sign_key_id)
        acc.recall(ex, kr.member_id, sid, obj, wire.sign_recall(obj, kr.sign_private))
        times.append(time.perf_counter() - t0)
    return {"recalls": len(times), "ms": ms(times)}


def retention(ex: Exchange, batch: int) -> dict[str, Any]:
    later = clock.fmt(datetime.now(UTC) + timedelta(hours=2))
    t0 = time.perf_counter()
    n = acc.purge_expired(ex, now=later, batch=batch)
    total = time.perf_counter() - t0
    return {"purged": n, "seconds": total, "per_s": n / total if total else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="store URL (default SQLite in a temp dir)")
    ap.add_argument("--shares", type=int, default=50, help="shares receipted, then recalled")
    ap.add_argument("--expiring", type=int, default=500, help="shares purged by retention")
    ap.add_argument("--size", type=int, default=100, help="indicators per share")
    ap.add_argument("--recipients", type=int, default=20)
    ap.add_argument("--batch", type=int, default=200, help="retention: shares per transaction")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    iocs = real_iocs()
    chunks = cycle_chunks(iocs, args.size, args.shares + args.expiring)
    bundles = [orjson.dumps(indicators_bundle(c)) for c in chunks]
    result: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), args.recipients, args.store)
        origin = origin_of(node)
        live = [publish(ex, origin, b, None) for b in bundles[: args.shares]]
        expiring = [publish(ex, origin, b, "1h") for b in bundles[args.shares:]]
        result["receipts"] = receipts(ex, node, live)
        result["recall"] = recalls(ex, origin, live)
        result["retention"] = retention(ex, args.batch)
        assert result["retention"]["purged"] == len(expiring)
        result["log_entries"] = ex.log.size()
        ex.store.close()
    path = save("accountability" if not args.store else "accountability-postgresql", result)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r, c, p = result["receipts"], result["recall"], result["retention"]
    print(f"receipts: {r['receipts']} at {r['per_s']:,.0f}/s, p50 {r['ms']['p50']:.2f} ms "
          f"p99 {r['ms']['p99']:.2f} ms")
    print(f"recall ({args.recipients} recipients): p50 {c['ms']['p50']:.2f} ms "
          f"p99 {c['ms']['p99']:.2f} ms")
    print(f"retention: {p['purged']} shares in {p['seconds']:.2f} s ({p['per_s']:,.0f}/s)")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
