"""Large payloads of the SQLite store, each in a file of its own beside the database.

SQLite has one writer: a share of tens of MiB written in its row holds every other
writer for as long as its pages take to write and sync. A payload of ``APART`` bytes or
more is written instead to ``<database>-payloads/<ref>`` — the file synced, then its
directory — before the short transaction that stores the share row naming it
(``shares.payload_ref``, ``shares.payload`` empty). That commit is still what makes the
share durable and what its publisher's answer waits for: the file is on disk before it.

* ``ref`` is the payload's SHA-256 and a hash of the share id: no two shares name one
  file, so removing one share's payload never touches another's.
* Recall and purge remove the file once their transaction commits (overwritten with
  zeros first, as ``secure_delete`` does for pages); a file whose row never committed
  (the process died between the two) or whose removal was cut short is removed by the
  sweep at the next start, once it is an hour old.
* Readers get the bytes through ``Sql.payload(stored, ref)``; PostgreSQL keeps every
  payload in its row (``payload_ref`` is always NULL there).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from vigil.crypto.secretfile import owner_only_dir, write_secret_file
from vigil.storage.base import Sql

log = logging.getLogger(__name__)

APART = 128 * 1024
"""Payloads of this many bytes or more are stored apart (SQLite)."""

SWEEP_AGE = 3600.0  # seconds: a younger unreferenced file may belong to a commit under way


def payload_dir(db_path: str) -> Path:
    return Path(db_path + "-payloads")


def ref_of(share_id: str, payload: bytes) -> str:
    return (hashlib.sha256(payload).hexdigest() + "-"
            + hashlib.sha256(share_id.encode()).hexdigest()[:16])


class PayloadFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure(self) -> None:
        """Create the directory (mode 0700, its creation synced) if it is missing."""
        if not self.directory.is_dir():
            owner_only_dir(self.directory)
            _fsync(self.directory.parent)

    def path(self, ref: str) -> Path:
        if not ref or "/" in ref or ref.startswith("."):
            raise ValueError(f"not a payload reference: {ref!r}")
        return self.directory / ref

    def write(self, share_id: str, payload: bytes) -> str:
        """Write and sync the payload's file (and the directory); its reference."""
        ref = ref_of(share_id, payload)
        write_secret_file(self.path(ref), payload, overwrite=True)
        return ref

    def read(self, ref: str) -> bytes:
        return self.path(ref).read_bytes()

    def remove(self, refs: Iterable[str]) -> None:
        """Overwrite each file with zeros, sync it, and remove it."""
        for ref in refs:
            path = self.path(ref)
            try:
                with path.open("r+b") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(0)
                    zeros = bytes(min(size, 1 << 20))
                    left = size
                    while left > 0:
                        left -= f.write(zeros[:left])
                    f.flush()
                    os.fsync(f.fileno())
                path.unlink()
            except FileNotFoundError:
                continue
        _fsync(self.directory)

    def sweep(self, referenced: set[str], min_age: float = SWEEP_AGE) -> int:
        """Remove files no share row names (older than ``min_age`` seconds)."""
        now = time.time()
        gone = []
        for path in self.directory.iterdir():
            if path.name in referenced:
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime >= min_age:
                    gone.append(path.name)
        if gone:
            log.info("removing %d payload file(s) no share names", len(gone))
            self.remove(gone)
        return len(gone)


def _fsync(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def referenced(sql: Sql) -> set[str]:
    return {str(r[0]) for r in sql.execute(
        "SELECT payload_ref FROM shares WHERE payload_ref IS NOT NULL").fetchall()}


def drop(sql: Sql, share_id: str) -> None:
    """Before a statement that removes a share's payload (``payload=NULL,
    payload_ref=NULL``): have its file removed once the transaction commits."""
    row = sql.execute("SELECT payload_ref FROM shares WHERE id = ?", (share_id,)).fetchone()
    if row is not None and row[0] is not None:
        sql.drop_payload(str(row[0]))
