"""Form bodies (urlencoded and multipart) without extra dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qs

from vigil.errors import InputError


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v != ""]


def parse_form(content_type: str, body: bytes) -> Form:
    kind = content_type.split(";", 1)[0].strip().lower()
    form = Form()
    if not body:
        return form
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the form is not UTF-8", code="input.encoding") from None
        form.fields = parse_qs(text, keep_blank_values=True)
        return form
    if kind == "multipart/form-data":
        msg = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        if not isinstance(msg, EmailMessage) or not msg.is_multipart():
            raise InputError("malformed multipart form", code="input.form")
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = b""
            filename = part.get_filename()
            if filename is not None:
                form.files[name] = (filename, data)
            else:
                try:
                    form.fields.setdefault(name, []).append(data.decode("utf-8"))
                except UnicodeDecodeError:
                    raise InputError(f"form field {name!r} is not UTF-8",
                                     code="input.encoding") from None
        return form
    raise InputError("send the form as application/x-www-form-urlencoded or "
                     "multipart/form-data", code="input.form", status=415)
