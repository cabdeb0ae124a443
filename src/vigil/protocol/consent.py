"""The consent answer an originator signs (tag ``vigil/consent/v1``; docs/protocol.md,
"Evaluation, legal basis and consent")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil import clock
from vigil.crypto.keys import SignPrivate
from vigil.crypto.sign import sign

TAG_CONSENT = "vigil/consent/v1"
ANSWER_FIELDS = frozenset({"v", "kind", "request", "share", "asker", "originator", "use",
                           "answer", "until", "at", "key"})


def answer_object(request: Mapping[str, Any], answer: str, key: str, *,
                  until: str | None = None, at: str | None = None) -> dict[str, Any]:
    """The answer to a consent request (``{id, share, asker, originator, use, …}`` as the
    node lists it): ``answer`` is ``grant`` or ``refuse``."""
    return {"v": 1, "kind": "consent", "request": request["id"], "share": request["share"],
            "asker": request["asker"], "originator": request["originator"],
            "use": request["use"], "answer": answer, "until": until,
            "at": at or clock.now(), "key": key}


def sign_answer(obj: Mapping[str, Any], private: SignPrivate) -> bytes:
    return sign(TAG_CONSENT, obj, private)
