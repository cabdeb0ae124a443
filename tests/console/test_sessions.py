"""Console sessions live in the node's store: any worker honours them, sign-out ends them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.console.conftest import Console, csrf_of

from vigil.bus.local import LocalBus
from vigil.web import create_app


def test_a_session_opened_on_one_worker_works_on_another(console: Console) -> None:
    c1 = console.sign_in("bravo")
    cookie = c1.cookies.get("vigil_session")
    assert cookie
    db = console.node.data / "vigil.db"
    assert cookie.encode() not in db.read_bytes()  # only a hash of the id is stored
    other = console.node.exchange()  # a second worker: its own exchange on the same store
    app2 = create_app(console.node.settings, exchange=other, bus=LocalBus())
    try:
        with TestClient(app2, follow_redirects=False) as c2:
            c2.cookies.set("vigil_session", cookie)
            page = c2.get("/")
            assert page.status_code == 200 and "bravo" in page.text
            stream_auth = c2.get("/api/v1/me")
            assert stream_auth.status_code == 200
            assert stream_auth.json()["member"]["name"] == "bravo"
            # signing out on the first worker ends the session on the second
            r = c1.post("/signout", data={"csrf": csrf_of(c1.get("/").text)})
            assert r.status_code == 303
            assert c2.get("/").status_code == 303  # back to sign-in
            assert c2.get("/api/v1/me").status_code == 401
    finally:
        other.store.close()


def test_a_forged_or_expired_cookie_is_refused(console: Console) -> None:
    c = console.client()
    c.cookies.set("vigil_session", "forged")
    assert c.get("/").status_code == 303
    assert c.get("/api/v1/me").json()["error"]["code"] == "auth.bad_session"
