"""The one access gate: the only place that answers "may member M see X".

Every read surface (node and member side) asks this module; nothing outside
``vigil.policy`` calls a ``decide_*`` function directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.model import Decision
from vigil.policy.decide import decide_onward


def onward(header: Mapping[str, Any]) -> Decision:
    """May a share held by a member be served beyond that member's own analysts (a
    gateway's local TAXII, feeds, exports)? no-onward, TLP:AMBER+STRICT and TLP:RED stay."""
    return decide_onward(header)
