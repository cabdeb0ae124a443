"""An in-process HTTP proxy in front of a TAXII server that cuts object requests: it
answers some of them 503 without passing them on ("refuse"), or passes them on and
then loses the answer ("lose": the server did the work, the client never saw it). It
can also shrink every ``limit`` so that a few objects make many pages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
        "content-encoding"}


class CuttingProxy:
    def __init__(self, upstream: str, *, cut: Callable[[int], bool], mode: str = "refuse",
                 limit: int | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.cut, self.mode, self.limit = cut, mode, limit
        self.requests = 0  # GET …/objects/ requests seen
        self.cuts = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        cut = False
        if h.command == "GET" and parts.path.endswith("/objects/"):
            with self._lock:
                self.requests += 1
                cut = self.cut(self.requests)
                self.cuts += cut
            if self.limit is not None:
                query = [(k, str(self.limit) if k == "limit" else v) for k, v in query]
        if cut and self.mode == "refuse":
            self._answer(h, 503, {}, b"cut by the test proxy")
            return
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
        url = self.upstream + parts.path + ("?" + urlencode(query) if query else "")
        resp = self._client.request(h.command, url, headers=headers, content=body, timeout=60)
        if cut:  # "lose": the server answered, the client never hears it
            self._answer(h, 502, {}, b"answer lost by the test proxy")
            return
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        self._answer(h, resp.status_code, out, resp.content)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
                body: bytes) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
