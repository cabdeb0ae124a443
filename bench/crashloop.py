"""kill -9 during publishing, round after round: nothing acknowledged is lost, nothing is
delivered twice to one cursor.

    python -m bench.crashloop --rounds 50 --store sqlite
    python -m bench.crashloop --rounds 50 --store postgres      # a fresh database
    python -m bench.crashloop --rounds 50 --store postgresql://…
    python -m bench.crashloop --rounds 50 --store sqlite --payload-apart 1   # every
                                       # payload in a file of its own (vigil.storage.payloads)

A node with two members (alpha publishes, bravo receives) runs as ``vigil serve`` in a
child process. Each round starts it on the same port; a publisher thread posts small
bundles to bravo back to back and records every share id answered 201; an SSE reader
follows bravo's ``/api/v1/stream`` through every restart, resuming with
``Last-Event-ID`` = the last id it got; once 1-4 more shares (at random) were
acknowledged in the round, at a random moment 0-0.4 s later, the server is killed with
SIGKILL, mid-request. A publish that got no answer is sent again, with the same
``Idempotency-Key``, until it is answered (in the next round). After the last round the
node is started once more and checked:

* every acknowledged share is readable by bravo (its envelope and its content) and is in
  bravo's inbox read from cursor 0 (lost = 0);
* the inbox from cursor 0 holds no share twice, and its seqs increase;
* no bundle was stored as two shares (a publish sent again after a lost answer is
  stored once: ``bundle_duplicates``);
* the SSE reader, resumed across every restart, got no share twice, its ids increase,
  and it got every acknowledged share with the inbox's seq.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vigil.testing import ServerProcess, free_port, make_node

PG_ADMIN = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TS = "2026-11-29T08:00:00.000Z"


def bundle(i: int) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": TS, "modified": TS, "name": f"crash loop {i}", "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '198.51.{i // 250 % 250}.{i % 250}']",
        "valid_from": TS}]}).encode()


@dataclass
class Outcome:
    rounds: int = 0
    acked: list[str] = field(default_factory=list)
    attempts: int = 0
    failed_attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    streamed: list[tuple[int, str]] = field(default_factory=list)
    stream_connects: int = 0
    inbox: list[tuple[int, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    inbox_duplicates: list[str] = field(default_factory=list)
    bundle_duplicates: list[str] = field(default_factory=list)
    resent: int = 0
    stream_duplicates: list[str] = field(default_factory=list)
    stream_missing: list[str] = field(default_factory=list)
    stream_out_of_order: int = 0
    seq_mismatch: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.lost or self.unreadable or self.inbox_duplicates
                    or self.bundle_duplicates
                    or self.stream_duplicates or self.stream_missing
                    or self.stream_out_of_order or self.seq_mismatch)

    def summary(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "publish_attempts": self.attempts,
                "acknowledged": len(self.acked), "not_acknowledged": self.failed_attempts,
                "why_not_acknowledged": dict(self.failures),
                "inbox_entries": len(self.inbox), "streamed_events": len(self.streamed),
                "stream_connects": self.stream_connects,
                "lost": len(self.lost), "unreadable": len(self.unreadable),
                "inbox_duplicates": len(self.inbox_duplicates),
                "sent_again_with_key": self.resent,
                "bundle_duplicates": len(self.bundle_duplicates),
                "stream_duplicates": len(self.stream_duplicates),
                "stream_missing": len(self.stream_missing),
                "stream_out_of_order": self.stream_out_of_order,
                "seq_mismatch": len(self.seq_mismatch), "ok": self.ok()}


class Publisher(threading.Thread):
    """Posts bundles back to back while ``running``, each with its own Idempotency-Key
(sent again with it until answered); keeps the ids answered 201."""

    def __init__(self, url: str, token: str, out: Outcome) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.out = url, token, out
        self.running = threading.Event()
        self.stop = threading.Event()
        self.idle = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10,
                          headers={"Authorization": f"Bearer {self.token}"}) as c:
            i = 0
            pending: tuple[bytes, str] | None = None  # sent, answer lost: send again
            while not self.stop.is_set():
                if not self.running.is_set():
                    self.idle.set()
                    self.running.wait(0.05)
                    continue
                self.idle.clear()
                if pending is None:
                    i += 1
                    pending = (bundle(i), f"crashloop-{i}")
                else:
                    self.out.resent += 1
                body, key = pending
                self.out.attempts += 1
                try:
                    r = c.post("/api/v1/shares", params={"tlp": "green", "to": "member:bravo"},
                               content=body,
                               headers={"Content-Type": "application/stix+json",
                                        "Idempotency-Key": key})
                except httpx.TransportError as exc:
                    self.out.failed_attempts += 1
                    self.out.failures[type(exc).__name__] += 1
                    time.sleep(0.05)  # the server is down until the next round
                    continue
                if r.status_code == 201:
                    self.out.acked.append(r.json()["id"])
                    pending = None
                else:
                    self.out.failed_attempts += 1
                    self.out.failures[f"HTTP {r.status_code}"] += 1
                    if r.status_code < 500:
                        pending = None


class StreamReader(threading.Thread):
    """Follows one member's SSE stream across restarts, resuming with Last-Event-ID."""

    def __init__(self, url: str, token: str, out: Outcome) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.out = url, token, out
        self.stop = threading.Event()
        self.last: int | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
            if self.last is not None:
                headers["Last-Event-ID"] = str(self.last)
            try:
                with httpx.stream("GET", self.url + "/api/v1/stream", headers=headers,
                                  timeout=httpx.Timeout(5.0, read=2.0)) as r:
                    if r.status_code != 200:
                        time.sleep(0.05)
                        continue
                    self.out.stream_connects += 1
                    self._read(r)
            except httpx.HTTPError:
                time.sleep(0.05)

    def _read(self, r: httpx.Response) -> None:
        event_id: int | None = None
        data = ""
        for line in r.iter_lines():
            if self.stop.is_set():
                return
            if line.startswith("id:"):
                event_id = int(line[3:].strip())
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "":
                if event_id is not None and data:
                    share = json.loads(data)["share_id"]
                    if self.last is not None and event_id <= self.last:
                        self.out.stream_out_of_order += 1
                    self.out.streamed.append((event_id, share))
                    self.last = event_id
                event_id, data = None, ""


