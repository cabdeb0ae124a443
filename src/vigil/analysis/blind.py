"""Blind correlation of sealed shares: channel keys, keyed tokens, matching.

The node cannot read a sealed payload, so the members of a channel correlate for it:

* A **channel key** (32 random bytes) per channel and *epoch*, made by a member's client
  and sealed to each channel member's X25519 key with HPKE (the suite of
  ``vigil.crypto.seal``) under ``info = b"vigil/channel-key/v1\\0" + channel_id + b"\\0" +
  epoch (decimal) + b"\\0" + member_id + b"\\0" + key_id``. The node stores only these
  sealed copies, one per member and epoch.
* A **token** per normalised observable: ``HMAC-SHA256(channel_key,
  b"vigil/blind-token/v1\\0" + kind + b":" + value)`` (``Observable.key`` in UTF-8).
  The client sends the share's tokens beside the envelope; they are not covered by the
  originator's signature (docs/protocol.md says why).
* The node **matches** tokens of shares of the same channel and epoch, and tells both
  sides, each about the shares it may read.

A member that leaves a channel (or is deactivated) still holds the old key, so a channel
whose current epoch was sealed to a member no longer in it needs a new epoch: the node
refuses tokens under the old one (``blind.rotate``) and the next publishing client makes
epoch n+1 for the remaining members. The same happens when a holder's key changed
(rotation, recovery: the copy is sealed to a key that may be compromised) and on a
schedule, once an epoch is older than ``EPOCH_MAX_AGE`` (:func:`must_rotate`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.analysis.sightings import readable_share
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.kem import blob_len
from vigil.crypto.keys import ENC_ALGS, alg_of, is_key_id
from vigil.errors import Conflict, InputError, NotFound, PolicyDenied
from vigil.model import Envelope, Form
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.policy.decide import channel_members
from vigil.protocol.blind import CHANNEL_KEY_LEN, TOKEN_LEN
from vigil.storage import blind as stored
from vigil.storage.base import Sql, take_positions

# HPKE enc || AEAD(key), by the suite of the member's key (80 x25519, 1168 hybrid)
SEALED_KEY_LENS: dict[str, int] = {alg: blob_len(alg, CHANNEL_KEY_LEN) for alg in ENC_ALGS}
MAX_TOKENS = 100_000
MAX_EPOCH = 2**31
EPOCH_MAX_AGE = timedelta(days=90)  # a channel key epoch is replaced at least this often
MAX_MATCHES = 1000  # shares one new share is matched with (those sharing most tokens)


# -- the node's part: sealed key copies ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class SealedCopy:
    member: str
    key: str  # the member's x25519 key id
    blob: bytes


def _current(sql: Sql, channel_id: str) -> tuple[int, set[str]]:
    """(current epoch or 0, the members holding a copy of it)."""
    epoch, copies, _ = _epoch(sql, channel_id)
    return epoch, set(copies)


def _epoch(sql: Sql, channel_id: str) -> tuple[int, dict[str, str], str]:
    """(current epoch or 0, {holder: the key id its copy is sealed to}, when the epoch
    was made)."""
    epoch = stored.latest_epoch(sql, channel_id)
    if not epoch:
        return 0, {}, ""
    rows = stored.epoch_copies(sql, channel_id, epoch)
    return epoch, {str(r[0]): str(r[1]) for r in rows}, min(str(r[2]) for r in rows)


def must_rotate(ex: Exchange, sql: Sql, channel_id: str, members: frozenset[str] | set[str]
                ) -> str | None:
    """Why the channel's current epoch must be replaced, or None: a holder left the
    channel, a holder's copy is sealed to a key it no longer has (rotated or revoked),
    or the epoch is older than ``EPOCH_MAX_AGE`` (the schedule)."""
    epoch, copies, made = _epoch(sql, channel_id)
    if not epoch:
        return None
    if not set(copies) <= members:
        return "a member has left the channel"
    d = ex.directory()
    if any(m in d.members and d.members[m].enc_key_id != kid for m, kid in copies.items()):
        return "a member's key changed"
    if made and made < clock.fmt(datetime.now(UTC) - EPOCH_MAX_AGE):
        return f"the epoch is older than {EPOCH_MAX_AGE.days} days"
    return None


def key_status(ex: Exchange, member: str, channel_ref: str) -> dict[str, Any]:
    """What a channel member needs to use, share or rotate the channel key: the current
    epoch, its own sealed copy, the members lacking one, and whether a member no longer
    in the channel holds the current key (then the next publish makes a new epoch)."""
    ch = ex.channel(member, channel_ref)
    d = ex.directory()
    now_members = channel_members(d, ch)

    def read(sql: Sql) -> dict[str, Any]:
        epoch, holders = _current(sql, ch.id)
        mine = stored.member_copy(sql, ch.id, epoch, member) if epoch else None
        return {
            "channel": ch.id,
            "epoch": epoch,
            "sealed": None if mine is None else {
                "member": member, "key": mine[0], "blob": b64u(bytes(mine[1])),
                "sealed_by": mine[2]},
            "rotate": must_rotate(ex, sql, ch.id, now_members) is not None,
            "missing": sorted(now_members - holders) if epoch else sorted(now_members),
        }

    out = ex.store.read(read)
    out["members"] = [{"id": m, "enc_key": {"id": d.members[m].enc_key_id,
                                            "public": b64u(d.members[m].enc_key)}}
                      for m in sorted(now_members)]
    return out


def _copies(items: Any) -> list[SealedCopy]:
    if not isinstance(items, list) or not items:
        raise InputError("sealed must be a non-empty list of {member, key, blob}",
                         code="input.channel_key", pointer="/sealed")
    out = []
    for i, it in enumerate(items):
        p = f"/sealed/{i}"
        if not isinstance(it, Mapping) or set(it) != {"member", "key", "blob"} or \
                not all(isinstance(it[k], str) for k in ("member", "key", "blob")):
            raise InputError("each sealed copy is {member, key, blob} strings",
                             code="input.channel_key", pointer=p)
        try:
            blob = b64u_decode(it["blob"])
        except ValueError:
            raise InputError("blob must be base64url", code="input.channel_key",
                             pointer=f"{p}/blob") from None
        alg = alg_of(it["key"]) if is_key_id(it["key"]) else ""
        if alg not in ENC_ALGS or len(blob) != SEALED_KEY_LENS[alg]:
            raise InputError("a sealed channel key is "
                             + " or ".join(f"{n} bytes ({a})" for a, n in
                                           sorted(SEALED_KEY_LENS.items())),
                             code="input.channel_key", pointer=f"{p}/blob")
        out.append(SealedCopy(it["member"], it["key"], blob))
    if len({c.member for c in out}) != len(out):
        raise InputError("one sealed copy per member", code="input.channel_key",
                         pointer="/sealed")
    return out


def put_keys(ex: Exchange, member: str, channel_ref: str, epoch: Any,
             sealed: Any) -> dict[str, Any]:
    """Store sealed copies of a channel key: a new epoch (current + 1) sealed to every
    current channel member, or copies of the current epoch for members lacking one,
    from a member that holds it. Conflict if another member made that epoch first."""
    ch = ex.channel(member, channel_ref)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= MAX_EPOCH:
        raise InputError("epoch must be a positive integer", code="input.channel_key",
                         pointer="/epoch")
    copies = _copies(sealed)
    d = ex.directory()
    now_members = channel_members(d, ch)
    for i, c in enumerate(copies):
        m = d.members.get(c.member)
        if c.member not in now_members or m is None:
            raise InputError(f"{c.member} is not a member of channel {ch.name}",
                             code="blind.not_channel_member", pointer=f"/sealed/{i}/member")
        if m.enc_key_id != c.key:
            raise InputError("a copy must be sealed to the member's current key",
                             code="blind.wrong_key", pointer=f"/sealed/{i}/key")
    at = clock.now()

    def write(sql: Sql) -> None:
        current, holders = _current(sql, ch.id)
        named = {c.member for c in copies}
        if epoch == current + 1:
            if named != now_members:
                raise InputError("a new epoch is sealed to every member of the channel",
                                 code="blind.incomplete_epoch", pointer="/sealed")
        elif epoch == current:
            if member not in holders:
                raise PolicyDenied("only a holder of this epoch's key may share it",
                                   code="blind.not_holder")
            if named & holders:
                raise Conflict("a member named already holds this epoch's key",
                               code="blind.copy_exists")
        else:
            raise Conflict(f"the channel's key epoch is {current}", code="blind.epoch_exists")
        for c in copies:
            if not stored.insert_copy(sql, (ch.id, epoch, c.member, c.key, c.blob, member,
                                            at)):
                raise Conflict("another member stored this copy first",
                               code="blind.epoch_exists")

    ex.store.write(write)
    return key_status(ex, member, ch.id)


# -- tokens beside a sealed share ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Attachment:
    share_id: str
    channel_id: str
    epoch: int
    tokens: tuple[bytes, ...]


def parse_attachment(ex: Exchange, member: str, env: Envelope, doc: Any) -> Attachment:
    """Check the ``blind`` part of a publish request against the envelope and the
    channel's key state; InputError/Conflict (nothing stored) when it does not fit."""
    if not isinstance(doc, Mapping) or set(doc) != {"channel", "epoch", "tokens"}:
        raise InputError("blind is {channel, epoch, tokens}", code="input.blind",
                         pointer="/blind")
    if env.form is not Form.SEALED or env.channel is None:
        raise InputError("blind tokens go with a sealed share to a channel",
                         code="blind.not_sealed_channel", pointer="/blind")
    if doc["channel"] != env.channel:
        raise InputError("blind.channel must be the envelope's channel",
                         code="blind.channel_mismatch", pointer="/blind/channel")
    epoch = doc["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise InputError("epoch must be a positive integer", code="input.blind",
                         pointer="/blind/epoch")
    raw = doc["tokens"]
    if not isinstance(raw, list) or len(raw) > MAX_TOKENS:
        raise InputError(f"tokens must be a list of at most {MAX_TOKENS}", code="input.blind",
                         pointer="/blind/tokens")
    toks: list[bytes] = []
    for i, t in enumerate(raw):
        try:
            b = b64u_decode(t) if isinstance(t, str) else b""
        except ValueError:
            b = b""
        if len(b) != TOKEN_LEN:
            raise InputError("a token is 32 bytes, base64url", code="input.blind",
                             pointer=f"/blind/tokens/{i}")
        toks.append(b)
    if len(set(toks)) != len(toks):
        raise InputError("tokens must be distinct", code="input.blind",
                         pointer="/blind/tokens")
    ch = ex.channel(member, env.channel)
    now_members = channel_members(ex.directory(), ch)

    def check(sql: Sql) -> None:
        current, holders = _current(sql, ch.id)
        if epoch != current or member not in holders:
            raise Conflict(f"the channel's current key epoch is {current}; fetch it",
                           code="blind.stale_epoch")
        why = must_rotate(ex, sql, ch.id, now_members)
        if why is not None:
            raise Conflict(f"{why}: make a new key epoch", code="blind.rotate")

    ex.store.read(check)
    return Attachment(env.id, ch.id, epoch, tuple(sorted(toks)))


