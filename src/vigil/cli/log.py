"""`vigil log`: a member checks the node's transparency log (docs/log.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vigil.cli.base import Ctx, member_client, out, pass_ctx, remote
from vigil.cli.options import COUNT, CURSOR


def _alarm(client: Any, watch: Any) -> None:
    """Say at once, on stderr, that keys were registered in this member's name that its
    keyring did not make, and stop with ``log.foreign_key``."""
    from vigil.errors import CryptoError

    for ev in watch.foreign:
        e = ev.entry
        click.echo(f"ALERT: log entry {ev.index} registers keys in this member's name "
                   f"({e['event']}: {e['sign_key']}, {e['enc_key']}) that its keyring did "
                   "not make", err=True)
    if watch.foreign:
        raise CryptoError("the node's log holds keys in this member's name that it did not "
                          "make", code="log.foreign_key")


async def watch_keys(client: Any, every: float) -> None:
    """Watch the log every ``every`` seconds (first at once); raise on a foreign key."""
    import asyncio

    while True:
        _alarm(client, await asyncio.to_thread(client.watch_log))
        await asyncio.sleep(every)


def _state_option(f: Any) -> Any:
    return click.option("--state", envvar="VIGIL_LOG_STATE", type=click.Path(dir_okay=False),
                        help="file of checkpoints this member accepted "
                             "(default <data>/checkpoints.json)")(f)


@click.group("log")
def log_group() -> None:
    """The node's transparency log: checkpoints, proofs, audit, gossip."""


@log_group.command("checkpoint")
@_state_option
@remote
@pass_ctx
def log_checkpoint(c: Ctx, state: str | None, node_url: str | None, token: str | None,
                   keyring_path: str | None) -> None:
    """Fetch the latest signed checkpoint; accept it only if it extends the last one."""
    with member_client(c, node_url, token, keyring_path, state) as client:
        cp = client.checkpoint()
        v = client.log_verifier()
        out({"origin": cp.origin, "size": cp.size, "checkpoint": v.latest[2] if v.latest
             else None, "first_use": v.first_use})


@log_group.command("proof")
@click.argument("index", type=CURSOR)
@_state_option
@remote
@pass_ctx
def log_proof(c: Ctx, index: int, state: str | None, node_url: str | None,
              token: str | None, keyring_path: str | None) -> None:
    """The inclusion proof of entry INDEX in the latest checkpoint, checked here (the
    entry itself is printed when you may see it)."""
    from vigil.crypto.encoding import b64u_decode
    from vigil.log.merkle import verify_inclusion

    with member_client(c, node_url, token, keyring_path, state) as client:
        cp = client.checkpoint()
        doc = client._call("GET", "/api/v1/log/inclusion",
                           params={"index": index, "size": cp.size})
        item = client._call("GET", "/api/v1/log/entries",
                            params={"start": index, "end": index + 1})["entries"][0]
    proof = [b64u_decode(h) for h in doc["proof"]]
    verify_inclusion(b64u_decode(item["leaf_hash"]), index, cp.size, proof, cp.root)
    out({"index": index, "size": cp.size, "verified": True, "proof": doc["proof"],
         "leaf_hash": item["leaf_hash"], "entry": item.get("entry")})


@log_group.command("consistency")
@click.argument("first", type=COUNT)
@click.argument("second", type=COUNT)
@_state_option
@remote
@pass_ctx
def log_consistency(c: Ctx, first: int, second: int, state: str | None,
                    node_url: str | None, token: str | None,
                    keyring_path: str | None) -> None:
    """The consistency proof from tree size FIRST to SECOND, checked here against the
    node's signed checkpoints of both sizes."""
    from vigil.crypto.encoding import b64u_decode
    from vigil.log.merkle import verify_consistency

    with member_client(c, node_url, token, keyring_path, state) as client:
        v = client.log_verifier()
        cps = [v.accept(client._call("GET", "/api/v1/log/checkpoint",
                                     params={"size": n})["checkpoint"])
               for n in (first, second)]
        doc = client._call("GET", "/api/v1/log/consistency",
                           params={"from": first, "to": second})
    verify_consistency(first, second, [b64u_decode(h) for h in doc["proof"]],
                       cps[0].root, cps[1].root)
    out({"from": first, "to": second, "verified": True, "proof": doc["proof"]})


@log_group.command("verify")
@click.option("--from", "start", type=CURSOR, default=0, help="first entry to check")
@click.option("--to", "end", type=CURSOR, default=None, help="stop before this entry")
@click.option("--no-fetch", is_flag=True, help="do not fetch shares to check signatures")
@_state_option
@remote
@pass_ctx
def log_verify(c: Ctx, start: int, end: int | None, no_fetch: bool, state: str | None,
               node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Audit the log: root, entry hashes, signatures, and shares addressed to this
    member that were never delivered. Exit status 1 on any finding."""
    from vigil.client.audit import audit
    from vigil.progress import bar

    with member_client(c, node_url, token, keyring_path, state) as client, \
            bar("log entries") as b:
        report = audit(client, start=start, end=end, fetch_shares=not no_fetch,
                       progress=b.update if b.shown else None)
    out(report.to_json())
    if not report.ok:
        sys.exit(1)


@log_group.command("gossip")
@_state_option
@remote
@pass_ctx
def log_gossip(c: Ctx, state: str | None, node_url: str | None, token: str | None,
               keyring_path: str | None) -> None:
    """Hand the checkpoint this member holds to the node and list the forks the node
    reports among every member's checkpoints. Exit status 1 if there is one."""
    with member_client(c, node_url, token, keyring_path, state) as client:
        client.checkpoint()
        v = client.log_verifier()
        assert v.latest is not None
        client._call("POST", "/api/v1/log/gossip", json={"checkpoint": v.latest[2]})
        doc = client._call("GET", "/api/v1/log/gossip")
    out({"forks": doc["forks"], "checkpoints": len(doc["checkpoints"])})
    if doc["forks"]:
        sys.exit(1)


@log_group.command("compare")
@click.argument("note_file", type=click.Path(exists=True, dir_okay=False))
@_state_option
@remote
@pass_ctx
def log_compare(c: Ctx, note_file: str, state: str | None, node_url: str | None,
                token: str | None, keyring_path: str | None) -> None:
    """Check a checkpoint another member holds (a signed note file) against this
    member's: a fork or an inconsistency is refused and kept as evidence."""
    with member_client(c, node_url, token, keyring_path, state) as client:
        cp = client.log_verifier().accept(Path(note_file).read_text("utf-8"))
    out({"consistent": True, "size": cp.size})


@log_group.command("watch")
@click.option("--every", default=30.0, show_default=True, help="seconds between watches")
@click.option("--once", is_flag=True, help="watch once and exit")
@click.option("--from", "start", type=CURSOR, default=None,
              help="first entry (default: where the last watch stopped)")
@_state_option
@remote
@pass_ctx
def log_watch(c: Ctx, every: float, once: bool, start: int | None, state: str | None,
              node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Watch the log for key entries in this member's name (needs --keyring) and for
    the recall or purge of shares sent to it; prints each as a JSON line. A key its
    keyring did not make: a line on stderr and exit status 1, at once."""
    import json
    import time

    with member_client(c, node_url, token, keyring_path, state) as client:
        after = start
        while True:
            w = client.watch_log(after)
            for ev in w.events:
                click.echo(json.dumps({"index": ev.index, "foreign": ev.foreign,
                                       "entry": ev.entry}))
            try:
                _alarm(client, w)
            except Exception:
                sys.exit(1)
            if once:
                return
            after = None
            time.sleep(every)
