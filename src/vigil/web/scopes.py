"""The one table of what each route needs of a token's scope (see ``vigil.signin.tokens``).

A safe request (GET, HEAD) needs ``read`` unless listed; a write needs what its entry
says, and an unlisted write needs ``admin``: a new route is closed to narrower tokens
until it is listed here. Every authenticated request passes ``require`` (the API's
actor dependency and the console's session check), which answers 403 ``auth.scope``;
the push stream and search served before routing are reads, which every scope may do
(correlation notices served before routing pass ``require`` like a routed request).
"""

from __future__ import annotations

from vigil.errors import VigilError
from vigil.model import Actor
from vigil.signin.tokens import allows

V1 = "/api/v1"
TAXII = "/taxii2/api"
FED = "/fed/v1"

NODE_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("POST", f"{FED}/batch"), ("POST", f"{FED}/heartbeat"), ("GET", f"{FED}/outbox"),
    ("POST", f"{FED}/relay"), ("GET", f"{FED}/relay/descriptor"), ("POST", f"{FED}/hop"),
    ("POST", f"{FED}/relay/replies"), ("POST", f"{FED}/hop/replies"),
    ("GET", f"{FED}/log/proof")})
"""Node-to-node routes (vigil.web.federation): a request is authenticated by the sending
node's ``Vigil-Node`` signature with the key its operator pinned (``vigil peer add``),
never by a member token or session, so no scope applies to them; they are listed below
as needing nothing more than any token would, and no token is ever read there."""

NEEDS: dict[tuple[str, str], str] = {
    # any valid token
    ("POST", f"{V1}/log/gossip"): "read",
    # C2SP witness: no token, the checkpoint's signature by a known log key is the check
    ("POST", f"{FED}/witness/add-checkpoint"): "read",
    ("POST", f"{V1}/users/{{user}}/revoke"): "read",  # its own; others need admin
    ("POST", "/signin"): "read",  # the console's sign-in: before any credential
    ("POST", "/signout"): "read",
    ("POST", "/signin/key"): "read",  # a key after a first factor, or alone
    ("POST", "/signin/passkey"): "read",
    ("POST", "/signin/sso/backchannel"): "read",  # a provider's signed logout token
    ("POST", "/keys"): "read",  # the user's own passkeys
    ("POST", "/keys/{key_id}/remove"): "read",
    **{(m, "/taxii2/{rest}"): "read"  # TAXII's catch-all: answers 404 or 405 only
       for m in ("POST", "PUT", "PATCH", "DELETE")},
    **dict.fromkeys(NODE_ROUTES, "read"),  # node-signed, see NODE_ROUTES
    # publishing
    ("POST", f"{V1}/shares"): "publish",
    ("POST", f"{V1}/envelopes"): "publish",
    ("POST", f"{V1}/preview"): "publish",
    ("POST", f"{V1}/shares/{{share_id}}/receipts"): "publish",
    ("POST", f"{V1}/shares/{{share_id}}/recall"): "publish",
    ("POST", f"{V1}/shares/{{share_id}}/sightings"): "publish",
    ("POST", f"{V1}/channels/{{ref}}/keys"): "publish",
    ("POST", f"{V1}/blind/envelopes"): "publish",
    ("POST", f"{V1}/import/misp"): "publish",  # publishes when given `to`
    ("POST", f"{V1}/import/text"): "publish",
    ("POST", f"{V1}/shares/{{share_id}}/consent"): "publish",  # ask for consent
    ("POST", f"{V1}/consent/{{request_id}}/answer"): "publish",  # grant or refuse
    ("POST", f"{V1}/shares/{{share_id}}/uses"): "publish",  # declare a use
    ("PUT", f"{V1}/match/index"): "publish",
    ("POST", f"{V1}/match/queries"): "publish",
    ("POST", f"{V1}/match/queries/{{query_id}}/evaluations"): "publish",
    ("POST", f"{V1}/match/queries/{{query_id}}/lookup"): "publish",
    ("POST", f"{V1}/match/queries/{{query_id}}/consent"): "publish",
    ("POST", f"{TAXII}/collections/{{cid}}/objects/"): "publish",
    ("DELETE", f"{TAXII}/collections/{{cid}}/objects/{{oid}}/"): "publish",
    ("POST", "/publish"): "publish",  # the console's forms
    ("POST", "/shares/{share_id}/recall"): "publish",
    ("POST", "/shares/{share_id}/sightings"): "publish",
    ("POST", "/shares/{share_id}/uses"): "publish",
    ("POST", "/shares/{share_id}/consent"): "publish",
    ("POST", "/consent/answer"): "publish",
    # administering the member
    ("POST", f"{V1}/channels"): "admin",
    ("POST", f"{V1}/channels/{{ref}}/members"): "admin",
    ("DELETE", f"{V1}/channels/{{ref}}/members/{{member_ref}}"): "admin",
    ("POST", f"{V1}/warninglists"): "admin",
    ("DELETE", f"{V1}/warninglists/{{name}}"): "admin",
    ("GET", f"{V1}/users"): "admin",
    ("POST", f"{V1}/users"): "admin",
    ("GET", f"{V1}/users/{{user}}/tokens"): "admin",
    ("POST", f"{V1}/users/{{user}}/rotate"): "admin",
    ("POST", f"{V1}/member/deactivate"): "admin",
    ("GET", f"{V1}/audit"): "admin",
    ("POST", f"{V1}/keys/rotate"): "admin",  # the member's keys (vigil.node.keylife)
    ("POST", f"{V1}/keys/recovery"): "admin",
    ("POST", f"{V1}/keys/recover"): "admin",
    ("POST", f"{V1}/keys/revoke"): "admin",
    ("POST", f"{V1}/rewraps"): "admin",
    ("GET", f"{V1}/federation/status"): "admin",  # the node's peer links
    ("GET", "/federation"): "admin",  # the console's page of them
    ("POST", "/warninglists"): "admin",  # the console's forms
    ("POST", "/feeds"): "admin",
    ("POST", f"{V1}/directory/entries"): "admin",  # a member's own key entries
    ("POST", f"{V1}/directory/take"): "admin",  # the member, moved here, hosted here
    ("POST", "/feeds/{name}/pull"): "admin",
}
SAFE = frozenset({"GET", "HEAD"})


class ScopeDenied(VigilError):
    code = "auth.scope"
    status = 403


def needed(method: str, path: str) -> str:
    """The scope a request to the route template ``path`` needs."""
    method = "GET" if method == "HEAD" else method
    return NEEDS.get((method, path), "read" if method in SAFE else "admin")


def require(actor: Actor, method: str, path: str) -> None:
    need = needed(method, path)
    if not allows(actor.scope, need):
        raise ScopeDenied(f"this token's scope ({actor.scope}) does not allow this; "
                          f"it needs {need}")
