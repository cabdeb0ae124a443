"""Large byte strings handed to and from the bundle workers through memory files.

A worker's arguments and answer travel pickled through a pipe. Pickling or unpickling
tens of MiB is one call that copies them into fresh memory while holding the
interpreter lock (50-300 ms for 31 MiB on a loaded machine): every other request of
the serving process waits that long. ``spill`` writes such a value instead to an
owner-only file under ``/dev/shm`` (memory, never a disk) with ``os.write``, which
releases the lock, and hands over only its name; ``unspill`` reads it back the same
way and removes the file. Without ``/dev/shm``, or when it is full, the value travels
pickled as before. A file is named for the serving process it belongs to (a worker names
its parent): ``sweep`` removes those of serving processes that are gone (killed before
the file was read).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DIRECTORY = Path("/dev/shm")
MIN = 1 << 20  # smaller values travel pickled
PREFIX = "vigil-spill-"
WRITE = 1 << 20  # bytes per write


@dataclass(frozen=True, slots=True)
class Spilled:
    """The name of a memory file holding a value (read once, then removed)."""

    path: str


def spill(data: bytes, owner: int | None = None) -> Spilled | bytes:
    """``data`` in a memory file when it is large and one can be written, else itself;
    ``owner``: the serving process's id (this process's by default)."""
    if len(data) < MIN or not DIRECTORY.is_dir():
        return data
    path = DIRECTORY / f"{PREFIX}{owner or os.getpid()}-{secrets.token_hex(16)}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return data
    try:
        with memoryview(data) as view:
            at = 0
            while at < len(view):
                at += os.write(fd, view[at:at + WRITE])
    except OSError:  # full: the value travels pickled
        discard(Spilled(str(path)))
        return data
    finally:
        os.close(fd)
    return Spilled(str(path))


def unspill(value: Spilled | bytes) -> bytes:
    """The value ``spill`` gave, its file removed."""
    if not isinstance(value, Spilled):
        return value
    try:
        return Path(value.path).read_bytes()
    finally:
        discard(value)


def discard(value: Spilled | bytes | None) -> None:
    """Remove a spilled value's file, if it is still there."""
    if isinstance(value, Spilled):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(value.path)


def sweep() -> int:
    """Remove the memory files of serving processes that no longer run; how many."""
    if not DIRECTORY.is_dir():
        return 0
    gone = 0
    for path in DIRECTORY.glob(PREFIX + "*"):
        owner = path.name[len(PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            gone += 1
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
