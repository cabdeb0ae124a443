"""Channel keys (one per epoch, sealed by members to members) and the blind tokens a
sealed share to a channel carries, so the node can match it without reading it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from vigil.client.directory import Directory
from vigil.client.session import unb64
from vigil.errors import NotFound, VigilError
from vigil.model import Envelope
from vigil.protocol.envelope import envelope_to_json


class ChannelKeys(Directory):
    def channel_key(self, ref: str, *, create: bool = True) -> tuple[str, int, bytes]:
        """(channel id, epoch, key): the channel's current key, opened with the keyring.
        With ``create``, makes and stores a new epoch when the channel has none or a
        holder of the current one has left it. ``blind.no_copy`` when no member has
        sealed the current key to this member yet (``share_channel_key`` by a holder)."""
        from vigil.protocol.blind import new_channel_key, open_channel_key

        kr = self._need_keyring()
        for _ in range(3):
            st = self._call("GET", f"/api/v1/channels/{ref}/key")
            if create and (st["epoch"] == 0 or st["rotate"]):
                try:
                    self._put_channel_key(st, st["epoch"] + 1, new_channel_key(),
                                          [m["id"] for m in st["members"]])
                except VigilError as exc:
                    if exc.code != "blind.epoch_exists":
                        raise
                continue
            if st["sealed"] is None:
                raise NotFound(f"no copy of channel {ref}'s key epoch {st['epoch']} is "
                               "sealed to this member yet", code="blind.no_copy")
            got = (str(st["channel"]), int(st["epoch"]))
            if got not in self._channel_keys:
                self._channel_keys[got] = open_channel_key(
                    unb64(st["sealed"]["blob"]), got[0], got[1], kr.member_id,
                    kr.enc_private)
            return got[0], got[1], self._channel_keys[got]
        raise VigilError("the channel key kept changing; try again", code="blind.busy",
                         status=409)

    def share_channel_key(self, ref: str) -> list[str]:
        """Seal the current channel key to the channel members lacking it (new members);
        returns their ids."""
        _, epoch, key = self.channel_key(ref, create=False)
        st = self._call("GET", f"/api/v1/channels/{ref}/key")
        if st["epoch"] != epoch or not st["missing"]:
            return []
        self._put_channel_key(st, epoch, key, st["missing"])
        return list(st["missing"])

    def _put_channel_key(self, st: dict[str, Any], epoch: int, key: bytes,
                         members: Sequence[str]) -> None:
        from vigil.crypto.encoding import b64u
        from vigil.protocol.blind import seal_channel_key

        proven = self.proven_members([str(m["id"]) for m in st["members"]])
        keys = {m: proven[m]["enc_key"] for m in proven}
        sealed = [{"member": m, "key": keys[m]["id"],
                   "blob": b64u(seal_channel_key(key, st["channel"], epoch, m, keys[m]["id"],
                                                 unb64(keys[m]["public"])))}
                  for m in members]
        self._call("POST", f"/api/v1/channels/{st['channel']}/keys",
                   json={"epoch": epoch, "sealed": sealed})
        self._channel_keys[(str(st["channel"]), epoch)] = key

    def _publish_blind(self, env: Envelope, bundle: bytes, channel: str) -> dict[str, Any]:
        from vigil.client.blind import bundle_tokens
        from vigil.crypto.encoding import b64u

        body: dict[str, Any] = {"envelope": envelope_to_json(env)}
        try:
            channel_id, epoch, key = self.channel_key(channel)
        except NotFound as exc:
            if exc.code != "blind.no_copy":
                raise
        else:
            body["blind"] = {"channel": channel_id, "epoch": epoch,
                             "tokens": [b64u(t) for t in bundle_tokens(key, bundle)]}
        out: dict[str, Any] = self._call(
            "POST", "/api/v1/blind/envelopes", content=orjson.dumps(body),
            headers={"Content-Type": "application/json"})
        return out

    def blind_matches(self, after: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Blind-match notices between shares this member may read."""
        doc = self._call("GET", "/api/v1/blind/matches", params={"after": after, "limit": limit})
        return list(doc["matches"]), int(doc["next"])
