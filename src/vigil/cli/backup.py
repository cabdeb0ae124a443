"""`vigil backup` and `vigil restore`: a node's online backup and its checked restore
(docs/deploy.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vigil.cli.base import Ctx, out, pass_ctx
from vigil.progress import bar


@click.command()
@click.argument("dest", type=click.Path(file_okay=False))
@pass_ctx
def backup(c: Ctx, dest: str) -> None:
    """Back this node up into the new directory DEST while it runs: the store (SQLite's
    backup API, or pg_dump), the data directory's files, and a signed checkpoint of the
    log in the copy. DEST holds the node key: keep it as safe as the data directory."""
    from vigil.node.backup import backup as run

    with bar("backup") as b:
        info = run(c.settings(), Path(dest), progress=lambda step, done, total: b.update(
            done, total, step))
    out(info)


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--store", help="store URL to restore into (PostgreSQL: an empty database; "
              "default: SQLite in the data directory)")
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="a signed checkpoint of this node kept elsewhere (e.g. a member's, from "
                   "`vigil log checkpoint`): the restored log must extend it (repeat)")
@pass_ctx
def restore(c: Ctx, src: str, store: str | None, checkpoints: tuple[str, ...]) -> None:
    """Restore the backup SRC as the node of the data directory (which must hold no
    node), then check the store against the log and the checkpoints. Exit status 1
    (and no node left behind) when the check fails."""
    from vigil.node.backup import restore as run

    notes = [(f"checkpoint {p}", Path(p).read_text("utf-8")) for p in checkpoints]
    with bar("restore") as b:
        report = run(c.settings(), Path(src), store=store, checkpoints=notes,
                     progress=lambda step, done, total: b.update(done, total, step))
    out(report.to_json())
    if not report.ok:
        sys.exit(1)
