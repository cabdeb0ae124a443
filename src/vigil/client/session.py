"""The connection to one node: the HTTP transport (TLS, token), the calls with the node's
errors raised, a publish sent again under its Idempotency-Key, and what the client keeps
between calls (proven keys, the log state, channel keys, receipts sent)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from vigil.client.errors import raise_for
from vigil.crypto.keyring import Keyring
from vigil.errors import InputError, Unavailable
from vigil.log.verifier import LogVerifier
from vigil.model import Envelope
from vigil.protocol.envelope import envelope_from_json

_ENVELOPE_FIELDS = frozenset({"header", "signature", "payload", "wraps"})


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def envelope_of(doc: dict[str, Any]) -> Envelope:
    """The envelope of an API share document (which also carries what the node adds:
    its `state`, and whatever else a newer node sends beside the envelope)."""
    return envelope_from_json({k: v for k, v in doc.items() if k in _ENVELOPE_FIELDS})


class Session:
    def __init__(self, url: str, token: str, keyring: Keyring | None = None, *,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 log_state: str | Path | None = None, verify_log: bool = True,
                 receipts: bool = True, require_hybrid: bool = False,
                 async_transport: httpx.AsyncBaseTransport | None = None,
                 cert: str | None = None, key: str | None = None, ca: str | None = None,
                 pin: str | None = None, publish_retries: int = 3) -> None:
        """``token`` may be empty when a client certificate (``cert``, ``key``) signs
        the user in; ``ca`` is the CA to trust for the node's certificate, or ``pin``
        the node's key (``sha256/…``, see vigil.client.tls). A publish whose answer is
        lost (the connection drops, the node answers 429, 502, 503 or 504) is sent again up to
        ``publish_retries`` times with the same ``Idempotency-Key``, so that it is
        stored once (docs/api.md)."""
        self.url = url.rstrip("/")
        self.token = token
        self.keyring = keyring
        if (cert or ca or pin) and transport is None:
            from vigil.client.tls import transports
            transport, tls_async = transports(ca, cert, key, pin)
            async_transport = async_transport or tls_async
        self.auth_headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers=self.auth_headers)
        self.async_transport = async_transport
        # members whose keys were proven by their log entry, by id and by name
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
        # the member's own rule: shares not signed (and sealed) in the hybrid suites are
        # refused here, whatever the node accepted (docs/protocol.md)
        self.require_hybrid = require_hybrid
        self._receipted: set[tuple[str, str]] = set()
        self.on_recall: list[Callable[[str], None]] = []
        # the member's keys before its last rotations, kept until its shares are
        # wrapped again to the new key (vigil.client.keys)
        self.retired_keyrings: list[Keyring] = []
        self.publish_retries = publish_retries
        self.retry_pause = 0.25  # seconds before the first retry, doubled for each next

    def __enter__(self) -> Self:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.url}: {exc}", code="client.unreachable") \
                from exc
        raise_for(resp)
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def _publish_call(self, path: str, **kw: Any) -> dict[str, Any]:
        """POST a publish with an Idempotency-Key, sent again with the same key while
        its answer is lost (unreachable node, dropped connection, 429/502/503/504)."""
        headers = {**kw.pop("headers", {}), "Idempotency-Key": uuid.uuid4().hex}
        pause = self.retry_pause
        for attempt in range(self.publish_retries + 1):
            try:
                out: dict[str, Any] = self._call("POST", path, headers=headers, **kw)
                return out
            except Unavailable:
                if attempt == self.publish_retries:
                    raise
            time.sleep(pause)
            pause *= 2
        raise AssertionError("unreachable")

    def node(self) -> dict[str, Any]:
        if self._node is None:
            self._node = self._call("GET", "/api/v1/node")
        assert self._node is not None
        return self._node

    def _need_keyring(self) -> Keyring:
        if self.keyring is None:
            raise InputError("channel keys are opened with the member's keyring",
                             code="keyring.required")
        return self.keyring
