"""The Store protocol every backend implements, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from vigil.errors import VigilError
from vigil.model import (
    Channel,
    ChannelKind,
    Directory,
    Envelope,
    InboxEntry,
    Member,
    MemberKind,
    ShareState,
    User,
    Wrap,
)
from vigil.storage.schema import Dialect

T = TypeVar("T")


SHARE_LOCK = 0x76696769_6C5F6962
"""PostgreSQL transaction-scoped advisory lock (ASCII "vigil_ib") that orders every
write that hands out an inbox seq or a log index: held until commit, so those numbers
become visible in order."""


def serialize_writes(sql: Sql) -> None:
    """Take the write-order lock (PostgreSQL; SQLite has a single writer already)."""
    if sql.dialect == "postgresql":
        sql.execute("SELECT pg_advisory_xact_lock(?)", (SHARE_LOCK,))


TAKE_CHUNK = 300  # members per statement (3 parameters each)
_QUEUE = "INSERT INTO inbox(member_id, share_id, added, pos) VALUES(?, ?, ?, ?)"


def _take_sql(rows: int) -> str:
    return ("INSERT INTO cursor_heads(member_id, stream, head) VALUES "
            + ", ".join(["(?, ?, ?)"] * rows)
            + " ON CONFLICT (member_id, stream) DO UPDATE SET head = cursor_heads.head + "
            "excluded.head RETURNING member_id, head")


def take_positions(sql: Sql, stream: str, counts: Mapping[str, int]) -> dict[str, int]:
    """Reserve ``counts[m]`` new positions in member m's ``stream`` (``inbox``,
    ``correlations``); the first of each. A member's positions go 1, 2, 3, … over its
    own entries only, and are never handed out twice, even when an entry goes, so a
    member's cursor tells nothing of what others get. The caller holds the lock that
    orders the stream's writes, so a member's positions become visible in order. One
    statement per ``TAKE_CHUNK`` members, rows in member order (one lock order for
    every writer)."""
    first: dict[str, int] = {}
    ms = sorted(counts)
    for start in range(0, len(ms), TAKE_CHUNK):
        part = ms[start:start + TAKE_CHUNK]
        rows = sql.execute(_take_sql(len(part)),
                           [v for m in part for v in (m, stream, counts[m])]).fetchall()
        for m, head in rows:
            first[str(m)] = int(head) - counts[str(m)] + 1
    if len(first) != len(ms):
        raise RuntimeError("take_positions: a member's head was not returned")
    return first


def queue_inbox(sql: Sql, share_id: str, members: Iterable[str], at: str, *,
                new: bool = False) -> None:
    """Put a share at the end of each member's inbox, at a new position per member
    (``take_positions``). ``new``: the share is stored in this transaction, at ``at``;
    otherwise it is placed again (a share let through, a recall) and each new entry
    is also noted in ``inbox_moves``, where reads that start at a time find the
    entries added later than their share was stored. Every caller holds the
    write-order lock (``serialize_writes``; ``put_share`` its own)."""
    queue_inbox_many(sql, [(share_id, members)], at, new=new)


def queue_inbox_many(sql: Sql, shares: Sequence[tuple[str, Iterable[str]]], at: str, *,
                     new: bool = False) -> None:
    """``queue_inbox`` for several shares in order, with one statement that reserves the
    positions and one that writes the rows: a member's positions come out as they would
    share after share."""
    each = [(sid, sorted(set(ms))) for sid, ms in shares]
    counts: dict[str, int] = {}
    for _, ms in each:
        for m in ms:
            counts[m] = counts.get(m, 0) + 1
    if not counts:
        return
    pos = take_positions(sql, "inbox", counts)
    rows = []
    for sid, ms in each:
        for m in ms:
            rows.append((m, sid, at, pos[m]))
            pos[m] += 1
    sql.executemany(_QUEUE, rows)
    if not new:
        sql.executemany("INSERT INTO inbox_moves(member_id, pos, added) VALUES(?, ?, ?)",
                        [(m, p, a) for m, _, a, p in rows])


class Cursor(Protocol):
    """What both backends' cursors offer."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Sql(Protocol):
    """A connection inside one transaction, for SQL written once with ``?`` placeholders.

    Feature modules (log, TAXII, analysis) keep their tables and queries to themselves
    and run them through ``Store.write``/``Store.read``, so they work on every backend
    without a method per query in each store. Never put a literal ``?`` or ``%`` in the
    SQL text: pass values as parameters.
    """

    @property
    def dialect(self) -> Dialect: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def payload(self, stored: bytes | None, ref: str | None) -> bytes | None:
        """A share's payload from its ``payload`` and ``payload_ref`` columns: read from
        its file when it is stored apart (``vigil.storage.payloads``)."""
        ...

    def drop_payload(self, ref: str) -> None:
        """Remove the payload file ``ref`` once this transaction commits."""
        ...


ShareToPut = tuple[Envelope, Sequence[str], Callable[[Sql], None] | None]
"""A share for ``Store.put_shares``: the envelope, its recipients and its ``also``."""


