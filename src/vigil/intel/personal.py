"""The personal-data lint: what in a STIX bundle looks like data about a person.

It finds individuals (``identity`` objects of class ``individual``), dates of birth,
passport and other travel-document numbers, phone numbers and e-mail addresses, each
with the JSON pointer where it is. E-mail addresses that are technical indicators
(``email-addr`` observables, indicator patterns) are left to the cyber rules; every
other finding asks the member, before the share is published, to confirm that it holds
personal data under a legal basis (``personal_data``) or to redact it (docs/policy.md,
"Personal data").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vigil.errors import InputError

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
PHONE = re.compile(r"(?<![\w+])\+[1-9](?:[ \-.]?\d){6,14}(?!\d)")
PASSPORT = re.compile(r"\b(?:passport|travel document|document)\s*(?:no\.?|number|nr\.?|#|:)"
                      r"?\s*:?\s*([A-Z0-9]{6,12})\b", re.IGNORECASE)
DOB_TEXT = re.compile(r"\b(?:born(?: on)?|date of birth|d\.o\.b\.?|dob)\s*:?\s*"
                      r"(\d{4}-\d{2}-\d{2}|\d{1,2}[./ ]\d{1,2}[./ ]\d{2,4})", re.IGNORECASE)
DOB_KEYS = re.compile(r"(^|_)(date_of_birth|birth_date|dob|birthdate)$")
DOC_KEYS = re.compile(r"(^|_)(passport|passport_number|document_number|id_card_number)$")
PHONE_KEYS = re.compile(r"(^|_)(phone|phone_number|number|msisdn)$")
TECHNICAL = {"email-addr", "indicator"}  # e-mail addresses here are cyber indicators
MAX_FINDINGS = 50


@dataclass(frozen=True, slots=True)
class Finding:
    pointer: str
    kind: str  # person | date-of-birth | passport | phone | email

    def to_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "kind": self.kind}


def _token(k: str) -> str:
    return k.replace("~", "~0").replace("/", "~1")


def _walk(v: Any, pointer: str, technical: bool) -> Iterator[Finding]:
    if isinstance(v, Mapping):
        for k, x in v.items():
            p = f"{pointer}/{_token(str(k))}"
            key = str(k).lower()
            if isinstance(x, str | int) and str(x).strip():
                if DOB_KEYS.search(key):
                    yield Finding(p, "date-of-birth")
                    continue
                if DOC_KEYS.search(key):
                    yield Finding(p, "passport")
                    continue
                if PHONE_KEYS.search(key) and PHONE.search(str(x)):
                    yield Finding(p, "phone")
                    continue
            yield from _walk(x, p, technical)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _walk(x, f"{pointer}/{i}", technical)
    elif isinstance(v, str):
        if DOB_TEXT.search(v):
            yield Finding(pointer, "date-of-birth")
        if PASSPORT.search(v):
            yield Finding(pointer, "passport")
        if PHONE.search(v):
            yield Finding(pointer, "phone")
        if not technical and EMAIL.search(v):
            yield Finding(pointer, "email")


def lint(bundle: Mapping[str, Any]) -> list[Finding]:
    """What in the bundle looks like personal data (at most ``MAX_FINDINGS``)."""
    out: list[Finding] = []
    objects = bundle.get("objects")
    for i, obj in enumerate(objects if isinstance(objects, list) else []):
        if not isinstance(obj, Mapping):
            continue
        p = f"/objects/{i}"
        if obj.get("type") == "identity" and obj.get("identity_class") == "individual":
            out.append(Finding(f"{p}/name", "person"))
        out.extend(_walk(obj, p, obj.get("type") in TECHNICAL))
        if len(out) >= MAX_FINDINGS:
            break
    return list(dict.fromkeys(out[:MAX_FINDINGS]))


def check(bundle: Mapping[str, Any], declared: bool) -> list[Finding]:
    """The findings, once the member has declared them; ``input.personal_data`` (with
    every finding) when it has not: confirm a legal basis or redact."""
    found = lint(bundle)
    if found and not declared:
        raise InputError(
            "the share holds personal data: confirm that it does (personal_data, with a "
            "legal basis and purposes) or redact it", code="input.personal_data",
            status=422, pointer=found[0].pointer, detail={"findings": [f.to_json() for f in found]})
    return found
