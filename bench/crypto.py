"""The cost of the hybrid suites: primitives per second, ingest and publish -> SSE, with
the classical suite beside the hybrid one in the same run.

    python -m bench.crypto --pin                         # everything, defaults below
    python -m bench.crypto --skip-delivery --bundles 20  # quicker

1. Per suite, in one thread: signatures made and verified per second over a real share
   header (``ed25519`` and ``ed25519+mldsa65``), content keys wrapped and unwrapped per
   second (``x25519`` and ``mlkem768x25519``).
2. Ingest (bench/ingest.py): the same real-IOC bundles published by a member's client
   (sign + seal to 20 recipients + the node's checks and store), once on a node whose
   members have classical keys and once on one whose members have hybrid keys.
   Target: hybrid ≥ 0.7× classical.
3. Publish -> SSE (bench/delivery.py): 100 live subscribers, small shares signed by a
   keyring the node holds, classical then hybrid. Target: hybrid p99 ≤ 15 ms. With
   ``--client-signs`` the publisher signs each share on its own client and posts the
   envelope; its signing time is printed apart.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import delivery, ingest
from bench.common import cycle_chunks, real_iocs, save
from vigil.crypto.kem import enc_alg
from vigil.crypto.keys import (
    enc_key_id,
    enc_public_raw,
    generate_enc_key,
    generate_sign_key,
    sign_alg,
    sign_public_raw,
)
from vigil.crypto.seal import unwrap_key, wrap_key
from vigil.crypto.sign import TAG_SHARE, sign, verify
from vigil.interop.iocs import indicators_bundle

SID = "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
MEMBER = "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
HEADER: dict[str, Any] = {
    "v": 1, "kind": "share", "id": SID, "originator": MEMBER, "key": "ed25519:" + "0" * 32,
    "provenance": "originator", "created": "2026-11-29T08:00:00.000Z", "expires": None,
    "audience": {"tlp": "amber", "channel": None, "recipients": [MEMBER] * 1},
    "handling": {"purpose": None, "no_onward": False, "codes": []},
    "themes": ["cyber"], "regions": ["EU"],
    "payload": {"media_type": "application/stix+json;version=2.1", "form": "sealed",
                "size": 123456, "digest": "sha256:" + "ab" * 32},
    "seal": {"suite": "hpke-x25519-sha256-aes128gcm+aes256gcm",
             "wraps_digest": "sha256:" + "cd" * 32}}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    fn()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(10):
            fn()
        n += 10
    return n / elapsed


def primitives(seconds: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for hybrid in (False, True):
        sk = generate_sign_key(hybrid)
        pub = sign_public_raw(sk)
        sig = sign(TAG_SHARE, HEADER, sk)
        out[sign_alg(sk)] = {
            "sign_per_s": rate(lambda sk=sk: sign(TAG_SHARE, HEADER, sk), seconds),
            "verify_per_s": rate(lambda pub=pub, sig=sig: verify(TAG_SHARE, HEADER, sig, pub),
                                 seconds),
            "signature_bytes": len(sig), "public_key_bytes": len(pub)}
        ek = generate_enc_key(hybrid)
        kid, epub = enc_key_id(ek), enc_public_raw(ek)
        w = wrap_key(SID, b"k" * 32, MEMBER, kid, epub)
        out[enc_alg(ek)] = {
            "wrap_per_s": rate(lambda kid=kid, epub=epub: wrap_key(SID, b"k" * 32, MEMBER, kid,
                                                                  epub), seconds),
            "unwrap_per_s": rate(lambda w=w, ek=ek: unwrap_key(SID, w, ek), seconds),
            "wrap_bytes": len(w.blob), "public_key_bytes": len(epub)}
    return out


def ingest_pair(bundles: list[bytes], recipients: int, rounds: int) -> dict[str, Any]:
    """Classical and hybrid nodes, interleaved ``rounds`` times (so neither gains from
    going second); each suite's figure is its best round."""
    out: dict[str, Any] = {"classical": [], "hybrid": []}
    for _ in range(rounds):
        for label, hybrid in (("classical", False), ("hybrid", True)):
            with tempfile.TemporaryDirectory() as tmp:
                node, ex = ingest.setup(Path(tmp), recipients, hybrid=hybrid)
                try:
                    r = ingest.run_round(ex, ingest.origin_of(node), bundles)
                finally:
                    ex.store.close()
            out[label].append(r)
            print(f"ingest {label}: {r['objects_per_s']:,.0f} objects/s, bundle p50 "
                  f"{r['per_bundle_ms']['p50']:.1f} ms p99 {r['per_bundle_ms']['p99']:.1f} ms",
                  flush=True)
    best = {k: max(out[k], key=lambda r: r["objects_per_s"]) for k in ("classical", "hybrid")}
    out["best"] = best
    out["ratio_hybrid_to_classical"] = \
        best["hybrid"]["objects_per_s"] / best["classical"]["objects_per_s"]
    return out


