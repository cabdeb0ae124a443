"""A node's logs: one JSON object per line, with the id of the request being served.

Nothing vigil logs carries a token, a key or a share's payload, and as a second line
of defence every record passes :class:`Redact`, which blanks bearer tokens, vigil user
tokens and PEM key blocks wherever they appear in a message or a traceback.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import traceback
from typing import Any, TextIO

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "vigil_request_id", default=None)

_SECRETS = re.compile(
    r"vgl_[A-Za-z0-9_-]+"  # a vigil user token
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"  # an Authorization header's credential
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    re.DOTALL,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRETS.sub(REDACTED, text)


class Redact(logging.Filter):
    """Blanks secrets in the formatted message of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as it is
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...}`` on one line; the
    extra fields a record carries under ``vigil`` (a dict) are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid is not None:
            doc["request_id"] = rid
        extra = getattr(record, "vigil", None)
        if isinstance(extra, dict):
            doc.update(extra)
        if record.exc_info:
            doc["error"] = redact("".join(traceback.format_exception(*record.exc_info)))
        return orjson.dumps(doc).decode("utf-8")


def handler(stream: TextIO | None = None, *, json: bool = True) -> logging.Handler:
    h = logging.StreamHandler(stream or sys.stderr)
    h.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    h.addFilter(Redact())
    return h


def setup(level: str, fmt: str = "json", stream: TextIO | None = None) -> None:
    """Send every log record (vigil's, uvicorn's) to one handler on the root logger."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler(stream, json=fmt != "text"))
    root.setLevel(level.upper())
