"""The node's log as this client checks it: checkpoints accepted only when consistent
with the last one, a share's inclusion proof, and the watch of the log entries about
this member (docs/log.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.client.session import Session
from vigil.crypto.encoding import b64u_decode
from vigil.errors import CryptoError
from vigil.log.checkpoint import Checkpoint
from vigil.log.note import parse_vkey
from vigil.log.verifier import LogVerifier
from vigil.model import Envelope


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An entry of the node's log about this member, its inclusion proven: a key entry
    in its name (``foreign``: keys its keyring did not make), or the recall or purge of
    a share addressed to it."""

    index: int
    entry: dict[str, Any]
    foreign: bool = False

    @property
    def kind(self) -> str:
        return str(self.entry["kind"])


@dataclass(frozen=True, slots=True)
class LogWatch:
    events: list[LogEvent]
    next: int  # where the next watch starts

    @property
    def foreign(self) -> list[LogEvent]:
        return [e for e in self.events if e.foreign]


class LogProofs(Session):
    def log_verifier(self) -> LogVerifier:
        """The checker of this node's log, holding the checkpoints accepted so far."""
        if self._log is None:
            info = self.node()["log"]
            name, public = parse_vkey(info["vkey"])
            self._log = LogVerifier(info["origin"], name, public, self._consistency,
                                    self.log_state)
        return self._log

    def _consistency(self, first: int, second: int) -> list[bytes]:
        doc = self._call("GET", "/api/v1/log/consistency",
                         params={"from": first, "to": second})
        return [b64u_decode(h) for h in doc["proof"]]

    def checkpoint(self) -> Checkpoint:
        """The node's latest signed checkpoint, accepted only if it extends the last one
        this client accepted (CryptoError log.rollback / log.fork otherwise)."""
        doc = self._call("GET", "/api/v1/log/checkpoint")
        return self.log_verifier().accept(doc["checkpoint"], latest=True)

    def watch_log(self, after: int | None = None) -> LogWatch:
        """The log entries about this member from index ``after`` (default: where the
        last watch kept in the checkpoint state stopped) to the node's latest
        checkpoint, each proven by an inclusion proof in it: key entries in this
        member's name (``foreign`` when they name keys its keyring did not make) and the
        recalls and purges of shares addressed to it. Needs the keyring."""
        from vigil.crypto.encoding import b64u
        from vigil.log.entries import entry_bytes
        from vigil.log.merkle import leaf_hash, verify_inclusion

        kr = self._need_keyring()
        me = kr.member_id
        v = self.log_verifier()
        start = v.marks.get("watch", 0) if after is None else after
        cp = self.checkpoint()
        events: list[LogEvent] = []
        while start < cp.size:
            doc = self._call("GET", "/api/v1/log/entries",
                             params={"start": start, "end": min(cp.size, start + 5000)})
            for k, item in enumerate(doc["entries"]):
                index = int(item["index"])
                if index != start + k:  # every leaf, hidden ones as their hash only
                    raise CryptoError(f"the node left log entry {start + k} out",
                                      code="log.missing_entries")
                e = item.get("entry")
                if not isinstance(e, dict):
                    continue
                leaf = leaf_hash(entry_bytes(e))
                if b64u(leaf) != item.get("leaf_hash"):
                    raise CryptoError(f"log entry {index} does not hash to its leaf",
                                      code="log.bad_entry")
                about = e.get("member") == me if e.get("kind") == "member" else \
                    e.get("kind") in ("recall", "purge") and me in (e.get("to") or [])
                if not about:
                    continue
                proof = self._call("GET", "/api/v1/log/inclusion",
                                   params={"index": index, "size": cp.size})["proof"]
                verify_inclusion(leaf, index, cp.size, [b64u_decode(h) for h in proof],
                                 cp.root)
                own = [(k.sign_key_id, k.enc_key_id) for k in (kr, *self.retired_keyrings)]
                foreign = e["kind"] == "member" and e.get("event") != "revoke" and (
                    (e.get("sign_key"), e.get("enc_key")) not in own)
                events.append(LogEvent(index, e, foreign))
            nxt = start + len(doc["entries"])
            if nxt == start:
                raise CryptoError("the node's log entries stop before its checkpoint",
                                  code="log.missing_entries")
            start = nxt
        v.mark("watch", max(start, cp.size))
        return LogWatch(events, max(start, cp.size))

    def _logged(self, env: Envelope, log: dict[str, Any] | None) -> int | None:
        """The share's log index, its inclusion proof checked. A page or an event that
        came without the proof (a node's cache may miss it) asks for it once more."""
        if not self.verify_log:
            return None
        if not log:
            log = self._call("GET", f"/api/v1/shares/{env.id}").get("log")
        return self.log_verifier().verify_share(env, log)
