"""A remote TAXII page is read as strictly as anything posted to the node."""

from __future__ import annotations

import pytest
import requests

from vigil.errors import InputError
from vigil.feeds.registry import Auth
from vigil.feeds.remote import RemoteCollection

URL = "http://127.0.0.1:9/taxii2/api/collections/x/"


def page(body: bytes) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r.headers["Content-Type"] = "application/taxii+json;version=2.1"
    r._content = body
    return r


@pytest.mark.parametrize(("body", "code"), [
    (b'{"more": false, "objects": [{"type": "x", "type": "y"}]}', "input.duplicate_key"),
    (b'{"objects": [{"n": NaN}]}', "input.non_finite"),
    (b'{"objects": [{"n": 9007199254740993}]}', "input.integer_range"),
])
def test_a_lenient_page_is_refused(body: bytes, code: str) -> None:
    coll = RemoteCollection(URL, Auth())
    try:
        with pytest.raises(InputError) as caught:
            coll._collection._conn.session.hooks["response"][-1](page(body))
        assert caught.value.code == code
        coll._on_response(page(b'{"more": false, "objects": [{"type": "x"}]}'))
    finally:
        coll.close()
