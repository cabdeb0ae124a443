"""The SDK's error classes: each HTTP error answer becomes the VigilError of its code, and
an unreachable node is ``client.unreachable``."""

from __future__ import annotations

import httpx
import pytest

from vigil import testing
from vigil.client import Client, ServerError
from vigil.errors import (
    AuthError,
    Conflict,
    CryptoError,
    InputError,
    NotFound,
    PolicyDenied,
    StixError,
    Unavailable,
    VigilError,
)


def answering(status: int, code: str, pointer: str | None = None) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        err = {"code": code, "message": "no", **({"pointer": pointer} if pointer else {})}
        return httpx.Response(status, json={"error": err})
    return Client("http://node.test", "t", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "input.malformed", InputError),
    (401, "auth.bad_token", AuthError),
    (403, "policy.not_in_channel", PolicyDenied),
    (404, "share.not_found", NotFound),
    (409, "share.sealed", Conflict),
    (413, "input.too_large", InputError),
    (422, "stix.pattern", StixError),
    (422, "crypto.bad_signature", CryptoError),
    (503, "service.unavailable", Unavailable),
    (500, "internal", ServerError),
])
def test_http_errors_become_vigil_errors(status: int, code: str,
                                         cls: type[VigilError]) -> None:
    with answering(status, code, "/objects/0") as c, pytest.raises(cls) as info:
        c.me()
    assert type(info.value) is cls
    assert (info.value.code, info.value.status, info.value.pointer) == \
        (code, status, "/objects/0")


def test_unreachable_node_is_unavailable() -> None:
    with Client(f"http://127.0.0.1:{testing.free_port()}", "t") as c, \
            pytest.raises(Unavailable) as info:
        c.me()
    assert info.value.code == "client.unreachable"