class Store(Protocol):
    """Durable state of a node. Methods are synchronous and thread-safe.

    ``put_share`` writes the envelope and one inbox row per recipient in one
    transaction and returns only when that transaction is durable.
    """

    url: str
    on_close: list[Callable[[], None]]
    """Called by ``close`` before it closes anything: background work on the store
    (e.g. the correlation thread) stops and waits here."""

    @property
    def dialect(self) -> Dialect: ...

    def migrate(self) -> None: ...
    def write(self, fn: Callable[[Sql], T]) -> T:
        """Run ``fn`` in one write transaction; return once it is durable."""
        ...

    def read(self, fn: Callable[[Sql], T]) -> T:
        """Run ``fn`` on one consistent read-only snapshot."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read-only statement (``?`` placeholders), in one round trip."""
        ...

    def close(self) -> None: ...

    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    def add_member(self, member: Member, also: Callable[[Sql], None] | None = None) -> None: ...
    def set_member_active(self, member_id: str, active: bool,
                          also: Callable[[Sql], None] | None = None) -> None: ...
    def directory(self) -> Directory: ...

    def add_user(self, user: User, token_hash: str, prefix: str = "") -> None: ...
    def user_by_token_hash(self, token_hash: str) -> User | None: ...
    def list_users(self, member_id: str) -> list[User]: ...
    def user_by_id(self, user_id: str) -> User | None:
        """A user that is not revoked."""
        ...

    def add_session(self, id_hash: str, user_id: str, csrf: str, expires: str) -> None: ...
    def get_session(self, id_hash: str, now: str) -> tuple[str, str] | None:
        """(user id, CSRF token) of a session that has not expired."""
        ...

    def drop_session(self, id_hash: str, now: str) -> None:
        """Forget a session, and every expired one."""
        ...

    def add_channel(self, channel: Channel, actor: str, at: str,
                    also: Callable[[Sql], None] | None = None) -> None: ...
    def add_channel_member(self, channel_id: str, member_id: str, actor: str, at: str,
                           also: Callable[[Sql], None] | None = None) -> bool:
        """True if the member was added (``also`` runs only then)."""
        ...
    def remove_channel_member(
        self, channel_id: str, member_id: str, actor: str, at: str,
        also: Callable[[Sql], None] | None = None
    ) -> bool:
        """True if the member was removed (``also`` runs only then)."""
        ...
    def channel_events(self, channel_id: str) -> list[dict[str, Any]]:
        """A channel's events in order; ``seq`` is the event's place in this channel's
        own history (1, 2, 3, …: events are never deleted), never a node-wide number
        that would count the events of channels the reader cannot see."""
        ...

    def put_share(self, env: Envelope, recipients: Sequence[str], at: str,
                  also: Callable[[Sql], None] | None = None) -> bool:
        """Store a share and its inbox rows; False if that exact share was already stored.
        ``also`` runs in the same transaction after the rows are written, only for a new
        share (e.g. the log entry of the share)."""
        ...

    def put_shares(self, shares: Sequence[ShareToPut], at: str) -> list[bool | VigilError]:
        """``put_share`` for each ``(env, recipients, also)``, in order, as one write
        where the backend can (SQLite: one transaction, one commit): every share
        stored is durable when this returns. A share refused (a different share with
        its id, a ``VigilError`` from its ``also``) is its error in the answer, and
        stores nothing of it; the others still go."""
        ...

    def get_share(self, share_id: str) -> tuple[Envelope, ShareState] | None: ...
    def inbox(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[InboxEntry, Envelope, ShareState]]:
        """The member's entries after a cursor, in order. An entry's ``seq`` (and so
        every cursor) is the member's own position (``queue_inbox``): 1, 2, 3, … over
        its own entries, whatever others receive."""
        ...
    def inbox_refs(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[InboxEntry, ShareState]]:
        """Like ``inbox`` without the envelopes: the cheap query of the push path."""
        ...

    def inbox_refs_many(
        self, requests: Sequence[tuple[str, int]], limit: int
    ) -> list[list[tuple[InboxEntry, ShareState]]]:
        """``inbox_refs`` for several (member, after) cursors at once, in request order:
        one round trip for every subscriber a share wakes."""
        ...

    def inbox_head(self, member_id: str) -> int:
        """The last position handed out in the member's inbox (0: none yet)."""
        ...
    def sent(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[int, Envelope, ShareState]]: ...
    def share_count(self) -> int: ...


MEMBER_COLUMNS = ("SELECT id, name, display_name, country, kind, sign_key, sign_key_id, "
                  "enc_key, enc_key_id, created, active FROM members")
CHANNEL_COLUMNS = "SELECT id, name, kind, owner, created FROM channels"


def insert_member(sql: Sql, member: Member) -> None:
    sql.execute("INSERT INTO members(id, name, display_name, country, kind, sign_key, "
                "sign_key_id, enc_key, enc_key_id, created, active) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (member.id, member.name, member.display_name, member.country,
                 member.kind.value, member.sign_key, member.sign_key_id, member.enc_key,
                 member.enc_key_id, member.created, member.active))
