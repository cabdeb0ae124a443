"""`vigil gateway`: a member's own TAXII 2.1 endpoint over its own keys.

It runs on the member's side with the member's keyring. It follows the remote node's
inbox (the push stream, resumed from the last inbox seq it stored), verifies every
share's signature against the signer's published key -- with pinned witnesses
(``--witnesses``), against the key the signer's home node's directory proves with k
cosignatures, never the key the node serves (``TrustingClient.proven_signer``; without
them a member of another node is refused, ``dir.key_unproven``) --, opens sealed shares with the
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
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vigil import __version__, clock
from vigil.client import Client, InboxItem, LogWatch, Refused
from vigil.client.keys import SIGNED_BEFORE_REVOCATION
from vigil.crypto.keyring import Keyring
from vigil.errors import AuthError, PolicyDenied, VigilError
from vigil.model import Actor, Form
from vigil.policy.access import onward
from vigil.protocol.envelope import open_share
from vigil.storage.gateway import GatewayDb
from vigil.taxii.collections import Added, Collection, Item, Page
from vigil.taxii.query import Cursor, Query, norm_time
from vigil.trust_client import TrustingClient, refuse_foreign
from vigil.web import errors as web_errors
from vigil.web import taxii as taxii_server
from vigil.web.auth import credential

log = logging.getLogger("vigil.gateway")
T = TypeVar("T")
INBOX = "inbox"

def _version(obj: dict[str, Any], added: str) -> str:
    for key in ("modified", "created"):
        v = obj.get(key)
        if isinstance(v, str) and (t := norm_time(v)) is not None:
            return t
    return norm_time(added) or added


class LocalStore(GatewayDb):
    """The gateway's SQLite file, with object versions stamped as TAXII reads them and
    pages as the TAXII server serves them."""

    def add_share(self, seq: int, share_id: str, signer: str,
                  objects: Iterable[dict[str, Any]], expires: str | None = None, *,
                  version: Callable[[dict[str, Any], str], str] | None = None) -> int:
        return super().add_share(seq, share_id, signer, objects, expires,
                                 version=version or _version)

    def page(self, q: Query) -> Page:
        rows = self.object_rows(
            q.cursor.seq if q.cursor else 0, q.added_after,
            (("object_id", q.ids), ("type", q.types), ("spec_version", q.spec_versions)),
            q.versions, q.limit + 1)
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

    def add(self, actor: Actor, collection: Collection, objects: list[Any],
            status: dict[str, Any] | None = None) -> Added:
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
        if isinstance(client, TrustingClient):  # the key proven at the member's home
            keys = client.proven_signer(env)
            if keys is not None and str(env.header["key"]) in keys.revoked \
                    and SIGNED_BEFORE_REVOCATION not in signer:
                signer = f"{signer}, {SIGNED_BEFORE_REVOCATION}"
        else:
            refuse_foreign(client, env.originator)
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

class GatewayHost:
    """The gateway's TAXII (``vigil.web.taxii.Host``): its one read-only collection, its
    own local token, no bus (nothing is added here)."""

    max_body = 0  # nothing is posted

    def __init__(self, source: GatewaySource, local_token: str) -> None:
        self.source = source
        self.local_token = local_token

    async def actor(self, request: Request) -> Actor:
        given = credential(request)
        if not hmac.compare_digest(given.encode(), self.local_token.encode()):
            raise AuthError("unknown gateway token", code="auth.bad_token")
        return Actor(member=self.source.member, user="gateway")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def heavy(self, member: str, fn: Callable[..., T], *args: Any) -> T:
        """CPU-heavy work off the event loop (one member: no queue between members)."""
        return await asyncio.to_thread(fn, *args)

    async def ring(self, members: Iterable[str]) -> None:
        return None


def create_gateway_app(client: Client, keyring: Keyring, store: LocalStore, *,
                       local_token: str, follow_node: bool = True,
                       watch_every: float = 30.0) -> FastAPI:
    member = keyring.member_id
    host: taxii_server.Host = GatewayHost(
        GatewaySource(store, member, f"vigil gateway for {member}"), local_token)

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
    app.state.taxii = host
    web_errors.install(app)
    app.include_router(taxii_server.router, prefix=taxii_server.PREFIX)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", **store.counts()})

    @app.get("/withheld")
    async def withheld(request: Request) -> JSONResponse:
        """The shares kept for the member's analysts and never served here, and the
        alerts raised (local token)."""
        try:
            await host.actor(request)
        except VigilError as exc:
            return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)
        return JSONResponse({"withheld": store.withheld(), "alerts": store.alerts()})

    return app


def run_gateway(node_url: str, token: str, keyring: Keyring, db: Path, *, host: str,
                port: int, local_token: str, state: Path, watch_every: float = 30.0,
                witnesses: dict[str, bytes] | None = None) -> None:
    import uvicorn

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = LocalStore(db)
    state.parent.mkdir(parents=True, exist_ok=True)
    client = TrustingClient(node_url, token, keyring, log_state=state, witnesses=witnesses)
    try:
        app = create_gateway_app(client, keyring, store, local_token=local_token,
                                 watch_every=watch_every)
        log.info("gateway for %s: following %s, TAXII 2.1 at http://%s:%d%s/", keyring.member_id,
                 node_url, host, port, taxii_server.PREFIX)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        client.close()
        store.close()
