"""What a member is told of correlations: notices (the other share, a hint, or
nothing, as the access gate decides), its own lists, and search."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import orjson
import pytest
from tests.analysis.conftest import ids
from tests.analysis.helpers import publish
from tests.conftest import four_member_exchange

from vigil import testing
from vigil.analysis.correlate import correlator
from vigil.analysis.warninglists import add_member_list
from vigil.errors import InputError
from vigil.model import MemberKind, Tlp
from vigil.node.exchange import Exchange
from vigil.testing.stix import bundle, indicator, ioc_bundle


def test_member_list_hides_only_its_own_notices(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    publish(ex, m["alpha"], bundle(indicator(pattern="[domain-name:value = 'cdn.example.net']")))
    publish(ex, m["bravo"], bundle(indicator(pattern="[domain-name:value = 'CDN.example.net.']")))
    assert len(c.notices(m["bravo"])[0]) == 1
    add_member_list(ex.store, m["bravo"],
                    b'{"name": "ours", "type": "hostname", "list": ["example.net"]}')
    assert c.notices(m["bravo"])[0] == []
    assert len(c.notices(m["alpha"])[0]) == 1
    assert c.search(m["bravo"], "cdn.example.net")["warninglists"] == ["ours"]
    assert c.search(m["alpha"], "cdn.example.net")["warninglists"] == []


def test_hint_for_a_share_the_member_may_not_read(node: tuple[testing.TestNode, Exchange],
                                                  tmp_path: Path) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], ioc_bundle("45.77.2.9"), to=("everyone",))
    quiet = publish(ex, m["alpha"], ioc_bundle("45.77.3.9"), to=("everyone",), no_onward=True)
    # echo joins after alpha's shares: it is not among their recipients
    echo, _ = ex.add_member("echo", country="EE", kind=MemberKind.CERT,
                            keyring_path=tmp_path / "echo.keyring", passphrase="x" * 12,
                            hold=True)
    e = publish(ex, echo.id, ioc_bundle("45.77.2.9", "45.77.3.9"))
    got, _ = c.notices(echo.id)
    assert len(got) == 1
    assert got[0]["hint"]["text"] == "a member of channel everyone holds a match"
    assert "match" not in got[0]
    text = repr(got)
    assert a.envelope.id not in text and quiet.envelope.id not in text
    assert m["alpha"] not in text
    # alpha reads echo's share (it is a recipient), so it sees it in full
    assert sorted(x["match"]["share"] for x in c.notices(m["alpha"])[0]) == \
        [e.envelope.id, e.envelope.id]
    assert c.search(echo.id, "45.77.2.9")["count"] == 1  # its own only


def test_search_normalises_and_rejects(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], bundle(indicator(pattern="[url:value = 'http://evil.example/x']")))
    got = c.search(m["bravo"], "hxxp://EVIL[.]example:80/x")
    assert [r["share"] for r in got["results"]] == [a.envelope.id]
    assert got["query"] == {"kind": "url", "value": "http://evil.example/x"}
    with pytest.raises(InputError):
        c.search(m["bravo"], "no observable here")


def _bisection_transcript(data: Path, hidden: str) -> list[list[tuple[str, str]]]:
    """Replay the bisection of a hidden IPv4 address against a fresh node where alpha
    holds ``hidden`` in a share echo may not read (echo joined after it): echo publishes
    the /16 around it, then, prefix by prefix, both publishes the lower half and sets
    its own CIDR warninglist to it, going down when it is still told of a match. The
    answers it got at each step: every notice but those matching its own shares."""
    n, ex = four_member_exchange(data)
    try:
        m = ids(n)
        c = correlator(ex)
        publish(ex, m["alpha"], ioc_bundle(hidden), to=("everyone",))
        echo, _ = ex.add_member("echo", country="EE", kind=MemberKind.CERT,
                                keyring_path=data / "echo.keyring", passphrase="x" * 12,
                                hold=True)
        net = ipaddress.ip_network("45.1.0.0/16")
        publish(ex, echo.id, ioc_bundle(str(net)))
        steps: list[list[tuple[str, str]]] = []
        while net.prefixlen < 32:
            low, high = net.subnets()
            publish(ex, echo.id, ioc_bundle(str(low)))
            doc = orjson.dumps({"name": "probe", "type": "cidr", "list": [str(low)]})
            add_member_list(ex.store, echo.id, doc)
            got = [("hint", x["hint"]["text"]) if "hint" in x else
                   ("match", x["match"]["originator"]) for x in c.notices(echo.id)[0]
                   if "hint" in x or x["match"]["originator"] != echo.id]
            steps.append(got)
            net = low if got else high
        return steps
    finally:
        ex.store.close()


def test_hints_cannot_be_bisected(tmp_path: Path) -> None:
    """A member that may not read a share learns nothing of its IP address from ranges
    it publishes or from its own warninglists: the answers are the same whatever the
    hidden address in the /16 (before: 16 requests found it)."""
    one = _bisection_transcript(tmp_path / "one", "45.1.77.5")
    two = _bisection_transcript(tmp_path / "two", "45.1.200.9")
    assert one == two
    assert len(one) == 16


def test_hints_only_for_equal_values(
        node: tuple[testing.TestNode, Exchange], tmp_path: Path) -> None:
    """A hint is given for a value equal to the member's own; the member's lists apply
    to its own values only, and a range it publishes raises no hint."""
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    publish(ex, m["alpha"], ioc_bundle("45.2.3.4"), to=("everyone",))
    echo, _ = ex.add_member("echo", country="EE", kind=MemberKind.CERT,
                            keyring_path=tmp_path / "echo.keyring", passphrase="x" * 12,
                            hold=True)
    publish(ex, echo.id, ioc_bundle("45.2.0.0/16"))
    assert c.notices(echo.id)[0] == []  # an overlap, not an equal value: no hint
    publish(ex, echo.id, ioc_bundle("45.2.3.4"))
    got = c.notices(echo.id)[0]
    assert [x["observable"]["value"] for x in got if "hint" in x] == ["45.2.3.4"]
    add_member_list(ex.store, echo.id, b'{"name": "mine", "type": "cidr", '
                                       b'"list": ["45.2.3.4/32"]}')
    assert c.notices(echo.id)[0] == []  # its own value is on its own list


def test_notice_seq_counts_only_the_members_own_notices(
        node: tuple[testing.TestNode, Exchange]) -> None:
    """bravo's notice cursor goes 1, 2, 3, … however many correlations others get."""
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    for i in range(3):
        for k in range(i + 1):  # correlations between alpha and charlie only
            v = f"45.9.{i}.{k}"
            publish(ex, m["alpha"], ioc_bundle(v), tlp=Tlp.AMBER, to=("a-b",))
            publish(ex, m["charlie"], ioc_bundle(v))
            publish(ex, m["alpha"], ioc_bundle(v))
        publish(ex, m["bravo"], ioc_bundle(f"45.8.{i}.1"))
        publish(ex, m["alpha"], ioc_bundle(f"45.8.{i}.1"))
    got, nxt = c.notices(m["bravo"])
    assert [x["seq"] for x in got] == [1, 2, 3] and nxt == 3
    assert len(c.notices(m["charlie"])[0]) == 6  # others did correlate meanwhile


