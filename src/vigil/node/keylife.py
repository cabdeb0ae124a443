"""The node's side of the key life cycle: rotation, recovery keys, recovery,
revocation on compromise, expiry, and members' re-wrapped content keys.

Each change is one transaction that writes the key records, moves the directory version
and appends a ``member`` entry to the node's log (docs/protocol.md, "Key events"):

* ``rotate`` / ``recover``: ``sign_key``, ``enc_key`` (the new ids), ``previous``,
  ``statement`` and ``signatures`` (the member's signed statement, as sent);
* ``recovery-key``: ``sign_key``, ``enc_key`` (unchanged), ``recovery_key`` (its id),
  ``statement``, ``signatures``;
* ``revoke``: ``sign_key``, ``enc_key`` (the revoked ids), ``since`` (the revocation
  point), ``from_index`` (the first log index whose shares by that key are refused) and
  ``reason``;
* ``expiry``: ``sign_key``, ``enc_key``, ``expires``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from vigil import clock, params
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import ENC_ALGS, SIGN_ALGS, alg_of, is_key_id
from vigil.crypto.seal import WRAP_BLOB_LENS
from vigil.directory.log import DirectoryLog
from vigil.directory.revocation import revoke_at_home
from vigil.errors import Conflict, InputError, NotFound, PolicyDenied
from vigil.log.entries import ENTRY_VERSION
from vigil.model import Member
from vigil.node.exchange import Exchange
from vigil.node.keybook import KeyRecord
from vigil.protocol import key_statements as statements
from vigil.storage import keys as keys_sql
from vigil.storage import trust as trust_sql
from vigil.storage.base import Sql

WARN_BEFORE = timedelta(days=30)  # expiry warnings start this long before


def _entry(member: Member, event: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "member", "member": member.id, "event": event,
            "sign_key": member.sign_key_id, "enc_key": member.enc_key_id, "at": at,
            **fields}


def _keys(m: Member) -> tuple[tuple[str, str, bytes], ...]:
    return ((m.sign_key_id, "sign", m.sign_key), (m.enc_key_id, "enc", m.enc_key))


def _known(ex: Exchange, kid: str) -> bool:
    d = ex.directory()
    return kid in ex.keybook.records(d) or any(
        kid in (m.sign_key_id, m.enc_key_id) for m in d.members.values())


def rotate(ex: Exchange, member_id: str, doc: Any,
           also: Callable[[Sql], None] | None = None) -> Member:
    """Take a member's new keys on its signed rotation statement (signed by its current
    key and by the new one); the old keys are retired, not forgotten. ``also`` runs in
    the same transaction (the federation's key directory takes the rotation there)."""
    m = ex.directory().members[member_id]
    st, sigs = statements.check(doc, m.id, "rotate")
    return _replace(ex, m, st, sigs, doc, vouch=("old", m.sign_key), also=also)


def recover(ex: Exchange, member_id: str, doc: Any) -> Member:
    """Take a member's new keys on a statement signed by its registered recovery key
    (``keys.no_recovery`` when it registered none)."""
    m = ex.directory().members[member_id]
    st, sigs = statements.check(doc, m.id, "recover")
    public = ex.store.read(lambda sql: keys_sql.recovery_public(sql, m.id))
    if public is None:
        raise NotFound("this member registered no recovery key", code="keys.no_recovery")
    return _replace(ex, m, st, sigs, doc, vouch=("recovery", public))


def _replace(ex: Exchange, m: Member, st: dict[str, Any], sigs: dict[str, bytes],
             doc: Mapping[str, Any], *, vouch: tuple[str, bytes],
             also: Callable[[Sql], None] | None = None) -> Member:
    event = str(st["event"])
    if st["previous"] != {"sign_key": m.sign_key_id, "enc_key": m.enc_key_id}:
        raise Conflict("the statement names keys that are not the member's current ones",
                       code="keys.stale")
    sign = statements.public_of(st["sign_key"], SIGN_ALGS, "sign_key")
    enc = statements.public_of(st["enc_key"], ENC_ALGS, "enc_key")
    if _known(ex, sign[0]) or _known(ex, enc[0]):
        raise Conflict("a new key must never have been used before", code="keys.reused")
    if event == "rotate" and ex.keybook.revoked(ex.directory(), m.sign_key_id):
        raise PolicyDenied("a revoked key cannot vouch for a new one: recover with the "
                           "recovery key", code="keys.revoked")
    statements.check_signature(st, sigs[vouch[0]], vouch[1], vouch[0])
    statements.check_signature(st, sigs["new"], sign[1], "new")
    at = clock.now()

    def write(sql: Sql) -> None:
        for kid, use, public in _keys(m):
            keys_sql.retire_key(sql, m.id, kid, use, public, at)
        keys_sql.set_member_keys(sql, m.id, sign, enc)
        keys_sql.bump_directory(sql)
        new = Member(**{**_fields(m), "sign_key": sign[1], "sign_key_id": sign[0],
                        "enc_key": enc[1], "enc_key_id": enc[0]})
        ex.log.append(sql, _entry(new, event, at, previous=dict(st["previous"]),
                                  statement=dict(doc["statement"]),
                                  signatures=dict(doc["signatures"])))
        if also is not None:
            also(sql)

    ex.store.write(write)
    return ex.directory().members[m.id]


def _fields(m: Member) -> dict[str, Any]:
    return {k: getattr(m, k) for k in Member.__dataclass_fields__}


def register_recovery_key(ex: Exchange, member_id: str, doc: Any) -> str:
    """Register (or replace) a member's recovery key: a statement signed by its current
    signing key and by the recovery key. The recovery key's id."""
    m = ex.directory().members[member_id]
    st, sigs = statements.check(doc, m.id, "recovery-key")
    if st["previous"] != {"sign_key": m.sign_key_id, "enc_key": m.enc_key_id}:
        raise Conflict("the statement names keys that are not the member's current ones",
                       code="keys.stale")
    if ex.keybook.revoked(ex.directory(), m.sign_key_id):
        raise PolicyDenied("a revoked key cannot register a recovery key",
                           code="keys.revoked")
    kid, public = statements.public_of(st["recovery_key"], SIGN_ALGS, "recovery_key")
    if _known(ex, kid):
        raise Conflict("a recovery key must not be a member key", code="keys.reused")
    statements.check_signature(st, sigs["old"], m.sign_key, "old")
    statements.check_signature(st, sigs["new"], public, "recovery key")
    at = clock.now()

    def write(sql: Sql) -> None:
        keys_sql.put_recovery(sql, m.id, kid, public, at)
        ex.log.append(sql, _entry(m, "recovery-key", at, recovery_key=kid,
                                  statement=dict(doc["statement"]),
                                  signatures=dict(doc["signatures"])))

    ex.store.write(write)
    return kid


def revoke(ex: Exchange, member_ref: str, *, since: str | None = None,
           reason: str = "compromised") -> KeyRecord:
    """Revoke a member's current keys from ``since`` (default now; a time or a span back
    such as 2d): its shares signed with the key stored at or after that point are marked
    and refused by every surface, later signatures are refused, and what it signed
    before stays verifiable as "signed before revocation". ``keys.revoked`` if it already
    was. A member with a chain in this node's key directory gets, in the same
    transaction, the home node's ``revoke`` entry there with ``after`` = ``from_index``
    (:func:`vigil.directory.revocation.revoke_at_home`): peers and members' clients
    learn the same point from the witnessed directory."""
    m = ex.member(member_ref)
    at = clock.now()
    point = clock.fmt(params.since(since, name="since")) if since else at
    if point > at:
        raise InputError("the revocation point cannot be in the future",
                         code="input.out_of_range", pointer="/since")
    if ex.keybook.revoked(ex.directory(), m.sign_key_id):
        raise Conflict("this key is already revoked", code="keys.revoked")
    keydir = DirectoryLog(ex.store, ex.node_id, ex.node_key)

    def write(sql: Sql) -> None:
        marked = [(sid, idx) for sid, header, idx in keys_sql.shares_since(sql, m.id, point)
                  if orjson.loads(header).get("key") == m.sign_key_id]
        from_index = min((i for _, i in marked), default=keys_sql.log_size(sql))
        for sid, _ in marked:
            keys_sql.mark_share(sql, sid, m.sign_key_id, at)
        for kid, use, public in _keys(m):
            keys_sql.revoke_key(sql, m.id, kid, use, public, point, at, from_index)
        keys_sql.bump_directory(sql)
        ex.log.append(sql, _entry(m, "revoke", at, since=point, from_index=from_index,
                                  reason=reason))
        # the same point in the key directory, for peers and members' clients
        revoke_at_home(keydir, sql, m.id, from_index, ex.node_key, m.sign_key_id)

    keydir.write(write)
    got = ex.keybook.get(ex.directory(), m.sign_key_id)
    assert got is not None
    return got


def set_expiry(ex: Exchange, member_ref: str, expires: str) -> str:
    """Schedule the expiry of a member's current keys (logged); from then on the node
    refuses new shares signed with them (``keys.expired``) until the member rotates."""
    m = ex.member(member_ref)
    when = clock.parse_expiry(expires)
    at = clock.now()

    def write(sql: Sql) -> None:
        for kid, use, public in _keys(m):
            keys_sql.expire_key(sql, m.id, kid, use, public, when)
        keys_sql.bump_directory(sql)
        ex.log.append(sql, _entry(m, "expiry", at, expires=when))

    ex.store.write(write)
    return when


def expiry_warnings(ex: Exchange, *, now: datetime | None = None,
                    within: timedelta = WARN_BEFORE) -> list[dict[str, Any]]:
    """Members whose current keys expire within ``within`` (or have expired):
    ``[{member, name, key, expires, expired}]``."""
    d = ex.directory()
    moment = clock.fmt(now) if now else clock.now()
    horizon = clock.fmt((now or params.instant(moment)) + within)
    out = []
    for m in sorted(d.members.values(), key=lambda m: m.name):
        rec = ex.keybook.get(d, m.sign_key_id)
        if rec is not None and rec.expires is not None and rec.expires <= horizon:
            out.append({"member": m.id, "name": m.name, "key": m.sign_key_id,
                        "expires": rec.expires, "expired": rec.expires <= moment})
    return out


# -- re-wrapped content keys ---------------------------------------------------------

def put_rewraps(ex: Exchange, member_id: str, items: Any) -> int:
    """Store content keys the member wrapped again to its current key, for shares it may
    read (``[{share, key, blob}]``); the number stored. A share it may not read answers
    as a missing one (``share.not_found``)."""
    from vigil.policy.access import Access

    m = ex.directory().members[member_id]
    if not isinstance(items, list) or not items or len(items) > 1000:
        raise InputError("rewraps must be a list of 1 to 1000 {share, key, blob}",
                         code="input.rewrap", pointer="/rewraps")
    rows = []
    gate = Access(ex, member_id)
    for i, it in enumerate(items):
        p = f"/rewraps/{i}"
        if not isinstance(it, Mapping) or set(it) != {"share", "key", "blob"} or \
                not all(isinstance(it[k], str) for k in it):
            raise InputError("each rewrap is {share, key, blob}", code="input.rewrap",
                             pointer=p)
        if it["key"] != m.enc_key_id or not is_key_id(it["key"]):
            raise InputError("a rewrap is for the member's current encryption key",
                             code="input.rewrap", pointer=f"{p}/key")
        try:
            blob = b64u_decode(it["blob"])
        except ValueError:
            raise InputError("blob must be base64url", code="input.rewrap",
                             pointer=f"{p}/blob") from None
        if len(blob) != WRAP_BLOB_LENS[alg_of(it["key"])]:
            raise InputError("blob has the wrong length for the key's suite",
                             code="input.rewrap", pointer=f"{p}/blob")
        got = gate.fetch(it["share"])
        if got is None or not gate.readable(got[1]):
            raise NotFound(f"no share {it['share']}", code="share.not_found")
        rows.append((it["share"], member_id, it["key"], blob, clock.now()))

    def write(sql: Sql) -> None:
        for r in rows:
            keys_sql.put_rewrap(sql, *r)

    ex.store.write(write)
    return len(rows)


def rewrap_of(ex: Exchange, member_id: str, share_id: str) -> dict[str, str] | None:
    """The member's re-wrapped content key of a share, for its current key, if any."""
    m = ex.directory().members.get(member_id)
    row = ex.store.read(lambda sql: keys_sql.get_rewrap(sql, share_id, member_id))
    if m is None or row is None or row[0] != m.enc_key_id:
        return None
    return {"member": member_id, "key": row[0], "blob": b64u(row[1])}


INTRODUCING = ("add", "rotate", "recover")


def _key_entries(ex: Exchange, member_id: str) -> list[tuple[int, dict[str, Any]]]:
    rows = ex.store.read(keys_sql.member_entries)
    out = []
    for idx, data in rows:
        e = orjson.loads(bytes(data))
        if e.get("member") == member_id:
            out.append((int(idx), e))
    return out


def home_revocation(ex: Exchange, kid: str) -> int | None:
    """The revocation point of ``kid`` in its home node's log, when this node learnt one
    from the home's witnessed key directory (another node's member); None otherwise."""
    return ex.store.read(lambda sql: trust_sql.revocation_point(sql, kid))


def history(ex: Exchange, member_ref: str) -> list[dict[str, Any]]:
    """Every key record of a member (retired, expiring, revoked), current keys first.
    Each signing key carries ``log``: the log entry that introduced it, with its
    inclusion proof in the latest checkpoint; a revoked one also ``revoke_log``, the
    proof of its revocation entry (a client takes neither without them). A signing key
    that this node does not revoke itself but whose home node revoked it (another node's
    member, the revocation learnt from the home's witnessed key directory) carries
    ``revoked_at_home``: ``{"from_index"}``, the point in the home's log -- which this
    node's log cannot prove a share to come before; only the home's cosigned log can
    (:class:`vigil.trust_client.TrustingClient`)."""
    m = ex.member(member_ref)
    d = ex.directory()
    recs = []
    for use, kid, public in (("sign", m.sign_key_id, m.sign_key),
                             ("enc", m.enc_key_id, m.enc_key)):
        rec = ex.keybook.get(d, kid) or KeyRecord(kid, m.id, use, public, None, None, None,
                                                  None, None)
        recs.append((rec, True))
    recs += [(r, False) for r in ex.keybook.of_member(d, m.id)
             if r.key_id not in (m.sign_key_id, m.enc_key_id)]
    entries = _key_entries(ex, m.id)
    cp, note = ex.log.checkpoint()

    def proof(kid: str, events: tuple[str, ...]) -> dict[str, Any] | None:
        for idx, e in reversed(entries):
            if e.get("event") in events and e.get("sign_key") == kid and idx < cp.size:
                return {"index": idx, "size": cp.size, "entry": e, "checkpoint": note,
                        "proof": [b64u(h) for h in ex.log.inclusion(idx, cp.size)]}
        return None

    out = []
    for rec, current in recs:
        doc = rec.to_json() | {"current": current}
        if rec.use == "sign":
            doc["log"] = proof(rec.key_id, INTRODUCING)
            if rec.revoked:
                doc["revoke_log"] = proof(rec.key_id, ("revoke",))
            elif (at_home := home_revocation(ex, rec.key_id)) is not None:
                doc["revoked_at_home"] = {"from_index": at_home}
        out.append(doc)
    return out


__all__ = ["ENC_ALGS", "expiry_warnings", "history", "home_revocation", "put_rewraps",
           "recover", "register_recovery_key", "revoke", "rewrap_of", "rotate", "set_expiry"]