def delivery_pair(subscribers: int, shares: int, gap: float, pin: bool,
                  client_signs: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    args = argparse.Namespace(subscribers=subscribers, shares=shares, gap=gap, store=None,
                              bus="local://", workers=1, pin=pin, classical=False,
                              client_signs=client_signs)
    for label, hybrid in (("classical", False), ("hybrid", True)):
        out[label] = r = delivery.measure(args, hybrid=hybrid)
        s, a, q = (r["latency_from_publish_start_ms"], r["latency_from_ack_ms"],
                   r["publish_request_ms"])
        print(f"publish->SSE {label}: delivered {r['delivered']}/{r['expected']}; from the "
              f"publish start p50 {s['p50']:.2f} ms p99 {s['p99']:.2f} ms; from the 2xx p50 "
              f"{a['p50']:.2f} ms p99 {a['p99']:.2f} ms; publish request p50 {q['p50']:.2f} "
              f"ms p99 {q['p99']:.2f} ms; server CPU {r['server_cpu_ms_per_share']:.1f} ms "
              f"per share (event loop {r['server_loop_cpu_ms_per_share']:.1f} ms)", flush=True)
        if r["client_signing_ms"]:
            c = r["client_signing_ms"]
            print(f"  client signing before each publish (not in the figures above): p50 "
                  f"{c['p50']:.2f} ms p99 {c['p99']:.2f} ms", flush=True)
        for w in r["slowest_shares"]:
            print(f"  slowest: share {w['n']}: request {w['request_ms']:.1f} ms, last event "
                  f"{w['last_ms']:.1f} ms from the publish start", flush=True)
    h = out["hybrid"]["latency_from_publish_start_ms"]["p99"]
    print(f"publish->SSE hybrid p99 from the publish start: {h:.2f} ms (target ≤ 15 ms: "
          f"{'met' if h <= 15 else 'not met'}; load average {os.getloadavg()[0]:.1f})",
          flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.0, help="per primitive figure")
    ap.add_argument("--bundles", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2, help="ingest rounds per suite")
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--recipients", type=int, default=20)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--shares", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.1)
    ap.add_argument("--pin", action="store_true", help="delivery: the node on CPU 0, the "
                    "measuring side on the others (as bench.delivery --pin)")
    ap.add_argument("--client-signs", action="store_true", help="delivery: the publisher "
                    "signs on its own client and posts envelopes (as bench.delivery "
                    "--client-signs); its signing time is reported apart")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-delivery", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    result: dict[str, Any] = {"args": vars(args)}
    result["primitives"] = primitives(args.seconds)
    for suite, figures in result["primitives"].items():
        print(f"{suite:16s} " + "  ".join(
            f"{k} {v:,.0f}" for k, v in figures.items()), flush=True)
    if not args.skip_ingest:
        bundles = [orjson.dumps(indicators_bundle(c))
                   for c in cycle_chunks(real_iocs(), args.size, args.bundles)]
        result["ingest"] = ingest_pair(bundles, args.recipients, args.rounds)
        print(f"ingest hybrid / classical: {result['ingest']['ratio_hybrid_to_classical']:.2f}"
              " (target ≥ 0.7)")
    if not args.skip_delivery:
        result["delivery"] = delivery_pair(args.subscribers, args.shares, args.gap, args.pin,
                                           args.client_signs)
    print(f"saved {save('crypto', result)}")


if __name__ == "__main__":
    main()
