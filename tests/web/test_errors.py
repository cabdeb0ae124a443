"""Every error of the web edge is rendered once: vigil's body everywhere, TAXII's under
/taxii2/; unknown routes, wrong verbs, framework validation and unexpected exceptions
included. HEAD answers what GET would, without a body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Api

from vigil.taxii.media import TAXII
from vigil.web import deps


def vigil_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    err: dict[str, Any] = body["error"]
    return err


def test_unknown_routes_and_wrong_verbs(api: Api) -> None:
    h = api.h("alpha")
    for path in ("/api/v1/nothing-here", "/nothing-here", "/api/v2/inbox"):
        vigil_error(api.client.get(path, headers=h), 404, "http.not_found")
    r = api.client.delete("/api/v1/inbox", headers=h)
    vigil_error(r, 405, "http.method_not_allowed")
    assert "GET" in r.headers["allow"]
    vigil_error(api.client.put("/healthz"), 405, "http.method_not_allowed")


def test_taxii_routes_answer_taxii_errors(api: Api) -> None:
    h = api.h("alpha") | {"Accept": TAXII}
    for r, status, code in ((api.client.get("/taxii2/nothing/", headers=h), 404,
                             "taxii.not_found"),
                            (api.client.put("/taxii2/", headers=h), 405,
                             "taxii.method_not_allowed"),
                            (api.client.get("/taxii2/api/collections/x/objects/",
                                            params={"limit": "²"}, headers=h), 400,
                             "input.bad_number")):
        assert r.status_code == status and r.headers["content-type"] == TAXII
        assert r.json()["error_code"] == code and r.json()["http_status"] == str(status)


def test_framework_validation_is_vigils_error(api: Api) -> None:
    err = vigil_error(api.client.post("/api/v1/preview", json={"tlp": 5},
                                      headers=api.h("alpha")), 400, "input.body")
    assert err["pointer"] == "/tlp"


def test_unexpected_exceptions_are_internal(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **kw: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(deps, "authenticate", boom)  # the stream's authentication
    r = api.client.get("/api/v1/stream", headers=api.h("alpha"))  # served before routing
    err = vigil_error(r, 500, "internal")
    assert "secret" not in r.text and err["message"]
    quiet = TestClient(api.client.app, raise_server_exceptions=False)
    monkeypatch.setattr(api.exchange, "directory", boom)
    r = quiet.get("/api/v1/members", headers=api.h("alpha"))
    vigil_error(r, 500, "internal")
    assert "secret" not in r.text


def test_head_answers_like_get_without_body(api: Api) -> None:
    h = api.h("alpha")
    for path in ("/healthz", "/api/v1/me", "/api/v1/inbox", "/api/openapi.json"):
        got, head = api.client.get(path, headers=h), api.client.head(path, headers=h)
        assert head.status_code == got.status_code == 200, (path, head.text)
        assert head.content == b"" and head.headers["content-type"] == \
            got.headers["content-type"]
    r = api.client.head("/api/v1/stream", headers=h | {"Last-Event-ID": "x"})
    assert r.status_code == 400 and r.content == b""
    assert api.client.head("/api/v1/me").status_code == 401
    assert api.client.head("/api/v1/nothing").status_code == 404


def test_openapi_documents_the_errors_as_answered(api: Api) -> None:
    doc = api.client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "Error" in schemas
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "422" not in responses or "HTTPValidationError" not in str(responses["422"])
            media = TAXII if path.startswith("/taxii2") else "application/json"
            assert set(responses["4XX"]["content"]) == {media}, (method, path)
    # what the document says is what an error is
    err = api.client.get("/api/v1/inbox", params={"after": "x"}, headers=api.h("alpha")).json()
    assert set(err) == set(schemas["Error"]["required"])
    assert set(err["error"]) <= set(schemas["Error"]["properties"]["error"]["properties"])
