"""A node with four members (alpha, bravo, charlie: keys held by the node; delta: keys
in its client), on each backend (``node``) or with its app in process (``taxii``); a
read gate that holds shares back (``Holds``); ATT&CK objects from the shipped demo
data."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil import clock
from vigil.bus.local import LocalBus
from vigil.model import Actor, Decision, ShareRequest, Tlp
from vigil.node.exchange import Exchange
from vigil.storage.base import queue_inbox
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode, stix
from vigil.web import create_app

DEMO = Path(__file__).resolve().parents[2] / "src" / "vigil" / "data" / "demo"
TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/api"


@pytest.fixture
def node(four_members: tuple[TestNode, Exchange]) -> tuple[TestNode, Exchange]:
    """The four-member node, on SQLite and on PostgreSQL in turn."""
    return four_members


class Holds:
    """A read gate holding (member, share) pairs back until a time (``held``); a pair
    due by ``clock.now()`` is let through when the member reads, in the order it was
    held, and placed anew at the end of the member's inbox (as the ledger's rule does)."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.held: dict[tuple[str, str], str] = {}

    def release(self, members: Sequence[str]) -> None:
        now = clock.now()
        due = [k for k, until in self.held.items() if k[0] in members and until <= now]
        if not due:
            return
        for k in due:
            del self.held[k]

        def move(sql: Any) -> None:
            for member, share in due:
                sql.execute("DELETE FROM inbox WHERE member_id=? AND share_id=?",
                            (member, share))
                queue_inbox(sql, share, [member], now)  # at the member's next position

        self.ex.store.write(move)

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        return {s: self.held[(member, s)] for s in share_ids if (member, s) in self.held}

    def preview(self, request: ShareRequest, decision: Decision) -> dict[str, Any]:
        return {}


def attack_objects() -> list[dict[str, Any]]:
    """The ATT&CK for ICS subset shipped with the demo (real MITRE objects)."""
    doc = json.loads((DEMO / "ics-attack-subset.json").read_text("utf-8"))
    objects: list[dict[str, Any]] = doc["objects"]
    return objects


def renamed(objects: list[dict[str, Any]], lap: int) -> list[dict[str, Any]]:
    """The same objects under new ids (references follow), so laps never collide."""
    if lap == 0:
        return objects
    ids = {o["id"] for o in objects}
    new = {i: f"{i.split('--')[0]}--{uuid.uuid5(uuid.NAMESPACE_URL, f'{i}/{lap}')}"
           for i in ids}
    text = json.dumps(objects)
    for old, repl in new.items():
        text = text.replace(f'"{old}"', f'"{repl}"')
    out: list[dict[str, Any]] = json.loads(text)
    return out


def many_objects(n: int) -> list[dict[str, Any]]:
    """``n`` valid STIX objects built from the ATT&CK subset (whole laps, cut at n)."""
    base = attack_objects()
    out: list[dict[str, Any]] = []
    lap = 0
    while len(out) < n:
        out += renamed(base, lap)
        lap += 1
    return out[:n]


def indicator(oid: str, modified: str, name: str = "probe") -> dict[str, Any]:
    """A version (``modified``) of indicator ``oid``, created at the start of 2026."""
    return stix.indicator(id=oid, at="2026-01-01T00:00:00.000Z", modified=modified, name=name,
                          indicator_types=["malicious-activity"])


class Taxii:
    def __init__(self, node: TestNode, client: TestClient) -> None:
        self.node = node
        self.client = client
        self.exchange = client.app.state.vigil.exchange  # type: ignore[attr-defined]

    def h(self, name: str, basic: bool = False, **extra: str) -> dict[str, str]:
        token = self.node.members[name].token
        auth = "Basic " + base64.b64encode(f"{name}:{token}".encode()).decode() if basic \
            else f"Bearer {token}"
        return {"Authorization": auth, "Accept": TAXII, **extra}

    def get(self, name: str, path: str, **params: Any) -> Any:
        return self.client.get(ROOT + path, params=params, headers=self.h(name))

    def collection(self, name: str, alias: str) -> str:
        r = self.get(name, "/collections/")
        assert r.status_code == 200, r.text
        for c in r.json()["collections"]:
            if c["alias"] == alias:
                return str(c["id"])
        raise KeyError(alias)

    def post(self, name: str, alias: str, objects: list[dict[str, Any]]) -> Any:
        return self.post_raw(name, alias, json.dumps({"objects": objects}).encode())

    def post_raw(self, name: str, alias: str, body: bytes) -> Any:
        cid = self.collection(name, alias)
        return self.client.post(f"{ROOT}/collections/{cid}/objects/", content=body,
                                headers=self.h(name, **{"Content-Type": TAXII}))

    def publish(self, name: str, objects: list[dict[str, Any]], **params: Any) -> str:
        r = self.client.post("/api/v1/shares", params=params, content=stix.bundle(*objects),
                             headers={"Authorization": self.h(name)["Authorization"]})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def all_objects(self, name: str, cid: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        nxt = None
        while True:
            p = dict(params)
            if nxt:
                p["next"] = nxt
            r = self.get(name, f"/collections/{cid}/objects/", **p)
            assert r.status_code == 200, r.text
            doc = r.json()
            out += doc.get("objects", [])
            if not doc["more"]:
                return out
            nxt = doc["next"]


@pytest.fixture
def taxii(tmp_path: Path) -> Iterator[Taxii]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Taxii(node, client)
    ex.store.close()


def publish(ex: Exchange, who: str, objects: list[dict[str, Any]], tlp: Tlp = Tlp.GREEN,
            to: Sequence[str] = ()) -> str:
    raw = orjson.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001",
                        "objects": objects})
    return ex.publish_bundle(Actor(who), raw, ex.make_request(who, tlp=tlp, to=to)).envelope.id


def read_all(src: ExchangeSource, who: str, limit: int, **q: Any) -> list[str]:
    coll = src.collections(Actor(who))[0]
    out: list[str] = []
    cursor = None
    while True:
        page = src.page(Actor(who), coll, Query(limit=limit, cursor=cursor, **q))
        out += [i.id for i in page.items]
        if not page.more:
            return out
        cursor = page.next
