"""Rules a member's own software applies without a node: pure, over the signed header.

``local_serve``: what a member's gateway may hand to the member's local tools (its SIEM,
TIP, MISP) over its TAXII endpoint. The tools are the member's own organisation, so
TLP:CLEAR, GREEN and AMBER pass; what the originator keeps with the member's analysts
does not: a no-onward share, TLP:AMBER+STRICT and TLP:RED.
"""

from __future__ import annotations

from vigil.model import Decision, ShareHeader, Tlp

LOCAL_TLPS = frozenset({Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER})


def local_serve(header: ShareHeader) -> Decision:
    """May a member's gateway serve this share's objects to the member's local tools?"""
    if header["handling"]["no_onward"]:
        return Decision(False, "policy.no_onward")
    if Tlp(header["audience"]["tlp"]) not in LOCAL_TLPS:
        return Decision(False, "policy.tlp_forbids_onward")
    return Decision(True, "ok")
