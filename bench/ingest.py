"""Ingest: parse + validate + sign + seal + store + fan-out, one core, on real IOC lists.

    python -m bench.ingest                       # 100 bundles x 1,000 indicators, 20 recipients
    python -m bench.ingest --fill 1000000        # then the same bundles again at 1,000,000

The fill publishes through the real path too (every share-transaction hook runs), so the
second round meets the rows a real node holds; bench.scale measures a fill over HTTP.

Each bundle goes through the whole publish path of a member whose keys live in its
client: strict JSON parse, STIX 2.1 validation, policy preview, signing, sealing for 20
recipients (+ the originator), then the node's acceptance (signature and policy check)
and the SQLite transaction with 20 inbox rows. One thread: the figure is per core.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.common import cycle_chunks, real_iocs, save, summary
from vigil.config import load_settings
from vigil.crypto.keyring import Keyring, load_keyring
from vigil.features import open_exchange
from vigil.interop.iocs import indicators_bundle
from vigil.model import Actor, Audience, ChannelKind, Tlp
from vigil.node.exchange import Exchange
from vigil.protocol.envelope import build_share, envelope_from_json, envelope_to_json
from vigil.stix import strictjson
from vigil.stix.validate import validate_bundle
from vigil.testing import PASSPHRASE, TestNode, make_node


def setup(tmp: Path, recipients: int, store: str | None = None,
          hybrid: bool = True) -> tuple[TestNode, Exchange]:
    names = {"origin": False} | {f"r{i:02d}": False for i in range(recipients)}
    node = make_node(tmp / "node", names, store=store, hybrid=hybrid)
    ex = node.exchange()
    ex.create_channel(node.members["origin"].id, "bench", ChannelKind.GROUP,
                      [m.id for n, m in node.members.items() if n != "origin"])
    return node, ex


@dataclass
class Origin:
    id: str
    keyring: Keyring


def origin_of(node: TestNode) -> Origin:
    m = node.members["origin"]
    return Origin(m.id, m.keyring)


def attach(data: Path) -> tuple[Exchange, Origin]:
    """Open an existing bench node (made by `setup`) as another worker would."""
    ex = open_exchange(load_settings(data))
    kr = load_keyring(data.parent / f"{data.name}-client-keyrings" / "origin.keyring",
                      PASSPHRASE)
    return ex, Origin(kr.member_id, kr)


def client_side(ex: Exchange, origin: Origin, raw: bytes) -> bytes:
    """What the member's client does: parse, validate, preview, sign, seal -> wire bytes."""
    bundle = strictjson.loads(raw)
    validate_bundle(bundle)
    req = ex.make_request(origin.id, tlp=Tlp.AMBER, to=["bench"], themes=["cyber"])
    dec = ex.preview(req)
    assert dec.form is not None
    keys = ex.recipient_keys((*dec.recipients, origin.id))
    env = build_share(
        plaintext=raw, originator=origin.id,
        audience=Audience(Tlp.AMBER, req.audience.channel, dec.recipients),
        recipients=dec.recipients, form=dec.form, handling=req.handling, themes=req.themes,
        regions=req.regions, expires=None, signer_private=origin.keyring.sign_private,
        signer_key_id=origin.keyring.sign_key_id, recipient_keys=keys)
    return orjson.dumps(envelope_to_json(env))


def node_side(ex: Exchange, origin: Origin, wire: bytes) -> None:
    """What the node does with it: parse the envelope, check signature, digest, wraps and
    policy, store the share and its inbox rows in one transaction."""
    ex.accept_envelope(Actor(origin.id, "bench"), envelope_from_json(orjson.loads(wire)))


def publish_one(ex: Exchange, origin: Origin, raw: bytes) -> None:
    node_side(ex, origin, client_side(ex, origin, raw))


def run_round(ex: Exchange, origin: Origin, bundles: list[bytes],
              node_only: bool = False) -> dict[str, Any]:
    times = []
    wires = [client_side(ex, origin, raw) for raw in bundles] if node_only else []
    t_all = time.perf_counter()
    for k, raw in enumerate(bundles):
        t0 = time.perf_counter()
        if node_only:
            node_side(ex, origin, wires[k])
        else:
            publish_one(ex, origin, raw)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    objects = sum(len(orjson.loads(b)["objects"]) for b in bundles)
    return {"objects": objects, "seconds": total, "objects_per_s": objects / total,
            "per_bundle_ms": {k: v * 1000 if k != "n" else v
                              for k, v in summary(times).items()}}


def fill(ex: Exchange, origin: Origin, target_objects: int, per_share: int,
         offset: int) -> float:
    """Publish bundles of new IOCs through the same path as the rounds (client-signed and
    sealed, accepted by the node with every share-transaction hook: log entry, TAXII
    index, ledger facts; then correlated) until ``target_objects`` are stored."""
    have = ex.store.share_count() * per_share
    need = max(0, target_objects - have) // per_share
    t0 = time.perf_counter()
    for chunk in list(cycle_chunks(real_iocs(), per_share, offset + need))[offset:]:
        publish_one(ex, origin, orjson.dumps(indicators_bundle(chunk)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundles", type=int, default=100)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--recipients", type=int, default=20)
    ap.add_argument("--fill", type=int, default=0, help="then fill to this many stored objects"
                    " and measure again")
    ap.add_argument("--store", help="store URL (default SQLite in a temp dir)")
    ap.add_argument("--attach", help="publish into an existing bench node (a second worker)")
    ap.add_argument("--offset", type=int, default=0, help="skip this many bundles of IOCs")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    ap.add_argument("--node-only", action="store_true",
                    help="time only the node's part (envelopes are built before timing)")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    iocs = real_iocs()
    total = args.offset + args.bundles
    chunks = list(cycle_chunks(iocs, args.size, total))[args.offset:]
    bundles = [orjson.dumps(indicators_bundle(c)) for c in chunks]
    if args.attach:
        ex, origin = attach(Path(args.attach))
        res = run_round(ex, origin, bundles, args.node_only)
        ex.store.close()
        print(json.dumps(res))
        return
    print(f"{len(iocs)} real IOCs -> {len(bundles)} bundles of {args.size} indicators "
          f"({sum(map(len, bundles)) / len(bundles) / 1024:.0f} KiB each)")
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), args.recipients, args.store)
        origin = origin_of(node)
        first = run_round(ex, origin, bundles[: args.bundles])
        print(f"round 1 ({ex.store.share_count() * args.size:,} objects stored after): "
              f"{first['objects_per_s']:,.0f} objects/s, bundle p50 "
              f"{first['per_bundle_ms']['p50']:.1f} ms p99 {first['per_bundle_ms']['p99']:.1f} ms")
        result: dict[str, Any] = {"args": vars(args), "round_small": first}
        if args.fill:
            t = fill(ex, origin, args.fill, args.size, args.offset + args.bundles)
            print(f"filled to {ex.store.share_count() * args.size:,} objects in {t:.0f} s")
            second = run_round(ex, origin, bundles)  # the same bundles, as new shares
            ratio = second["objects_per_s"] / first["objects_per_s"]
            print(f"round 2 ({ex.store.share_count() * args.size:,} objects stored after): "
                  f"{second['objects_per_s']:,.0f} objects/s, bundle p50 "
                  f"{second['per_bundle_ms']['p50']:.1f} ms p99 "
                  f"{second['per_bundle_ms']['p99']:.1f} ms; ratio {ratio:.2f}")
            result["round_large"] = second
            result["ratio_large_to_small"] = ratio
        ex.store.close()
    print(f"saved {save('ingest', result)}")


if __name__ == "__main__":
    main()
