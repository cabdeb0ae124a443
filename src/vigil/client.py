"""Python SDK over HTTP. Signs and seals on the client when it holds the member's keyring.

    from vigil.client import Client
    with Client("http://127.0.0.1:8470", token, keyring=load_keyring(path, passphrase)) as c:
        receipt = c.publish(bundle_bytes, tlp="amber", to=["ops-group"])
        for item in c.inbox():
            share = c.get(item.share_id)     # verified, decrypted
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson

from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keyring import Keyring
from vigil.envelope import (
    build_share,
    envelope_from_json,
    envelope_to_json,
    open_share,
    verify_envelope,
    verify_header,
)
from vigil.errors import (
    AuthError,
    Conflict,
    CryptoError,
    InputError,
    KeyringError,
    NotFound,
    PolicyDenied,
    StixError,
    Unavailable,
    VigilError,
)
from vigil.log.checkpoint import Checkpoint
from vigil.log.note import parse_vkey
from vigil.log.verifier import LogVerifier
from vigil.model import Audience, Envelope, Form, Handling, Provenance, Tlp

_log = logging.getLogger(__name__)

T = TypeVar("T")


class ServerError(VigilError):
    """The node failed on its side (HTTP 5xx other than 503); the request may or may
    not have taken effect."""

    code = "server.error"
    status = 500


# How a node's HTTP error becomes a VigilError here: by the error's code family first,
# then by status. Every class keeps the node's stable `code`, `status` and `pointer`.
_BY_STATUS: dict[int, type[VigilError]] = {
    400: InputError, 401: AuthError, 403: PolicyDenied, 404: NotFound, 409: Conflict,
    413: InputError, 422: InputError, 429: Unavailable, 502: Unavailable,
    503: Unavailable, 504: Unavailable,
}
_BY_CODE: dict[str, type[VigilError]] = {"stix": StixError, "crypto": CryptoError,
                                        "keyring": KeyringError}


def error_class(status: int, code: str) -> type[VigilError]:
    """The VigilError subclass for a node's error answer."""
    by_code = _BY_CODE.get(code.split(".", 1)[0])
    if by_code is not None:
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else VigilError


_ENVELOPE_FIELDS = frozenset({"header", "signature", "payload", "wraps"})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _envelope(doc: dict[str, Any]) -> Envelope:
    """The envelope of an API share document (which also carries what the node adds:
    its `state`, and whatever else a newer node sends beside the envelope)."""
    return envelope_from_json({k: v for k, v in doc.items() if k in _ENVELOPE_FIELDS})


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        code, message, pointer = err["code"], err["message"], err.get("pointer")
    except Exception:
        code, message, pointer = "http.error", resp.text[:200] or resp.reason_phrase, None
    detail = None
    with contextlib.suppress(Exception):
        detail = resp.json()["error"].get("detail")
    cls = error_class(resp.status_code, str(code))
    raise cls(message, code=code, status=resp.status_code, pointer=pointer, detail=detail)


@dataclass(frozen=True, slots=True)
class Share:
    """A share as a member sees it: verified envelope and, when it could be opened, the
    plaintext STIX bundle."""

    envelope: Envelope
    state: dict[str, Any]
    signer: str  # plain words: who signed and how
    verified: bool
    bundle: bytes | None  # None: sealed and no key to open it here
    opened_by: str | None  # "client" | "node" | None
    log_index: int | None = None  # its entry in the node's log, proof checked

    @property
    def id(self) -> str:
        return self.envelope.id

    def stix(self) -> dict[str, Any] | None:
        if self.bundle is None:
            return None
        doc: dict[str, Any] = orjson.loads(self.bundle)
        return doc


@dataclass(frozen=True, slots=True)
class InboxItem:
    seq: int
    share_id: str
    added: str
    envelope: Envelope
    state: dict[str, Any]
    log_index: int | None = None  # its entry in the node's log, proof checked


