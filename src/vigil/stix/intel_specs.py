"""Spec entries for the objects of intelligence beyond cyber, read by the validator's
spec table (``vigil.stix.validate``): the OASIS common ``event`` SDO
(cti-stix-common-objects, extension-definition--4ca6de00-…) and vigil's own new SCOs for
selectors, whose extension definitions and JSON schemas are published in
``vigil/data/stix/`` (``phone-number``, ``bank-account``, ``cryptocurrency-wallet``,
``cryptocurrency-transaction``). Each new SCO must name its extension definition with
``extension_type: "new-sco"``. People and organisations are STIX ``identity`` objects
(``identity_class`` individual / organization) and places are ``location`` objects.
"""

from __future__ import annotations

import re
from typing import Any

EVENT_EXTENSION = "extension-definition--4ca6de00-5b0d-45ef-a1dc-ea7279ea910e"  # OASIS
NEW_SCO_EXTENSIONS = {
    "phone-number": "extension-definition--9bf216b3-8b3e-59f4-903e-f0239c272e48",
    "bank-account": "extension-definition--0efe9838-0ae0-531d-a1ed-c3eee1039b3d",
    "cryptocurrency-wallet": "extension-definition--7d348d35-1d5d-5020-922b-86ac2d4712ec",
    "cryptocurrency-transaction": "extension-definition--3e460c10-9c32-59ba-bb31-33af6aa8651d",
}
PERSON_EXTENSION = "extension-definition--696317eb-1cd6-55f1-a29f-89e136af579a"

_E164 = re.compile(r"\+[1-9][0-9]{6,14}\Z")
_CC = re.compile(r"[A-Z]{2}\Z")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}\Z")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
_SYMBOL = re.compile(r"[A-Z0-9]{2,10}\Z")
_ADDRESS = re.compile(r"[A-Za-z0-9]{20,100}\Z")


def specs() -> list[Any]:
    """The spec entries (``spec_sdo._Spec``), built with the validator's own checks
    (``checks``) and spec builders (``spec_sdo``)."""
    from vigil.stix import checks as v
    from vigil.stix import shapes
    from vigil.stix import spec_sdo as sp

    def needs_extension(ext_id: str, kind: str) -> Any:
        def rule(ctx: Any, obj: dict[str, Any], ptr: str) -> None:
            ext = obj.get("extensions")
            got = ext.get(ext_id) if isinstance(ext, dict) else None
            if not isinstance(got, dict) or got.get("extension_type") != kind:
                ctx.add("stix.extension", ptr + "/extensions",
                        f"a {obj.get('type')} names its extension definition {ext_id} "
                        f'with extension_type "{kind}"')
        return rule

    def sco(name: str, props: dict[str, Any], required: tuple[str, ...] = (),
            rules: tuple[Any, ...] = ()) -> Any:
        return sp._sco(name, props, required,
                      (needs_extension(NEW_SCO_EXTENSIONS[name], "new-sco"), *rules))

    leg = shapes.c_object({"address_ref": v.c_ref(("cryptocurrency-wallet",)),
                      "amount": v.c_num(0)}, required=("address_ref",))
    return [
        sco("phone-number", {
            "number": v.c_regex(_E164, "an E.164 number (+ and 7-15 digits)"),
            "country": v.c_regex(_CC, "an ISO 3166-1 alpha-2 code"),
            "provider": v.c_str,
            "phone_type": v.c_enum("mobile", "landline", "satellite", "voip", "unknown"),
        }, ("number",)),
        sco("bank-account", {
            "iban": v.c_regex(_IBAN, "an IBAN (upper case, no spaces)"),
            "account_number": v.c_str,
            "bic": v.c_regex(_BIC, "a BIC"),
            "holder_name": v.c_str,
            "country": v.c_regex(_CC, "an ISO 3166-1 alpha-2 code"),
            "currency": v.c_regex(_CURRENCY, "an ISO 4217 code"),
        }, (), (sp._require_any("iban", "account_number"),)),
        sco("cryptocurrency-wallet", {
            "address": v.c_regex(_ADDRESS, "a cryptocurrency address"),
            "currency": v.c_regex(_SYMBOL, "a currency symbol"),
        }, ("address",)),
        sco("cryptocurrency-transaction", {
            "symbol": v.c_regex(_SYMBOL, "a currency symbol"),
            "hash": v.c_str,
            "execution_time": v.c_ts,
            "fee": v.c_num(0),
            "input": v.c_list(leg),
            "output": v.c_list(leg),
        }, ("symbol", "hash")),
        sp._sdo("event", {
            "name": v.c_str,
            "description": v.c_str,
            "status": v.c_enum("occurred", "ongoing", "not-occurred", "undetermined",
                               "planned"),
            "start_time": v.c_ts,
            "start_time_fidelity": v.c_str,
            "end_time": v.c_ts,
            "end_time_fidelity": v.c_str,
            "event_types": v.c_strs,
            "goal": v.c_str,
            "sighting_refs": v.c_refs(("sighting",)),
            "changed_objects": v.c_any,
        }, ("created", "modified", "status"),
            (sp._order("end_time", ">=", "start_time"),
             needs_extension(EVENT_EXTENSION, "new-sdo"))),
    ]
