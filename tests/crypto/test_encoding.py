"""base64url without padding, decoded only from its one canonical form."""

from __future__ import annotations

import os

import pytest

from vigil.crypto.encoding import b64u, b64u_decode


@pytest.mark.parametrize("n", range(0, 9))
def test_round_trip_without_padding(n: int) -> None:
    data = os.urandom(n)
    text = b64u(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64u_decode(text) == data


def test_known_values() -> None:
    assert b64u(b"\xfb\xff") == "-_8"
    assert b64u_decode("-_8") == b"\xfb\xff"
    assert b64u_decode("") == b""


@pytest.mark.parametrize("text", [
    "-_8=",      # padding
    "+/8",       # the standard alphabet
    "-_9",       # unused bits set: the same bytes as -_8, not canonical
    "QQ==",      # padded
    "Q",         # a length no encoding has
    "QU JD",     # whitespace
    "QUJD\n",
    "QUJDé",     # not ASCII
])
def test_refuses_every_other_form(text: str) -> None:
    with pytest.raises(ValueError):
        b64u_decode(text)


def test_refuses_what_is_not_text() -> None:
    with pytest.raises(ValueError):
        b64u_decode(b"QUJD")  # type: ignore[arg-type]
