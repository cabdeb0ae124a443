"""STIX 2.1 value formats (``vigil.stix._formats``): identifiers, timestamps, IPv6, language
tags, URIs and host names."""

from __future__ import annotations

import pytest

from vigil.stix._formats import (
    id_type,
    is_hostname,
    is_ipv6,
    is_language_tag,
    is_uri,
    timestamp_cmp,
    timestamp_error,
    timestamp_fraction,
    uuid_version,
)

UUID4 = "8c6af861-7b20-41ef-9b59-6344fd872a8f"


def test_identifiers_name_their_type_and_uuid_version() -> None:
    assert id_type(f"attack-pattern--{UUID4}") == "attack-pattern"
    assert uuid_version(f"identity--{UUID4}") == 4
    assert uuid_version("indicator--6b1f0d3c-5a34-5c5f-9a44-8f0b1f5e2a10") == 5
    for bad in (
        f"Identity--{UUID4}",
        f"identity-{UUID4}",
        f"identity--{UUID4}\n",
        "identity--8c6af861-7b20-61ef-9b59-6344fd872a8f",  # version 6
        "identity--8c6af861-7b20-41ef-cb59-6344fd872a8f",
    ):  # not the RFC 4122 variant
        assert id_type(bad) is None, bad


@pytest.mark.parametrize(
    "value", ["2016-05-12T08:17:27Z", "2016-05-12T08:17:27.000Z", "2024-02-29T23:59:59.123456Z"]
)
def test_valid_timestamps(value: str) -> None:
    assert timestamp_error(value) is None
    assert timestamp_fraction(value) == max(len(value) - 21, 0)


@pytest.mark.parametrize(
    "value",
    [
        "2016-05-12T08:17:27",
        "2016-05-12 08:17:27Z",
        "2016-05-12T08:17:27+00:00",
        "2023-02-29T00:00:00Z",
        "2016-04-31T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "2016-05-12T08:17:27Z\n",
        20160512,
    ],
)
def test_invalid_timestamps(value: object) -> None:
    assert timestamp_error(value) is not None
    assert timestamp_fraction(value) == -1


def test_timestamp_precision_options() -> None:
    assert timestamp_error("2016-05-12T08:17:27Z", millis=True) is not None
    assert timestamp_error("2016-05-12T08:17:27.1Z", millis=True) is not None
    assert timestamp_error("2016-05-12T08:17:27.100Z", millis=True) is None
    assert timestamp_error("2016-05-12T08:17:27.1Z", whole_seconds=True) is not None
    assert timestamp_error("2016-05-12T08:17:27Z", whole_seconds=True) is None


def test_timestamps_compare_by_instant_whatever_their_precision() -> None:
    assert timestamp_cmp("2016-05-12T08:17:27Z", "2016-05-12T08:17:27.000Z") == 0
    assert timestamp_cmp("2016-05-12T08:17:27.5Z", "2016-05-12T08:17:27.45Z") == 1
    assert timestamp_cmp("2016-05-12T08:17:27.45Z", "2016-05-12T08:17:27.5Z") == -1
    assert timestamp_cmp("2016-05-12T08:17:26.9Z", "2016-05-12T08:17:27Z") == -1


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2001:db8::1", True),
        ("::ffff:192.0.2.1", True),
        ("2001:db8::/32", True),
        ("::/0", True),
        ("2001:db8::/129", False),
        ("2001:db8::/032", False),
        ("2001:db8::/", False),
        ("192.0.2.1", False),
        ("2001:db8:::1", False),
    ],
)
def test_ipv6(value: str, ok: bool) -> None:
    assert is_ipv6(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("en", True),
        ("de-CH", True),
        ("zh-Hant-TW", True),
        ("sl-rozaj-biske", True),
        ("x-private", True),
        ("i-klingon", True),
        ("en-US-x-twain", True),
        ("e", False),
        ("en_US", False),
        ("en-", False),
        ("en-a", False),
        ("abcdefghi", False),
    ],
)
def test_language_tags(value: str, ok: bool) -> None:
    assert is_language_tag(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("http://example.com/a?b=c#d", True),
        ("https://[2001:db8::1]:8443/", True),
        ("mailto:cert@example.org", True),
        ("urn:isbn:0451450523", True),
        ("example.com/path", False),
        ("http://exa mple.com/", False),
        ("hxxp://bad[.]example", False),
        ("https://[2001:db8:::1]/", False),
        ("http://example.com/\u00e9", False),
    ],
)
def test_uris(value: str, ok: bool) -> None:
    assert is_uri(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("example.com", True),
        ("example.com.", True),
        ("a-b.example", True),
        ("xn--bcher-kva.example", True),
        ("b\u00fccher.example", True),
        ("", False),
        (".", False),
        ("a..b", False),
        ("-a.example", False),
        ("a-.example", False),
        ("ab--c.example", False),
        ("xn--.example", False),
        ("a_b.example", False),
        ("B\u00fccher.example", False),
        ("a" * 64 + ".example", False),
        (".".join(["a" * 63] * 4), False),
        (".".join(["a" * 62] * 4), True),
    ],
)
def test_hostnames(value: str, ok: bool) -> None:
    assert is_hostname(value) is ok