CHANNEL_MEMBER_COLUMNS = "SELECT channel_id, member_id FROM channel_members"


def build_directory(
    member_rows: Iterable[Sequence[Any]],
    channel_rows: Iterable[Sequence[Any]],
    channel_member_rows: Iterable[Sequence[Any]],
) -> Directory:
    """A Directory from the rows of MEMBER_COLUMNS, CHANNEL_COLUMNS and
    CHANNEL_MEMBER_COLUMNS (the same for every backend)."""
    members = {
        r[0]: Member(
            id=r[0],
            name=r[1],
            display_name=r[2],
            country=r[3],
            kind=MemberKind(r[4]),
            sign_key=bytes(r[5]),
            sign_key_id=r[6],
            enc_key=bytes(r[7]),
            enc_key_id=r[8],
            created=r[9],
            active=bool(r[10]),
        )
        for r in member_rows
    }
    cm: dict[str, set[str]] = {}
    for ch, mem in channel_member_rows:
        cm.setdefault(ch, set()).add(mem)
    channels = {
        r[0]: Channel(
            id=r[0],
            name=r[1],
            kind=ChannelKind(r[2]),
            owner=r[3],
            members=frozenset(cm.get(r[0], ())),
            created=r[4],
        )
        for r in channel_rows
    }
    return Directory(members=members, channels=channels)


Execute = Callable[[str, Sequence[Any]], Any]
"""A connection's execute, taking SQL with ``?`` placeholders (see ``qmark_to_format``)."""

_CHANNEL_EVENT = ("INSERT INTO channel_events(channel_id, member_id, event, actor, at) "
                  "VALUES(?,?,?,?,?)")


def write_channel(execute: Execute, channel: Channel, actor: str, at: str) -> None:
    """Insert a channel, its members and their create/join events (one transaction)."""
    execute("INSERT INTO channels(id, name, kind, owner, created) VALUES(?,?,?,?,?)",
            (channel.id, channel.name, channel.kind.value, channel.owner, channel.created))
    execute(_CHANNEL_EVENT, (channel.id, channel.owner, "create", actor, at))
    for m in sorted(channel.members):
        execute("INSERT INTO channel_members(channel_id, member_id) VALUES(?,?)",
                (channel.id, m))
        execute(_CHANNEL_EVENT, (channel.id, m, "join", actor, at))


def write_channel_change(
    execute: Execute, channel_id: str, member_id: str, actor: str, at: str, *, join: bool
) -> bool:
    """Add or remove one member and record the event; False if nothing changed."""
    if join:
        cur = execute("INSERT INTO channel_members(channel_id, member_id) VALUES(?,?) "
                      "ON CONFLICT DO NOTHING", (channel_id, member_id))
    else:
        cur = execute("DELETE FROM channel_members WHERE channel_id=? AND member_id=?",
                      (channel_id, member_id))
    if not cur.rowcount:
        return False
    execute(_CHANNEL_EVENT, (channel_id, member_id, "join" if join else "leave", actor, at))
    return True


def distribute_refs(
    requests: Sequence[tuple[str, int]], rows: Iterable[Sequence[Any]], limit: int
) -> list[list[tuple[InboxEntry, ShareState]]]:
    """Hand the rows of one batched inbox read (seq, member, share id, added, recalled,
    purged; in seq order) to each (member, cursor) request, at most ``limit`` each."""
    out: list[list[tuple[InboxEntry, ShareState]]] = [[] for _ in requests]
    slot: dict[str, list[int]] = {}
    for k, (member, _) in enumerate(requests):
        slot.setdefault(member, []).append(k)
    for r in rows:
        for k in slot[r[1]]:
            if r[0] > requests[k][1] and len(out[k]) < limit:
                out[k].append((InboxEntry(int(r[0]), r[1], r[2], r[3]),
                               ShareState(bool(r[4]), bool(r[5]))))
    return out


def header_bytes(header: Any) -> bytes:
    return orjson.dumps(header, option=orjson.OPT_SORT_KEYS)


def wraps_to_bytes(wraps: Sequence[Wrap]) -> bytes:
    return orjson.dumps([{"m": w.member, "k": w.key, "b": w.blob.hex()} for w in wraps])


def wraps_from_bytes(data: bytes) -> tuple[Wrap, ...]:
    return tuple(Wrap(w["m"], w["k"], bytes.fromhex(w["b"])) for w in orjson.loads(data))


def envelope_from_row(
    header: bytes, signature: bytes, payload: bytes | None, wraps: bytes
) -> Envelope:
    return Envelope(
        header=orjson.loads(header),
        signature=bytes(signature),
        payload=b"" if payload is None else bytes(payload),
        wraps=wraps_from_bytes(bytes(wraps)),
    )


def same_share(a: Envelope, b: Envelope) -> bool:
    return (
        header_bytes(a.header) == header_bytes(b.header)
        and a.signature == b.signature
        and a.payload == b.payload
    )
