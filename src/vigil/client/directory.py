"""Members and channels of the node's directory, and who signed a share. A member's keys
are taken only with the proof that the node's log holds their key entry; a signature is
checked only against keys so proven (docs/protocol.md, "Key events")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.client.keys import signing_key
from vigil.client.proofs import LogProofs
from vigil.client.session import unb64
from vigil.crypto.keys import enc_alg_of_public, key_id, sign_alg_of_public
from vigil.errors import CryptoError, PolicyDenied
from vigil.model import Envelope, Provenance
from vigil.policy.suites import SUITE_REQUIRED, meets_hybrid
from vigil.protocol.envelope import verify_envelope, verify_header

# log entries of a member that name its current keys (docs/protocol.md, "Key events")
KEY_EVENTS = ("add", "activate", "rotate", "recover", "recovery-key", "expiry", "revoke")


class Directory(LogProofs):
    def me(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/api/v1/me")
        return out

    def members(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/members")["members"]
        return out

    def member(self, ref: str) -> dict[str, Any]:
        """A member with its public keys, taken only with proof: the node's log holds
        its key entry (naming exactly these keys) in a checkpoint consistent with every
        one this client accepted (``log.missing_proof``, ``log.key_mismatch``, ...)."""
        if ref not in self._keys:
            return self._proven(self._call("GET", f"/api/v1/members/{ref}"))
        return self._keys[ref]

    def _proven(self, m: dict[str, Any]) -> dict[str, Any]:
        if self.verify_log:
            entry = (m.get("log") or {}).get("entry")
            if not isinstance(entry, dict):
                raise CryptoError(f"member {m.get('name')!r} came without the log proof of "
                                  "its keys", code="log.missing_proof")
            try:
                sign_raw, enc_raw = unb64(m["sign_key"]["public"]), unb64(m["enc_key"]["public"])
                sign_id = key_id(sign_alg_of_public(sign_raw), sign_raw)
                enc_id = key_id(enc_alg_of_public(enc_raw), enc_raw)
            except (KeyError, TypeError, ValueError) as exc:
                raise CryptoError("a member's keys are malformed",
                                  code="crypto.bad_key") from exc
            if (entry.get("kind") != "member" or entry.get("member") != m["id"]
                    or entry.get("event") not in KEY_EVENTS
                    or entry.get("sign_key") != sign_id or m["sign_key"]["id"] != sign_id
                    or entry.get("enc_key") != enc_id or m["enc_key"]["id"] != enc_id):
                raise CryptoError(f"member {m.get('name')!r}: the keys served are not the "
                                  "ones its log entry names", code="log.key_mismatch")
            self.log_verifier().verify_entry(entry, m["log"])
        self._keys[m["id"]] = m
        self._keys[m["name"]] = m
        return m

    def forget_member(self, ref: str) -> None:
        """Drop what this client knows of a member's keys (after a key event)."""
        m = self._keys.pop(ref, None)
        if m is not None:
            self._keys.pop(m["id"], None)
            self._keys.pop(m["name"], None)

    def proven_members(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``member()`` for several members: those not known yet one by one when they are
        few, else with one request for the whole directory with its proofs."""
        unknown = [i for i in ids if i not in self._keys]
        if len(unknown) <= 2:
            for i in unknown:
                self.member(i)
        else:
            want = set(unknown)
            for m in self._call("GET", "/api/v1/members", params={"log": "true"})["members"]:
                if m.get("id") in want and m.get("id") not in self._keys:
                    self._proven(m)
        missing = [i for i in ids if i not in self._keys]
        if missing:
            raise CryptoError(f"no proven keys for {', '.join(missing)}",
                              code="log.missing_proof")
        return {i: self._keys[i] for i in ids}

    def channels(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._call("GET", "/api/v1/channels")["channels"]
        return out

    def channel(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/v1/channels/{ref}")
        return out

    def create_channel(self, name: str, kind: str, members: Sequence[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", "/api/v1/channels",
                                         json={"name": name, "kind": kind,
                                               "members": list(members)})
        return out

    def channel_add(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"/api/v1/channels/{ref}/members",
                                         json={"member": member})
        return out

    def channel_remove(self, ref: str, member: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("DELETE", f"/api/v1/channels/{ref}/members/{member}")
        return out

    # -- publishing ----------------------------------------------------------------
    def verify(self, env: Envelope, *, header_only: bool = False) -> str:
        """Check the envelope's signature against the signer's published key; return who
        signed, in plain words. Raises CryptoError if it does not verify.
        ``header_only``: a recalled or purged share, whose payload is gone."""
        check = verify_header if header_only else verify_envelope
        h = env.header
        if self.require_hybrid and not meets_hybrid(h):
            raise PolicyDenied("the share is not signed and sealed in the hybrid suites",
                               code=SUITE_REQUIRED)
        if h.get("provenance") == Provenance.ATTESTED.value:
            node = self.node()
            if node["sign_key"]["id"] != h["key"] or (self.verify_log and unb64(
                    node["sign_key"]["public"]) != self.log_verifier().public_raw):
                # the node attests with the key that signs its log checkpoints, which
                # the checkpoint state pins
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            check(env, unb64(node["sign_key"]["public"]))
            posted = h.get("posted_by")
            who = self.member(posted["member"] if posted else env.originator)
            return (f"attested by node {node['name']} ({node['id']}): received from "
                    f"{who['display_name']} (member:{who['name']}), verified")
        m = self.member(env.originator)
        public, note = signing_key(self, m, env)
        check(env, public)
        return (f"signed by {m['display_name']} (member:{m['name']}, {h['key']}), verified"
                + (f", {note}" if note else ""))
