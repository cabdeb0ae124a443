"""Taking access away over the API: a revoked token, or a deactivated member, ends its
open push streams at once, and nothing stored after the revocation reaches them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vigil.signin import users as access
from vigil.testing import ServerProcess, TestNode, make_node
from vigil.testing.stix import canary_bundle as bundle_with

WAIT = 20.0  # generous bound for "at once" on a loaded machine (no timing is asserted)


class Node:
    def __init__(self, node: TestNode, url: str) -> None:
        self.node = node
        self.url = url
        self.tokens = {name: m.token for name, m in node.members.items()}

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def publish(self, text: str, tlp: str = "red") -> str:
        r = httpx.post(f"{self.url}/api/v1/shares", params={"tlp": tlp, "to": "member:delta"},
                       content=bundle_with(text), headers=self.h("alpha"), timeout=30)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = make_node(tmp_path / "node", {"alpha": True, "delta": True})
    ex = n.exchange()
    tokens = {}
    for name in ("ops", "night"):
        _, tokens[name] = ex.add_user("delta", name)
    access.set_admin(ex, "delta", "ops")
    ex.store.close()
    with ServerProcess(n.data, env={"VIGIL_KEEPALIVE": "600"}) as srv:
        got = Node(n, srv.url)
        got.tokens.update(tokens)
        yield got


class Stream:
    """An SSE stream read in a thread: its lines, then None when the server ends it."""

    def __init__(self, url: str, token: str, path: str = "/api/v1/stream") -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        opened = threading.Event()

        def read() -> None:
            try:
                with httpx.stream("GET", url + path, timeout=httpx.Timeout(30, read=600),
                                  headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status_code == 200
                    opened.set()
                    for line in r.iter_lines():
                        self.lines.put(line)
            except httpx.HTTPError:
                pass  # the server went away (at the end of the test)
            finally:
                self.lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        assert opened.wait(WAIT)

    def until(self, text: str) -> bool:
        """Read until a line holds ``text`` (True) or the stream ends (False)."""
        while True:
            line = self.lines.get(timeout=WAIT)
            if line is None:
                return False
            self.seen.append(line)
            if text in line:
                return True

    def ended(self) -> bool:
        """Whether the server ends the stream (within the generous bound)."""
        try:
            while (line := self.lines.get(timeout=WAIT)) is not None:
                self.seen.append(line)
        except queue.Empty:
            return False
        return True


def test_revoking_a_user_ends_its_open_streams_at_once(node: Node) -> None:
    inbox = Stream(node.url, node.tokens["night"])
    notices = Stream(node.url, node.tokens["night"], "/api/v1/correlations/stream")
    other = Stream(node.url, node.tokens["ops"])
    first = node.publish("before")
    assert inbox.until(first) and other.until(first)
    r = httpx.post(f"{node.url}/api/v1/users/night/revoke", headers=node.h("ops"))
    assert r.status_code == 200, r.text
    assert inbox.ended(), inbox.seen
    assert notices.ended()
    later = node.publish("after the revocation")
    assert other.until(later)  # the member's other user still receives
    assert not any(later in line for line in inbox.seen)
    assert httpx.get(f"{node.url}/api/v1/inbox", headers=node.h("night")
                     ).status_code == 401


def test_a_revocation_by_another_process_stops_delivery(node: Node) -> None:
    inbox = Stream(node.url, node.tokens["night"])
    first = node.publish("before")
    assert inbox.until(first)
    ex = node.node.exchange()  # as `vigil user revoke` does: the store only, no bus
    access.revoke_user(ex, "delta", "night")
    ex.store.close()
    later = node.publish("RED, after the revocation")
    assert inbox.ended(), inbox.seen
    assert not any(later in line for line in inbox.seen)


def test_deactivating_the_member_ends_every_stream_of_it(node: Node) -> None:
    streams = [Stream(node.url, node.tokens[u]) for u in ("night", "ops", "delta")]
    r = httpx.post(f"{node.url}/api/v1/member/deactivate", headers=node.h("night"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "user.not_admin"
    r = httpx.post(f"{node.url}/api/v1/member/deactivate", headers=node.h("ops"))
    assert r.status_code == 200, r.text
    assert all(s.ended() for s in streams)
    for who in ("night", "ops", "delta"):
        r = httpx.get(f"{node.url}/api/v1/inbox", headers=node.h(who))
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.inactive"


def test_who_may_revoke_whom(node: Node) -> None:
    def revoke(who: str, target: str) -> httpx.Response:
        return httpx.post(f"{node.url}/api/v1/users/{target}/revoke", headers=node.h(who))

    r = revoke("night", "ops")
    assert r.status_code == 403 and r.json()["error"]["code"] == "user.not_admin"
    assert httpx.get(f"{node.url}/api/v1/users", headers=node.h("night")).status_code == 403
    r = revoke("ops", "alpha")  # a user of another member: not found, like any unknown name
    assert r.status_code == 404 and r.json()["error"]["code"] == "user.not_found"
    listed = httpx.get(f"{node.url}/api/v1/users", headers=node.h("ops")).json()["users"]
    assert {u["name"]: u["admin"] for u in listed} == {"analyst": False, "night": False,
                                                       "ops": True}
    assert revoke("night", "night").status_code == 200  # any user: its own token
    r = revoke("ops", "night")
    assert r.status_code == 409 and r.json()["error"]["code"] == "user.revoked"
    listed = httpx.get(f"{node.url}/api/v1/users", headers=node.h("ops")).json()["users"]
    assert [u["name"] for u in listed if u["revoked"]] == ["night"]
