"""Command groups whose commands live in other modules of this package and are imported
only when run: ``vigil publish`` does not load the modules of ``vigil sso`` or ``vigil
key``. Each lazy command is named with its object (``"module:object"`` in
``vigil.cli``) and the first sentence of its help, which ``--help`` lists without
importing it (``tests/cli/test_lazy.py`` checks that both match the command)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

# a lazy command: where it lives ("module:object" in vigil.cli), and the first sentence
# of its help
Lazy = tuple[str, str]


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None,
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lazy: dict[str, Lazy] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name][0]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As ``click.Group`` lists them, a command not imported yet by its help's first
        sentence."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or click.Command(name, help=self.lazy[name][1])
            if not cmd.hidden:
                commands.append((name, cmd))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit))
                                    for name, cmd in commands])


def load(target: str) -> click.Command:
    """The command ``"module:object"`` of ``vigil.cli``."""
    module, _, name = target.partition(":")
    cmd = getattr(importlib.import_module(f"vigil.cli.{module}"), name)
    assert isinstance(cmd, click.Command), target
    return cmd
