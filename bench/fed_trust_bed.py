"""Federation trust on the network-namespace bed, timed: a split view found, spread and
refused. Needs root and `ip` (vigil.testbed).

    python -m bench.fed_trust_bed                 # 4 nodes
    python -m bench.fed_trust_bed --nodes 5

N nodes n1..nN, each ``vigil serve`` (SQLite, TLS, federating, heartbeat 1 s) in its own
namespace, reaching each other only through the bed's proxy, one member each, peered in
a full mesh. Node nN is made to fork (vigil.testbed.trust.Forker): with its node key a
second history of its log is built and shown to n1's witness for the size n1 holds of
nN's real log. Timed from the start of that request, every probe over the members' REST
API from the client namespace (a probe round every 50 ms):

- detect: n1's members see the fork alarm (/api/v1/federation/trust);
- spread: every honest node (n1..n(N-1)) shows the alarm with both signed notes;
- refused: then a share published by nN's member to a member of every honest node is
  quarantined with ``fed.fork_alarm`` at every honest node (/api/v1/federation/status),
  timed from the start of the publish. (A share sent before a node holds the evidence
  is taken there: the refusal starts with the evidence.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import save
from vigil.testbed.federation import Federation, as_seen_from, bundle
from vigil.testbed.netns import unavailable
from vigil.testbed.nodes import Testbed
from vigil.testbed.trust import Forker, alarmed, evidence, read, refused

STEP = 0.05


def until(what: Callable[[], Any], timeout: float) -> float | None:
    """Seconds (monotonic) at which `what()` first held, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return time.monotonic()
        time.sleep(STEP)
    return None


def split_view(fed: Federation, n: int, work: Path, timeout: float) -> dict[str, Any]:
    f, w = n, 1
    honest = list(range(1, n))
    forker = Forker(fed, f, work)
    try:
        # the forker's log is witnessed by n1 before the second history is shown
        size: int | None = None
        deadline = time.monotonic() + 120
        while size is None:
            t0 = time.monotonic()
            size = forker.show(w)
            if size is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"n{w} never held n{f}'s log")
                time.sleep(0.2)
        answered = time.monotonic()
        t_detect = until(lambda: alarmed(fed, w, forker.node_id), timeout)
        spread_at: dict[int, float | None] = {}
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(spread_at) < len(honest):
            for i in honest:
                if i not in spread_at and len(evidence(fed, i, forker.node_id)) == 2:
                    spread_at[i] = time.monotonic()
            time.sleep(STEP)
        t_pub = time.monotonic()

        async def publish() -> str:
            async with httpx.AsyncClient(verify=False, timeout=30) as c:
                to = [f"member:{fed.members[i][0]}@n{i}" for i in honest]
                res = await fed.publish(c, f"{fed.members[f][0]}@n{f}", to, "after fork")
                return str(res["id"])
        fed.tb.client.run(publish())
        published = time.monotonic()
        refused_at: dict[int, float | None] = {}
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(refused_at) < len(honest):
            for i in honest:
                if i not in refused_at and refused(fed, i, forker.node_id):
                    refused_at[i] = time.monotonic()
            time.sleep(STEP)

        def since(t: float | None, origin: float) -> float | None:
            return None if t is None else round(t - origin, 3)
        spread = [spread_at.get(i) for i in honest]
        refusals = [refused_at.get(i) for i in honest]
        return {
            "nodes": n, "forker": f"n{f}", "shown_to": f"n{w}", "size": size,
            "witness_answer_s": round(answered - t0, 3),
            "detect_s": since(t_detect, t0),
            "evidence_everywhere_s": None if None in spread else
            round(max(t for t in spread if t is not None) - t0, 3),
            "evidence_per_node_s": {f"n{i}": since(spread_at.get(i), t0) for i in honest},
            "publish_s": round(published - t_pub, 3),
            "refused_everywhere_after_publish_s": None if None in refusals else
            round(max(t for t in refusals if t is not None) - t_pub, 3),
            "refused_per_node_s": {f"n{i}": since(refused_at.get(i), t_pub) for i in honest},
        }
    finally:
        forker.close()


