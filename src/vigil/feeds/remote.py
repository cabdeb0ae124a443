"""The TAXII 2.1 client side: one external collection, through ``taxii2-client``.

Pages are followed with ``next``/``more`` (the server's paging), and the
``X-TAXII-Date-Added-Last`` header of each page is kept: it is the ``added_after``
cursor from which the next pull resumes. HTTP and connection errors become
:class:`vigil.errors.VigilError` with a ``taxii.*`` code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, as_pages

from vigil.errors import AuthError, InputError, NotFound, Unavailable, VigilError
from vigil.feeds.registry import Auth, collection_url
from vigil.stix import strictjson


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


MAX_PAGE_BYTES = 256 * 1024 * 1024
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


def _auth_kw(auth: Auth) -> dict[str, Any]:
    if auth.token:
        return {"auth": _Bearer(auth.token)}
    if auth.user:
        return {"user": auth.user, "password": auth.password or ""}
    return {}


@dataclass(frozen=True, slots=True)
class Page:
    objects: list[dict[str, Any]]
    date_added_last: str | None


def _error(exc: Exception, url: str) -> VigilError:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        text = f"TAXII server at {url} answered {status}"
        if status in (401, 403):
            return AuthError(text + ": check the feed's credentials", code="taxii.auth")
        if status == 404:
            return NotFound(text + ": no such collection", code="taxii.not_found")
        if status < 500:
            return InputError(text, code="taxii.refused", status=502)
        return Unavailable(text, code="taxii.unavailable")
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return Unavailable(f"cannot reach the TAXII server at {url}: {exc}",
                           code="taxii.unreachable")
    return VigilError(f"TAXII exchange with {url} failed: {exc}", code="taxii.error",
                      status=502)


class RemoteCollection:
    """One collection of an external TAXII 2.1 server."""

    def __init__(self, url: str, auth: Auth, *, timeout: float = 60.0) -> None:
        self.url = url
        self._collection = Collection(url, **_auth_kw(auth))
        self._last_header: str | None = None
        session: requests.Session = self._collection._conn.session
        session.hooks["response"].append(self._on_response)
        self._timeout = timeout

    @classmethod
    def open(cls, url: str, collection: str, auth: Auth) -> RemoteCollection:
        """The collection of an API root by id or, when ``collection`` is not a UUID, by
        the id, alias or title the API root lists (one request to resolve it)."""
        if _UUID.match(collection) or url.rstrip("/").endswith(f"/collections/{collection}"):
            return cls(collection_url(url, collection), auth)
        try:
            root = ApiRoot(url, **_auth_kw(auth))
            try:
                listed = root.collections
            finally:
                root.close()
        except (requests.RequestException, TAXIIServiceException) as exc:
            raise _error(exc, url) from exc
        for c in listed:
            if collection in (c.id, c.title, c.alias):
                return cls(collection_url(url, c.id), auth)
        raise NotFound(f"the API root {url} lists no collection {collection!r}",
                       code="taxii.not_found")

    def _on_response(self, resp: requests.Response, *args: Any, **kw: Any) -> None:
        self._last_header = resp.headers.get("X-TAXII-Date-Added-Last")
        if resp.ok and "json" in resp.headers.get("content-type", ""):
            # the same strict reading as every other way in: a duplicate key, NaN or an
            # integer beyond 2^53 in a page refuses the page, not silently one reading
            strictjson.loads(resp.content, max_bytes=MAX_PAGE_BYTES)

    def close(self) -> None:
        self._collection.close()

    def __enter__(self) -> RemoteCollection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pages(self, added_after: str | None, per_request: int = 500) -> Iterator[Page]:
        """Every object added after the cursor, page by page (``next``/``more``)."""
        kw: dict[str, Any] = {"version": "all"}  # every version added, not just the last
        if added_after:
            kw["added_after"] = added_after
        try:
            for envelope in as_pages(self._collection.get_objects, per_request, **kw):
                yield Page(list(envelope.get("objects", [])), self._last_header)
        except (requests.RequestException, TAXIIServiceException) as exc:
            raise _error(exc, self.url) from exc

    def add(self, objects: list[dict[str, Any]], *, poll_interval: float = 0.5,
            timeout: float = 120.0) -> dict[str, Any]:
        """Add objects and wait for the status resource to complete; the final status."""
        try:
            status = self._collection.add_objects(
                {"objects": objects}, wait_for_completion=True, poll_interval=poll_interval,
                timeout=timeout)
        except (requests.RequestException, TAXIIServiceException) as exc:
            raise _error(exc, self.url) from exc
        return {
            "id": status.id, "status": status.status,
            "total": status.total_count, "success": status.success_count,
            "failure": status.failure_count, "pending": status.pending_count,
            "failures": list(status.failures or []),
        }
