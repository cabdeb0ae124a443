"""Online backup of a node and its restore, checked against the node's signed log.

A backup is a directory (mode 0700) holding:

* ``store.db`` (SQLite, written with SQLite's online backup API: one consistent
  snapshot while the node keeps writing) with ``store.db-payloads/``, the files of the
  payloads stored apart that the snapshot names (``vigil.storage.payloads``), or
  ``store.dump`` (PostgreSQL, ``pg_dump --format=custom`` of an exported snapshot);
* ``node/``: every file of the data directory but the SQLite database itself (the
  node key, its identity, its settings, the keyrings it holds): as secret as the data
  directory, so every file is owner-only;
* ``manifest.json``, written last: the format, the node, the store kind, the SHA-256 of
  every file, and the node's signed checkpoint of the log *in that snapshot*.

:func:`restore` refuses a backup whose files do not match the manifest, writes the
node and the store to their new place and then checks the store (:func:`check_store`):
every log entry present and in order, the leaves hash to the signed checkpoint of the
backup and to every checkpoint given from outside (a member's saved checkpoint: the
restored log must extend it), every share row matches its log entry, no logged share is
missing, every payload matches its digest. A failed check removes the restored node's
identity (``node.json``), so no node starts on tampered data.

The checkpoint in the manifest is signed with the node key that is in the backup too:
it catches corruption and careless edits, not a forger who holds the backup. A forger
is caught by checkpoints kept elsewhere: ``--checkpoint`` here, and every member's
``vigil log verify``, which accepts the restored log only if it extends the checkpoint
the member accepted before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil import clock
from vigil.config import Settings, write_settings_file
from vigil.crypto.keys import SignPrivate
from vigil.errors import ConfigError, Conflict, InputError, VigilError
from vigil.log.checkpoint import Checkpoint, log_origin, sign_checkpoint, verify_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import EMPTY_ROOT, leaf_hash, root_from_leaves
from vigil.protocol.envelope import payload_digest
from vigil.storage import backup as stored
from vigil.storage import logtree, open_store
from vigil.storage.base import Sql, envelope_from_row
from vigil.storage.payloads import payload_dir, referenced

FORMAT = "vigil-backup/1"
MANIFEST = "manifest.json"
PAGE = 5000
SQLITE_FILES = ("", "-wal", "-shm", "-journal")

Progress = Callable[[str, int, int | None], None]
"""``progress(step, done, total)``; total None when unknown."""


def _quiet(step: str, done: int, total: int | None) -> None:
    return None


@dataclass
class Report:
    log_size: int = 0
    shares: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "log_size": self.log_size, "shares": self.shares,
                "checkpoints_checked": self.checkpoints, "problems": self.problems}


# -- checking a store against its log ---------------------------------------------------

def _leaves(sql: Sql) -> Iterator[tuple[int, str, str | None, bytes]]:
    after = -1
    while True:
        page = logtree.leaves_after(sql, after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1][0]


def scan_log(sql: Sql, report: Report, progress: Progress = _quiet
             ) -> tuple[list[bytes], dict[str, bytes]]:
    """The leaf hashes in order and the leaf hash of each logged share; a gap in the
    indexes is a problem."""
    leaves: list[bytes] = []
    shares: dict[str, bytes] = {}
    for idx, kind, share_id, data in _leaves(sql):
        if idx != len(leaves):
            report.problems.append(f"log entries {len(leaves)}..{idx - 1} are missing")
            break
        h = leaf_hash(data)
        leaves.append(h)
        if kind == "share" and share_id is not None:
            shares[share_id] = h
        if idx % PAGE == 0:
            progress("log", idx, None)
    report.log_size = len(leaves)
    return leaves, shares


def scan_shares(sql: Sql, logged: dict[str, bytes], report: Report,
                progress: Progress = _quiet) -> None:
    """Every share row is the share its log entry names, with the payload its header
    names; every logged share has its row."""
    left = dict(logged)
    total = stored.share_count(sql)
    after = 0
    while True:
        page = stored.shares_after(sql, after, PAGE)
        for _, sid, header, signature, payload, wraps, recalled, purged, ref in page:
            report.shares += 1
            expected = left.pop(str(sid), None)
            try:
                payload = sql.payload(payload, ref)
            except OSError:
                report.problems.append(f"share {sid}: its payload file is missing")
                continue
            try:
                env = envelope_from_row(header, signature, payload, wraps)
                entry = leaf_hash(entry_bytes(share_entry(env)))
            except (ValueError, KeyError, TypeError, VigilError):
                report.problems.append(f"share {sid} is malformed")
                continue
            if expected is None:
                report.problems.append(f"share {sid} is not in the log")
            elif entry != expected:
                report.problems.append(f"share {sid} differs from its log entry")
            if payload is not None and not (recalled or purged):
                pl = env.header.get("payload") or {}
                if (pl.get("size") != len(env.payload)
                        or pl.get("digest") != payload_digest(env.payload)):
                    report.problems.append(f"share {sid}: the payload does not match its "
                                           "digest")
        if page:
            after = int(page[-1][0])
            progress("shares", report.shares, total)
        if len(page) < PAGE:
            break
    for sid in sorted(left):
        report.problems.append(f"logged share {sid} is missing")


def check_checkpoint(note: str, leaves: list[bytes], origin: str, public_raw: bytes,
                     report: Report, what: str) -> None:
    """The log holds the tree ``note`` signs (the same leaves up to its size)."""
    try:
        cp = verify_checkpoint(note, origin, public_raw, origin=origin)
    except VigilError as exc:
        report.problems.append(f"{what}: {exc.message}")
        return
    report.checkpoints += 1
    if cp.size > len(leaves):
        report.problems.append(f"{what}: the log has {len(leaves)} entries, the checkpoint "
                               f"{cp.size}")
    elif (root_from_leaves(leaves[:cp.size]) if cp.size else EMPTY_ROOT) != cp.root:
        report.problems.append(f"{what}: the log's first {cp.size} entries do not hash to "
                               "the checkpoint's root")


def check_store(sql: Sql, origin: str, public_raw: bytes, checkpoints: Sequence[
                tuple[str, str]] = (), progress: Progress = _quiet) -> Report:
    """Check a store against its own log and the signed checkpoints ``(what, note)``."""
    report = Report()
    leaves, logged = scan_log(sql, report, progress)
    scan_shares(sql, logged, report, progress)
    for what, note in checkpoints:
        check_checkpoint(note, leaves, origin, public_raw, report, what)
    return report


def head(sql: Sql) -> tuple[int, bytes]:
    report = Report()
    leaves, _ = scan_log(sql, report)
    if report.problems:
        raise VigilError("the log of the store has gaps: " + "; ".join(report.problems),
                         code="backup.log_broken")
    return len(leaves), root_from_leaves(leaves) if leaves else EMPTY_ROOT


# -- backup ---------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _node_key(data: Path) -> tuple[dict[str, Any], SignPrivate]:
    from vigil.config import load_settings
    from vigil.node.datadir import node_key

    info = json.loads((data / "node.json").read_text("utf-8"))
    uri = str(load_settings(data).values.get("node_key_pkcs11") or "")
    return info, node_key(data, uri)


def store_kind(url: str) -> str:
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ConfigError(f"cannot back up a {scheme} store", code="backup.store_kind")


def sqlite_path(url: str) -> Path:
    from vigil.storage.sqlite import _path_from_url

    return Path(_path_from_url(url))


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"{name} is not installed (PostgreSQL client tools, e.g. the "
                          "postgresql-client package)", code=f"backup.no_{name}")
    return path


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _copy_private(src: Path, dst: Path) -> None:
    _private_dir(dst.parent)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        shutil.copyfileobj(f, out)
        out.flush()
        os.fsync(out.fileno())


def _backup_sqlite(path: Path, dest: Path) -> tuple[int, bytes]:
    if not path.exists():
        raise ConfigError(f"no database at {path}", code="backup.no_store")
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with stored.sqlite_copy(path, dest) as copy:
        # the payloads stored apart that the snapshot names (vigil.storage.payloads)
        for ref in sorted(referenced(copy)):
            try:
                _copy_private(payload_dir(str(path)) / ref, payload_dir(str(dest)) / ref)
            except FileNotFoundError:
                raise VigilError("a share's payload was removed (recalled or expired) "
                                 "while the backup was taken; run it again",
                                 code="backup.payload_gone") from None
        return head(copy)


def _backup_postgres(url: str, dest: Path) -> tuple[int, bytes]:
    from vigil.storage.postgres import split_url

    conninfo, _ = split_url(url)
    pg_dump = pg_tool("pg_dump")
    with stored.postgres_snapshot(conninfo) as (sql, snapshot):
        size_root = head(sql)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        done = subprocess.run([pg_dump, "--format=custom", f"--snapshot={snapshot}",
                               f"--file={dest}", f"--dbname={conninfo}"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise VigilError(f"pg_dump failed: {done.stderr.strip()}", code="backup.pg_dump")
    return size_root


def backup(settings: Settings, dest: Path, progress: Progress = _quiet) -> dict[str, Any]:
    """Back the node of ``settings`` up into the new directory ``dest``, online."""
    data = settings.data_dir
    info, key = _node_key(data)
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} exists and is not empty", code="backup.dest_exists")
    if dest.resolve().is_relative_to(data.resolve()):
        raise InputError(f"{dest} is inside the data directory {data}",
                         code="backup.dest_inside_data")
    _private_dir(dest)
    url = settings.store_url
    kind = store_kind(url)
    progress("store", 0, None)
    if kind == "sqlite":
        db = sqlite_path(url)
        size, root = _backup_sqlite(db, dest / "store.db")
        skip = {Path(str(db) + s).resolve() for s in SQLITE_FILES}
        skip |= {p.resolve() for p in payload_dir(str(db)).glob("*")}
    else:
        size, root = _backup_postgres(url, dest / "store.dump")
        skip = set()
    progress("files", 0, None)
    for path in sorted(data.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.resolve() not in skip:
            _copy_private(path, dest / "node" / path.relative_to(data))
    origin = log_origin(str(info["id"]))
    note = sign_checkpoint(Checkpoint(origin, size, root), origin, key)
    files = {str(p.relative_to(dest)): _sha256(p)
             for p in sorted(dest.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "created": clock.now(), "node": info["id"],
                "store": kind, "log_size": size, "checkpoint": note, "files": files}
    tmp = dest / (MANIFEST + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest / MANIFEST)
    return {"backup": str(dest), "node": info["id"], "store": kind, "log_size": size,
            "files": len(files)}


# -- restore --------------------------------------------------------------------------

def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{src} is not a vigil backup: {exc}", code="restore.no_manifest"
                         ) from exc
    if manifest.get("format") != FORMAT:
        raise InputError(f"unknown backup format {manifest.get('format')!r}",
                         code="restore.format")
    files = manifest.get("files") or {}
    present = {str(p.relative_to(src)) for p in src.rglob("*")
               if p.is_file() and p.name != MANIFEST}
    if present != set(files):
        raise InputError("the backup's files are not the ones its manifest lists: "
                         + ", ".join(sorted(present ^ set(files))), code="restore.corrupt")
    for name, digest in files.items():
        if _sha256(src / name) != digest:
            raise InputError(f"{name} does not match the manifest", code="restore.corrupt")
    return manifest


def _target_url(settings: Settings, kind: str, store: str | None) -> str:
    if store:
        if store_kind(store) != kind:
            raise ConfigError(f"this backup holds a {kind} store, not {store.split(':')[0]}",
                              code="restore.store_mismatch")
        return store
    if kind != "sqlite":
        raise ConfigError("restoring a PostgreSQL backup needs --store postgresql://… "
                          "(an empty database)", code="restore.need_store")
    return f"sqlite:///{(settings.data_dir / 'vigil.db').resolve()}"


def _restore_postgres(dump: Path, url: str) -> None:
    from vigil.storage.postgres import split_url

    conninfo, _ = split_url(url)
    if not stored.postgres_is_empty(conninfo):
        raise Conflict("the target database is not empty", code="restore.target_not_empty")
    done = subprocess.run([pg_tool("pg_restore"), "--no-owner", "--no-privileges",
                           "--exit-on-error", "--single-transaction", f"--dbname={conninfo}",
                           str(dump)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VigilError(f"pg_restore failed: {done.stderr.strip()}", code="restore.pg_restore")


def restore(settings: Settings, src: Path, *, store: str | None = None,
            checkpoints: Sequence[tuple[str, str]] = (),
            progress: Progress = _quiet) -> Report:
    """Restore the backup ``src`` as the node of ``settings`` (a data directory with no
    node) and check it; a failed check leaves no node identity behind."""
    manifest = read_manifest(src)
    data = settings.data_dir
    if (data / "node.json").exists():
        raise Conflict(f"{data} already holds a node", code="restore.target_exists")
    url = _target_url(settings, str(manifest["store"]), store)
    if manifest["store"] == "sqlite":
        target = sqlite_path(url)
        if any(Path(str(target) + s).exists() for s in (*SQLITE_FILES, "-payloads")):
            raise Conflict(f"{target} exists", code="restore.target_not_empty")
    else:
        _restore_postgres(src / "store.dump", url)
    _private_dir(data)
    node_dir = src / "node"
    for path in sorted(node_dir.rglob("*")):
        if path.is_file():
            _copy_private(path, data / path.relative_to(node_dir))
    _point_settings_at(data / "vigil.toml", url, default=store is None)
    if manifest["store"] == "sqlite":
        _private_dir(target.parent)
        _copy_private(src / "store.db", target)
        for path in sorted(payload_dir(str(src / "store.db")).glob("*")):
            _copy_private(path, payload_dir(str(target)) / path.name)
    info, key = _node_key(data)
    origin = log_origin(str(info["id"]))
    public = key.public_key().public_bytes_raw()
    opened = open_store(url)
    try:
        report = opened.read(lambda sql: check_store(
            sql, origin, public, [("the backup's checkpoint", str(manifest["checkpoint"])),
                                  *checkpoints], progress))
    finally:
        opened.close()
    if report.log_size != manifest.get("log_size"):
        report.problems.append(f"the log has {report.log_size} entries, the backup "
                               f"{manifest.get('log_size')}")
    if not report.ok:
        (data / "node.json").unlink()
    return report


def _point_settings_at(toml: Path, url: str, *, default: bool) -> None:
    """The restored settings name the restored store (none: SQLite in the data dir)."""
    values: dict[str, Any] = tomllib.loads(toml.read_text("utf-8")) if toml.exists() else {}
    values.pop("store", None)
    if not default:
        values["store"] = url
    write_settings_file(toml, values)
    os.chmod(toml, 0o600)
