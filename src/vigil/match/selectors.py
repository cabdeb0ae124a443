"""Selector kinds and their one normal form: two members writing the same selector
differently must reach the same OPRF input."""

from __future__ import annotations

import re

from vigil.errors import InputError

TAG = b"vigil/selector/v1\0"
_SPACES = re.compile(r"[\s\-./()]")


def _phone(v: str) -> str:
    d = _SPACES.sub("", v)
    if d.startswith("00"):
        d = "+" + d[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", d):
        raise ValueError("an international number: + and 7-15 digits (E.164)")
    return d


def _iban(v: str) -> str:
    d = _SPACES.sub("", v).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", d):
        raise ValueError("an IBAN")
    return d


def _wallet(v: str) -> str:
    d = v.strip()
    if re.fullmatch(r"0x[0-9a-fA-F]{40}", d):
        return d.lower()  # an Ethereum address: hex, case is only a checksum
    if not re.fullmatch(r"[A-Za-z0-9]{20,100}", d):
        raise ValueError("a cryptocurrency address")
    return d


def _passport(v: str) -> str:
    d = _SPACES.sub("", v).upper()
    if not re.fullmatch(r"([A-Z]{3}:)?[A-Z0-9]{5,20}", d):
        raise ValueError("a document number, optionally after its ISO 3166 alpha-3 issuer "
                         "(FRA:12AB34567)")
    return d


def _email(v: str) -> str:
    d = v.strip().lower()
    if not re.fullmatch(r"[^@\s]{1,64}@[a-z0-9.-]{1,255}\.[a-z]{2,63}", d):
        raise ValueError("an e-mail address")
    return d


KINDS = {"phone": _phone, "iban": _iban, "wallet": _wallet, "passport": _passport,
         "email": _email}


def normalise(kind: str, value: str) -> str:
    """The normal form of a selector (``input.selector`` when it is not one)."""
    fn = KINDS.get(kind)
    if fn is None:
        raise InputError(f"selector kind must be one of {', '.join(KINDS)}",
                         code="input.selector", pointer="/kind")
    try:
        return fn(str(value))
    except ValueError as e:
        raise InputError(f"not {e}", code="input.selector", pointer="/value") from None


def oprf_input(kind: str, value: str) -> bytes:
    """The bytes the OPRF runs on: tag, kind, 0x00, normal form."""
    return TAG + kind.encode() + b"\0" + normalise(kind, value).encode()
