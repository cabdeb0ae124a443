"""`vigil doctor`: checks a node's configuration, files, durability, clock and services,
and says what to fix.

Each check gives findings of three levels: ``ok``, ``warning`` (works, but is weaker
than it should be) and ``problem`` (fix it: the command exits 1). The checks:

* **config**: the settings load, the node exists, its key is an Ed25519 key; no secret
  (keyring passphrase) sits in the settings file; a metrics token is long enough.
* **files**: the data directory, the node key, the keyrings and the SQLite database
  are owned by the user running vigil and readable by no one else.
* **durability**: SQLite runs in WAL mode with ``synchronous=FULL`` on the connection
  the node opens; PostgreSQL has ``fsync=on``, ``synchronous_commit`` not ``off`` and
  ``full_page_writes=on``.
* **clock**: this machine's clock against PostgreSQL's (``clock_timestamp()``), and
  never behind the newest time the store has recorded (a clock set back).
* **services**: the store answers a read; a NATS bus answers with its ``INFO`` line.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vigil.config import Settings
from vigil.errors import VigilError
from vigil.storage import Store, open_store
from vigil.storage.base import Sql
from vigil.storage.health import database_clock, newest_inbox_time

MAX_SKEW = 2.0
"""Seconds this machine's clock may differ from the store's."""
MIN_METRICS_TOKEN = 24
BUS_TIMEOUT = 3.0

now: Callable[[], float] = time.time
"""This machine's clock (a module attribute so that tests can move it)."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    level: str  # ok, warning, problem
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"check": self.check, "level": self.level, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        return out


def ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def problem(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "problem", message, fix)


def warning(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "warning", message, fix)


# -- config ---------------------------------------------------------------------------

def check_config(settings: Settings) -> Iterator[Finding]:
    data = settings.data_dir
    if not (data / "node.json").is_file():
        yield problem("config", f"no node in {data}", "run `vigil init`, or point --data / "
                      "VIGIL_DATA at the node's data directory")
        return
    key = data / "node.key"
    try:
        raw = key.read_bytes()
    except OSError as exc:
        yield problem("config", f"cannot read the node key {key}: {exc.strerror}",
                      "restore node.key from a backup (`vigil restore`)")
    else:
        if len(raw) != 32:
            yield problem("config", f"{key} is not an Ed25519 private key",
                          "restore node.key from a backup (`vigil restore`)")
    toml = data / "vigil.toml"
    if toml.is_file() and "keyring_passphrase" in toml.read_text("utf-8"):
        yield problem("config", f"{toml} holds the keyring passphrase",
                      "remove keyring_passphrase from vigil.toml and set "
                      "VIGIL_KEYRING_PASSPHRASE in the service's environment")
    token = str(settings.metrics_token)
    if token and len(token) < MIN_METRICS_TOKEN:
        yield problem("config", f"metrics_token has {len(token)} characters",
                      f"use at least {MIN_METRICS_TOKEN} random characters, e.g. "
                      "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    bind = str(settings.metrics_bind)
    if bind and bind.rpartition(":")[0].strip("[]") not in ("127.0.0.1", "::1", "localhost"):
        yield warning("config", f"metrics_bind {bind} answers anyone who reaches it",
                      "bind it to a private address or firewall it to the scraper")
    yield ok("config", f"node in {data}")


# -- files ----------------------------------------------------------------------------

def _mode_finding(path: Path, what: str) -> Finding | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid():
        return problem("files", f"{what} {path} is owned by uid {st.st_uid}, not by the user "
                       f"running vigil (uid {os.getuid()})",
                       f"chown {os.getuid()} {path}")
    if mode & 0o077:
        want = "700" if path.is_dir() else "600"
        return problem("files", f"{what} {path} has mode {mode:o}: others may read it",
                       f"chmod {want} {path}")
    return None


def check_files(settings: Settings, store_url: str) -> Iterator[Finding]:
    data = settings.data_dir
    paths: list[tuple[Path, str]] = [(data, "data directory"), (data / "node.key", "node key"),
                                     (data / "vigil.toml", "settings file")]
    keyrings = data / "keyrings"
    if keyrings.is_dir():
        paths.append((keyrings, "keyring directory"))
        paths += [(p, "keyring") for p in sorted(keyrings.iterdir()) if p.is_file()]
    if store_url.startswith("sqlite:"):
        from vigil.node.backup import SQLITE_FILES, sqlite_path

        db = sqlite_path(store_url)
        paths += [(Path(str(db) + s), "database") for s in SQLITE_FILES]
    bad = [f for f in (_mode_finding(p, what) for p, what in paths) if f is not None]
    yield from bad
    if not bad:
        yield ok("files", "keys, keyrings and database are owner-only")


# -- durability, clock, services --------------------------------------------------------

def _settings_of(sql: Sql) -> dict[str, str]:
    if sql.dialect == "sqlite":
        sync = sql.execute("PRAGMA synchronous").fetchone()[0]
        journal = sql.execute("PRAGMA journal_mode").fetchone()[0]
        names = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}
        return {"synchronous": names.get(str(sync), str(sync)),
                "journal_mode": str(journal).lower()}
    out = {}
    for name in ("fsync", "synchronous_commit", "full_page_writes"):
        out[name] = str(sql.execute(f"SHOW {name}").fetchone()[0])
    return out


