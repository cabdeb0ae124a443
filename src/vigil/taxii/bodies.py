"""The served bytes of indexed TAXII objects: a row's own ``obj``, or the slice of its
share's payload that ``body_at`` and ``body_len`` name (``vigil.taxii.index``).

Payloads read for a page are kept in a cache bounded by bytes, so that paging through
a large share reads its payload once, not once per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil.lru import Lru
from vigil.storage import Store
from vigil.storage import taxii as stored

Span = tuple[int, bytes, int | None, int | None]  # share seq, obj, body_at, body_len

CACHE_BYTES = 32 * 1024 * 1024


class Bodies:
    def __init__(self, store: Store, max_bytes: int = CACHE_BYTES) -> None:
        self.store = store
        self.payloads: Lru[int, bytes] = Lru(1024, max_bytes=max_bytes, weigh=len)

    def of(self, spans: Sequence[Span]) -> list[bytes | None]:
        """Each span's bytes, in order (None: its share's payload is gone)."""
        held = self._payloads(s for s, _, at, _ in spans if at is not None)
        out: list[bytes | None] = []
        for share, obj, at, n in spans:
            if at is None:
                out.append(bytes(obj))
                continue
            payload = held.get(share)
            out.append(None if payload is None or n is None else payload[at:at + n])
        return out

    def _payloads(self, seqs: Iterable[int]) -> dict[int, bytes]:
        held: dict[int, bytes] = {}
        todo = []
        for seq in dict.fromkeys(seqs):
            got = self.payloads.get(seq)
            if got is None:
                todo.append(seq)
            else:
                held[seq] = got
        if todo:
            read = self.store.read(lambda sql: stored.payloads(sql, todo))
            for seq, payload in read.items():
                self.payloads.put(seq, payload)
            held.update(read)
        return held
