"""A share fetched, verified and opened, and what members say about shares: sightings
and the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from vigil.client.directory import Directory
from vigil.client.keys import open_held
from vigil.client.receipts import Receipts
from vigil.client.session import envelope_of
from vigil.errors import VigilError
from vigil.model import Envelope, Form


@dataclass(frozen=True, slots=True)
class Share:
    """A share as a member sees it: verified envelope and, when it could be opened, the
    plaintext STIX bundle."""

    envelope: Envelope
    state: dict[str, Any]
    signer: str  # plain words: who signed and how
    verified: bool
    bundle: bytes | None  # None: sealed and no key to open it here
    opened_by: str | None  # "client" | "node" | None
    log_index: int | None = None  # its entry in the node's log, proof checked

    @property
    def id(self) -> str:
        return self.envelope.id

    def stix(self) -> dict[str, Any] | None:
        if self.bundle is None:
            return None
        doc: dict[str, Any] = orjson.loads(self.bundle)
        return doc



class Shares(Directory, Receipts):
    def sight(self, share_id: str, indicator: str, verdict: str = "sighted", *, count: int = 1,
              first_seen: str | None = None, last_seen: str | None = None,
              disclose: bool = False) -> dict[str, Any]:
        """Report a sighting (or a false positive, or an expiry) of an indicator."""
        body: dict[str, Any] = {"indicator": indicator, "verdict": verdict, "count": count,
                                "disclose": disclose}
        if first_seen is not None:
            body["first_seen"] = first_seen
        if last_seen is not None:
            body["last_seen"] = last_seen
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share_id}/sightings",
                                         json=body)
        return out

    def sightings(self, share_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share_id}/sightings")
        return out

    def ledger(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/ledger")
        return out

    def envelope(self, share_id: str) -> tuple[Envelope, dict[str, Any]]:
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        return envelope_of(doc), doc["state"]

    # -- the node's log -------------------------------------------------------------

    def get(self, share_id: str, *, purpose: str | None = None) -> Share:
        """Fetch a share, verify its signature, and open it: with the keyring here, or
        through the node when the node holds this member's keys. A share holding
        personal data opens only with a ``purpose``, recorded for its originator."""
        doc = self._call("GET", f"/api/v1/shares/{share_id}")
        env, state = envelope_of(doc), doc["state"]
        if state.get("recalled") or state.get("purged"):
            if state.get("recalled"):
                self._recalled(env)
            return Share(env, state, "withdrawn: the node removed its payload", False, None,
                         None, self._logged(env, doc.get("log")))
        signer = self.verify(env)
        logged = self._logged(env, doc.get("log"))
        bundle: bytes | None = None
        opened: str | None = None
        from vigil.intel.handling import OPEN, personal_data, require_purpose
        if personal_data(env.header):
            me = self.keyring.member_id if self.keyring is not None \
                else str(self.me()["member"]["id"])
            local = env.form is Form.PLAIN or self.keyring is not None
            if require_purpose(env.header, me, purpose) and local:
                self._call("POST", f"/api/v1/shares/{share_id}/uses",
                           json={"use": OPEN, "purpose": purpose})
        if env.form is Form.PLAIN:
            bundle, opened = env.payload, "plain"
        elif self.keyring is not None:
            bundle, opened = open_held(self, env), "client"
        else:
            try:
                bundle = self._call("GET", f"/api/v1/shares/{share_id}/content",
                                    params={"purpose": purpose} if purpose else None)
                opened = "node"
            except VigilError as exc:
                if exc.code != "share.sealed":
                    raise
        if bundle is not None and opened != "node":
            self._auto_receipt(env, "opened")
        return Share(env, state, signer, True, bundle, opened, logged)

    # -- receipts and recall (docs/accountability.md) ---------------------------------
