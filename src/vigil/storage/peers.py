"""The table of pinned peers (``fed_peers``) and the durability setting a node that
federates needs; ``vigil.federation.peers`` holds the rules (descriptors, pins)."""

from __future__ import annotations

from typing import Any

from vigil.storage.base import Sql, Store

_COLUMNS = ("SELECT node_id, name, url, node_key, pin, hop_key, tls_pin, log_origin, added, "
            "via FROM fed_peers WHERE removed=?")
"""A peer's row: (node, name, url, node key, pin, hop key, TLS pin, log origin, added,
relay's node id or None)."""


def peer_rows(store: Store) -> list[Any]:
    """The rows of the peers not removed, by name."""
    return store.query(_COLUMNS + " ORDER BY name", (False,))


def peer_row(sql: Sql, node: str) -> Any:
    """The row of a peer not removed, by node id (None: none)."""
    return sql.execute(_COLUMNS + " AND node_id=?", (False, node)).fetchone()


def active_nodes(sql: Sql) -> set[str]:
    """The node ids of the peers not removed."""
    return {str(r[0]) for r in sql.execute(_COLUMNS, (False,)).fetchall()}


def node_named(sql: Sql, name: str) -> str | None:
    """The node id of the peer named ``name``, removed ones included."""
    row = sql.execute("SELECT node_id FROM fed_peers WHERE name=?", (name,)).fetchone()
    return None if row is None else str(row[0])


def put_peer(sql: Sql, node: str, name: str, url: str, key: bytes, pin: str, hop_key: bytes,
             tls_pin: str | None, log_origin: str, descriptor: str, added: str,
             via: str | None = None) -> None:
    """Store a peer (reached through the peer ``via`` if given), replacing what was
    stored for that node."""
    sql.execute("DELETE FROM fed_peers WHERE node_id=?", (node,))
    sql.execute("INSERT INTO fed_peers(node_id, name, url, node_key, pin, hop_key, "
                "tls_pin, log_origin, descriptor, added, removed, via) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (node, name, url, key, pin, hop_key, tls_pin, log_origin, descriptor,
                 added, False, via))


def direct_descriptor(store: Store, pin: str) -> str | None:
    """The stored signed descriptor of the peer not removed, reached directly, whose node
    key has id ``pin``."""
    rows = store.query("SELECT descriptor FROM fed_peers WHERE pin=? AND removed=? "
                       "AND via IS NULL", (pin, False))
    return str(rows[0][0]) if rows else None


def peer_descriptors(store: Store) -> list[str]:
    """The stored signed descriptors of the peers not removed."""
    return [str(r[0]) for r in store.query("SELECT descriptor FROM fed_peers WHERE removed=?",
                                           (False,))]


def remove_peer(sql: Sql, node: str) -> None:
    sql.execute("UPDATE fed_peers SET removed=? WHERE node_id=?", (True, node))


def synchronous(sql: Sql) -> str:
    """``full`` when a commit is on disk before the store answers; else what is set."""
    if sql.dialect == "sqlite":
        return "full" if int(sql.execute("PRAGMA synchronous").fetchone()[0]) >= 2 \
            else "sqlite synchronous below FULL"
    value = str(sql.execute("SHOW synchronous_commit").fetchone()[0])
    return "full" if value != "off" else "postgresql synchronous_commit=off"
