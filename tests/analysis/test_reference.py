"""Correlations found on real IOC lists and MISP events equal the brute-force reference,
defanged values and CIDR ranges included (both stores)."""

from __future__ import annotations

import csv
import ipaddress
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.analysis import reference
from tests.analysis.helpers import publish
from tests.conftest import four_member_exchange

from vigil import testing
from vigil.analysis.correlate import correlator
from vigil.analysis.warninglists import WarninglistSet
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing.stix import indicator

DATA = Path(__file__).resolve().parents[1] / "data" / "analysis"


def _rows(name: str) -> Iterator[list[str]]:
    with open(DATA / name, encoding="utf-8") as f:
        for row in csv.reader(f, skipinitialspace=True):
            if row and not row[0].startswith("#") and row[0] != "first_seen_utc":
                yield row


def pools() -> dict[str, list[str]]:
    return {
        "ip": sorted({r[1] for r in _rows("abusech-feodotracker-ipblocklist-2024-04-04.csv")}),
        "sha256": sorted({r[2] for r in _rows("abusech-threatfox-sha256-2025-12-04-head250.csv")}),
        "url": sorted({r[2] for r in _rows("abusech-threatfox-urls-2025-12-07-head300.csv")}),
    }


def _q(v: str) -> str:
    return v.replace("\\", "\\\\").replace("'", "\\'")


def spelled(kind: str, v: str, rnd: random.Random) -> str:
    """A value as an analyst might have written it: defanged, re-cased, as a range."""
    x = rnd.random()
    if kind == "ip":
        if x < 0.2:
            return str(ipaddress.ip_network(f"{v}/{rnd.choice([24, 16])}", strict=False))
        if x < 0.35:
            return v.replace(".", "[.]", 1)
    elif kind == "url":
        if x < 0.2:
            return v.replace("http", "hxxp", 1).replace(".", "[.]", 1)
        if x < 0.3:
            scheme, _, rest = v.partition("://")
            host, sep, path = rest.partition("/")
            return f"{scheme.upper()}://{host.upper()}{sep}{path}"
    elif x < 0.2:
        return v.upper()
    return v


def pattern(kind: str, v: str) -> str:
    if kind == "ip":
        return f"[ipv4-addr:value = '{_q(v)}']"
    if kind == "url":
        return f"[url:value = '{_q(v)}']"
    if kind == "domain":
        return f"[domain-name:value = '{_q(v)}']"
    return f"[file:hashes.'SHA-256' = '{_q(v)}']"


def bundles() -> list[bytes]:
    rnd = random.Random(20261129)
    pool = pools()
    out = []
    for _ in range(36):
        objs: list[dict[str, Any]] = []
        for _ in range(rnd.randint(5, 30)):
            kind = rnd.choice(["ip", "ip", "url", "sha256"])
            v = rnd.choice(pool[kind][:60])  # a narrow pool: overlaps are common
            objs.append(indicator(pattern=pattern(kind, spelled(kind, v, rnd))))
            if kind == "url" and rnd.random() < 0.2:  # the host on its own
                host = v.partition("://")[2].partition("/")[0].partition(":")[0]
                if not host.replace(".", "").isdigit():
                    objs.append(indicator(pattern=pattern("domain", host.upper() + ".")))
        if rnd.random() < 0.3:  # an OR of two comparisons in one pattern
            a, b = rnd.choice(pool["ip"]), rnd.choice(pool["sha256"])
            objs.append(indicator(pattern=f"[ipv4-addr:value = '{a}'] OR "
                                  f"[file:hashes.'SHA-256' = '{b}']"))
        bid = uuid.UUID(bytes=rnd.randbytes(16), version=4)
        out.append(orjson.dumps({"type": "bundle", "id": f"bundle--{bid}", "objects": objs}))
    for f in sorted(DATA.glob("misp-stix-test_*_stix21.json")):
        out.append(f.read_bytes())
    return out


def system_matches(ex: Exchange) -> set[reference.Match]:
    def read(sql: Sql) -> list[Any]:
        return sql.execute("SELECT share_id, other_id, kind, value, other_value "
                           "FROM correlations").fetchall()

    out: set[reference.Match] = set()
    for share, other, kind, value, other_value in ex.store.read(read):
        if kind not in reference.KINDS:
            continue
        a, b = reference.canon(kind, value), reference.canon(kind, other_value)
        assert a is not None and b is not None
        out.add(frozenset({(share, kind, a), (other, kind, b)}))
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def exchange(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[testing.TestNode, Exchange]]:
    if request.param == "sqlite":
        node, ex = four_member_exchange(tmp_path / "node")
    else:
        node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True,
                                                     "charlie": True},
                                 store=request.getfixturevalue("pg_url"))
        ex = node.exchange()
    try:
        yield node, ex
    finally:
        ex.store.close()


def test_correlations_equal_the_brute_force_reference(
        exchange: tuple[testing.TestNode, Exchange]) -> None:
    node, ex = exchange
    c = correlator(ex)
    c._lists = WarninglistSet()  # the reference knows no warninglists
    c.max_matches = 10**9
    members = [node.members[n].id for n in ("alpha", "bravo", "charlie")]
    shares: dict[str, set[tuple[str, str]]] = {}
    for i, raw in enumerate(bundles()):
        sid = publish(ex, members[i % 3], raw).envelope.id
        shares[sid] = reference.values(orjson.loads(raw)["objects"])
    c.process()
    want = reference.correlations(shares)
    got = system_matches(ex)
    assert len(want) > 100  # the data really correlates, through ranges and defanging
    assert any(k == "ip" and "/" in v for m in want for _, k, v in m
               if not v.endswith("/32"))
    assert got == want
    # a rebuild from the store finds exactly the same
    ex.store.write(lambda sql: sql.execute("DELETE FROM correlations"))
    c.rebuild()
    assert system_matches(ex) == want
