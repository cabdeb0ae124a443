"""Signed receipts of delivery, opening and recall, and recalls
(docs/accountability.md)."""

from __future__ import annotations

import logging
from typing import Any

from vigil.client.session import Session
from vigil.errors import InputError, VigilError
from vigil.model import Envelope

_log = logging.getLogger(__name__)


class Receipts(Session):
    def receipt(self, share: str, what: str) -> dict[str, Any]:
        """Sign and send this member's receipt of a share: ``received``, ``opened`` or
        ``recall-ack``. Idempotent at the node."""
        from vigil.crypto.encoding import b64u
        from vigil.protocol.receipts import receipt_object, sign_receipt

        kr = self.keyring
        if kr is None:
            raise InputError("receipts are signed with the member's keyring",
                             code="keyring.required")
        obj = receipt_object(share, kr.member_id, what, kr.sign_key_id)
        out: dict[str, Any] = self._call(
            "POST", f"/api/v1/shares/{share}/receipts",
            json={"receipt": obj, "signature": b64u(sign_receipt(obj, kr.sign_private))})
        self._receipted.add((share, what))
        return out

    def receipts(self, share: str) -> dict[str, Any]:
        """For a share this member published: who received, opened and (after a
        recall) acknowledged it, and who has not."""
        out: dict[str, Any] = self._call("GET", f"/api/v1/shares/{share}/receipts")
        return out

    def recall(self, share: str) -> dict[str, Any]:
        """Recall a share this member published: signed here with the keyring, or
        (without one) by the node with the keyring it holds or, for a share it attested,
        its own key."""
        body: dict[str, Any] | None = None
        if self.keyring is not None:
            from vigil.crypto.encoding import b64u
            from vigil.protocol.receipts import recall_object, sign_recall

            kr = self.keyring
            obj = recall_object(share, kr.member_id, kr.sign_key_id)
            body = {"recall": obj, "signature": b64u(sign_recall(obj, kr.sign_private))}
        out: dict[str, Any] = self._call("POST", f"/api/v1/shares/{share}/recall", json=body)
        return out

    def _auto_receipt(self, env: Envelope, what: str) -> None:
        if self.keyring is None or not self.send_receipts or (env.id, what) in self._receipted \
                or env.originator == self.keyring.member_id:
            return
        try:
            self.receipt(env.id, what)
        except VigilError:
            _log.warning("could not send the %s receipt of %s", what, env.id, exc_info=True)

    def _recalled(self, env: Envelope) -> None:
        """Its originator recalled this share: drop every copy here, acknowledge."""
        for drop in self.on_recall:
            drop(env.id)
        self._auto_receipt(env, "recall-ack")