def store_tokens(att: Attachment, sql: Sql, published: Published) -> None:
    """Store the tokens of a share and record the shares of the same channel and epoch
    that hold any of them (at most ``MAX_MATCHES``, those with the most tokens in
    common). The publish that stores the share runs this in the share's own transaction
    (its ``Claim``: ``functools.partial(store_tokens, att)``), only for a new share."""
    env = published.envelope
    if att.share_id != env.id or not att.tokens:
        return
    stored.insert_tokens(sql, [(env.id, att.channel_id, att.epoch, t) for t in att.tokens])
    hits = stored.token_hits(sql, env.id, MAX_MATCHES)
    at = clock.now()
    stored.insert_matches(
        sql, [(env.id, r[0], att.channel_id, att.epoch, int(r[1]), at) for r in hits])
    record_notices(sql, env.id, [str(r[0]) for r in hits])


def record_notices(sql: Sql, share_id: str, others: Sequence[str]) -> None:
    """For the blind matches of a stored share with ``others``: one notice row per
    match for each member that is a party (originator or recipient) to both shares, at
    that member's next position, so a member's cursor counts its own notices, never
    the matches of others. (Whether it may read both is decided when it reads.)"""
    def parties(ids: Sequence[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for sid, header in stored.share_headers(sql, ids):
            h = orjson.loads(header)
            out[sid] = {*h["audience"]["recipients"], h["originator"]}
        return out

    mine = parties([share_id]).get(share_id, set())
    rows = [(m, other) for other, theirs in parties(sorted(set(others))).items()
            for m in sorted(mine & theirs)]
    if not rows:
        return
    pos = take_positions(sql, "blind_matches", Counter(m for m, _ in rows))
    out = []
    for m, other in rows:
        out.append((m, share_id, other, pos[m]))
        pos[m] += 1
    stored.insert_notices(sql, out)


def drop_tokens(sql: Sql, share_id: str) -> None:
    """``Exchange.purge_tx_hooks`` entry: a recalled or purged share's tokens (derived
    from its payload) and its match notices go with the payload."""
    stored.delete_of_share(sql, share_id)


def _readable(ex: Exchange, member: str, share_id: str) -> bool:
    try:
        readable_share(ex, member, share_id)
    except NotFound:
        return False
    return True


def matches(ex: Exchange, member: str, after: int = 0, limit: int = 100
            ) -> tuple[list[dict[str, Any]], int]:
    """Blind-match notices for a member: a match between two shares is shown only to a
    member that may read both, and names only them. Returns (notices, cursor); a
    notice's seq is the member's own position (its notices only)."""
    rows = ex.store.read(lambda sql: stored.notices_after(sql, member, after, limit))
    out = []
    for r in rows:
        if _readable(ex, member, r[1]) and _readable(ex, member, r[2]):
            out.append({"seq": int(r[0]), "share_id": r[1], "other_id": r[2],
                        "channel": r[3], "epoch": int(r[4]), "tokens": int(r[5]),
                        "created": r[6]})
    return out, int(rows[-1][0]) if rows else after


def matches_of(ex: Exchange, member: str, share_id: str) -> list[str]:
    """The shares a member may read that blind-match one of its readable shares."""
    readable_share(ex, member, share_id)
    others = ex.store.read(lambda sql: stored.matched_with(sql, share_id))
    return sorted(o for o in others if _readable(ex, member, o))
