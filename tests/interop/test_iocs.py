"""IOC text in its common forms: the refang table, extraction line by line with what was
found and what was skipped, indicators that pass vigil's validator, and the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.interop.iocs import Ioc, extract, found_iocs, indicator, refang
from vigil.stix.validate import check_object
from vigil.web import create_app

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SSDEEP = "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"
DOM, URL, IP, MAIL = "domain-name", "url", "ipv4-addr", "email-addr"

FORMS = [  # (line as analysts paste it, what vigil must find)
    ("evil[.]example", [(DOM, "evil.example")]),
    ("evil(.)example", [(DOM, "evil.example")]),
    ("evil{.}example", [(DOM, "evil.example")]),
    ("evil[dot]example", [(DOM, "evil.example")]),
    ("evil(dot)example", [(DOM, "evil.example")]),
    ("evil\\.example", [(DOM, "evil.example")]),
    ("evil.example.", [(DOM, "evil.example")]),
    ("EVIL.Example", [(DOM, "evil.example")]),
    ("bücher.example", [(DOM, "xn--bcher-kva.example")]),
    ("bad[at]evil[.]example", [(MAIL, "bad@evil.example")]),
    ("bad[@]evil.example", [(MAIL, "bad@evil.example")]),
    ("bad(at)evil.example", [(MAIL, "bad@evil.example")]),
    ("user@evil.example", [(MAIL, "user@evil.example")]),
    ("198.51.100.7", [(IP, "198.51.100.7")]),
    ("198[.]51[.]100[.]7", [(IP, "198.51.100.7")]),
    ("198.51.100.7:8080", [(IP, "198.51.100.7")]),
    ("10.0.0.0/8", [(IP, "10.0.0.0/8")]),
    ("198.51.100.77/24", [(IP, "198.51.100.0/24")]),
    ("2001:db8::1", [("ipv6-addr", "2001:db8::1")]),
    ("[2001:db8::1]:443", [("ipv6-addr", "2001:db8::1")]),
    ("http://evil.example/a", [(URL, "http://evil.example/a")]),
    ("hxxp://evil.example/a", [(URL, "http://evil.example/a")]),
    ("hXXp://evil.example/a", [(URL, "http://evil.example/a")]),
    ("hxxps://evil.example/a", [(URL, "https://evil.example/a")]),
    ("h[xx]p://evil.example/a", [(URL, "http://evil.example/a")]),
    ("hxxp[:]//evil[.]example/a", [(URL, "http://evil.example/a")]),
    ("http[://]evil.example/a", [(URL, "http://evil.example/a")]),
    ("hxxps[://]evil[.]example/a", [(URL, "https://evil.example/a")]),
    ("fxp://evil.example/a", [(URL, "ftp://evil.example/a")]),
    ("meow://evil.example/a", [(URL, "http://evil.example/a")]),
    ("evil.example/path/a.php", [(URL, "http://evil.example/path/a.php")]),
    ("198.51.100.7/gate.php", [(URL, "http://198.51.100.7/gate.php")]),
    (MD5, [("MD5", MD5)]),
    (MD5.upper(), [("MD5", MD5)]),
    (SHA256, [("SHA-256", SHA256)]),
    (SSDEEP, [("SSDEEP", SSDEEP)]),
    ("198.51.100.9 C2 server, seen 2026-11-01", [(IP, "198.51.100.9")]),
    ("hxxp://evil[.]example/a (dropper) and evil2[.]example", [
        (URL, "http://evil.example/a"), (DOM, "evil2.example")]),
    ("- evil[.]example;", [(DOM, "evil.example")]),
    ("\u200bevil[.]example\u00a0", [(DOM, "evil.example")]),
]


def kinds(found: tuple[Ioc, ...]) -> list[tuple[str, str]]:
    return [(i.hash_alg or i.kind, i.value) for i in found]


@pytest.mark.parametrize(("line", "want"), FORMS, ids=[f[0][:40] for f in FORMS])
def test_every_common_form(line: str, want: list[tuple[str, str]]) -> None:
    [got] = extract(line)
    assert kinds(got.found) == want and got.skipped is None
    for ioc in got.found:  # each becomes an indicator vigil's validator accepts
        assert check_object(indicator(ioc)) == []


def test_a_paste_reports_per_line_what_it_found_and_skipped() -> None:
    lines = extract("# C2 list\n\nevil[.]example\nmalware.exe dropped\njust words\n"
                    "evil[.]example again\n")
    assert [(x.number, kinds(x.found), x.skipped is not None) for x in lines] == [
        (1, [], False), (2, [], False), (3, [(DOM, "evil.example")], False),
        (4, [], True), (5, [], True), (6, [(DOM, "evil.example")], False)]
    assert found_iocs(lines) == [Ioc(DOM, "evil.example")]


def test_refang_leaves_plain_values_alone() -> None:
    for plain in ("http://a.example/x?q=[1]", "C:\\Users\\x", "(x)"):
        assert refang(plain) == plain.replace("\\.", ".")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    node, ex = four_member_exchange(tmp_path / "node")
    with TestClient(create_app(node.settings, exchange=ex, bus=LocalBus())) as c:
        yield c, {n: m.token for n, m in node.members.items()}
    ex.store.close()


def test_the_api_reports_then_publishes(client: tuple[TestClient, dict[str, str]]) -> None:
    c, tokens = client
    h = {"Authorization": f"Bearer {tokens['alpha']}"}
    text = f"evil[.]example\nnothing here\nhxxp://{uuid.uuid4().hex[:8]}[.]example/x\n"
    r = c.post("/api/v1/import/text", content=text.encode(), headers=h)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["found"], doc["skipped"]) == (2, 1) and "share" not in doc
    assert [x["line"] for x in doc["lines"] if x["skipped"]] == [2]
    r = c.post("/api/v1/import/text", content=text.encode(), headers=h,
               params={"to": "a-b", "tlp": "amber"})
    assert r.status_code == 200, r.text
    share = r.json()["share"]["id"]
    hb = {"Authorization": f"Bearer {tokens['bravo']}"}
    objs = c.get(f"/api/v1/shares/{share}/content", headers=hb).json()["objects"]
    assert sorted(o["pattern"] for o in objs)[0] == "[domain-name:value = 'evil.example']"
