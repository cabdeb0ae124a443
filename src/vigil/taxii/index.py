"""The TAXII object index, written in the transaction that stores a share.

For every share: one ``taxii_shares`` row (its seq, channel, form, time stored, and the
originator's position for it when the originator is not a recipient). Nothing per
member: a member's collections are its inbox rows and its own shares (a member may read
a TAXII object iff it may read the share that carries it, and the access gate reads
only those two), in the order of their positions; the gate still decides every read
(``vigil.taxii.view``). For a plain share, one
``taxii_objects`` row per STIX object: its position in the bundle, id, type, version
(normalised ``modified``, else ``created``, else the time stored), spec version and
where its compact JSON lies in the share's payload (offset and length), so a page is
served by splicing slices of stored payloads (``vigil.taxii.bodies``); an object whose
compact JSON the payload does not hold as such keeps it in the row. A sealed share gets one
placeholder row (position -1, empty id and type) and nothing of its content: the node
opens it, for a member whose keyring it holds, when a page reaches it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from vigil import clock
from vigil.model import Envelope, Form
from vigil.node.hooks import ShareHook, SharesHook
from vigil.stix import parsed
from vigil.storage import Store
from vigil.storage import taxii as stored
from vigil.storage.base import Sql, envelope_from_row, serialize_writes
from vigil.taxii.query import norm_time

SEALED_POS = -1

Row = tuple[int, int, str, str, str, str, bytes, int | None, int | None]
SPAN_SLACK = 64  # bytes between two objects of a payload searched for the next one


# the objects of a share mostly carry a few times (an event's attributes, each written
# as three or four objects of one time)
_norm_time = functools.lru_cache(maxsize=4096)(norm_time)


def object_row(seq: int, pos: int, obj: dict[str, Any], added_norm: str
               ) -> tuple[int, int, str, str, str, str, bytes]:
    version = obj.get("modified") or obj.get("created")
    norm = _norm_time(version) if isinstance(version, str) else None
    return (seq, pos, str(obj["id"]), str(obj["type"]), norm or added_norm,
            str(obj.get("spec_version", "2.1")), orjson.dumps(obj))


def opened_rows(plain: bytes, added_norm: str) -> list[tuple[int, str, str, str, str, bytes]]:
    """(pos, id, type, version, spec_version, body) of each object of an opened sealed
    share's bundle (what ``object_row`` gives, without the share); run in a bundle
    worker for a large payload (``BundlePool.run``)."""
    out = []
    for pos, obj in enumerate(orjson.loads(plain).get("objects", [])):
        _, _, oid, typ, version, spec, body = object_row(0, pos, obj, added_norm)
        out.append((pos, oid, typ, version, spec, body))
    return out


def object_rows(seq: int, payload: bytes, added: str) -> list[Row]:
    """The index rows of a plain share's bundle (parsed once per publish:
    ``vigil.stix.parsed``). An object whose served bytes (its compact JSON) occur in the
    payload is stored as their offset and length there (``obj`` empty); any other
    (a payload with spaces inside an object, escapes written differently) keeps its
    JSON in ``obj``. Each object is looked for just after the one before; after an
    object not found, in the rest of the payload; after two in a row, no more (a
    payload not written compactly): a payload is scanned about once."""
    added_norm = norm_time(added) or added
    objects = parsed.objects_of(payload)
    rows: list[Row] = []
    cursor, misses = 0, 1  # the first object is looked for in the whole payload
    for pos, obj in enumerate(objects):
        row = object_row(seq, pos, obj, added_norm)
        body = row[6]
        at = -1
        if misses == 0:
            at = payload.find(body, cursor, cursor + len(body) + SPAN_SLACK)
        elif misses == 1:
            at = payload.find(body, cursor)
        if at < 0:
            rows.append((*row, None, None))
            misses = min(misses + 1, 2)
            continue
        misses, cursor = 0, at + len(body)
        rows.append((*row[:6], b"", at, len(body)))
    return rows


class _Pending(threading.local):
    row: tuple[str, str, bytes, str] | None = None
    written = False


_pending = _Pending()


def pend_status(row: tuple[str, str, bytes, str] | None) -> bool:
    """Have the next share transaction of this thread store this TAXII status row
    ``(id, member, body, created)`` (None: none); whether the one pended before was
    stored."""
    written = _pending.written
    _pending.row, _pending.written = row, False
    return written


def write_index(sql: Sql, seq: int, env: Envelope, recipients: Sequence[str], added: str
                ) -> None:
    channel = env.channel or ""
    sealed = env.form is Form.SEALED
    if not stored.insert_share(sql, seq, env.id, env.originator, channel, sealed, added,
                               own=env.originator not in recipients):
        return  # indexed already (a concurrent backfill)
    if sealed:
        stored.insert_objects(sql, [(seq, SEALED_POS, "", "", "", "", b"", None, None)])
    elif env.payload:  # (a recalled or purged share's payload is gone)
        stored.insert_objects(sql, object_rows(seq, env.payload, added))


def index_share(sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
    """``Exchange.share_tx_hooks`` entry: index a new share in its own transaction."""
    seq = stored.share_seq(sql, env.id)
    added = stored.added_for(sql, recipients[0], env.id) if recipients else None
    write_index(sql, seq, env, recipients, added or clock.now())
    status = _pending.row
    if status is not None:  # the status of the TAXII POST that publishes this share
        stored.insert_status(sql, status)  # (again, should the transaction be retried)
        _pending.written = True


def index_shares(sql: Sql, shares: Sequence[tuple[Envelope, tuple[str, ...]]]) -> None:
    """``index_share`` for several new shares of one transaction (a received federation
    batch), in order: the same rows, with a few statements for all of them."""
    seqs = stored.share_seqs(sql, [env.id for env, _ in shares])
    added = stored.added_many(sql, [(r[0], env.id) for env, r in shares if r])
    now = clock.now()
    rows = [(seqs[env.id], env.id, env.originator, env.channel or "",
             env.form is Form.SEALED, added.get(env.id) or now) for env, _ in shares]
    fresh = stored.insert_shares(sql, rows, [env.originator not in recipients
                                             for env, recipients in shares])
    objects: list[Row] = []
    for (env, _), (seq, _, _, _, sealed, at) in zip(shares, rows, strict=True):
        if seq not in fresh:
            continue  # indexed already (a concurrent backfill)
        if sealed:
            objects.append((seq, SEALED_POS, "", "", "", "", b"", None, None))
        elif env.payload:
            objects.extend(object_rows(seq, env.payload, at))
    if objects:
        stored.insert_objects(sql, objects)
    status = _pending.row
    if status is not None:
        stored.insert_status(sql, status)
        _pending.written = True


def drop_objects(sql: Sql, share_id: str) -> None:
    """``Exchange.purge_tx_hooks`` entry: a recalled or purged share's payload is
    removed, and so are the copies of its objects in the index."""
    stored.drop_objects(sql, share_id)


def install(share_hooks: list[ShareHook], purge_hooks: list[Callable[[Sql, str], None]],
            many: dict[ShareHook, SharesHook] | None = None) -> None:
    """Register the index with an Exchange's ``share_tx_hooks`` and ``purge_tx_hooks``
    (once), and its form for several shares in ``many`` (``share_tx_many``)."""
    if index_share not in share_hooks:
        share_hooks.append(index_share)
    if many is not None:
        many[index_share] = index_shares
    if drop_objects not in purge_hooks:
        purge_hooks.append(drop_objects)


def backfill(store: Store, batch: int = 200) -> int:
    """Index the shares stored before the index existed; returns how many."""
    done = 0
    while True:
        def step(sql: Sql) -> int:
            serialize_writes(sql)
            rows = stored.unindexed(sql, batch)
            for seq, header, signature, payload, wraps in rows:
                env = envelope_from_row(header, signature, payload, wraps)
                recipients = env.recipients
                got = stored.added_for(sql, recipients[0], env.id) if recipients else None
                write_index(sql, int(seq), env, recipients, got or env.created)
            return len(rows)

        n = store.write(step)
        done += n
        if n < batch:
            return done
