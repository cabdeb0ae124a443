"""Console form bodies, urlencoded and multipart, read without extra dependencies."""

from __future__ import annotations

import pytest

from vigil.errors import InputError
from vigil.web.console.forms import parse_form

BOUNDARY = "xYz"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += (f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def test_urlencoded_fields_keep_blanks_and_repeats() -> None:
    form = parse_form("application/x-www-form-urlencoded; charset=utf-8",
                      b"to=alpha&to=&to=bravo&tlp=green&note=caf%C3%A9")
    assert form.all("to") == ["alpha", "bravo"]
    assert form.get("to") == "alpha" and form.get("note") == "café"
    assert form.get("missing", "x") == "x"
    blank = parse_form("application/x-www-form-urlencoded", b"name=&x=1")
    assert blank.get("name", "x") == ""  # a field sent blank is there, blank


def test_multipart_fields_and_files() -> None:
    body = multipart(("tlp", None, "ámbar".encode()), ("to", None, b"alpha"),
                     ("to", None, b"bravo"), ("bundle", "b.json", b'{"type":"bundle"}'))
    form = parse_form(MULTIPART, body)
    assert form.get("tlp") == "ámbar" and form.all("to") == ["alpha", "bravo"]
    assert form.files == {"bundle": ("b.json", b'{"type":"bundle"}')}


def test_an_empty_body_is_an_empty_form() -> None:
    form = parse_form("text/plain", b"")
    assert form.fields == {} and form.files == {}


@pytest.mark.parametrize(("ctype", "body", "code", "status"), [
    ("application/x-www-form-urlencoded", b"a=\xff", "input.encoding", 400),
    (MULTIPART, multipart(("a", None, b"\xff")), "input.encoding", 400),
    ("text/plain", b"a=1", "input.form", 415),
])
def test_bad_forms_are_refused(ctype: str, body: bytes, code: str, status: int) -> None:
    with pytest.raises(InputError) as info:
        parse_form(ctype, body)
    assert (info.value.code, info.value.status) == (code, status)
