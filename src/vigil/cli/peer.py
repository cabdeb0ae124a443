"""`vigil peer`: the operator's commands for peering this node with others (on the data
directory, like `vigil member`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from vigil.cli.base import Ctx, out, pass_ctx

T = TypeVar("T")


def _with_exchange(c: Ctx, fn: Callable[[Any], T]) -> T:
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    try:
        return fn(ex)
    finally:
        ex.store.close()


@click.group()
def peer() -> None:
    """Peer this node with other nodes (docs/federation.md)."""


@peer.command("descriptor")
@click.option("--json", "as_json", is_flag=True, help="print the signed descriptor")
@pass_ctx
def peer_descriptor(c: Ctx, as_json: bool) -> None:
    """This node's signed descriptor and the pin a peer's operator needs."""
    from vigil.federation.descriptor import descriptor

    signed = _with_exchange(c, lambda ex: descriptor(ex, c.settings()))
    if as_json:
        out(signed)
        return
    d = signed["descriptor"]
    click.echo(f"node {d['name']} ({d['node']}) at {d['endpoints']['fed']}")
    click.echo(f"pin      {d['pin']}")
    click.echo(f"tls pin  {d['tls_pin'] or '-'}")
    click.echo(f"peers add it with: vigil peer add {d['endpoints']['fed'][:-len('/fed/v1')]} "
               f"--pin {d['pin']}")


@peer.command("add")
@click.argument("url", required=False)
@click.option("--pin", required=True, help="the peer's node key id (its `vigil peer descriptor`)")
@click.option("--via", help="a peer (name or node id) that relays to a node this one does "
                            "not reach; the node's descriptor comes from it, checked by PIN")
@pass_ctx
def peer_add(c: Ctx, url: str | None, pin: str, via: str | None) -> None:
    """Peer with the node at URL whose node key is PIN (it must add this node too); or,
    with --via RELAY instead of URL, with a node reached only through that relay."""
    from vigil.errors import InputError
    from vigil.federation import peers
    from vigil.federation.descriptor import fed_name

    fed_name(c.settings())
    if (url is None) == (via is None):
        raise InputError("give the node's URL, or --via a relaying peer", code="input.invalid")
    if via is not None:
        from vigil.federation.descriptor import tls_pair

        pair = tls_pair(c.settings())
        p = _with_exchange(c, lambda ex: peers.add_via(ex, via, pin, tls_pair=pair))
        click.echo(f"peered with {p.name} ({p.node}) through {via}")
        return
    assert url is not None
    p = _with_exchange(c, lambda ex: peers.add(ex, url, pin))
    click.echo(f"peered with {p.name} ({p.node}) at {p.url}; tls pin {p.tls_pin or '-'}")


@peer.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def peer_list(c: Ctx, as_json: bool) -> None:
    """The peers of this node."""
    from vigil.federation import peers

    ps = _with_exchange(c, lambda ex: peers.peers(ex.store))
    if as_json:
        out([p.to_json() for p in ps])
        return
    for p in ps:
        click.echo(f"{p.name:<20} {p.node}  {p.url if p.via is None else 'via ' + p.via}")


@peer.command("show")
@click.argument("ref")
@pass_ctx
def peer_show(c: Ctx, ref: str) -> None:
    """One peer (by name or node id)."""
    from vigil.federation import peers

    out(_with_exchange(c, lambda ex: peers.peer(ex.store, ref).to_json()))


@peer.command("remove")
@click.argument("ref")
@pass_ctx
def peer_remove(c: Ctx, ref: str) -> None:
    """Stop peering with a node (its outbox rows stay until it is added again)."""
    from vigil.federation import peers

    p = _with_exchange(c, lambda ex: peers.remove(ex, ref))
    click.echo(f"removed {p.name} ({p.node})")


@peer.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def peer_status(c: Ctx, as_json: bool) -> None:
    """Per peer: link state, cursors, backlog, lag, last heartbeat, quarantined items."""
    from vigil.federation.status import status

    st = _with_exchange(c, status)
    if as_json:
        out(st)
        return
    for p in st["peers"]:
        s, r = p["sent"], p["received"]
        click.echo(f"{p['peer']:<16} {p['state']:<5} sent {s['acked']}/{s['head']} "
                   f"(backlog {s['backlog']}, lag {s['lag'] or 0}s)  received "
                   f"{r['cursor']}/{r['peer_head']}  heartbeat "
                   f"{r['heartbeat_age'] if r['heartbeat_age'] is not None else '-'}s ago"
                   + (f"  WITHHELD {r['withheld']}" if r["withheld"] else "")
                   + (f"  held {r['held']}" if r.get("held") else "")
                   + (f"  error: {p['error']}" if p["error"] else "")
                   + (f"  FORK ALARM ({p['fork_alarm']})" if p.get("fork_alarm") else ""))
        for qi in p["quarantined"]:
            click.echo(f"    quarantined #{qi['dseq']} {qi['kind']} {qi['code']}: "
                       f"{qi['message']} ({qi['at']})")
