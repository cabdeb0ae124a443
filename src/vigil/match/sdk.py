"""Private selector matching and consent from a member's client (over the REST API).

The member's OPRF key (``MatchKey``) stays in the client: the node receives the index
(OPRF outputs), blinded selectors and evaluations, never a selector or the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vigil.crypto.encoding import b64u
from vigil.errors import KeyringError
from vigil.match.member import Blinded, MatchKey
from vigil.protocol.consent import answer_object, sign_answer

if TYPE_CHECKING:
    from vigil.client import Client

V1 = "/api/v1"


def publish_index(client: Client, key: MatchKey, selectors: Iterable[tuple[str, str]]
                  ) -> int:
    """Replace the member's index on the node with these (kind, value) selectors."""
    out: dict[str, Any] = client._call("PUT", f"{V1}/match/index",
                                       json={"outputs": key.index(selectors)})
    return int(out["outputs"])


def answer_pending(client: Client, key: MatchKey, limit: int = 100) -> int:
    """Evaluate every blinded selector waiting for this member; how many."""
    got: dict[str, Any] = client._call("GET", f"{V1}/match/pending", params={"limit": limit})
    for q in got["queries"]:
        client._call("POST", f"{V1}/match/queries/{q['id']}/evaluations",
                     json={"evaluated": key.evaluate(q["blinded"])})
    return len(got["queries"])


def ask(client: Client, kind: str, value: str) -> tuple[str, Blinded]:
    """Post a blinded selector; (query id, the blinding the client keeps)."""
    b = Blinded.of(kind, value)
    out: dict[str, Any] = client._call("POST", f"{V1}/match/queries",
                                       json={"blinded": b.blinded})
    return str(out["id"]), b


def hits(client: Client, query_id: str, blinded: Blinded) -> list[str]:
    """The members that hold the selector, among those that have evaluated the query."""
    got: dict[str, Any] = client._call("GET", f"{V1}/match/queries/{query_id}")
    outputs = {h: blinded.output(e) for h, e in got["evaluations"].items()}
    if not outputs:
        return []
    res: dict[str, Any] = client._call("POST", f"{V1}/match/queries/{query_id}/lookup",
                                       json={"outputs": outputs})
    return [str(h) for h in res["hits"]]


def ask_consent(client: Client, share_id: str, use: str, reason: str) -> dict[str, Any]:
    out: dict[str, Any] = client._call("POST", f"{V1}/shares/{share_id}/consent",
                                       json={"use": use, "reason": reason})
    return out


def answer_consent(client: Client, request: dict[str, Any], grant: bool, *,
                   until: str | None = None) -> dict[str, Any]:
    """Sign the answer to a consent request with the member's keyring (in the client)."""
    kr = client.keyring
    if kr is None:
        raise KeyringError("answering a consent request needs the member's keyring",
                           code="keyring.invalid")
    obj = answer_object(request, "grant" if grant else "refuse", kr.sign_key_id, until=until)
    out: dict[str, Any] = client._call(
        "POST", f"{V1}/consent/{request['id']}/answer",
        json={"answer": obj, "signature": b64u(sign_answer(obj, kr.sign_private))})
    return out


def use(client: Client, share_id: str, what: str, purpose: str) -> dict[str, Any]:
    """Declare a use of a share (403 ``policy.grant_required`` without a needed grant)."""
    out: dict[str, Any] = client._call("POST", f"{V1}/shares/{share_id}/uses",
                                       json={"use": what, "purpose": purpose})
    return out
