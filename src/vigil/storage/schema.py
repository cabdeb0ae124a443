"""The one source of schema migrations for every Store backend.

Each migration is a list of statements written once; ``render`` turns the few
dialect-specific type words into SQLite or PostgreSQL.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "{SERIAL}": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "{BLOB}": "BLOB",
        "{BOOL}": "INTEGER",
        "{BIGINT}": "INTEGER",
    },
    "postgresql": {
        "{SERIAL}": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "{BLOB}": "BYTEA",
        "{BOOL}": "BOOLEAN",
        "{BIGINT}": "BIGINT",
    },
}

# Each feature keeps its tables in its own migration, in a fixed place in the list.
LOG_MIGRATION: list[str] = []
TAXII_MIGRATION: list[str] = []
ANALYSIS_MIGRATION: list[str] = []

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            country TEXT NOT NULL,
            kind TEXT NOT NULL,
            sign_key {BLOB} NOT NULL,
            sign_key_id TEXT NOT NULL,
            enc_key {BLOB} NOT NULL,
            enc_key_id TEXT NOT NULL,
            created TEXT NOT NULL,
            active {BOOL} NOT NULL
        )""",
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES members(id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            revoked {BOOL} NOT NULL
        )""",
        "CREATE UNIQUE INDEX users_member_name ON users(member_id, name)",
        """CREATE TABLE channels (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            owner TEXT NOT NULL REFERENCES members(id),
            created TEXT NOT NULL
        )""",
        """CREATE TABLE channel_members (
            channel_id TEXT NOT NULL REFERENCES channels(id),
            member_id TEXT NOT NULL REFERENCES members(id),
            PRIMARY KEY (channel_id, member_id)
        )""",
        """CREATE TABLE channel_events (
            seq {SERIAL},
            channel_id TEXT NOT NULL REFERENCES channels(id),
            member_id TEXT NOT NULL,
            event TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX channel_events_channel ON channel_events(channel_id, seq)",
        """CREATE TABLE shares (
            seq {SERIAL},
            id TEXT NOT NULL UNIQUE,
            originator TEXT NOT NULL,
            header {BLOB} NOT NULL,
            signature {BLOB} NOT NULL,
            payload {BLOB},
            wraps {BLOB} NOT NULL,
            created TEXT NOT NULL,
            expires TEXT,
            recalled {BOOL} NOT NULL,
            purged {BOOL} NOT NULL
        )""",
        "CREATE INDEX shares_originator ON shares(originator, seq)",
        """CREATE TABLE inbox (
            seq {SERIAL},
            member_id TEXT NOT NULL,
            share_id TEXT NOT NULL,
            added TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX inbox_member_seq ON inbox(member_id, seq)",
        "CREATE UNIQUE INDEX inbox_member_share ON inbox(member_id, share_id)",
    ],
    [
        # web-console sessions, shared by every worker: only a hash of the session id
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            csrf TEXT NOT NULL,
            expires TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_expires ON sessions(expires)",
    ],
    LOG_MIGRATION,  # v3: the transparency log
    TAXII_MIGRATION,  # v4: TAXII object index, status resources, feeds
    ANALYSIS_MIGRATION,  # v5: observables, correlations, sightings, ledger
]


def render(statement: str, dialect: Dialect) -> str:
    for word, sql in _TYPES[dialect].items():
        statement = statement.replace(word, sql)
    return statement


def schema_version() -> int:
    return len(MIGRATIONS)