def test_one_hint_per_value_and_channel_with_the_members_own_time(
        node: tuple[testing.TestNode, Exchange], tmp_path: Path) -> None:
    """How many shares echo may not read hold its value, and when they came, is not
    told: one hint per own share, value and channel, dated by echo's own share."""
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    echo, _ = ex.add_member("echo", country="EE", kind=MemberKind.CERT,
                            keyring_path=tmp_path / "echo.keyring", passphrase="x" * 12,
                            hold=True)
    mine = publish(ex, echo.id, ioc_bundle("45.3.3.3"))
    ex.store.set_member_active(echo.id, False)  # later shares do not reach echo
    for who in ("alpha", "bravo", "alpha"):
        publish(ex, m[who], ioc_bundle("45.3.3.3"), to=("everyone",))
    ex.store.set_member_active(echo.id, True)
    got = c.notices(echo.id)[0]
    assert [(x["hint"]["channel_name"], x["created"]) for x in got] == \
        [("everyone", mine.envelope.created)]
    assert [x["seq"] for x in c.notices(echo.id, after=got[0]["seq"])[0]] == []


def test_only_an_ip_network_makes_a_wide_search() -> None:
    from vigil.analysis.correlation_reads import wide

    assert wide("10.0.0.0/8") and wide("ip:10.0.0.0/25") and wide("2001:db8::/32")
    assert wide("10[.]0.0.0/16")  # refanged like the search itself
    for narrow in ("10.0.0.1", "10.0.0.1/32", "::1/128", "http://evil.example/a/b",
                   "hxxps://203.0.113.7/x/y", "evil.example", "a/b",
                   "d41d8cd98f00b204e9800998ecf8427e"):
        assert not wide(narrow), narrow
