"""`vigil gateway`: a member's own TAXII 2.1 endpoint over its own keys.

It runs on the member's side with the member's keyring. It follows the remote node's
inbox (the push stream, resumed from the last inbox seq it stored), verifies every
share's signature against the signer's published key, opens sealed shares with the
member's private key, and keeps the plaintext objects in a local SQLite file. It then
serves them on a local, read-only TAXII 2.1 endpoint (the same server code as a node's
``/taxii2/``, over a source that reads the local file), so the member's OpenCTI, MISP
or SIEM reads plain STIX while the node only ever held ciphertext.

Local clients authenticate with the gateway's own token (Bearer, or as the password of
HTTP Basic); the node's token and the keyring never leave the gateway.

It obeys the originator, not the node: a share that may not leave the member's own
analysts (``vigil.policy.access.onward``: no-onward, TLP:AMBER+STRICT, TLP:RED) is
kept in the file but never served over TAXII (counted and listed as withheld); a recalled
share (delivered as its header without payload), a share whose purge or recall the log
records, and a share past its expiry are deleted; the SDK sends the member's
``received`` and ``recall-ack`` receipts. Every share's log proof is checked, the
checkpoints accepted are kept in a state file beside the member's other commands', and
the log is watched for keys registered in the member's name (an alert).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vigil import __version__, clock
from vigil.client import Client, InboxItem, LogWatch, Refused
from vigil.crypto.keyring import Keyring
from vigil.errors import AuthError, PolicyDenied, VigilError
from vigil.model import Actor, Form
from vigil.policy.access import onward
from vigil.protocol.envelope import open_share
from vigil.taxii.collections import Added, Collection, Item, Page
from vigil.taxii.query import Cursor, Query, norm_time
from vigil.web import errors as web_errors
from vigil.web import taxii as taxii_server
from vigil.web.auth import credential
from vigil.web.deps import actor_of, state_of

log = logging.getLogger("vigil.gateway")
T = TypeVar("T")
INBOX = "inbox"

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS shares (
        share_id TEXT PRIMARY KEY,
        inbox_seq INTEGER NOT NULL,
        signer TEXT NOT NULL,
        added TEXT NOT NULL,
        objects INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        object_id TEXT NOT NULL,
        type TEXT NOT NULL,
        version TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        added TEXT NOT NULL,
        share_id TEXT NOT NULL,
        body BLOB NOT NULL,
        is_first INTEGER NOT NULL,
        is_last INTEGER NOT NULL,
        UNIQUE (object_id, version)
    )""",
    "CREATE INDEX IF NOT EXISTS objects_type ON objects(type, seq)",
    """CREATE TABLE IF NOT EXISTS withheld (
        share_id TEXT PRIMARY KEY,
        inbox_seq INTEGER NOT NULL,
        signer TEXT NOT NULL,
        reason TEXT NOT NULL,
        added TEXT NOT NULL,
        bundle BLOB NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS expiry (share_id TEXT PRIMARY KEY, expires TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS refused (
        inbox_seq INTEGER PRIMARY KEY,
        share_id TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
]


# which version of an object is its first and its last, after one was added or removed
_FLAGS = ("UPDATE objects SET "
          "is_last = (version = (SELECT MAX(version) FROM objects o "
          "WHERE o.object_id = objects.object_id)), "
          "is_first = (version = (SELECT MIN(version) FROM objects o "
          "WHERE o.object_id = objects.object_id)) WHERE object_id = ?")


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def _version(obj: dict[str, Any], added: str) -> str:
    for key in ("modified", "created"):
        v = obj.get(key)
        if isinstance(v, str) and (t := norm_time(v)) is not None:
            return t
    return norm_time(added) or added


class LocalStore:
    """The gateway's SQLite file: the opened objects, and the inbox cursor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.touch(mode=0o600, exist_ok=True)  # plaintext: the member's eyes only
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            for stmt in _SCHEMA:
                self._db.execute(stmt)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def cursor(self) -> int:
        """The last inbox seq handled (stored, refused or skipped)."""
        with self._lock:
            return int(self._meta("cursor") or 0)

    def _next_added(self) -> str:
        """Now, strictly after every earlier share's time (so added_after never splits
        two shares that were stored in the same millisecond)."""
        now = clock.now()
        last = self._meta("last_added")
        if last is not None and now <= last:
            t = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(milliseconds=1)
            now = clock.fmt(t.astimezone(UTC))
        return now

    def add_share(self, seq: int, share_id: str, signer: str,
                  objects: Iterable[dict[str, Any]], expires: str | None = None) -> int:
        """Store one opened share's objects and move the cursor, in one transaction;
        returns how many object versions were new."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._expires(db, share_id, expires)
                added = self._next_added()
                new = 0
                for obj in objects:
                    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                        continue
                    version = _version(obj, added)
                    cur = db.execute(
                        "INSERT INTO objects (object_id, type, version, spec_version, added, "
                        "share_id, body, is_first, is_last) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0) "
                        "ON CONFLICT (object_id, version) DO NOTHING",
                        (obj["id"], str(obj.get("type", "")), version,
                         str(obj.get("spec_version", "2.1")), added, share_id,
                         orjson.dumps(obj)))
                    if cur.rowcount == 1:
                        new += 1
                        db.execute(_FLAGS, (obj["id"],))
                db.execute("INSERT INTO shares (share_id, inbox_seq, signer, added, objects) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING",
                           (share_id, seq, signer, added, new))
                self._set(db, "last_added", added)
                self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return new

    def withhold(self, seq: int, share_id: str, signer: str, reason: str, bundle: bytes,
                 expires: str | None) -> None:
        """Keep a share its originator keeps with the member's own analysts (never
        served over TAXII), and move the cursor."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._expires(db, share_id, expires)
                db.execute("INSERT INTO withheld (share_id, inbox_seq, signer, reason, added, "
                           "bundle) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING",
                           (share_id, seq, signer, reason, clock.now(), bundle))
                self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _expires(db: sqlite3.Connection, share_id: str, expires: str | None) -> None:
        if expires is not None:
            db.execute("INSERT INTO expiry (share_id, expires) VALUES (?, ?) "
                       "ON CONFLICT (share_id) DO NOTHING", (share_id, expires))

    def withheld(self) -> list[dict[str, Any]]:
        """The shares kept but not served: id, inbox seq, signer, why, when."""
        with self._lock:
            rows = self._db.execute("SELECT share_id, inbox_seq, signer, reason, added "
                                    "FROM withheld ORDER BY inbox_seq").fetchall()
        return [{"share": r[0], "inbox_seq": r[1], "signer": r[2], "reason": r[3],
                 "added": r[4]} for r in rows]

    def alert(self, code: str, message: str) -> None:
        """Note something the member must look at (a foreign key, a hostile node); the
        same alert again right after the last one is not noted twice."""
        with self._lock:
            last = self._db.execute(
                "SELECT code, message FROM alerts ORDER BY id DESC LIMIT 1").fetchone()
            if last is None or tuple(last) != (code, message):
                self._db.execute("INSERT INTO alerts (code, message, at) VALUES (?, ?, ?)",
                                 (code, message, clock.now()))

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT code, message, at FROM alerts ORDER BY id")
            return [{"code": r[0], "message": r[1], "at": r[2]} for r in rows.fetchall()]

    def meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._set(self._db, key, value)

    def expired(self, now: str) -> list[str]:
        """Shares held here whose expiry has passed."""
        with self._lock:
            return [str(r[0]) for r in self._db.execute(
                "SELECT share_id FROM expiry WHERE expires <= ?", (now,)).fetchall()]

    def refuse(self, seq: int, share_id: str, code: str, message: str) -> None:
        """Note a share that could not be verified or opened, and move past it."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO refused (inbox_seq, share_id, code, message, at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (inbox_seq) DO NOTHING",
                       (seq, share_id, code, message, clock.now()))
            self._set(db, "cursor", str(seq))
            db.execute("COMMIT")

    def withdraw(self, seq: int | None, share_id: str) -> int:
        """Forget every copy of a share its originator recalled, the node purged or that
        expired (objects, a withheld bundle), and (with ``seq``) move past its inbox
        entry; returns how many object versions went."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                ids = [r[0] for r in db.execute(
                    "SELECT DISTINCT object_id FROM objects WHERE share_id = ?", (share_id,))]
                gone = db.execute("DELETE FROM objects WHERE share_id = ?", (share_id,)).rowcount
                for oid in ids:
                    db.execute(_FLAGS, (oid,))
                for table in ("shares", "withheld", "expiry"):
                    db.execute(f"DELETE FROM {table} WHERE share_id = ?", (share_id,))
                if seq is not None:
                    self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return int(gone)

    @staticmethod
    def _set(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def counts(self) -> dict[str, int]:
        with self._lock:
            def one(q: str) -> int:
                return int(self._db.execute(q).fetchone()[0])
            return {"shares": one("SELECT COUNT(*) FROM shares"),
                    "objects": one("SELECT COUNT(*) FROM objects"),
                    "refused": one("SELECT COUNT(*) FROM refused"),
                    "withheld": one("SELECT COUNT(*) FROM withheld"),
                    "alerts": one("SELECT COUNT(*) FROM alerts"),
                    "cursor": int(self._meta("cursor") or 0)}

    def page(self, q: Query) -> Page:
        where: list[str] = ["seq > ?"]
        params: list[Any] = [q.cursor.seq if q.cursor else 0]
        if q.added_after is not None:
            where.append("added > ?")
            params.append(q.added_after)
        for column, values in (("object_id", q.ids), ("type", q.types),
                               ("spec_version", q.spec_versions)):
            if values:
                where.append(f"{column} IN ({_marks(len(values))})")
                params += list(values)
        if "all" not in q.versions:
            ors = []
            if "last" in q.versions:
                ors.append("is_last = 1")
            if "first" in q.versions:
                ors.append("is_first = 1")
            stamps = [v for v in q.versions if v not in ("last", "first")]
            if stamps:
                ors.append(f"version IN ({_marks(len(stamps))})")
                params += stamps
            where.append("(" + " OR ".join(ors) + ")")
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, object_id, type, version, spec_version, added, body FROM objects "
                f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                [*params, q.limit + 1]).fetchall()
        items = [Item(int(r[0]), 0, r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]
        more = len(items) > q.limit
        del items[q.limit:]
        return Page(items, more, Cursor(items[-1].seq, 0) if more else None)


class GatewaySource:
    """The TAXII collection source of a gateway: one read-only "inbox" collection of
    every object the member's keys verified and opened."""

    def __init__(self, store: LocalStore, member: str, title: str) -> None:
        self.store = store
        self.member = member
        self.title = title
        self.inbox = Collection(
            id=taxii_collection_id(member), alias=INBOX, title="Inbox",
            description="Every object of every share delivered to this member, verified "
                        "and opened on the member's side.", can_read=True, can_write=False)

    def api_root_title(self) -> str:
        return self.title

    def collections(self, actor: Actor) -> list[Collection]:
        return [self.inbox]

    def page(self, actor: Actor, collection: Collection, query: Query) -> Page:
        return self.store.page(query)

    def add(self, actor: Actor, collection: Collection, objects: list[Any]) -> Added:
        raise PolicyDenied("the gateway is read-only", code="taxii.not_writable")

    def delete(self, actor: Actor, collection: Collection, query: Query) -> int:
        raise PolicyDenied("the gateway is read-only", code="taxii.not_writable")

    def save_status(self, actor: Actor, status: dict[str, Any]) -> None:
        return None

    def status(self, actor: Actor, status_id: str) -> bytes | None:
        return None


def taxii_collection_id(member: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-gateway/{member}/inbox"))


# -- following the node ----------------------------------------------------------------

def ingest(client: Client, store: LocalStore, keyring: Keyring, item: InboxItem) -> None:
    """Verify and open one delivered share (its log proof was checked by the stream)
    and keep its objects: served, or withheld when its originator keeps it with the
    member's own analysts (or note why it was refused)."""
    env = item.envelope
    if item.state.get("recalled") or item.state.get("purged"):
        gone = store.withdraw(item.seq, env.id)
        log.info("share %s (inbox %d) withdrawn: %d object version(s) dropped", env.id,
                 item.seq, gone)
        return
    try:
        signer = client.verify(env)
        if env.form is Form.PLAIN:
            plain = env.payload
        else:
            plain = open_share(env, keyring.member_id, keyring.enc_private)
        objects = orjson.loads(plain).get("objects", [])
    except VigilError as exc:
        log.warning("share %s (inbox %d) refused [%s]: %s", env.id, item.seq, exc.code,
                    exc.message)
        store.refuse(item.seq, env.id, exc.code, exc.message)
        return
    except (ValueError, orjson.JSONDecodeError) as exc:
        store.refuse(item.seq, env.id, "gateway.bad_payload", str(exc))
        return
    expires = env.header.get("expires")
    may = onward(env.header)
    if not may:
        store.withhold(item.seq, env.id, signer, may.reason, plain, expires)
        log.info("share %s (inbox %d) kept for the member's analysts, not served [%s]",
                 env.id, item.seq, may.reason)
        return
    new = store.add_share(item.seq, env.id, signer, objects, expires)
    log.info("share %s (inbox %d): %d new object version(s), %s", env.id, item.seq, new,
             signer)


def refused(store: LocalStore, exc: Refused) -> None:
    """A delivery the stream refused: a share whose log proof failed is noted and
    passed (the node withheld or forged it); a replayed or reordered event is an alert
    (the cursor stays, nothing is taken)."""
    log.warning("inbox %d (%s) refused [%s]: %s", exc.seq, exc.share_id, exc.code,
                exc.message)
    if exc.code.startswith("client.stream"):
        store.alert(exc.code, exc.message)
    else:
        store.refuse(exc.seq, exc.share_id, exc.code, exc.message)


def watch(client: Client, store: LocalStore) -> LogWatch:
    """One watch of the node's log: delete what the log says was recalled or purged,
    delete what expired, alert on keys in the member's name its keyring did not make."""
    w = client.watch_log()
    for ev in w.events:
        if ev.foreign:
            msg = (f"log entry {ev.index} registers keys in this member's name that its "
                   "keyring did not make")
            log.error("ALERT: %s", msg)
            store.alert("log.foreign_key", msg)
        elif ev.kind in ("recall", "purge"):
            share = str(ev.entry["share"])
            gone = store.withdraw(None, share)
            log.info("share %s %s (log %d): %d object version(s) dropped", share,
                     ev.kind + "d", ev.index, gone)
    for share in store.expired(clock.now()):
        gone = store.withdraw(None, share)
        log.info("share %s expired: %d object version(s) dropped", share, gone)
    return w


async def follow(client: Client, store: LocalStore, keyring: Keyring) -> None:
    """Follow the node's inbox forever, from the stored cursor (the SDK stream
    reconnects with Last-Event-ID); refused credentials are retried with back-off."""
    backoff = 1.0
    while True:
        try:
            await asyncio.to_thread(client.checkpoint)
            async for item in client.stream(store.cursor()):
                await asyncio.to_thread(ingest, client, store, keyring, item)
                backoff = 1.0
        except asyncio.CancelledError:
            raise
        except Refused as exc:
            await asyncio.to_thread(refused, store, exc)
        except VigilError as exc:
            log.warning("following %s: [%s] %s", client.url, exc.code, exc.message)
            if exc.code in ("log.fork", "log.rollback"):
                store.alert(exc.code, exc.message)
        except Exception:
            log.exception("following %s", client.url)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 30.0)


async def watching(client: Client, store: LocalStore, every: float) -> None:
    """Watch the log every ``every`` seconds."""
    while True:
        try:
            await asyncio.to_thread(watch, client, store)
        except asyncio.CancelledError:
            raise
        except VigilError as exc:
            log.warning("watching the log of %s: [%s] %s", client.url, exc.code, exc.message)
            if exc.code.startswith("log."):
                store.alert(exc.code, exc.message)
        except Exception:
            log.exception("watching the log of %s", client.url)
        await asyncio.sleep(every)


# -- the local TAXII endpoint -------------------------------------------------------------

@dataclass
class _Settings:
    max_body: int = 0
    node_name: str = "gateway"


class _NoBus:
    async def ring(self, members: Iterable[str]) -> None:
        return None


class GatewayState:
    """What the TAXII routes need from the app state, for a gateway."""

    def __init__(self) -> None:
        self.settings = _Settings()
        self.bus = _NoBus()

    async def read(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return fn(*args, **kw)

    async def write(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kw)

    async def heavy(self, member: str, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """CPU-heavy work off the event loop (one member: no queue between members)."""
        return await asyncio.to_thread(fn, *args, **kw)


def create_gateway_app(client: Client, keyring: Keyring, store: LocalStore, *,
                       local_token: str, follow_node: bool = True,
                       watch_every: float = 30.0) -> FastAPI:
    member = keyring.member_id
    state = GatewayState()

    async def gateway_actor(request: Request) -> Actor:
        given = credential(request)
        if not hmac.compare_digest(given.encode(), local_token.encode()):
            raise AuthError("unknown gateway token", code="auth.bad_token")
        return Actor(member=member, user="gateway")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(follow(client, store, keyring), name="vigil-gateway"),
                 asyncio.create_task(watching(client, store, watch_every),
                                     name="vigil-gateway-log")] if follow_node else []
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="vigil gateway", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.taxii_source = GatewaySource(store, member, f"vigil gateway for {member}")
    web_errors.install(app)
    app.dependency_overrides[state_of] = lambda: state
    app.dependency_overrides[actor_of] = gateway_actor
    app.include_router(taxii_server.router, prefix=taxii_server.PREFIX)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", **store.counts()})

    @app.get("/withheld")
    async def withheld(request: Request) -> JSONResponse:
        """The shares kept for the member's analysts and never served here, and the
        alerts raised (local token)."""
        try:
            await gateway_actor(request)
        except VigilError as exc:
            return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)
        return JSONResponse({"withheld": store.withheld(), "alerts": store.alerts()})

    return app


def run_gateway(node_url: str, token: str, keyring: Keyring, db: Path, *, host: str,
                port: int, local_token: str, state: Path, watch_every: float = 30.0) -> None:
    import uvicorn

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = LocalStore(db)
    state.parent.mkdir(parents=True, exist_ok=True)
    client = Client(node_url, token, keyring, log_state=state)
    try:
        app = create_gateway_app(client, keyring, store, local_token=local_token,
                                 watch_every=watch_every)
        log.info("gateway for %s: following %s, TAXII 2.1 at http://%s:%d%s/", keyring.member_id,
                 node_url, host, port, taxii_server.PREFIX)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        client.close()
        store.close()
