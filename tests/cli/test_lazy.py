"""The command modules beside ``vigil.cli.main`` are imported only when one of their
commands runs, and ``vigil --help`` lists them all as if they were loaded."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from vigil.cli.commands import COMMANDS, MEMBER_COMMANDS, USER_COMMANDS
from vigil.cli.lazy import Lazy, LazyGroup, load

TABLES = {(): COMMANDS, ("member",): MEMBER_COMMANDS, ("user",): USER_COMMANDS}
ENTRIES = [(path, name, entry) for path, table in TABLES.items()
           for name, entry in sorted(table.items())]


@pytest.mark.parametrize(("path", "name", "entry"), ENTRIES,
                         ids=[" ".join((*p, n)) for p, n, _ in ENTRIES])
def test_each_lazy_command_is_the_one_named_with_its_help(path: tuple[str, ...], name: str,
                                                          entry: Lazy) -> None:
    cmd = load(entry[0])
    assert cmd.name == name
    assert not (cmd.hidden or cmd.deprecated or cmd.short_help)
    listed = click.Command(name, help=entry[1])
    for limit in range(10, 240, 7):  # as --help shows it at any terminal width
        assert listed.get_short_help_str(limit) == cmd.get_short_help_str(limit), limit


def _help(args: list[str], width: int) -> str:
    from vigil.cli.main import cli

    res = CliRunner().invoke(cli, [*args, "--help"], terminal_width=width)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("group", [(), ("member",), ("user",)])
def test_help_lists_lazy_commands_as_loaded_ones(group: tuple[str, ...]) -> None:
    from vigil.cli.main import cli

    target = cli
    for name in group:
        sub = target.get_command(click.Context(target), name)
        assert isinstance(sub, LazyGroup)
        target = sub
    for width in (60, 120):
        lazy_help = _help(list(group), width)
        saved = dict(target.commands)
        try:
            for name in target.lazy:
                target.get_command(click.Context(target), name)
            assert set(target.commands) >= set(target.lazy)
            assert _help(list(group), width) == lazy_help
        finally:
            target.commands.clear()
            target.commands.update(saved)
    assert all(name in lazy_help for name in target.lazy)


def _loaded(args: list[str]) -> set[str]:
    """The command modules of ``vigil.cli`` a new process imports to run ``args``."""
    code = ("import sys\nfrom vigil.cli.main import cli\n"
            f"try:\n    cli.main({args!r}, standalone_mode=False)\nfinally:\n"
            "    print('LOADED', *sorted(m for m in sys.modules if m.startswith('vigil.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split("LOADED", 1)[1].split())


def test_only_the_command_run_is_imported() -> None:
    modules = {f"vigil.cli.{e[0].partition(':')[0]}" for _, _, e in ENTRIES}
    assert _loaded(["--help"]) & modules == set()
    assert _loaded(["user", "--help"]) & modules == set()
    assert _loaded(["user", "cert", "--help"]) & modules == {"vigil.cli.tokens"}
    assert _loaded(["log", "--help"]) & modules == {"vigil.cli.log"}
