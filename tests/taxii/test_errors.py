"""TAXII 2.1 error messages carry the stable vigil code, in the TAXII media type."""

from __future__ import annotations

import orjson

from vigil.errors import AuthError, InputError, VigilError
from vigil.taxii.errors import error_body, error_response
from vigil.taxii.media import TAXII


def test_the_body_is_the_spec_error_message() -> None:
    exc = InputError("bad filter", code="taxii.bad_filter", pointer="/match[type]",
                     detail={"allowed": ["type", "id"]})
    assert error_body(exc) == {
        "title": "Bad request", "description": "bad filter", "error_code": "taxii.bad_filter",
        "http_status": "400",
        "details": {"allowed": ["type", "id"], "pointer": "/match[type]"}}
    plain = error_body(VigilError("boom", code="internal"))
    assert plain == {"title": "Internal error", "description": "boom",
                     "error_code": "internal", "http_status": "500"}  # no empty details


def test_the_response_is_taxii_and_asks_for_basic_auth_on_401() -> None:
    r = error_response(AuthError("who are you", code="auth.missing"))
    assert r.status_code == 401 and r.media_type == TAXII
    assert r.headers["www-authenticate"] == 'Basic realm="vigil TAXII"'
    assert orjson.loads(r.body)["error_code"] == "auth.missing"
    other = error_response(InputError("no", code="input.malformed"))
    assert other.status_code == 400 and "www-authenticate" not in other.headers


def test_a_retry_after_is_kept() -> None:
    exc = VigilError("slow down", code="rate.limited", status=429)
    exc.headers = {"Retry-After": "3"}  # type: ignore[attr-defined]
    r = error_response(exc)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
