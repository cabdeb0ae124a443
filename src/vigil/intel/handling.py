"""Handling codes that forbid a use without the originator's consent, and the uses a
recipient can ask for (docs/policy.md, "Consent grants").

* ``forward``: pass the share on beyond the recipient (a feed, an export, another
  member); forbidden by the header's ``no_onward`` flag.
* ``court``: use it as evidence in court; forbidden by the handling code ``no-court``.
* ``retain``: keep and read it past its expiry; forbidden by any expiry (a share with
  an expiry is read by nobody but its originator from then on).
"""

from __future__ import annotations

from collections.abc import Mapping

from vigil.errors import InputError
from vigil.model import ShareHeader

NO_COURT = "no-court"
USES = ("forward", "court", "retain")
CODES: dict[str, str] = {
    NO_COURT: "not for use in court without the provider's consent",
}


def forbids(header: ShareHeader, use: str) -> bool:
    """Does the share's signed header forbid this use without a consent grant?"""
    if use == "forward":
        return bool(header["handling"]["no_onward"])
    if use == "court":
        return NO_COURT in header["handling"]["codes"]
    if use == "retain":
        return header.get("expires") is not None
    return True


OPEN = "open"  # opening a share that holds personal data: always with a purpose


def personal_data(header: ShareHeader) -> bool:
    """Does a signed share header say that the share holds personal data?"""
    lg = header.get("legal")
    return isinstance(lg, Mapping) and lg.get("personal_data") is True


def require_purpose(header: ShareHeader, member: str, purpose: str | None) -> bool:
    """A share that holds personal data is opened by anyone but its originator only
    with a purpose (``share.purpose_required``); True when one must be recorded."""
    if header.get("originator") == member or not personal_data(header):
        return False
    if not purpose or not str(purpose).strip():
        raise InputError("this share holds personal data: give the purpose for which you "
                         "open it", code="share.purpose_required", pointer="/purpose")
    return True
