"""One error family for all of vigil, rendered once at the edge (HTTP, CLI).

Every error carries a stable dotted ``code`` (documented in docs/errors.md), an HTTP
``status``, a human message and, for bad input, the JSON pointer of the fault.
"""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    """Base of every error vigil raises on purpose."""

    code: str = "vigil.error"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        pointer: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.pointer = pointer
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.pointer is not None:
            out["pointer"] = self.pointer
        if self.detail:
            out["detail"] = self.detail
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, pointer={self.pointer!r})"


class InputError(VigilError):
    """Malformed or invalid input: nothing was stored."""

    code = "input.invalid"
    status = 400


class StixError(InputError):
    """A STIX object or bundle is not valid STIX 2.1."""

    code = "stix.invalid"
    status = 422


class AuthError(VigilError):
    """Missing or bad credentials."""

    code = "auth.required"
    status = 401


class NotFound(VigilError):
    """The thing does not exist, or the caller may not see it (the two look the same)."""

    code = "not_found"
    status = 404


class PolicyDenied(VigilError):
    """The policy refused an action the caller may know about (e.g. publishing)."""

    code = "policy.denied"
    status = 403


class Conflict(VigilError):
    """The request conflicts with the current state (e.g. a name already taken)."""

    code = "conflict"
    status = 409


class CryptoError(VigilError):
    """A signature, digest or ciphertext failed verification."""

    code = "crypto.invalid"
    status = 422


class KeyringError(VigilError):
    """A keyring file is missing, unreadable or its passphrase is wrong."""

    code = "keyring.invalid"
    status = 400


class Unavailable(VigilError):
    """A backing service (database, bus) is down; the request changed nothing."""

    code = "service.unavailable"
    status = 503


class ConfigError(VigilError):
    """A setting is missing or wrong."""

    code = "config.invalid"
    status = 500