class Inbox(Iterator[InboxItem]):
    """Iterate a member's inbox page by page; ``cursor`` says where to resume."""

    def __init__(self, client: Client, after: int, page: int) -> None:
        self.client = client
        self.cursor = after
        self.page = page
        self._items: list[InboxItem] = []
        self._next_cursor = after
        self._done = False

    def __iter__(self) -> Inbox:
        return self

    def __next__(self) -> InboxItem:
        while not self._items:
            if self._done:
                raise StopIteration
            items, nxt = self.client.inbox_page(self.cursor, self.page)
            if nxt == self.cursor:
                self._done = True
            self._items = items
            self._next_cursor = nxt
            if not items:
                self.cursor = nxt
        item = self._items.pop(0)
        self.cursor = self._next_cursor if not self._items else item.seq
        self.client._delivered(item)
        return item


class _Follow(AsyncIterator[T]):
    """A Server-Sent Events resource of the node followed across reconnects with
    Last-Event-ID; ``cursor`` is the last event's seq. Subclasses name the path and
    turn each event into an item."""

    path = ""

    def __init__(self, client: Client, after: int) -> None:
        self.client = client
        self.cursor = after
        self.reconnects = 0
        self._gen: AsyncIterator[T] | None = None

    def __aiter__(self) -> _Follow[T]:
        return self

    async def __anext__(self) -> T:
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()  # type: ignore[attr-defined]

    async def _item(self, event: dict[str, Any]) -> T:
        raise NotImplementedError

    async def _run(self) -> AsyncIterator[T]:
        c = self.client
        backoff = 0.5
        async with httpx.AsyncClient(base_url=c.url, timeout=httpx.Timeout(
                30.0, read=None), headers={"Authorization": f"Bearer {c.token}"}) as http:
            while True:
                try:
                    async with http.stream("GET", self.path, headers={
                            "Last-Event-ID": str(self.cursor)}) as resp:
                        if resp.status_code >= 400:
                            await resp.aread()
                            _raise_for(resp)
                        data: list[str] = []
                        async for line in resp.aiter_lines():
                            if line.startswith("data:"):
                                data.append(line[5:].lstrip())
                            elif line == "" and data:
                                e = orjson.loads("\n".join(data))
                                data = []
                                self.cursor = int(e["seq"])
                                backoff = 0.5
                                yield await self._item(e)
                except (httpx.TransportError, Unavailable):
                    # dropped, or the node's store or bus is down: keep the cursor, retry
                    pass
                self.reconnects += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)


class Stream(_Follow[InboxItem]):
    """The live inbox; reconnects with Last-Event-ID; ``cursor`` is the last seq."""

    path = "/api/v1/stream"

    async def _item(self, event: dict[str, Any]) -> InboxItem:
        item = InboxItem(event["seq"], event["share_id"], event["added"],
                         _envelope(event["envelope"]), event["envelope"]["state"])
        await asyncio.to_thread(self.client._delivered, item)
        return item


class NoticeStream(_Follow[dict[str, Any]]):
    """The member's correlation notices as the node finds them (the objects of
    ``correlations()``); reconnects with Last-Event-ID; ``cursor`` is the last seq."""

    path = "/api/v1/correlations/stream"

    async def _item(self, event: dict[str, Any]) -> dict[str, Any]:
        return event