@contextmanager
def store_url(store: str) -> Iterator[str | None]:
    """None for SQLite; a PostgreSQL URL (a fresh database for ``postgres``)."""
    if store == "sqlite":
        yield None
        return
    if store.startswith("postgresql://"):
        yield store
        return
    import psycopg

    name = f"vigil_crashloop_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rpartition("/")[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def duplicates(ids: list[str]) -> list[str]:
    return sorted(s for s, n in Counter(ids).items() if n > 1)


def check(url: str, token: str, out: Outcome) -> None:
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as c:
        after = 0
        while True:
            page = c.get("/api/v1/inbox", params={"after": after, "limit": 1000}).json()
            out.inbox += [(e["seq"], e["share_id"]) for e in page["entries"]]
            if not page["entries"]:
                break
            after = page["next"]
        out.inbox_duplicates = duplicates([s for _, s in out.inbox])
        seqs = [q for q, _ in out.inbox]
        if seqs != sorted(set(seqs)):
            out.inbox_duplicates.append("(inbox seqs do not increase)")
        out.lost = sorted(set(out.acked) - {s for _, s in out.inbox})
        acked = set(out.acked)
        names: list[str] = []
        for _, sid in out.inbox:
            content = c.get(f"/api/v1/shares/{sid}/content")
            if content.status_code == 200:
                names.append(json.loads(content.content)["objects"][0]["name"])
            if sid in acked and (c.get(f"/api/v1/shares/{sid}").status_code != 200
                                 or content.status_code != 200):
                out.unreadable.append(sid)
        for sid in sorted(acked - {s for _, s in out.inbox}):
            if (c.get(f"/api/v1/shares/{sid}").status_code != 200
                    or c.get(f"/api/v1/shares/{sid}/content").status_code != 200):
                out.unreadable.append(sid)
        out.bundle_duplicates = duplicates(names)


def run(rounds: int, store: str, *, seed: int | None = None, quiet: bool = False,
        work: Path | None = None, payload_apart: int | None = None) -> Outcome:
    rng = random.Random(seed)
    out = Outcome()
    with tempfile.TemporaryDirectory() as tmp, store_url(store) as pg:
        base = work or Path(tmp)
        node = make_node(base / "node", {"alpha": True, "bravo": True}, store=pg)
        env = {"VIGIL_STORE": pg} if pg else {}
        if payload_apart is not None:
            env["VIGIL_PAYLOAD_APART"] = str(payload_apart)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        publisher = Publisher(url, node.members["alpha"].token, out)
        reader = StreamReader(url, node.members["bravo"].token, out)
        publisher.start()
        reader.start()
        try:
            for n in range(rounds):
                server = ServerProcess(node.data, env=env, port=port).start(timeout=60)
                publisher.running.set()
                want = len(out.acked) + rng.randint(1, 4)
                deadline = time.monotonic() + 30
                while len(out.acked) < want and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.4))
                server.kill()  # SIGKILL, with requests in flight
                publisher.running.clear()
                publisher.idle.wait(15)
                out.rounds = n + 1
                if not quiet:
                    print(f"  round {n + 1}: {len(out.acked)} acknowledged, "
                          f"{len(out.streamed)} streamed", flush=True)
            server = ServerProcess(node.data, env=env, port=port).start(timeout=60)
            try:
                check(url, node.members["bravo"].token, out)
                want = set(out.acked)
                deadline = time.monotonic() + 60
                while not want <= {s for _, s in out.streamed} and time.monotonic() < deadline:
                    time.sleep(0.2)
            finally:
                server.stop()
        finally:
            publisher.stop.set()
            publisher.running.set()
            reader.stop.set()
            publisher.join(15)
            reader.join(15)
    out.stream_duplicates = duplicates([s for _, s in out.streamed])
    out.stream_missing = sorted(set(out.acked) - {s for _, s in out.streamed})
    inbox_seq = {s: q for q, s in out.inbox}
    out.seq_mismatch = [s for q, s in out.streamed if inbox_seq.get(s) != q]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--store", default="sqlite",
                   help="sqlite, postgres (a fresh database) or a postgresql:// URL")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--payload-apart", type=int, default=None,
                   help="SQLite: store payloads of this many bytes or more in files of "
                        "their own (the node's payload_apart setting)")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = p.parse_args()
    started = time.monotonic()
    out = run(args.rounds, args.store, seed=args.seed, quiet=args.json,
              payload_apart=args.payload_apart)
    result = {**out.summary(), "store": "sqlite" if args.store == "sqlite" else "postgresql",
              "payload_apart": args.payload_apart,
              "seconds": round(time.monotonic() - started, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        from bench.common import save

        print(json.dumps(result, indent=2))
        save(f"crashloop-{result['store']}" + ("-apart" if args.payload_apart else ""), result)
    raise SystemExit(0 if out.ok() else 1)


if __name__ == "__main__":
    main()
