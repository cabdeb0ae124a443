"""The personal-data lint: individuals, dates of birth, document numbers, phone numbers and
e-mail addresses found with their JSON pointers; e-mail in technical objects left alone;
``check`` refuses undeclared findings."""

from __future__ import annotations

import pytest

from vigil.errors import InputError
from vigil.intel.personal import MAX_FINDINGS, check, lint


def kinds(bundle: dict[str, object]) -> list[tuple[str, str]]:
    return [(f.pointer, f.kind) for f in lint(bundle)]


def test_each_kind_is_found_where_it_is() -> None:
    bundle = {"objects": [
        {"type": "identity", "identity_class": "individual", "name": "A. Person",
         "x_date_of_birth": "1980-01-02", "x_passport_number": "X1234567"},
        {"type": "note", "content": "call +372 5555 1234 or write to a.person@example.org",
         "x/odd": "born on 1979-12-31, passport no. AB123456"},
    ]}
    assert kinds(bundle) == [
        ("/objects/0/name", "person"),
        ("/objects/0/x_date_of_birth", "date-of-birth"),
        ("/objects/0/x_passport_number", "passport"),
        ("/objects/1/content", "phone"),
        ("/objects/1/content", "email"),
        ("/objects/1/x~1odd", "date-of-birth"),
        ("/objects/1/x~1odd", "passport"),
    ]


def test_technical_objects_keep_their_addresses_and_clean_bundles_pass() -> None:
    bundle = {"objects": [
        {"type": "email-addr", "value": "phish@example.org"},
        {"type": "indicator", "pattern": "[email-addr:value = 'phish@example.org']"},
        {"type": "identity", "identity_class": "organization", "name": "CERT-EE"},
        {"type": "malware", "name": "x", "phone_number": "not a number"},
    ]}
    assert lint(bundle) == []
    assert check(bundle, declared=False) == []
    assert lint({"objects": "not a list"}) == []


def test_findings_are_capped() -> None:
    bundle = {"objects": [{"type": "note", "content": f"u{i}@example.org"}
                          for i in range(MAX_FINDINGS + 10)]}
    assert len(lint(bundle)) == MAX_FINDINGS


def test_check_asks_for_a_declaration() -> None:
    bundle = {"objects": [{"type": "note", "content": "dob: 1980-01-02"}]}
    with pytest.raises(InputError) as caught:
        check(bundle, declared=False)
    err = caught.value
    assert err.code == "input.personal_data" and err.pointer == "/objects/0/content"
    assert err.detail == {"findings": [{"pointer": "/objects/0/content",
                                        "kind": "date-of-birth"}]}
    assert [f.kind for f in check(bundle, declared=True)] == ["date-of-birth"]
