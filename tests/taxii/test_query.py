"""Parsing a TAXII 2.1 request's filters (``vigil.taxii.query``): timestamps in one
sortable form and back, page tokens given out and read back, and every filter read into
one ``Query`` or refused with its code and parameter."""

from __future__ import annotations

import base64

import pytest

from vigil.errors import InputError
from vigil.taxii.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursor,
    Query,
    norm_time,
    parse_cursor,
    parse_query,
    show_time,
)

ID = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"


def test_timestamps_compare_in_one_form() -> None:
    a = norm_time("2026-01-02T03:04:05Z")
    assert a == norm_time("2026-01-02T03:04:05.000Z") == "2026-01-02T03:04:05.000000000Z"
    assert norm_time("2026-01-02T03:04:05.1234567Z") != norm_time("2026-01-02T03:04:05.123456Z")
    for bad in ("2026-01-02T03:04:05.1234567890Z", "2026-01-02 03:04:05Z", "2026-01-02"):
        assert norm_time(bad) is None
    assert show_time(a) == "2026-01-02T03:04:05.000Z"  # type: ignore[arg-type]
    assert show_time(str(norm_time("2026-01-02T03:04:05.5Z"))) == "2026-01-02T03:04:05.500Z"
    assert show_time(str(norm_time("2026-01-02T03:04:05.123456Z"))) == "2026-01-02T03:04:05.123456Z"
    assert (
        show_time(str(norm_time("2026-01-02T03:04:05.123456789Z")))
        == "2026-01-02T03:04:05.123456789Z"
    )


def test_page_tokens_read_back() -> None:
    c = Cursor(41, 7)
    assert parse_cursor(c.token()) == c
    v1 = base64.urlsafe_b64encode(b"v1.41.7").decode().rstrip("=")
    for bad in (
        v1,
        "!!",
        base64.urlsafe_b64encode(b"v2.x.7").decode(),
        "",
        base64.urlsafe_b64encode(b"v2.1.2.3").decode(),
    ):
        with pytest.raises(InputError) as e:
            parse_cursor(bad)
        assert (e.value.code, e.value.pointer) == ("taxii.bad_next", "next")


def test_filters_make_one_query() -> None:
    assert parse_query([]) == Query()
    q = parse_query(
        [
            ("limit", "5000"),
            ("added_after", "2026-01-02T03:04:05Z"),
            ("next", Cursor(3, 4).token()),
            ("match[id]", f"{ID}, {ID}"),
            ("match[type]", "indicator,malware"),
            ("match[type]", "tool"),
            ("match[version]", "first,2026-01-02T03:04:05Z"),
            ("match[spec_version]", "2.1"),
            ("match[x_vigil_theme]", " Cyber "),
        ]
    )
    assert q.limit == MAX_LIMIT and q.added_after == "2026-01-02T03:04:05.000Z"
    assert q.cursor == Cursor(3, 4) and q.ids == (ID,)
    assert q.types == ("indicator", "malware", "tool")
    assert q.versions == ("first", "2026-01-02T03:04:05.000000000Z")
    assert q.spec_versions == ("2.1",) and q.themes == ("cyber",)
    assert parse_query([], default_version="all").versions == ("all",)
    assert parse_query([("limit", "3"), ("limit", "7")]).limit == 7
    assert Query().limit == DEFAULT_LIMIT and Query().with_id(ID).ids == (ID,)


@pytest.mark.parametrize(
    ("pairs", "code", "pointer"),
    [
        ([("match[id]", "not-an-id")], "taxii.bad_filter", "match[id]"),
        ([("match[type]", "Indicator")], "taxii.bad_filter", "match[type]"),
        ([("match[version]", "latest")], "taxii.bad_filter", "match[version]"),
        ([("match[spec_version]", "2.1.0")], "taxii.bad_filter", "match[spec_version]"),
        ([("match[type]", "indicator,,malware")], "taxii.bad_filter", "match[type]"),
        ([("match[color]", "red")], "taxii.bad_filter", "match[color]"),
        ([("limit", "0")], "input.out_of_range", "/limit"),
        ([("limit", "ten")], "input.bad_number", "/limit"),
        ([("added_after", "yesterday")], "input.bad_time", "/added_after"),
    ],
)
def test_bad_filters_are_refused(pairs: list[tuple[str, str]], code: str, pointer: str) -> None:
    with pytest.raises(InputError) as e:
        parse_query(pairs)
    assert (e.value.code, e.value.pointer) == (code, pointer)


def test_an_endpoint_filters_only_on_what_it_allows() -> None:
    with pytest.raises(InputError) as e:
        parse_query([("match[version]", "all")], allowed=("id", "type"))
    assert e.value.pointer == "match[version]"
