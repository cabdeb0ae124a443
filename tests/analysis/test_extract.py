"""Observables extracted from STIX: from indicator patterns (the fast path for plain
comparisons agreeing with the full parser, every comparison operator, escapes, an invalid
pattern holding nothing), from cyber observables and observed data, and from bundle bytes."""

from __future__ import annotations

from vigil.analysis.extract import extract, extract_bundle, from_pattern
from vigil.analysis.observables import Observable


def test_fast_path_and_slow_path_agree() -> None:
    simple = "[ipv4-addr:value = '198.51.100.0/24'] OR [file:hashes.'SHA-256' = '" + \
        "AB" * 32 + "']"
    qualified = simple + " WITHIN 300 SECONDS"  # not a fast-path form
    assert from_pattern(simple) == from_pattern(qualified) == (
        Observable("ip", "198.51.100.0/24"), Observable("sha256", "ab" * 32))



def test_pattern_operators() -> None:
    got = from_pattern("[domain-name:value IN ('a.example', 'B.example') AND "
                       "ipv4-addr:value ISSUBSET '10.0.0.0/8' AND "
                       "url:value != 'http://not.example/' AND "
                       "email-message:from_ref.value = 'X@Mail.example' AND "
                       "network-traffic:extensions.'http-request-ext'.request_header."
                       "'User-Agent' = 'EvilAgent/1.0' AND autonomous-system:number = 64496]")
    assert sorted(got) == sorted([
        Observable("domain", "a.example"), Observable("domain", "b.example"),
        Observable("ip", "10.0.0.0/8"), Observable("email", "x@mail.example"),
        Observable("user-agent", "EvilAgent/1.0"), Observable("asn", "AS64496")])



def test_escaped_quote_in_fast_path() -> None:
    assert from_pattern("[url:value = 'http://a.example/it\\'s']") == (
        Observable("url", "http://a.example/it's"),)



def test_invalid_pattern_holds_nothing() -> None:
    assert from_pattern("[ipv4-addr:value = ") == ()



def test_objects() -> None:
    objs = [
        {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "203.0.113.5"},
        {"type": "file", "id": "file--1", "hashes": {"MD5": "D41D8CD98F00B204E9800998ECF8427E",
                                                      "TLSH": "T1ABCDEF"}},
        {"type": "mutex", "id": "mutex--1", "name": "evil-mutex"},
        {"type": "windows-registry-key", "id": "windows-registry-key--1",
         "key": "HKEY_LOCAL_MACHINE\\System\\Foo"},
        {"type": "x-misp-object-btc", "id": "x-misp-object-btc--1",
         "x_misp_value": "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"},
        {"type": "observed-data", "id": "observed-data--1",
         "objects": {"0": {"type": "domain-name", "value": "EVIL.example"}}},
        {"type": "indicator", "id": "indicator--1", "pattern_type": "sigma",
         "pattern": "[ipv4-addr:value = '1.1.1.1']"},
        {"type": "malware", "id": "malware--1", "name": "x"},
    ]
    assert sorted(extract(objs)) == sorted([
        Observable("ip", "203.0.113.5"), Observable("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        Observable("tlsh", "t1abcdef"), Observable("mutex", "evil-mutex"),
        Observable("regkey", "hkey_local_machine\\system\\foo"),
        Observable("wallet", "1E38kt7ryhbRXUzbam6iQ6sd93VHUUdjEE"),
        Observable("domain", "evil.example")])



def test_extract_bundle_bytes() -> None:
    raw = (b'{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator",'
           b'"pattern":"[domain-name:value = \'x.example\']","pattern_type":"stix"}]}')
    assert extract_bundle(raw) == [Observable("domain", "x.example")]
    assert extract_bundle(b"not json") == []
