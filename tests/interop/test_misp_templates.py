"""Each MISP object template the direct path builds itself (``file``, ``domain-ip``,
``ip-port``: ``vigil.interop.misp_templates``) gives exactly what misp-stix gives, in its
usual and odd forms (values misp-stix keeps as custom properties, refuses or warns of,
which stay misp-stix's own), alone and referencing each other: field for field, in the
same order, with the same losses."""

from __future__ import annotations

from typing import Any

import pytest
from tests.interop.misp_cases import MD5, SHA1, SHA256, P, _a, _both, _counted, _event, _o


def _objects() -> list[dict[str, Any]]:
    n = iter(range(1, 10_000))

    def a(*args: Any, **more: Any) -> dict[str, Any]:
        return _a(next(n), *args, **more)

    objs = [
        # domain-ip: standard, custom, the special hostname case, ipv6, no domain
        _o(1, "domain-ip", "network", [a("domain", "domain", "circl.lu"),
                                       a("ip", "ip-dst", "149.13.33.14")]),
        _o(2, "domain-ip", "network", [a("domain", "domain", "a.example"),
                                       a("hostname", "hostname", "www.a.example"),
                                       a("ip", "ip-dst", "2001:db8::1"),
                                       a("ip", "ip-dst", "198.51.100.1", to_ids=False)]),
        _o(3, "domain-ip", "network", [a("domain", "domain", "b.example"),
                                       a("domain", "domain", "c.example"),
                                       a("port", "port", "8443", to_ids=False),
                                       a("text", "text", "it's text", to_ids=False,
                                         category="Other"),
                                       a("ip", "ip-dst", "198.51.100.2")]),
        _o(4, "domain-ip", "network", [a("hostname", "hostname", "h.example"),
                                       a("hostname", "hostname", "h2.example")],
           comment="two hostnames"),
        _o(5, "domain-ip", "network", [a("ip", "ip-dst", "198.51.100.3")]),
        _o(6, "domain-ip", "network", [a("domain", "domain", "d.example", to_ids=False)]),
        # ip-port: both ends, protocol, ports, a second address, odd ports, no address
        _o(7, "ip-port", "network", [a("ip", "ip-dst", "198.51.100.4"),
                                     a("dst-port", "port", "443", to_ids=False),
                                     a("domain", "domain", "e.example")]),
        _o(8, "ip-port", "network", [a("ip-src", "ip-src", "198.51.100.5"),
                                     a("ip-dst", "ip-dst", "2001:db8::2"),
                                     a("src-port", "port", "1025"),
                                     a("protocol", "text", "udp", category="Other"),
                                     a("ip-dst", "ip-dst", "198.51.100.6")]),
        _o(9, "ip-port", "network", [a("ip", "ip-dst", "198.51.100.7"),
                                     a("dst-port", "port", "0443")]),
        _o(10, "ip-port", "network", [a("ip", "ip-dst", "198.51.100.8"),
                                      a("dst-port", "port", "99999")]),
        _o(11, "ip-port", "network", [a("dst-port", "port", "80")]),
        _o(12, "ip-port", "network", [a("ip", "ip-dst", "198.51.100.9"),
                                      a("first-seen", "datetime",
                                        "2017-11-01T00:00:00+00:00", category="Other")]),
        # file: hashes, names, size, custom relations, repeats, odd values
        _o(13, "file", "file", [a("md5", "md5", MD5, category=P),
                                a("sha1", "sha1", SHA1, category=P),
                                a("sha256", "sha256", SHA256, category=P),
                                a("filename", "filename", "a.exe", category=P),
                                a("size-in-bytes", "size-in-bytes", "1024",
                                  to_ids=False, category="Other"),
                                a("entropy", "float", "7.9", to_ids=False,
                                  category="Other"),
                                a("state", "text", "Malicious", to_ids=False,
                                  category="Other"),
                                a("mimetype", "mime-type", "application/x-dosexec",
                                  category="Artifacts dropped")],
           comment="a sample"),
        _o(14, "file", "file", [a("filename", "filename", "b.dll", category=P),
                                a("filename", "filename", "b'.dll", category=P),
                                a("sha1", "sha1", SHA1, category=P),
                                a("sha1", "sha1", "a" * 40, category=P)]),
        _o(15, "file", "file", [a("md5", "md5", MD5.upper(), to_ids=False, category=P),
                                a("size-in-bytes", "size-in-bytes", "0012",
                                  category="Other")]),
        _o(16, "file", "file", [a("sha1", "sha1", SHA1[:-1], category=P)]),
        _o(17, "file", "file", [a("state", "text", "Clean", category="Other")]),
        _o(18, "file", "file", [a("filename", "filename", "c.bin", category=P),
                                a("path", "text", "C:\\tmp", category="Other")]),
        _o(19, "file", "file", [a("filename", "filename", "d.bin", category=P,
                                  Tag=[{"name": "tlp:green"}])]),
    ]
    # references: to an attribute, to another object, without uuid or timestamp
    objs[0]["ObjectReference"] = [
        {"referenced_uuid": objs[12]["uuid"], "relationship_type": "resolves-to",
         "uuid": "6c0d5cac-2ef4-4bae-baa4-000000000001", "timestamp": "1510922099"}]
    objs[12]["ObjectReference"] = [
        {"referenced_uuid": objs[0]["uuid"], "relationship_type": "communicates-with",
         "uuid": "6c0d5cac-2ef4-4bae-baa4-000000000004",
         "Object": {"name": "domain-ip", "uuid": objs[0]["uuid"]}},
        {"referenced_uuid": "6a0d5cac-2ef4-4bae-baa4-0000000fffff",
         "relationship_type": "related-to", "uuid": "6c0d5cac-2ef4-4bae-baa4-000000000002"},
        {"referenced_uuid": "5a0d5cac-2ef4-4bae-baa4-000000000000",
         "relationship_type": "drops", "uuid": "6c0d5cac-2ef4-4bae-baa4-000000000003"}]
    return objs



def test_templates_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _objects()
    taken = _counted(monkeypatch)
    slow, fast, _ = _both(_event(objects), monkeypatch)
    assert fast == slow
    assert any(o["type"] == "relationship" and o["id"].endswith("000000000001")
               for o in fast[0])
    # the plain ones went the direct path; the odd ones are misp-stix's own
    direct = {i + 1 for i, (_, t) in enumerate(taken[-len(objects):]) if t}
    assert direct == {1, 2, 3, 4, 6, 7, 8, 13, 14}


@pytest.mark.parametrize("i", range(19))
def test_each_template_alone_equals_misp_stix(i: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _objects()
    one = objects[i]
    one.pop("ObjectReference", None)
    slow, fast, _ = _both(_event([one]), monkeypatch)
    assert fast == slow
