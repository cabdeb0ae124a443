"""Ledger and blind correlation: token derivation, publish with blind matching, ledger reads.

    python -m bench.ledger                      # 2,000 sealed shares x 50 tokens, 5 members
    python -m bench.ledger --shares 10000 --json

On real IOC values (abuse.ch), one thread, SQLite (``--store postgresql://…`` for
PostgreSQL):

* tokens: HMAC-SHA256 tokens of the observables of a 1,000-indicator bundle, as a
  member's client derives them (extraction and normalisation included);
* publish: a sealed group-channel share stored through the node's whole path, with its
  blind tokens matched in the share's own transaction, against the same path without
  tokens;
* ledger: ``GET /api/v1/ledger``'s work (``ledger.report``) for one member once the node
  holds ``--shares`` shares, sightings and openings.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import real_iocs, save, summary
from vigil.analysis import blind, ledger, sightings
from vigil.client.blind import bundle_tokens
from vigil.interop.iocs import indicators_bundle
from vigil.model import Actor, ChannelKind, Tlp
from vigil.protocol import blind as wire
from vigil.testing import make_node


def run(shares: int, tokens_per_share: int, members: int, store: str | None,
        overlap: float) -> dict[str, Any]:
    iocs = real_iocs()
    rnd = random.Random(7)
    key = wire.new_channel_key()
    out: dict[str, Any] = {"shares": shares, "tokens_per_share": tokens_per_share,
                           "overlap": overlap, "members": members,
                           "store": "sqlite" if store is None else "postgresql"}

    big = orjson.dumps(indicators_bundle(iocs[:1000]))
    t0 = time.perf_counter()
    toks = bundle_tokens(key, big)
    dt = time.perf_counter() - t0
    out["tokens"] = {"observables": len(toks), "seconds": dt, "per_second": len(toks) / dt}

    with tempfile.TemporaryDirectory() as tmp:
        names = {f"m{i}": True for i in range(members)}
        node = make_node(Path(tmp) / "node", names, store=store)
        ex = node.exchange()
        ids = [m.id for m in node.members.values()]
        ch = ex.create_channel(ids[0], "bench", ChannelKind.GROUP, ids[1:])
        pool = [wire.token(key, f"{i.kind}:{i.value}") for i in iocs]
        small = [orjson.dumps(indicators_bundle(iocs[k:k + 3])) for k in range(0, 300, 3)]
        publish_with: list[float] = []
        publish_without: list[float] = []
        sids: list[str] = []
        for n in range(shares):
            origin = ids[n % members]
            req = ex.make_request(origin, tlp=Tlp.AMBER, to=[ch.id])
            body = small[n % len(small)]
            with_tokens = n % 2 == 0
            t0 = time.perf_counter()
            if with_tokens:
                common = round(tokens_per_share * overlap)
                toks = rnd.sample(pool, common) + [rnd.randbytes(32) for _ in
                                                   range(tokens_per_share - common)]
                pub = _publish_with_tokens(ex, origin, body, req, ch.id, toks)
            else:
                pub = ex.publish_bundle(Actor(origin), body, req)
            (publish_with if with_tokens else publish_without).append(
                time.perf_counter() - t0)
            sids.append(pub.envelope.id)
        for sid in rnd.sample(sids, min(len(sids), shares // 4)):
            reader = rnd.choice(ids)
            try:
                env, _ = sightings.readable_share(ex, reader, sid)
                ex.record_opened(reader, env)  # an opening
                inds = sightings._indicator_ids(ex, reader, env) or set()
                if inds and reader != env.originator:
                    sightings.report(ex, reader, sid, sorted(inds)[0], "sighted")
            except Exception:
                continue
        out["publish_ms"] = {
            "with_tokens": {k: v * 1000 for k, v in summary(publish_with).items() if k != "n"},
            "without": {k: v * 1000 for k, v in summary(publish_without).items() if k != "n"},
        }
        reads = []
        for _ in range(20):
            t0 = time.perf_counter()
            rep = ledger.report(ex, ids[1])
            reads.append(time.perf_counter() - t0)
        out["ledger_report_ms"] = {k: v * 1000 for k, v in summary(reads).items() if k != "n"}
        out["ledger_shares_counted"] = sum(r["shares"] for r in rep["members"])
        out["blind_matches"] = ex.store.read(lambda sql: int(sql.execute(
            "SELECT COUNT(*) FROM blind_matches").fetchone()[0]))
        ex.store.close()
    return out


def _publish_with_tokens(ex: Any, origin: str, body: bytes, req: Any, channel: str,
                         toks: list[bytes]) -> Any:
    """The node's part of a client publish with tokens: the tokens go to the share's
    transaction hook exactly as ``POST /api/v1/blind/envelopes`` hands them over."""
    def hook(sql: Any, env: Any, recipients: Any) -> None:
        with blind.attaching(blind.Attachment(env.id, channel, 1, tuple(sorted(set(toks))))):
            blind.store_tokens(sql, env, recipients)

    ex.share_tx_hooks.append(hook)
    try:
        return ex.publish_bundle(Actor(origin), body, req)
    finally:
        ex.share_tx_hooks.remove(hook)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shares", type=int, default=2000)
    p.add_argument("--tokens", type=int, default=50)
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--overlap", type=float, default=0.1,
                   help="share of each share's tokens drawn from the real IOC values (the "
                        "rest are unique): how often shares hold the same observable")
    p.add_argument("--store", default=None, help="postgresql://… (default: SQLite)")
    p.add_argument("--json", action="store_true", help="write bench/results/ledger.json")
    a = p.parse_args()
    result = run(a.shares, a.tokens, a.members, a.store, a.overlap)
    print(json.dumps(result, indent=2))
    if a.json:
        print(save("ledger", result))


if __name__ == "__main__":
    main()
