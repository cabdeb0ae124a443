"""The API reference page loads nothing from another host."""

from __future__ import annotations

import re

from tests.web.conftest import Api


def test_docs_page_and_assets_come_from_the_node(api: Api) -> None:
    r = api.client.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page)
    assert urls, page
    for url in urls:
        assert not re.match(r"^(?:[a-z]+:)?//", url), f"{url} is on another host"
    assert "cdn" not in page.lower() and "https://" not in page
    assert '"validatorUrl": null' in page
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    for url in urls:
        if url.startswith("/api/docs/assets/"):
            got = api.client.get(url)
            assert got.status_code == 200 and len(got.content) > 10_000, url
    assert api.client.get("/api/docs/assets/index.html").status_code == 404
    assert api.client.get("/api/docs/assets/..%2F..%2F__init__.py").status_code == 404
