"""`vigil search`, `vigil correlations`, `vigil correlate --rebuild`, `vigil warninglist`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import click
import orjson

from vigil.cli.base import Ctx, member_client, out, pass_ctx, remote
from vigil.cli.options import CURSOR, LIMIT
from vigil.errors import InputError


def _local(c: Ctx) -> Any:
    from vigil.features import open_exchange

    return open_exchange(c.settings())


def _print_search(doc: dict[str, Any]) -> None:
    q = doc["query"]
    click.echo(f"{q['kind']} {q['value']}: {doc['count']} share(s)")
    if doc["warninglists"]:
        click.echo("on warninglists: " + "; ".join(doc["warninglists"]))
    for r in doc["results"]:
        held = ", ".join(o["value"] for o in r["observables"])
        click.echo(f"{r['share']}  {r['created']}  {r['originator_name'] or r['originator']}"
                   f"  tlp:{r['tlp']}  {r['channel_name'] or '-'}  {held}")


@click.command()
@click.argument("value")
@click.option("--limit", type=LIMIT, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the API answer as JSON")
@click.option("--as", "as_member", help="search locally on this node, as this member")
@remote
@pass_ctx
def search(c: Ctx, value: str, limit: int, as_json: bool, as_member: str | None,
           node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Shares you may read that hold VALUE (an IP address or network, domain, URL,
    e-mail address, hash, ASN, wallet, or kind:value; defanged values are accepted)."""
    if as_member:
        from vigil.analysis.correlate import correlator

        ex = _local(c)
        try:
            doc = correlator(ex).search(ex.member(as_member).id, value, limit)
        finally:
            ex.store.close()
    else:
        with member_client(c, node_url, token, keyring_path) as cl:
            doc = cl._call("GET", "/api/v1/search", params={"q": value, "limit": limit})
    if as_json:
        out(doc)
    else:
        _print_search(doc)


@click.command()
@click.option("--after", type=CURSOR, default=0, help="cursor: the last notice already read")
@click.option("--limit", type=LIMIT, default=100, show_default=True)
@click.option("--follow", is_flag=True,
              help="then keep printing each new notice as the node finds it (a JSON line "
                   "each; Ctrl-C ends)")
@remote
@pass_ctx
def correlations(c: Ctx, after: int, limit: int, follow: bool, node_url: str | None,
                 token: str | None, keyring_path: str | None) -> None:
    """Your correlation notices after a cursor (JSON; resume with --after NEXT)."""
    with member_client(c, node_url, token, keyring_path) as cl:
        if not follow:
            out(cl._call("GET", "/api/v1/correlations",
                         params={"after": after, "limit": limit}))
            return

        async def run() -> None:
            async for notice in cl.notices_stream(after):
                click.echo(orjson.dumps(notice).decode())

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())


@click.command()
@click.option("--rebuild", is_flag=True, required=True,
              help="re-extract every plain share's observables and recompute correlations")
@click.option("--batch", type=int, default=500, show_default=True, help="shares per step")
@pass_ctx
def correlate(c: Ctx, rebuild: bool, batch: int) -> None:
    """Re-correlation of this node's store (run on the node)."""
    from vigil.analysis.correlate import correlator
    from vigil.progress import bar

    ex = _local(c)
    try:
        with bar("correlate shares") as b:
            stats = correlator(ex).rebuild(progress=lambda done, total, obs: b.update(
                done, total, f"{obs} observables"), batch=batch)
    finally:
        ex.store.close()
    out(stats)


@click.group()
def warninglist() -> None:
    """Warninglists: known-benign values that raise no correlation."""


@warninglist.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "as_member", help="add locally on this node, for this member")
@remote
@pass_ctx
def warninglist_add(c: Ctx, file: str, as_member: str | None, node_url: str | None,
                    token: str | None, keyring_path: str | None) -> None:
    """Add (or replace, by name) one of your warninglists (MISP warninglist JSON)."""
    raw = Path(file).read_bytes()
    if as_member:
        from vigil.analysis.warninglists import add_member_list

        ex = _local(c)
        try:
            doc = add_member_list(ex.store, ex.member(as_member).id, raw).summary()
        finally:
            ex.store.close()
    else:
        with member_client(c, node_url, token, keyring_path) as cl:
            doc = cl._call("POST", "/api/v1/warninglists", content=raw,
                           headers={"content-type": "application/json"})
    click.echo(f"warninglist {doc['name']!r}: {doc['usable']} usable of {doc['entries']} "
               f"entries ({doc['type']})")


@warninglist.command("list")
@remote
@pass_ctx
def warninglist_list(c: Ctx, node_url: str | None, token: str | None,
                     keyring_path: str | None) -> None:
    """The shipped warninglists and your own."""
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl._call("GET", "/api/v1/warninglists")
    for where in ("shipped", "own"):
        for w in doc[where]:
            click.echo(f"{where:<8} {w['type']:<10} {w['entries']:>7}  {w['name']}")


@warninglist.command("remove")
@click.argument("name")
@remote
@pass_ctx
def warninglist_remove(c: Ctx, name: str, node_url: str | None, token: str | None,
                       keyring_path: str | None) -> None:
    """Remove one of your warninglists."""
    if not name.strip():
        raise InputError("a warninglist name is needed", code="input.warninglist_name")
    with member_client(c, node_url, token, keyring_path) as cl:
        cl._call("DELETE", f"/api/v1/warninglists/{name}")
    click.echo(f"removed {name!r}")
