"""What a node knows of its members' keys beyond the current ones: retired keys (still
good for what they signed and sealed before), expiries, revocations and the shares a
revocation marks. Read once per directory version (every key change moves it)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vigil import clock
from vigil.errors import CryptoError, PolicyDenied
from vigil.model import Directory, ShareHeader
from vigil.storage import keys as keys_sql
from vigil.storage.base import Sql, Store


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    member: str
    use: str  # sign | enc
    public: bytes
    retired: str | None
    expires: str | None
    revoked_since: str | None  # the revocation point
    revoked_at: str | None  # when the revocation was made
    revoked_index: int | None  # log index from which the key's shares are refused

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        from vigil.crypto.encoding import b64u
        from vigil.crypto.keys import alg_of

        return {"id": self.key_id, "use": self.use, "alg": alg_of(self.key_id),
                "public": b64u(self.public), "retired": self.retired,
                "expires": self.expires,
                "revoked": None if not self.revoked else {
                    "since": self.revoked_since, "at": self.revoked_at,
                    "from_index": self.revoked_index}}


def record_of(row: Any) -> KeyRecord:
    return KeyRecord(str(row[0]), str(row[1]), str(row[2]), bytes(row[3]), row[4], row[5],
                     row[6], row[7], None if row[8] is None else int(row[8]))


class KeyBook:
    """The node's key records, cached per directory (a key change moves its version)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cached: tuple[Directory | None, dict[str, KeyRecord], frozenset[str]] = \
            (None, {}, frozenset())

    def _load(self, directory: Directory) -> tuple[dict[str, KeyRecord], frozenset[str]]:
        with self._lock:
            d, records, marked = self._cached
            if d is directory:
                return records, marked

        def read(sql: Sql) -> tuple[list[Any], list[str]]:
            return keys_sql.key_rows(sql), keys_sql.marked_share_ids(sql)

        rows, shares = self.store.read(read)
        records = {str(r[0]): record_of(r) for r in rows}
        marked = frozenset(shares)
        with self._lock:
            self._cached = (directory, records, marked)
        return records, marked

    def records(self, directory: Directory) -> dict[str, KeyRecord]:
        return self._load(directory)[0]

    def of_member(self, directory: Directory, member: str) -> list[KeyRecord]:
        return sorted((r for r in self.records(directory).values() if r.member == member),
                      key=lambda r: (r.use, r.retired or "~", r.key_id))

    def get(self, directory: Directory, kid: str) -> KeyRecord | None:
        return self.records(directory).get(kid)

    def revoked(self, directory: Directory, kid: object) -> KeyRecord | None:
        got = self.records(directory).get(str(kid))
        return got if got is not None and got.revoked else None

    def marked(self, directory: Directory, share_ids: Iterable[str]) -> set[str]:
        """The ids among ``share_ids`` signed with a revoked key at or after its
        revocation point."""
        marked = self._load(directory)[1]
        return {s for s in share_ids if s in marked} if marked else set()

    def signer(self, directory: Directory, member: str, kid: str) -> bytes:
        """The public signing key ``kid`` of ``member``: its current key or a retired
        one (``crypto.unknown_key`` otherwise). A revoked key is still returned: what it
        signed before the revocation point stays verifiable; the marked shares after it
        are refused by the gate."""
        m = directory.members.get(member)
        if m is not None and m.sign_key_id == kid:
            return m.sign_key
        rec = self.records(directory).get(kid)
        if rec is None or rec.member != member or rec.use != "sign":
            raise CryptoError("signed with an unknown key", code="crypto.unknown_key")
        return rec.public

    def check_signing(self, directory: Directory, header: ShareHeader) -> None:
        """Refuse a new share signed with a revoked (``keys.revoked``) or expired
        (``keys.expired``) key; called where every share enters the store."""
        kid = header.get("key")
        rec = self.records(directory).get(kid) if isinstance(kid, str) else None
        if rec is None:
            return
        if rec.revoked:
            raise PolicyDenied(f"the key {kid} was revoked ({rec.revoked_since}); nothing "
                               "signed with it is taken", code="keys.revoked")
        if rec.retired is not None:
            raise PolicyDenied(f"the key {kid} was replaced at {rec.retired}",
                               code="keys.retired")
        if rec.expires is not None and rec.expires <= clock.now():
            raise PolicyDenied(f"the key {kid} expired at {rec.expires}: rotate it "
                               "(vigil key rotate)", code="keys.expired")
