"""Normalisation of observables and what a text is taken for (their extraction from STIX:
tests/analysis/test_extract.py)."""

from __future__ import annotations

import pytest

from vigil.analysis.observables import Observable, guess, normalise, refang


@pytest.mark.parametrize(("kind", "raw", "want"), [
    ("ip", "192.0.2.7", "192.0.2.7"),
    ("ip", "192.0.2[.]7", "192.0.2.7"),
    ("ip", "192.0.2.9/24", "192.0.2.0/24"),
    ("ip", "192.0.2.9/32", "192.0.2.9"),
    ("ip", "2001:DB8:0:0::1", "2001:db8::1"),
    ("ip", "2001:db8::/32", "2001:db8::/32"),
    ("domain", "Evil[.]Example.", "evil.example"),
    ("domain", "bücher.example", "xn--bcher-kva.example"),
    ("domain", "198.51.100.1", None),  # becomes an ip, checked below
    ("url", "hxxp://Evil[.]Example:80/a%2fb?q=%3d#frag", "http://evil.example/a%2Fb?q=%3D"),
    ("url", "HTTPS://Example.COM", "https://example.com/"),
    ("url", "https://example.com:8443/x", "https://example.com:8443/x"),
    ("url", "example.com/path", "http://example.com/path"),
    ("url", "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
    ("url", "http://bücher.example/Ä", "http://xn--bcher-kva.example/Ä"),
    ("email", "Alice[at]Example[.]ORG", "alice@example.org"),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", "not-a-hash", None),
    ("sha256", "ab" * 32, "ab" * 32),
    ("ssdeep", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C",
     "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"),
    ("asn", "as 64496", "AS64496"),
    ("asn", 64496, "AS64496"),
    ("phone", "+372 (5) 555-0100", "+37255550100"),
    ("phone", "00372 5555 0100", "+37255550100"),
    ("wallet", "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("wallet", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"),
    ("regkey", "HKLM\\Software\\Run\\", "hkey_local_machine\\software\\run"),
    ("user-agent", "  Mozilla/5.0   (X11)  ", "Mozilla/5.0 (X11)"),
    ("mutex", "Global\\XYZ", "Global\\XYZ"),
])
def test_normalise(kind: str, raw: str, want: str | None) -> None:
    got = normalise(kind, raw)
    if want is None:
        assert got is None or got.kind != kind
    else:
        assert got == Observable(kind, want)


def test_domain_that_is_an_address_becomes_an_ip() -> None:
    assert normalise("domain", "198.51.100.1") == Observable("ip", "198.51.100.1")


def test_refang() -> None:
    assert refang("hxxps[://]evil[.]example") == "https://evil.example"
    assert refang(" h[xx]p://a(.)b ") == "http://a.b"


@pytest.mark.parametrize(("text", "want"), [
    ("198.51.100.7", Observable("ip", "198.51.100.7")),
    ("10.0.0.0/8", Observable("ip", "10.0.0.0/8")),
    ("hxxp://evil[.]example", Observable("url", "http://evil.example/")),
    ("evil[.]example", Observable("domain", "evil.example")),
    ("a@b.example", Observable("email", "a@b.example")),
    ("d41d8cd98f00b204e9800998ecf8427e", Observable("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("AS64496", Observable("asn", "AS64496")),
    # a bare MD5 that starts with 1 or 3 also looks like a base58 Bitcoin address: hashes
    # first (wallet:VALUE chooses the wallet)
    ("1b2c3d4e5f6a7182993a4b5c6d7e8f91", Observable("md5", "1b2c3d4e5f6a7182993a4b5c6d7e8f91")),
    ("3B2C3D4E5F6A7182993A4B5C6D7E8F91", Observable("md5", "3b2c3d4e5f6a7182993a4b5c6d7e8f91")),
    ("wallet:1b2c3d4e5f6a7182993a4b5c6d7e8f91",
     Observable("wallet", "1b2c3d4e5f6a7182993a4b5c6d7e8f91")),
    ("1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE",
     Observable("wallet", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE")),
    ("mutex:Global\\x", Observable("mutex", "Global\\x")),
    ("just words", None),
])
def test_guess(text: str, want: Observable | None) -> None:
    assert guess(text) == want


def test_key_round_trip() -> None:
    o = Observable("url", "http://a.example:8080/x")
    assert Observable.from_key(o.key) == o


def _real_urls() -> list[str]:
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "analysis" / \
        "abusech-threatfox-urls-2025-12-07-head300.csv"
    with open(path, encoding="utf-8") as f:
        return [r[2] for r in csv.reader(f, skipinitialspace=True)
                if r and not r[0].startswith("#")]


@pytest.mark.parametrize("raw", [
    "http://a.example", "http://a.example?x", "http://a.example/x?", "http://a.example/x?q?",
    "HTTP://A.Example.:080/p%2f?q=%aa#f", "http://1.2.3.4:65536/", "http://01.2.3.4/",
    "http://1.2.3.4./x", "https://a.example:443", "ftp://a.example:21/x", "http://localhost/",
    "http://a_b.example/", "http://-bad.example/", "http://a.example/ä?ö", "http://a..b/",
    "http://300.1.1.1/", "http://a.example/#", "tcp://a.example:1/",
])
def test_url_fast_path_equals_urllib(raw: str) -> None:
    from vigil.analysis.observables import _url_parsed, url_value

    assert url_value(raw) == _url_parsed(refang(raw) if "://" in raw else "http://" + raw)


def test_url_fast_path_equals_urllib_on_real_urls() -> None:
    from vigil.analysis.observables import _url_parsed, url_value

    urls = _real_urls()
    assert len(urls) > 250
    for u in urls:
        t = refang(u)
        if " " in t or "\t" in t or not t:
            continue
        assert url_value(u) == _url_parsed(t if "://" in t else "http://" + t), u


def test_asn_with_non_ascii_or_huge_digits_is_no_asn() -> None:
    from vigil.analysis.observables import asn_value

    assert asn_value("AS64500") == "AS64500"
    assert asn_value("AS²") is None and asn_value("AS" + "9" * 5000) is None
