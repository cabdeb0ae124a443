"""Progress bars for long command-line work, on stderr, only when it is a terminal.

Every long CLI command (feed pulls and pushes, ``vigil log verify``, ``vigil correlate
--rebuild``, backup and restore) reports through :func:`bar`; piped into a file or run
by a scheduler the bar stays silent, so output and logs hold only results.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Bar:
    """One task's progress; ``update`` with the count done (and the total, when known)."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def update(self, done: int, total: int | None = None, note: str | None = None) -> None:
        if self._progress is None or self._task is None:
            return
        if note is None:
            self._progress.update(self._task, completed=done, total=total)
        else:
            self._progress.update(self._task, completed=done, total=total, note=note)


def on_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def bar(what: str, *, total: int | None = None, stream: TextIO | None = None,
        force: bool | None = None) -> Iterator[Bar]:
    """A progress bar labelled ``what`` on ``stream`` (stderr) if it is a terminal
    (``force`` overrides the check); else a bar that prints nothing."""
    out = stream or sys.stderr
    if not (on_terminal(out) if force is None else force):
        yield Bar()
        return
    console = Console(file=out, force_terminal=True)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                        TimeElapsedColumn(), console=console, transient=False)
    with progress:
        task = progress.add_task(what, total=total, note="")
        yield Bar(progress, task)
