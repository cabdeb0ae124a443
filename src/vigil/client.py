"""Python SDK over HTTP. Signs and seals on the client when it holds the member's keyring.

    from vigil.client import Client
    with Client("http://127.0.0.1:8470", token, keyring=load_keyring(path, passphrase)) as c:
        receipt = c.publish(bundle_bytes, tlp="amber", to=["ops-group"])
        for item in c.inbox():
            share = c.get(item.share_id)     # verified, decrypted
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import orjson

from vigil.crypto.keyring import Keyring
from vigil.envelope import (
    build_share,
    envelope_from_json,
    envelope_to_json,
    open_share,
    verify_envelope,
)
from vigil.errors import (
    AuthError,
    CryptoError,
    InputError,
    NotFound,
    PolicyDenied,
    Unavailable,
    VigilError,
)
from vigil.model import Audience, Envelope, Form, Handling, Provenance, Tlp

_BY_STATUS: dict[int, type[VigilError]] = {
    400: InputError, 401: AuthError, 403: PolicyDenied, 404: NotFound, 503: Unavailable,
}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _envelope(doc: dict[str, Any]) -> Envelope:
    """The envelope of an API share document (which also carries the node's `state`)."""
    return envelope_from_json({k: v for k, v in doc.items() if k != "state"})


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        code, message, pointer = err["code"], err["message"], err.get("pointer")
    except Exception:
        code, message, pointer = "http.error", resp.text[:200] or resp.reason_phrase, None
    cls = _BY_STATUS.get(resp.status_code, VigilError)
    raise cls(message, code=code, status=resp.status_code, pointer=pointer)


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


class Client:
    def __init__(self, url: str, token: str, keyring: Keyring | None = None, *,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.keyring = keyring
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"})
        self._keys: dict[str, dict[str, Any]] = {}
        self._node: dict[str, Any] | None = None

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
                expires: str | None = None) -> dict[str, Any]:
        """Publish a STIX bundle. With a keyring the share is signed and sealed here and
        the node sees only the signed header and ciphertext; without one the node
        attests it."""
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
        out2: dict[str, Any] = self._call(
            "POST", "/api/v1/envelopes", content=orjson.dumps(envelope_to_json(env)),
            headers={"Content-Type": "application/json"})
        return out2

    # -- reading ------------------------------------------------------------------------
    def inbox_page(self, after: int = 0, limit: int = 100) -> tuple[list[InboxItem], int]:
        doc = self._call("GET", "/api/v1/inbox", params={"after": after, "limit": limit})
        items = [InboxItem(e["seq"], e["share_id"], e["added"],
                           _envelope(e["envelope"]), e["envelope"]["state"])
                 for e in doc["entries"]]
        return items, int(doc["next"])

    def inbox(self, after: int = 0, page: int = 100) -> Iterator[InboxItem]:
        """Every inbox entry after a cursor, in order; resume from the last seq seen."""
        while True:
            items, nxt = self.inbox_page(after, page)
            yield from items
            if nxt == after:
                return
            after = nxt

    async def stream(self, after: int = 0) -> AsyncIterator[InboxItem]:
        """Live inbox as an async iterator (Server-Sent Events), resuming after a cursor
        and reconnecting with Last-Event-ID."""
        import asyncio

        last = after
        backoff = 0.5
        async with httpx.AsyncClient(base_url=self.url, timeout=None, headers={
                "Authorization": f"Bearer {self.token}"}) as http:
            while True:
                try:
                    async with http.stream("GET", "/api/v1/stream",
                                           headers={"Last-Event-ID": str(last)}) as resp:
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
                                last = int(e["seq"])
                                backoff = 0.5
                                yield InboxItem(e["seq"], e["share_id"], e["added"],
                                                _envelope(e["envelope"]),
                                                e["envelope"]["state"])
                    backoff = 0.5
                except (httpx.TransportError, httpx.RemoteProtocolError):
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 15.0)
                except Unavailable:
                    # the node's store or bus is down: keep the cursor, retry with back-off
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 15.0)

    def envelope(self, share_id: str) -> tuple[Envelope, dict[str, Any]]:
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        return _envelope(doc), doc["state"]

    def verify(self, env: Envelope) -> str:
        """Check the envelope's signature against the signer's published key; return who
        signed, in plain words. Raises CryptoError if it does not verify."""
        h = env.header
        if h.get("provenance") == Provenance.ATTESTED.value:
            node = self.node()
            if node["sign_key"]["id"] != h["key"]:
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            verify_envelope(env, _unb64(node["sign_key"]["public"]))
            posted = h.get("posted_by") or {}
            who = self.member(str(posted.get("member", env.originator)))
            return (f"attested by node {node['name']} ({node['id']}): received from "
                    f"{who['display_name']} (member:{who['name']}), verified")
        m = self.member(env.originator)
        if m["sign_key"]["id"] != h["key"]:
            raise CryptoError("signed with a key that is not the member's",
                              code="crypto.unknown_key")
        verify_envelope(env, _unb64(m["sign_key"]["public"]))
        return f"signed by {m['display_name']} (member:{m['name']}, {h['key']}), verified"

    def get(self, share_id: str) -> Share:
        """Fetch a share, verify its signature, and open it: with the keyring here, or
        through the node when the node holds this member's keys."""
        env, state = self.envelope(share_id)
        signer = self.verify(env)
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
        return Share(env, state, signer, True, bundle, opened)
