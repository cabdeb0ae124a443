"""`vigil doctor`: what is wrong with this node's setup, and how to fix it."""

from __future__ import annotations

import sys

import click

from vigil.cli.base import Ctx, out, pass_ctx

MARK = {"ok": "ok     ", "warning": "WARNING", "problem": "PROBLEM"}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the findings as JSON")
@pass_ctx
def doctor(c: Ctx, as_json: bool) -> None:
    """Check the node's configuration, file modes, durability settings, clock and store
    and bus; say what to fix. Exit status 1 on any problem."""
    from vigil.node import doctor as checks

    findings = checks.run(c.settings())
    result = checks.summary(findings)
    if as_json:
        out(result)
    else:
        for f in findings:
            click.echo(f"{MARK[f.level]} {f.check}: {f.message}")
            if f.fix:
                click.echo(f"        fix: {f.fix}")
    if not result["ok"]:
        sys.exit(1)
