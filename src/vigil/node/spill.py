"""Large byte strings handed to and from the bundle workers through memory files.

A worker's arguments and answer travel pickled through a pipe. Pickling or unpickling
tens of MiB is one call that copies them into fresh memory while holding the
interpreter lock (50-300 ms for 31 MiB on a loaded machine): every other request of
the serving process waits that long. ``spill`` writes such a value instead to an
owner-only file under ``/dev/shm`` (memory, never a disk) with ``os.write``, which
releases the lock, and hands over only its name; ``unspill`` reads it back the same
way and removes the file. Without ``/dev/shm``, or when it is full, the value travels
pickled as before.
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


def spill(data: bytes) -> Spilled | bytes:
    """``data`` in a memory file when it is large and one can be written, else itself."""
    if len(data) < MIN or not DIRECTORY.is_dir():
        return data
    path = DIRECTORY / f"{PREFIX}{secrets.token_hex(16)}"
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
