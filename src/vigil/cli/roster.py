"""`vigil roster`: the node roster, changed only by a threshold of its nodes.

A change is a file passed from operator to operator: ``propose`` writes the statement,
each operator ``sign``\\ s it with their node's key, and any of them ``apply``\\ s it once
it carries the signatures it needs (every founder for the genesis, ceil(2n/3) of the
current nodes after); heartbeats carry it to every other node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vigil.cli.base import Ctx, out, pass_ctx
from vigil.cli.peer import _with_exchange


@click.group()
def roster() -> None:
    """The roster of nodes (docs/federation.md)."""


def _peer(ex: Any, ref: str) -> Any:
    from vigil.errors import NotFound
    from vigil.federation.peers import peers

    for p in peers(ex.store):
        if ref in (p.name, p.node):
            return p
    raise NotFound(f"no peer {ref}", code="fed.unknown_peer")


@roster.command("propose")
@click.argument("kind", type=click.Choice(["genesis", "admit", "expel", "rekey"]))
@click.argument("nodes", nargs=-1)
@click.option("--out", "path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="where to write the statement")
@pass_ctx
def roster_propose(c: Ctx, kind: str, nodes: tuple[str, ...], path: Path) -> None:
    """Write a statement: genesis of this node and the peers NODES; admit, expel or
    rekey the peer NODES[0] (with the key its descriptor pins)."""
    from vigil.roster.roster import Roster
    from vigil.roster.statements import statement

    def run(ex: Any) -> dict[str, Any]:
        r = Roster(ex.store)
        prev = r.chain[-1].digest() if r.chain else None
        if kind == "genesis":
            founders = {ex.node_id: ex.node_key_raw}
            founders.update({(p := _peer(ex, ref)).node: p.key for ref in nodes})
            return statement("genesis", 0, None, nodes=founders).to_json()
        if len(nodes) != 1:
            raise click.UsageError(f"{kind} names one node")
        p = _peer(ex, nodes[0]) if kind != "expel" or nodes[0] not in r.nodes else None
        node = p.node if p is not None else nodes[0]
        key = p.key if p is not None and kind in ("admit", "rekey") else None
        return statement(kind, len(r.chain), prev, node=node, key=key).to_json()

    path.write_text(json.dumps(_with_exchange(c, run), indent=1) + "\n")
    click.echo(f"wrote {path}")


@roster.command("sign")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def roster_sign(c: Ctx, path: Path) -> None:
    """Add this node's signature to the statement in PATH."""
    from vigil.roster.statements import SignedStatement

    signed = SignedStatement.from_json(json.loads(path.read_text()))
    got = _with_exchange(c, lambda ex: signed.cosign(ex.node_id, ex.node_key))
    path.write_text(json.dumps(got.to_json(), indent=1) + "\n")
    click.echo(f"{len(got.signatures)} signature(s)")


@roster.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def roster_apply(c: Ctx, path: Path) -> None:
    """Apply the statement in PATH (refused without the signatures it needs)."""
    from vigil.roster.roster import Roster
    from vigil.roster.statements import SignedStatement

    signed = SignedStatement.from_json(json.loads(path.read_text()))

    def run(ex: Any) -> list[str]:
        r = Roster(ex.store)
        r.apply(signed)
        return sorted(r.nodes)

    click.echo("roster: " + ", ".join(_with_exchange(c, run)))


@roster.command("show")
@pass_ctx
def roster_show(c: Ctx) -> None:
    """The nodes on the roster and the statements that made it."""
    from vigil.roster.roster import Roster

    def run(ex: Any) -> dict[str, Any]:
        r = Roster(ex.store)
        return {"nodes": sorted(r.nodes), "threshold": r.threshold() if r.nodes else None,
                "statements": [s.statement for s in r.chain]}

    out(_with_exchange(c, run))
