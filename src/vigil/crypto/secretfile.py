"""Writing secret files: mode 0600 from the first byte, atomic, durable."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_secret_file(path: str | os.PathLike[str] | Path, data: bytes, *,
                      overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600: a reader sees the old file or the new
    one, never a partial one; the file and its directory are fsynced. Without
    ``overwrite`` an existing file raises FileExistsError; other failures raise OSError."""
    target = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(target)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # No hard links here: reserve the name, then rename over our own file.
                os.close(os.open(target, flags, 0o600))
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(directory)


def owner_only_dir(path: str | os.PathLike[str] | Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing ``path`` keeps
    its mode (it may be a directory the operator shares on purpose)."""
    p = Path(path)
    if p.is_dir():
        return
    for parent in reversed(p.parents):
        if not parent.exists():
            parent.mkdir(mode=0o700, exist_ok=True)
    p.mkdir(mode=0o700, exist_ok=True)


def owner_only_file(path: str | os.PathLike[str] | Path) -> None:
    """Create ``path`` empty with mode 0600 if missing, and set 0600 on it; files that
    SQLite makes beside a database (``-wal``, ``-shm``, ``-journal``) take its mode."""
    # An existing file is never opened here: closing any descriptor of a SQLite database
    # drops every POSIX lock this process holds on it (fcntl semantics), and another
    # process could then delete the write-ahead log under a live connection.
    if os.path.exists(path):
        os.chmod(path, 0o600)
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
