from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.testing import TestNode, stix
from vigil.web import create_app

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
TS = "2026-11-29T08:00:00.000Z"


def sid(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def rich_bundle(canary: str = "rich") -> bytes:
    """An indicator, an ATT&CK for ICS technique, malware, an intrusion set, relationships."""
    ind, ap, mw, iset = sid("indicator"), sid("attack-pattern"), sid("malware"), \
        sid("intrusion-set")
    common = {"spec_version": "2.1", "created": TS, "modified": TS}
    objs: list[dict[str, Any]] = [
        {"type": "indicator", "id": ind, **common, "name": f"C2 server {canary}",
         "indicator_types": ["malicious-activity"], "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']",
         "valid_from": "2026-11-29T08:00:00Z"},
        {"type": "attack-pattern", "id": ap, **common, "name": "Unauthorized Command Message",
         "external_references": [{"source_name": "mitre-ics-attack", "external_id": "T0855"}]},
        {"type": "malware", "id": mw, **common, "name": "Industroyer2", "is_family": True,
         "malware_types": ["wiper"]},
        {"type": "intrusion-set", "id": iset, **common, "name": "Sandworm Team",
         "aliases": ["ELECTRUM"]},
    ]
    for src, rel, dst in ((ind, "indicates", mw), (mw, "uses", ap), (iset, "uses", mw)):
        objs.append({"type": "relationship", "id": sid("relationship"), **common,
                     "relationship_type": rel, "source_ref": src, "target_ref": dst})
    return json.dumps({"type": "bundle", "id": sid("bundle"), "objects": objs}).encode()


class Console:
    def __init__(self, node: TestNode, app: FastAPI, exchange: Exchange) -> None:
        self.node = node
        self.app = app
        self.exchange = exchange
        self.clients: list[TestClient] = []

    def client(self) -> TestClient:
        c = TestClient(self.app, follow_redirects=False)
        self.clients.append(c)
        return c

    def sign_in(self, name: str) -> TestClient:
        c = self.client()
        page = c.get("/signin")
        token = CSRF_RE.search(page.text)
        assert token is not None
        r = c.post("/signin", data={"csrf": token.group(1),
                                    "token": self.node.members[name].token})
        assert r.status_code == 303, r.text
        return c

    def id(self, name: str) -> str:
        return self.node.members[name].id


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m is not None
    return m.group(1)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app):
        con = Console(node, app, ex)
        yield con
        for c in con.clients:
            c.close()
    ex.store.close()


def ioc_bundle(*values: str) -> bytes:
    """One indicator per IPv4 address."""
    return stix.bundle(*(stix.indicator(v, name=f"seen {v}") for v in values))


def big_bundle(n: int = 300) -> bytes:
    """``n`` objects joined by relationships: indicators, malware and attack patterns
    (2:1:1), each indicator indicating a malware that uses an attack pattern."""
    common = {"spec_version": "2.1", "created": TS, "modified": TS}
    q = n // 4
    mws = [{"type": "malware", "id": sid("malware"), **common, "name": f"family {i}",
            "is_family": True} for i in range(q)]
    aps = [{"type": "attack-pattern", "id": sid("attack-pattern"), **common,
            "name": f"technique {i}"} for i in range(q)]
    inds = [{"type": "indicator", "id": sid("indicator"), **common, "name": f"host {i}",
             "pattern_type": "stix", "pattern": f"[domain-name:value = 'h{i}.example']",
             "valid_from": "2026-11-29T08:00:00Z"} for i in range(n - 2 * q)]
    rels = [{"type": "relationship", "id": sid("relationship"), **common,
             "relationship_type": "indicates", "source_ref": o["id"],
             "target_ref": mws[i % q]["id"]} for i, o in enumerate(inds)]
    rels += [{"type": "relationship", "id": sid("relationship"), **common,
              "relationship_type": "uses", "source_ref": m["id"], "target_ref": a["id"]}
             for m, a in zip(mws, aps, strict=True)]
    objs = [*inds, *mws, *aps, *rels]
    return json.dumps({"type": "bundle", "id": sid("bundle"), "objects": objs}).encode()


def late_member(ex: Exchange, node: TestNode, name: str) -> str:
    """Add a member (keyring held by the node) after shares were published, as ``name``
    in ``node.members``; returns its token. Shares published before it joined are not
    its to read, community-wide ones included."""
    from vigil.model import MemberKind
    from vigil.node.datadir import keyring_dir
    from vigil.testing import PASSPHRASE, TestMember

    path = keyring_dir(node.settings) / f"{name}.keyring"
    m, kr = ex.add_member(name, country="EE", kind=MemberKind.AGENCY, keyring_path=path,
                          passphrase=PASSPHRASE, hold=True)
    _, token = ex.add_user(name, "analyst")
    node.members[name] = TestMember(name, m.id, token, kr, path, True)
    return token


def publish(con: Console, who: str, to: list[str], tlp: Tlp = Tlp.AMBER,
            themes: tuple[str, ...] = (), regions: tuple[str, ...] = (),
            raw: bytes | None = None) -> str:
    ex = con.exchange
    intel = {"evaluation": "B2", "legal_basis": "bilateral",
             "legal_purposes": ["investigation"]} if "terrorism" in themes else {}
    req = ex.make_request(con.id(who), tlp=tlp, to=to, themes=themes, regions=regions,
                          **intel)  # type: ignore[arg-type]
    return ex.publish_bundle(Actor(con.id(who), "u"), raw or rich_bundle(), req).envelope.id
