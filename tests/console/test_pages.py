"""How console pages are rendered: static assets, headers, error pages."""

from __future__ import annotations

import re

from vigil.web.console.pages import HEADERS

from .conftest import Console


def test_static_assets_ship_in_the_package(console: Console) -> None:
    c = console.client()
    css = c.get("/static/console/console.css")
    assert css.status_code == 200 and "#33FF00" in css.text and "#FF2B2B" in css.text
    assert c.get("/static/console/console.js").status_code == 200
    assert c.get("/static/console/../routes.py").status_code == 404
    html = console.sign_in("bravo").get("/").text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_every_page_and_error_page_carries_the_security_headers(console: Console) -> None:
    b = console.sign_in("bravo")
    for path, status in (("/", 200), ("/log", 200), ("/shares/junk", 404),
                         ("/?tlp=purple", 400), ("/signin", 200)):
        r = b.get(path)
        assert r.status_code == status, path
        for name, value in HEADERS.items():
            assert r.headers[name] == value, (path, name)
    missing = b.get("/shares/share--00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "Not found" in missing.text