def revocation(fed: Federation, n: int, timeout: float) -> dict[str, Any]:
    """n2's member m2 signs a share, then (past the revocation point) a "stolen" one, both
    to a member of every node (r2 on n2 itself); once every node serves both, n2's
    operator runs ``vigil key revoke m2 --compromised --since POINT``. Timed from the
    start of that command: each node's REST API answers 404 for the stolen share."""
    from vigil import clock
    from vigil.client import Client
    from vigil.testbed.netns import call_in

    h = 2
    home = fed.nodes[h]
    m = home.test.members["m2"]
    fed.cli(h, "directory", "register", "m2", check=False)
    readers = {i: (f"r{i}@n{i}" if i == h else f"m{i}@n{i}") for i in range(1, n + 1)}
    to = [as_seen_from(h, f"member:{r}") for r in readers.values()]

    def pub(label: str) -> str:
        def go() -> str:
            with Client(home.bed.url, m.token, m.keyring,
                        transport=httpx.HTTPTransport(verify=False)) as c:
                return str(c.publish(bundle(label), tlp="green", to=to)["id"])
        return call_in(fed.tb.bed.client, go)

    def status(i: int, share: str) -> int:
        async def go() -> int:
            async with httpx.AsyncClient(verify=False, timeout=10) as c:
                r = await fed.call(c, readers[i], "GET", f"/api/v1/shares/{share}")
                return r.status_code
        code: int = fed.tb.client.run(go())
        return code

    def served(share: str) -> bool:
        return all(status(i, share) == 200 for i in readers)

    before = pub("signed before the compromise")
    if until(lambda: served(before), timeout) is None:
        raise RuntimeError("the share before the compromise did not reach every node")
    time.sleep(0.05)
    point = clock.now()
    time.sleep(0.05)
    stolen = pub("signed by the thief")
    if until(lambda: served(stolen), timeout) is None:
        raise RuntimeError("the stolen share did not reach every node")
    t0 = time.monotonic()
    fed.cli(h, "key", "revoke", "m2", "--compromised", "--since", point)
    cli_done = time.monotonic()
    gone: dict[int, float] = {}
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(gone) < len(readers):
        for i in readers:
            if i not in gone and status(i, stolen) == 404:
                gone[i] = time.monotonic()
        time.sleep(STEP)
    return {
        "home": f"n{h}", "cli_s": round(cli_done - t0, 3),
        "refused_everywhere_s": round(max(gone.values()) - t0, 3)
        if len(gone) == len(readers) else None,
        "refused_per_node_s": {f"n{i}": round(gone[i] - t0, 3) if i in gone else None
                               for i in readers},
        "before_still_served": served(before),
    }


def rogue_entry(fed: Federation, n: int, timeout: float) -> dict[str, Any]:
    """n3's member m3 runs its own monitor (vigil.directory.monitor.OwnerMonitor through
    TrustingClient.monitor) against n3 from the client namespace, with the witness keys
    of every node pinned. The home then adds a key for m3 that m3 never made (appended
    straight into n3's directory log with n3's node key, as a rogue operator would).
    Timed from that append: the monitor's first alarm, polling every 50 ms (the entry
    shows once a checkpoint with k cosignatures covers it)."""
    from vigil.crypto.keys import generate_sign_key
    from vigil.directory.entries import next_entry, sign_entry
    from vigil.directory.log import DirectoryLog
    from vigil.directory.monitor import OwnerMonitor
    from vigil.features import open_exchange
    from vigil.testbed.netns import call_in
    from vigil.trust_client import TrustingClient

    h = 3
    home = fed.nodes[h]
    ex_h = open_exchange(home.test.settings)
    # the witness keys of every node, pinned by the member out of band (here: as the
    # home lists them before anything rogue happens)
    witnesses = {str(w["name"]): bytes.fromhex(str(w["key"]))
                 for w in read(fed, h, "/api/v1/federation/trust")["witnesses"]}
    try:
        directory = DirectoryLog(ex_h.store, ex_h.node_id, ex_h.node_key)
        member = home.test.members[f"m{h}"].id
        k = int(read(fed, h, "/api/v1/federation/trust")["k"])
        monitor = OwnerMonitor(member, ex_h.node_id, ex_h.node_key_raw, witnesses, k)
        mine = directory.member_entries(member)
        for _, made in mine:
            monitor.signed(made.entry)
        http = httpx.Client(timeout=10.0, verify=False)

        def poll() -> list[Any]:
            return call_in(fed.tb.bed.client,
                           lambda: TrustingClient.monitor(home.bed.url, monitor, http))
        if until(lambda: not poll() and 0 < directory.size() <= monitor.tree.size,
                 timeout) is None:
            raise RuntimeError(f"m{h}'s monitor did not catch up with its directory log: "
                               f"{monitor.tree.size} of {directory.size()}")
        quiet = list(monitor.alarms)
        rogue_key = generate_sign_key(False)
        rogue = next_entry(directory.keys(member), "rotate", member, ex_h.node_id,
                           sign_key=rogue_key)
        t0 = time.monotonic()
        index = directory.append_unchecked(sign_entry(rogue, rogue_key, ex_h.node_key))
        t_alarm = until(poll, timeout)
        http.close()
        return {"home": f"n{h}", "k": k, "witnesses": len(witnesses),
                "alarms_before": len(quiet), "rogue_index": index,
                "alarm_s": None if t_alarm is None else round(t_alarm - t0, 3),
                "alarm": [f"{a.kind}@{a.index}" for a in monitor.alarms]}
    finally:
        ex_h.store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4, choices=(3, 4, 5))
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-revocation", action="store_true")
    ap.add_argument("--no-rogue", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"network namespaces are impossible here: {reason}")
    work = Path(tempfile.mkdtemp(prefix="vigil-trustbed-"))
    load = os.getloadavg()
    with Testbed(args.nodes, work, seed=17) as tb:
        members = {i: [f"m{i}"] for i in range(1, args.nodes + 1)}
        members[2].append("r2")
        fed = Federation(tb, work, members)
        t = time.monotonic()
        fed.setup(cli_pairs=())
        fed.wait_directories()
        setup_s = round(time.monotonic() - t, 1)
        result: dict[str, Any] = {"setup_s": setup_s}
        if not args.no_revocation:
            result["revocation"] = revocation(fed, args.nodes, args.timeout)
            print(result["revocation"])
        if not args.no_rogue:
            result["rogue_entry"] = rogue_entry(fed, args.nodes, args.timeout)
            print(result["rogue_entry"])
        result["split_view"] = split_view(fed, args.nodes, work, args.timeout)
    result["load_before"] = [round(x, 2) for x in load]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(result)
    print("saved", save("fed_trust_bed", result))
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
