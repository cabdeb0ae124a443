"""Selectors written differently by two members reach one normal form and OPRF input."""

from __future__ import annotations

import pytest

from vigil.errors import InputError
from vigil.match.selectors import TAG, normalise, oprf_input


@pytest.mark.parametrize(("kind", "a", "b", "normal"), [
    ("phone", "+33 6 12-34.56(78)", "0033612345678", "+33612345678"),
    ("iban", "fr76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189",
     "FR7630006000011234567890189"),
    ("wallet", "0xAbCdEf0123456789abcdef0123456789ABCDEF01",
     "0xabcdef0123456789abcdef0123456789abcdef01",
     "0xabcdef0123456789abcdef0123456789abcdef01"),
    ("passport", "fra: 12ab34567", "FRA:12AB34567", "FRA:12AB34567"),
    ("email", " Someone@Example.ORG", "someone@example.org", "someone@example.org"),
])
def test_two_writings_one_form(kind: str, a: str, b: str, normal: str) -> None:
    assert normalise(kind, a) == normalise(kind, b) == normal
    assert oprf_input(kind, a) == TAG + kind.encode() + b"\0" + normal.encode()


def test_a_bitcoin_address_keeps_its_case() -> None:
    addr = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    assert normalise("wallet", addr) == addr


def test_the_kind_is_part_of_the_input() -> None:
    assert oprf_input("wallet", "A" * 20) != oprf_input("passport", "A" * 20)


@pytest.mark.parametrize(("kind", "value", "pointer"), [
    ("phone", "612345678", "/value"),     # not international
    ("phone", "+0123456789", "/value"),
    ("iban", "FR76", "/value"),
    ("wallet", "short", "/value"),
    ("passport", "FRANCE:123456", "/value"),
    ("email", "no-at-sign.example", "/value"),
    ("ssn", "123", "/kind"),
])
def test_what_is_not_a_selector_is_refused(kind: str, value: str, pointer: str) -> None:
    with pytest.raises(InputError) as info:
        normalise(kind, value)
    assert (info.value.code, info.value.pointer) == ("input.selector", pointer)
