"""How the node's HTTP errors become :class:`vigil.errors.VigilError` here, and the errors
of deliveries this client refuses."""

from __future__ import annotations

import contextlib

import httpx

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


class Refused(CryptoError):
    """The node delivered something this client will not take: a share without a valid
    log proof, or a stream event replayed or out of order. ``seq`` and ``share_id`` name
    the delivery; ``cause`` is the check that failed (its code is this error's code)."""

    def __init__(self, cause: VigilError, seq: int, share_id: str) -> None:
        super().__init__(f"inbox {seq} ({share_id}) refused: {cause.message}",
                         code=cause.code, status=cause.status)
        self.cause = cause
        self.seq = seq
        self.share_id = share_id


def check_order(seq: int, cursor: int, share_id: str) -> None:
    """A node hands out inbox entries in strictly increasing seq after the cursor."""
    if seq <= cursor:
        raise Refused(CryptoError(f"seq {seq} is not after {cursor}: replayed or reordered",
                                  code="client.stream_order"), seq, share_id)


def error_class(status: int, code: str) -> type[VigilError]:
    """The VigilError subclass for a node's error answer."""
    by_code = _BY_CODE.get(code.split(".", 1)[0])
    if by_code is not None:
        return by_code
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else VigilError


def raise_for(resp: httpx.Response) -> None:
    """Raise the node's error answer as its VigilError; nothing for a success."""
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