class Client:
    def __init__(self, url: str, token: str, keyring: Keyring | None = None, *,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 log_state: str | Path | None = None, verify_log: bool = True,
                 receipts: bool = True) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.keyring = keyring
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"})
        self._keys: dict[str, dict[str, Any]] = {}
        self._node: dict[str, Any] | None = None
        # the node's log as this member has checked it (docs/log.md)
        self.verify_log = verify_log
        self.log_state = Path(log_state) if log_state is not None else None
        self._log: LogVerifier | None = None
        self._channel_keys: dict[tuple[str, int], bytes] = {}
        # signed receipts (docs/accountability.md): sent on delivery and on opening
        # when the client holds the keyring; on_recall callbacks drop the copies an
        # application keeps of a share its originator recalled
        self.send_receipts = receipts
        self._receipted: set[tuple[str, str]] = set()
        self.on_recall: list[Callable[[str], None]] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.url}: {exc}", code="client.unreachable") \
                from exc
        _raise_for(resp)
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    # -- directory -------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/me")
        return out

    def members(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/members")["members"]
        return out

    def member(self, ref: str) -> dict[str, Any]:
        if ref not in self._keys:
            m: dict[str, Any] = self._call("GET", f"/api/v1/members/{ref}")
            self._keys[m["id"]] = m
            self._keys[m["name"]] = m
            return m
        return self._keys[ref]

    def node(self) -> dict[str, Any]:
        if self._node is None:
            self._node = self._call("GET", "/api/v1/node")
        assert self._node is not None
        return self._node

    def channels(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/channels")["channels"]
        return out

    def channel(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/channels/{ref}")
        return out

    def create_channel(self, name: str, kind: str, members: Sequence[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", "/api/v1/channels",
                                         json={"name": name, "kind": kind,
                                               "members": list(members)})
        return out

    def channel_add(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"/api/v1/channels/{ref}/members",
                                         json={"member": member})
        return out

    def channel_remove(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("DELETE", f"/api/v1/channels/{ref}/members/{member}")
        return out

    # -- publishing ----------------------------------------------------------------
    def preview(self, *, tlp: str, to: Sequence[str] = (), purpose: str | None = None,
                no_onward: bool = False, codes: Sequence[str] = (), themes: Sequence[str] = (),
                regions: Sequence[str] = (), expires: str | None = None) -> dict[str, Any]:
        """Who exactly would receive a share with this audience (a dry run)."""
        out: dict[str, Any] = self._call("POST", "/api/v1/preview", json={
            "tlp": tlp, "to": list(to), "purpose": purpose, "no_onward": no_onward,
            "codes": list(codes), "themes": list(themes), "regions": list(regions),
            "expires": expires})
        return out

    def publish(self, bundle: bytes, *, tlp: str, to: Sequence[str] = (),
                purpose: str | None = None, no_onward: bool = False, codes: Sequence[str] = (),
                themes: Sequence[str] = (), regions: Sequence[str] = (),
                expires: str | None = None, blind: bool = True) -> dict[str, Any]:
        """Publish a STIX bundle. With a keyring the share is signed and sealed here and
        the node sees only the signed header and ciphertext; without one the node
        attests it. A sealed share to a channel carries blind tokens of its observables
        (``blind=False`` leaves them out), so the node can match it without reading it."""
        if self.keyring is None:
            params: list[tuple[str, str]] = [("tlp", tlp)]
            params += [("to", t) for t in to] + [("code", c) for c in codes]
            params += [("theme", t) for t in themes] + [("region", r) for r in regions]
            if purpose:
                params.append(("purpose", purpose))
            if no_onward:
                params.append(("no_onward", "true"))
            if expires:
                params.append(("expires", expires))
            out: dict[str, Any] = self._call(
                "POST", "/api/v1/shares", params=params, content=bundle,
                headers={"Content-Type": "application/stix+json"})
            return out
        from vigil.stix import strictjson
        from vigil.stix.validate import validate_bundle

        validate_bundle(strictjson.loads(bundle))
        pv = self.preview(tlp=tlp, to=to, purpose=purpose, no_onward=no_onward, codes=codes,
                          themes=themes, regions=regions, expires=expires)
        kr = self.keyring
        recipients = [r["id"] for r in pv["recipients"]]
        form = Form(pv["form"])
        keys: dict[str, tuple[str, bytes]] = {}
        if form is Form.SEALED:
            keys = {r["id"]: (r["enc_key"]["id"], _unb64(r["enc_key"]["public"]))
                    for r in pv["recipients"]}
            keys[kr.member_id] = (kr.enc_key_id, kr.enc_public)
        h = pv["handling"]
        env = build_share(
            plaintext=bundle,
            originator=kr.member_id,
            audience=Audience(Tlp(pv["audience"]["tlp"]), pv["audience"]["channel"],
                              tuple(recipients)),
            recipients=recipients,
            form=form,
            handling=Handling(h["purpose"], bool(h["no_onward"]), tuple(h["codes"])),
            themes=tuple(pv["themes"]),
            regions=tuple(pv["regions"]),
            expires=pv["expires"],
            signer_private=kr.sign_private,
            signer_key_id=kr.sign_key_id,
            recipient_keys=keys,
        )
        if blind and form is Form.SEALED and pv["audience"]["channel"]:
            return self._publish_blind(env, bundle, str(pv["audience"]["channel"]))
        out2: dict[str, Any] = self._call(
            "POST", "/api/v1/envelopes", content=orjson.dumps(envelope_to_json(env)),
            headers={"Content-Type": "application/json"})
        return out2

    # -- channel keys and blind tokens ------------------------------------------------
    def channel_key(self, ref: str, *, create: bool = True) -> tuple[str, int, bytes]:
        """(channel id, epoch, key): the channel's current key, opened with the keyring.
        With ``create``, makes and stores a new epoch when the channel has none or a
        holder of the current one has left it. ``blind.no_copy`` when no member has
        sealed the current key to this member yet (``share_channel_key`` by a holder)."""
        from vigil.analysis.blind import new_channel_key, open_channel_key

        kr = self._need_keyring()
        for _ in range(3):
            st = self._call("GET", f"/api/v1/channels/{ref}/key")
            if create and (st["epoch"] == 0 or st["rotate"]):
                try:
                    self._put_channel_key(st, st["epoch"] + 1, new_channel_key(),
                                          [m["id"] for m in st["members"]])
                except VigilError as exc:
                    if exc.code != "blind.epoch_exists":
                        raise
                continue
            if st["sealed"] is None:
                raise NotFound(f"no copy of channel {ref}'s key epoch {st['epoch']} is "
                               "sealed to this member yet", code="blind.no_copy")
            got = (str(st["channel"]), int(st["epoch"]))
            if got not in self._channel_keys:
                self._channel_keys[got] = open_channel_key(
                    _unb64(st["sealed"]["blob"]), got[0], got[1], kr.member_id,
                    kr.enc_private)
            return got[0], got[1], self._channel_keys[got]
        raise VigilError("the channel key kept changing; try again", code="blind.busy",
                         status=409)

    def share_channel_key(self, ref: str) -> list[str]:
        """Seal the current channel key to the channel members lacking it (new members);
        returns their ids."""
        _, epoch, key = self.channel_key(ref, create=False)
        st = self._call("GET", f"/api/v1/channels/{ref}/key")
        if st["epoch"] != epoch or not st["missing"]:
            return []
        self._put_channel_key(st, epoch, key, st["missing"])
        return list(st["missing"])

    def _put_channel_key(self, st: dict[str, Any], epoch: int, key: bytes,
                         members: Sequence[str]) -> None:
        from vigil.analysis.blind import seal_channel_key
        from vigil.crypto.encoding import b64u

        keys = {m["id"]: m["enc_key"] for m in st["members"]}
        sealed = [{"member": m, "key": keys[m]["id"],
                   "blob": b64u(seal_channel_key(key, st["channel"], epoch, m, keys[m]["id"],
                                                 _unb64(keys[m]["public"])))}
                  for m in members]
        self._call("POST", f"/api/v1/channels/{st['channel']}/keys",
                   json={"epoch": epoch, "sealed": sealed})
        self._channel_keys[(str(st["channel"]), epoch)] = key

    def _need_keyring(self) -> Keyring:
        if self.keyring is None:
            raise InputError("channel keys are opened with the member's keyring",
                             code="keyring.required")
        return self.keyring

    def _publish_blind(self, env: Envelope, bundle: bytes, channel: str) -> dict[str, Any]:
        from vigil.analysis.blind import bundle_tokens
        from vigil.crypto.encoding import b64u

        body: dict[str, Any] = {"envelope": envelope_to_json(env)}
        try:
            channel_id, epoch, key = self.channel_key(channel)
        except NotFound as exc:
            if exc.code != "blind.no_copy":
                raise
        else:
            body["blind"] = {"channel": channel_id, "epoch": epoch,
                             "tokens": [b64u(t) for t in bundle_tokens(key, bundle)]}
        out: dict[str, Any] = self._call(
            "POST", "/api/v1/blind/envelopes", content=orjson.dumps(body),
            headers={"Content-Type": "application/json"})
        return out

    def blind_matches(self, after: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Blind-match notices between shares this member may read."""
        doc = self._call("GET", "/api/v1/blind/matches", params={"after": after, "limit": limit})
        return list(doc["matches"]), int(doc["next"])

    # -- sightings and the ledger ----------------------------------------------------------
    def sight(self, share_id: str, indicator: str, verdict: str = "sighted", *, count: int = 1,
              first_seen: str | None = None, last_seen: str | None = None,
              disclose: bool = False) -> dict[str, Any]:
        """Report a sighting (or a false positive, or an expiry) of an indicator."""
        body: dict[str, Any] = {"indicator": indicator, "verdict": verdict, "count": count,
                                "disclose": disclose}
        if first_seen is not None:
            body["first_seen"] = first_seen
        if last_seen is not None:
            body["last_seen"] = last_seen
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share_id}/sightings",
                                         json=body)
        return out

    def sightings(self, share_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share_id}/sightings")
        return out

    def ledger(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/ledger")
        return out

    # -- reading ------------------------------------------------------------------------
    def inbox_page(self, after: int = 0, limit: int = 100) -> tuple[list[InboxItem], int]:
        doc = self._call("GET", "/api/v1/inbox", params={"after": after, "limit": limit})
        items = [self._item(e) for e in doc["entries"]]
        return items, int(doc["next"])

    def _item(self, e: dict[str, Any]) -> InboxItem:
        env = _envelope(e["envelope"])
        return InboxItem(e["seq"], e["share_id"], e["added"], env, e["envelope"]["state"],
                         self._logged(env, e["envelope"].get("log")))

    def inbox(self, after: int = 0, page: int = 100) -> Inbox:
        """Every inbox entry after a cursor, in order. The returned iterator's
        ``cursor`` is where to resume from later (``client.inbox(after=cursor)``): the
        last entry handed out, or further when the node skipped entries this member may
        no longer read."""
        return Inbox(self, after, page)

    def stream(self, after: int = 0) -> Stream:
        """The live inbox as an async iterator (Server-Sent Events): the backlog after
        the cursor, then every new share as it arrives. It reconnects on its own with
        ``Last-Event-ID`` (back-off up to 15 s) when the connection drops or the node is
        unavailable; its ``cursor`` is the last seq received."""
        return Stream(self, after)

    def notices_stream(self, after: int = 0) -> NoticeStream:
        """This member's correlation notices as an async iterator (Server-Sent Events):
        those after the cursor, then each one as soon as the node finds the match;
        reconnects as ``stream`` does."""
        return NoticeStream(self, after)

    def envelope(self, share_id: str) -> tuple[Envelope, dict[str, Any]]:
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        return _envelope(doc), doc["state"]

    # -- the node's log -------------------------------------------------------------
    def log_verifier(self) -> LogVerifier:
        """The checker of this node's log, holding the checkpoints accepted so far."""
        if self._log is None:
            info = self.node()["log"]
            name, public = parse_vkey(info["vkey"])
            self._log = LogVerifier(info["origin"], name, public, self._consistency,
                                    self.log_state)
        return self._log

    def _consistency(self, first: int, second: int) -> list[bytes]:
        doc = self._call("GET", "/api/v1/log/consistency",
                         params={"from": first, "to": second})
        return [b64u_decode(h) for h in doc["proof"]]

    def checkpoint(self) -> Checkpoint:
        """The node's latest signed checkpoint, accepted only if it extends the last one
        this client accepted (CryptoError log.rollback / log.fork otherwise)."""
        doc = self._call("GET", "/api/v1/log/checkpoint")
        return self.log_verifier().accept(doc["checkpoint"], latest=True)

    def _logged(self, env: Envelope, log: dict[str, Any] | None) -> int | None:
        if not self.verify_log:
            return None
        return self.log_verifier().verify_share(env, log)

    def verify(self, env: Envelope, *, header_only: bool = False) -> str:
        """Check the envelope's signature against the signer's published key; return who
        signed, in plain words. Raises CryptoError if it does not verify.
        ``header_only``: a recalled or purged share, whose payload is gone."""
        check = verify_header if header_only else verify_envelope
        h = env.header
        if h.get("provenance") == Provenance.ATTESTED.value:
            node = self.node()
            if node["sign_key"]["id"] != h["key"]:
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            check(env, _unb64(node["sign_key"]["public"]))
            posted = h.get("posted_by") or {}
            who = self.member(str(posted.get("member", env.originator)))
            return (f"attested by node {node['name']} ({node['id']}): received from "
                    f"{who['display_name']} (member:{who['name']}), verified")
        m = self.member(env.originator)
        if m["sign_key"]["id"] != h["key"]:
            raise CryptoError("signed with a key that is not the member's",
                              code="crypto.unknown_key")
        check(env, _unb64(m["sign_key"]["public"]))
        return f"signed by {m['display_name']} (member:{m['name']}, {h['key']}), verified"

    def get(self, share_id: str) -> Share:
        """Fetch a share, verify its signature, and open it: with the keyring here, or
        through the node when the node holds this member's keys."""
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        env, state = _envelope(doc), doc["state"]
        if state.get("recalled") or state.get("purged"):
            if state.get("recalled"):
                self._recalled(env)
            return Share(env, state, "withdrawn: the node removed its payload", False, None,
                         None, self._logged(env, doc.get("log")))
        signer = self.verify(env)
        logged = self._logged(env, doc.get("log"))
        bundle: bytes | None = None
        opened: str | None = None
        if env.form is Form.PLAIN:
            bundle, opened = env.payload, "plain"
        elif self.keyring is not None:
            bundle, opened = open_share(env, self.keyring.member_id, self.keyring.enc_private), \
                "client"
        else:
            try:
                bundle = self._call("GET", f"/api/v1/shares/{share_id}/content")
                opened = "node"
            except VigilError as exc:
                if exc.code != "share.sealed":
                    raise
        if bundle is not None and opened != "node":
            self._auto_receipt(env, "opened")
        return Share(env, state, signer, True, bundle, opened, logged)

    # -- receipts and recall (docs/accountability.md) ---------------------------------
    def receipt(self, share: str, what: str) -> dict[str, Any]:
        """Sign and send this member's receipt of a share: ``received``, ``opened`` or
        ``recall-ack``. Idempotent at the node."""
        from vigil.accountability import receipt_object, sign_receipt
        from vigil.crypto.encoding import b64u

        kr = self.keyring
        if kr is None:
            raise InputError("receipts are signed with the member's keyring",
                             code="keyring.required")
        obj = receipt_object(share, kr.member_id, what, kr.sign_key_id)
        out: dict[str, Any] = self._call(
            "POST", f"/api/v1/shares/{share}/receipts",
            json={"receipt": obj, "signature": b64u(sign_receipt(obj, kr.sign_private))})
        self._receipted.add((share, what))
        return out

    def receipts(self, share: str) -> dict[str, Any]:
        """For a share this member published: who received, opened and (after a
        recall) acknowledged it, and who has not."""
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share}/receipts")
        return out

    def recall(self, share: str) -> dict[str, Any]:
        """Recall a share this member published: signed here with the keyring, or
        (without one) by the node with the keyring it holds or, for a share it attested,
        its own key."""
        body: dict[str, Any] | None = None
        if self.keyring is not None:
            from vigil.accountability import recall_object, sign_recall
            from vigil.crypto.encoding import b64u

            kr = self.keyring
            obj = recall_object(share, kr.member_id, kr.sign_key_id)
            body = {"recall": obj, "signature": b64u(sign_recall(obj, kr.sign_private))}
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share}/recall", json=body)
        return out

    def _auto_receipt(self, env: Envelope, what: str) -> None:
        if self.keyring is None or not self.send_receipts or (env.id, what) in self._receipted \
                or env.originator == self.keyring.member_id:
            return
        try:
            self.receipt(env.id, what)
        except VigilError:
            _log.warning("could not send the %s receipt of %s", what, env.id, exc_info=True)

    def _delivered(self, item: InboxItem) -> None:
        """A share reached this client: say so; a recalled one: drop it, acknowledge."""
        if item.state.get("recalled"):
            self._recalled(item.envelope)
        else:
            self._auto_receipt(item.envelope, "received")

    def _recalled(self, env: Envelope) -> None:
        """Its originator recalled this share: drop every copy here, acknowledge."""
        for drop in self.on_recall:
            drop(env.id)
        self._auto_receipt(env, "recall-ack")