def check_durability(store: Store) -> Iterator[Finding]:
    got = store.read(_settings_of)
    bad: list[Finding] = []
    if store.dialect == "sqlite":
        if got["synchronous"] not in ("FULL", "EXTRA"):
            bad.append(problem("durability", f"SQLite runs with synchronous={got['synchronous']}"
                               ": a power loss can lose acknowledged shares",
                               "run the node's own store code (it sets synchronous=FULL); "
                               "remove whatever lowers it"))
        if got["journal_mode"] != "wal":
            bad.append(problem("durability", f"SQLite journal_mode is {got['journal_mode']}",
                               "open the database with vigil once (it sets WAL)"))
    else:
        if got["fsync"] != "on":
            bad.append(problem("durability", "PostgreSQL runs with fsync=off",
                               "set fsync = on in postgresql.conf and reload"))
        if got["synchronous_commit"] == "off":
            bad.append(problem("durability", "PostgreSQL runs with synchronous_commit=off",
                               "set synchronous_commit = on (postgresql.conf, or ALTER "
                               "DATABASE … SET synchronous_commit = on)"))
        if got["full_page_writes"] != "on":
            bad.append(problem("durability", "PostgreSQL runs with full_page_writes=off",
                               "set full_page_writes = on in postgresql.conf"))
    yield from bad
    if not bad:
        yield ok("durability", ", ".join(f"{k}={v}" for k, v in sorted(got.items())))


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def check_clock(store: Store) -> Iterator[Finding]:
    def read(sql: Sql) -> tuple[float | None, str | None]:
        return database_clock(sql), newest_inbox_time(sql)

    db, newest = store.read(read)
    here = now()
    found = False
    if db is not None and abs(here - db) > MAX_SKEW:
        found = True
        yield problem("clock", f"this machine's clock is {here - db:+.1f} s off the "
                      "PostgreSQL server's", "run time synchronisation (chrony or "
                      "systemd-timesyncd) on both machines")
    if newest is not None and _epoch(str(newest)) > here + MAX_SKEW:
        found = True
        yield problem("clock", f"the store holds a delivery at {newest}, later than this "
                      "machine's clock: the clock was set back",
                      "set the clock right (time synchronisation) before serving")
    if not found:
        yield ok("clock", f"within {MAX_SKEW:.0f} s of the store" if db is not None
                 else "not behind the store")


def nats_answers(url: str, timeout: float = BUS_TIMEOUT) -> str | None:
    """None if a server of the NATS URL greets with INFO, else why not."""
    from vigil.bus.jetstream import parse_url

    servers, _, _ = parse_url(url)
    why = "no server"
    for server in servers:
        parts = urlsplit(server)
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(timeout)
                if s.recv(4096).startswith(b"INFO "):
                    return None
                why = f"{host}:{port} is not a NATS server"
        except OSError as exc:
            why = f"{host}:{port}: {exc.strerror or exc}"
    return why


def check_bus(settings: Settings) -> Iterator[Finding]:
    url = settings.bus_url
    if not url.startswith("nats:"):
        yield ok("bus", f"{url.split(':')[0]} bus (in the serving process)")
        return
    why = nats_answers(url)
    if why is None:
        yield ok("bus", "NATS answers")
    else:
        yield problem("bus", f"the NATS bus does not answer ({why})",
                      "start NATS with JetStream (nats-server -js) or fix the bus URL")


def run(settings: Settings) -> list[Finding]:
    """Every check, in order; a store that cannot be opened skips the checks that read it."""
    findings = [*check_config(settings)]
    url = settings.store_url
    findings += check_files(settings, url)
    store: Store | None = None
    try:
        if url.startswith("sqlite:"):
            from vigil.node.backup import sqlite_path

            if not sqlite_path(url).is_file():  # never create one in the wrong place
                raise VigilError(f"no database at {sqlite_path(url)}")
        store = open_store(url)
        store.get_meta("schema_version")
    except Exception as exc:  # whatever it is, it is the finding
        findings.append(problem("store", f"the store does not answer: {_why(exc)}",
                                "start the database or fix the store URL"))
    else:
        findings.append(ok("store", f"{store.dialect} store answers"))
        findings += check_durability(store)
        findings += check_clock(store)
    finally:
        if store is not None:
            store.close()
    findings += check_bus(settings)
    return findings


def _why(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:200]


def summary(findings: list[Finding]) -> dict[str, Any]:
    return {"ok": not any(f.level == "problem" for f in findings),
            "findings": [f.to_json() for f in findings]}
