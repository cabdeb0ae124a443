"""MISP warninglists: the five matching types, attribute scoping, the shipped set."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from vigil.analysis.observables import Observable, guess
from vigil.analysis.warninglists import WarninglistSet, loads, parse, shipped_lists
from vigil.errors import InputError


def one(wtype: str, entries: list[str], attrs: list[str] | None = None) -> WarninglistSet:
    doc: dict[str, object] = {"name": wtype, "type": wtype, "list": entries}
    if attrs is not None:
        doc["matching_attributes"] = attrs
    return WarninglistSet([parse(doc)])


def hit(ws: WarninglistSet, text: str) -> bool:
    o = guess(text)
    assert o is not None
    return bool(ws.hits(o))


def test_string() -> None:
    ws = one("string", ["D41D8CD98F00B204E9800998ECF8427E"])
    assert hit(ws, "d41d8cd98f00b204e9800998ecf8427e")
    assert not hit(ws, "d41d8cd98f00b204e9800998ecf8427f")


def test_hostname_covers_subdomains_urls_and_mail() -> None:
    ws = one("hostname", ["Bit.ly"])
    assert hit(ws, "bit.ly") and hit(ws, "x.bit.ly")
    assert hit(ws, "https://x.bit.ly:8443/abc") and hit(ws, "someone@bit.ly")
    assert not hit(ws, "notbit.ly") and not hit(ws, "bit.ly.evil.example")


def test_substring_and_regex() -> None:
    assert hit(one("substring", ["AMAZONAWS"]), "ec2-1-2-3-4.compute.amazonaws.com")
    rx = one("regex", ["/^[a-z0-9-]+\\.ngrok\\.io$/i"])
    assert hit(rx, "abc-1.ngrok.io") and not hit(rx, "ngrok.io.evil.example")


def finishes(fn: Callable[[], object], seconds: float = 30.0) -> bool:
    """Whether ``fn`` returns within a generous bound (a backtracking engine on the
    inputs below would run for longer than the age of the universe)."""
    done = threading.Event()
    threading.Thread(target=lambda: (fn(), done.set()), daemon=True).start()
    return done.wait(seconds)


def test_regex_matching_is_linear_time() -> None:
    rx = one("regex", ["^(a+)+$", "/(x+x+)+y/i"])
    assert hit(rx, "mutex:aaaa") and not hit(rx, "mutex:aaab")
    assert finishes(lambda: rx.hits(Observable("mutex", "a" * 10_000 + "!")))
    assert finishes(lambda: rx.hits(Observable("mutex", "X" * 10_000)))


@pytest.mark.parametrize("entry", ["(a)\\1", "(?=a)b", "(?<!a)b", "([unbalanced",
                                   "a" * 1025])
def test_regex_lists_refuse_what_re2_cannot_run(entry: str) -> None:
    doc = {"name": "x", "type": "regex", "list": ["^ok$", entry]}
    with pytest.raises(InputError) as e:
        loads(json.dumps(doc).encode())
    assert e.value.code == "warninglist.bad_regex" and e.value.pointer == "/list/1"
    # a list stored before the rule is read without the refused entry
    assert len(WarninglistSet([loads(json.dumps(doc).encode(), check=False)])._regexes) == 1


def test_regex_lists_are_bounded_in_entries() -> None:
    doc = {"name": "x", "type": "regex", "list": [f"^{i}$" for i in range(1001)]}
    with pytest.raises(InputError) as e:
        loads(json.dumps(doc).encode())
    assert e.value.code == "warninglist.bad_regex"


def test_cidr_holds_addresses_and_narrower_networks() -> None:
    ws = one("cidr", ["10.0.0.0/8", "2001:db8::/32", "not an address"])
    assert hit(ws, "10.2.3.4") and hit(ws, "10.2.0.0/16") and hit(ws, "2001:db8::5")
    assert not hit(ws, "11.0.0.1")
    assert not hit(ws, "10.0.0.0/7")  # wider than the entry: not on the list


def test_matching_attributes_limit_the_kinds() -> None:
    ws = one("string", ["example.net"], ["ip-dst"])
    assert not ws.hits(Observable("domain", "example.net"))
    ws = one("string", ["example.net"], ["hostname", "domain"])
    assert ws.hits(Observable("domain", "example.net")) == ["string"]


@pytest.mark.parametrize("doc", [
    [], {"type": "string", "list": []}, {"name": "x", "type": "nope", "list": []},
    {"name": "x", "list": "1.2.3.4"}, {"name": "x", "list": [1]},
    {"name": "x", "list": [], "matching_attributes": "ip-dst"},
    {"name": "x", "type": [], "list": []}, {"name": "x", "type": {}, "list": []},
])
def test_invalid_lists_are_refused(doc: object) -> None:
    with pytest.raises(InputError) as e:
        loads(json.dumps(doc).encode())
    assert e.value.code == "warninglist.invalid"
    with pytest.raises(InputError):
        loads(b"{not json")


def test_shipped_lists_load_and_hit() -> None:
    lists = shipped_lists()
    assert len(lists) == 16
    ws = WarninglistSet(lists)
    assert "List of known IPv4 public DNS resolvers" in ws.hits(Observable("ip", "8.8.8.8"))
    assert "List of known Cloudflare IP ranges" in ws.hits(Observable("ip", "104.16.1.1"))
    assert ws.hits(Observable("ip", "45.77.1.1")) == []
