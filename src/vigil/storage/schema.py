"""The one source of schema migrations for every Store backend.

Each migration is a list of statements written once; ``render`` turns the few
dialect-specific type words into SQLite or PostgreSQL.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

# tables whose rows take per-member positions (MEMBER_CURSOR_MIGRATION)
_POSITIONED = ("inbox", "correlations", "taxii_access", "blind_matches")

_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "{SERIAL}": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "{BLOB}": "BLOB",
        "{BOOL}": "INTEGER",
        "{BIGINT}": "INTEGER",
        # the highest seq a table ever handed out (its rows may have gone since)
        **{f"{{SEQ_HIGH_{t}}}": f"(SELECT coalesce(max(seq), 0) FROM sqlite_sequence "
                                f"WHERE name = '{t}')" for t in _POSITIONED},
    },
    "postgresql": {
        "{SERIAL}": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "{BLOB}": "BYTEA",
        "{BOOL}": "BOOLEAN",
        "{BIGINT}": "BIGINT",
        **{f"{{SEQ_HIGH_{t}}}": f"(SELECT coalesce(max(last_value), 0) FROM pg_sequences "
                                f"WHERE schemaname = current_schema() "
                                f"AND sequencename = '{t}_seq_seq')"
           for t in _POSITIONED},
    },
}

_ONLY = "-- only "


def only(dialect: Dialect, statement: str) -> str:
    """A migration statement that runs on one dialect only (``render`` gives the other
    an empty string, which the stores skip)."""
    return f"{_ONLY}{dialect}\n{statement}"


# Each feature keeps its tables in its own migration, in a fixed place in the list.
LOG_MIGRATION: list[str] = [
    # the transparency log: one row per leaf, and every perfect subtree hash
    """CREATE TABLE log_leaves (
        idx {BIGINT} PRIMARY KEY,
        kind TEXT NOT NULL,
        share_id TEXT,
        data {BLOB} NOT NULL,
        root {BLOB} NOT NULL,
        proof {BLOB} NOT NULL
    )""",
    "CREATE INDEX log_leaves_share ON log_leaves(share_id, idx)",
    """CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx {BIGINT} NOT NULL,
        hash {BLOB} NOT NULL,
        PRIMARY KEY (level, idx)
    )""",
    # checkpoints members handed in (gossip), and forks found among them
    """CREATE TABLE log_gossip (
        size {BIGINT} NOT NULL,
        root {BLOB} NOT NULL,
        note TEXT NOT NULL,
        member_id TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (size, root)
    )""",
    # signed receipts and recalls (their log entries hold the same objects)
    """CREATE TABLE receipts (
        share_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        what TEXT NOT NULL,
        at TEXT NOT NULL,
        log_idx {BIGINT} NOT NULL,
        PRIMARY KEY (share_id, member_id, what)
    )""",
    # one row per recalled share: when, the key that signed the recall, its log entry
    """CREATE TABLE recalls (
        share_id TEXT PRIMARY KEY,
        originator TEXT NOT NULL,
        at TEXT NOT NULL,
        key TEXT NOT NULL,
        log_idx {BIGINT} NOT NULL
    )""",
    # retention finds the shares past their expiry that are not purged yet
    "CREATE INDEX shares_retention ON shares(purged, expires)",
]
TAXII_MIGRATION: list[str] = [
    # the TAXII object index: one row per share, and one per member that may ever
    # read it (the policy still decides every read)
    """CREATE TABLE taxii_shares (
        share_seq {BIGINT} PRIMARY KEY,
        share_id TEXT NOT NULL UNIQUE,
        originator TEXT NOT NULL,
        channel TEXT NOT NULL,
        sealed {BOOL} NOT NULL,
        added TEXT NOT NULL
    )""",
    # seq orders a member's collections; a share held back by a read gate is moved to
    # the end when it becomes readable (new seq, added = that time)
    """CREATE TABLE taxii_access (
        seq {SERIAL},
        member_id TEXT NOT NULL,
        share_seq {BIGINT} NOT NULL,
        channel TEXT NOT NULL,
        added TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX taxii_access_share ON taxii_access(member_id, share_seq)",
    "CREATE UNIQUE INDEX taxii_access_member ON taxii_access(member_id, seq)",
    "CREATE INDEX taxii_access_channel ON taxii_access(member_id, channel, seq)",
    "CREATE INDEX taxii_access_added ON taxii_access(member_id, added)",
    # the objects of plain shares (a sealed share has one placeholder row, pos -1)
    """CREATE TABLE taxii_objects (
        share_seq {BIGINT} NOT NULL,
        pos INTEGER NOT NULL,
        object_id TEXT NOT NULL,
        type TEXT NOT NULL,
        version TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        obj {BLOB} NOT NULL,
        PRIMARY KEY (share_seq, pos)
    )""",
    "CREATE INDEX taxii_objects_id ON taxii_objects(object_id, share_seq)",
    # TAXII status resources of POSTed envelopes
    """CREATE TABLE taxii_status (
        id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        body {BLOB} NOT NULL,
        created TEXT NOT NULL
    )""",
    # feeds: external TAXII collections a member subscribes the node to
    """CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        collection TEXT NOT NULL,
        member_id TEXT NOT NULL REFERENCES members(id),
        tlp TEXT NOT NULL,
        audience TEXT NOT NULL,
        every_s {BIGINT} NOT NULL,
        auth TEXT NOT NULL,
        cursor TEXT,
        created TEXT NOT NULL,
        last_pull TEXT,
        last_error TEXT,
        lease_until TEXT,
        fetched {BIGINT} NOT NULL,
        published {BIGINT} NOT NULL,
        shares {BIGINT} NOT NULL,
        duplicates {BIGINT} NOT NULL,
        rejected {BIGINT} NOT NULL
    )""",
    """CREATE TABLE feed_seen (
        feed TEXT NOT NULL,
        object_id TEXT NOT NULL,
        version TEXT NOT NULL,
        share_id TEXT NOT NULL,
        PRIMARY KEY (feed, object_id, version)
    )""",
    """CREATE TABLE feed_rejects (
        feed TEXT NOT NULL,
        object_id TEXT NOT NULL,
        version TEXT NOT NULL,
        code TEXT NOT NULL,
        pointer TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (feed, object_id, version)
    )""",
]
# observables keyed for lookups in the store (vigil.storage.observables)
OBSERVABLE_KEY_MIGRATION: list[str] = [
    "ALTER TABLE observables ADD COLUMN k {BLOB}",
    "CREATE INDEX observables_k ON observables(k)",
    # the IP prefix lengths in use: the containment probes a lookup makes
    """CREATE TABLE observable_ip_lens (
        version INTEGER NOT NULL,
        plen INTEGER NOT NULL,
        PRIMARY KEY (version, plen)
    )""",
    # an empty table needs no backfill of keys
    "INSERT INTO meta(key, value) SELECT 'analysis.observables_keyed', '1' "
    "WHERE NOT EXISTS (SELECT 1 FROM observables)",
]

# the observable key index apart from its rows, filled in key order by merges
# (vigil.analysis.pending): a pass appends rows only, and a merge writes each page of the
# index once for all the keys that fall on it
OBSERVABLE_KEY_INDEX_MIGRATION: list[str] = [
    only("sqlite", """CREATE TABLE observable_keys (
        k BLOB NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (k, seq)
    ) WITHOUT ROWID"""),
    only("postgresql", """CREATE TABLE observable_keys (
        k BYTEA NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (k, seq)
    )"""),
    "INSERT INTO observable_keys(k, seq) SELECT k, seq FROM observables WHERE k IS NOT NULL",
    "INSERT INTO meta(key, value) SELECT 'analysis.observables_merged', "
    "CAST(coalesce(max(seq), 0) AS TEXT) FROM observables",
    "DROP INDEX observables_k",
    # a row names its share by seq: 8 bytes or fewer where the id took ~40, in the row and
    # in its index, which now grows at its end as shares are stored
    "ALTER TABLE observables ADD COLUMN share_seq {BIGINT}",
    "UPDATE observables SET share_seq = (SELECT s.seq FROM shares s "
    "WHERE s.id = observables.share_id)",
    "DROP INDEX observables_share",
    "ALTER TABLE observables DROP COLUMN share_id",
    "CREATE INDEX observables_share ON observables(share_seq)",
]

ANALYSIS_MIGRATION: list[str] = [
    # observables and correlation
    """CREATE TABLE observables (
        seq {SERIAL},
        share_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL
    )""",
    # no index on the value: the node matches values in memory (vigil.analysis.index),
    # and an index on random keys would rewrite a page per row at every publish
    "CREATE INDEX observables_share ON observables(share_id)",
    """CREATE TABLE correlations (
        seq {SERIAL},
        member_id TEXT NOT NULL,
        share_id TEXT NOT NULL,
        other_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        other_value TEXT NOT NULL
    )""",
    "CREATE INDEX correlations_member ON correlations(member_id, seq)",
    "CREATE INDEX correlations_share ON correlations(share_id)",
    "CREATE INDEX correlations_other ON correlations(other_id)",
    """CREATE TABLE warninglists (
        seq {SERIAL},
        member_id TEXT NOT NULL,
        name TEXT NOT NULL,
        body {BLOB} NOT NULL,
        added TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX warninglists_member_name ON warninglists(member_id, name)",
    # sightings, ledger, blind tokens
    """CREATE TABLE sightings (
        seq {SERIAL},
        id TEXT NOT NULL UNIQUE,
        share_id TEXT NOT NULL,
        indicator_id TEXT NOT NULL,
        originator TEXT NOT NULL,
        reporter TEXT NOT NULL,
        verdict TEXT NOT NULL,
        count {BIGINT} NOT NULL,
        first_seen TEXT,
        last_seen TEXT,
        disclose {BOOL} NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX sightings_share ON sightings(share_id, indicator_id)",
    "CREATE INDEX sightings_originator ON sightings(originator)",
    """CREATE TABLE ledger_shares (
        share_id TEXT PRIMARY KEY,
        originator TEXT NOT NULL,
        channel_id TEXT,
        objects {BIGINT}
    )""",
    "CREATE INDEX ledger_shares_originator ON ledger_shares(originator)",
    """CREATE TABLE share_opens (
        member_id TEXT NOT NULL,
        share_id TEXT NOT NULL,
        first_at TEXT NOT NULL,
        PRIMARY KEY (member_id, share_id)
    )""",
    """CREATE TABLE share_delays (
        share_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        not_before TEXT NOT NULL,
        released {BOOL} NOT NULL,
        PRIMARY KEY (share_id, member_id)
    )""",
    "CREATE INDEX share_delays_member ON share_delays(member_id, released, not_before)",
    """CREATE TABLE channel_keys (
        channel_id TEXT NOT NULL,
        epoch {BIGINT} NOT NULL,
        member_id TEXT NOT NULL,
        enc_key_id TEXT NOT NULL,
        blob {BLOB} NOT NULL,
        sealed_by TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (channel_id, epoch, member_id)
    )""",
    """CREATE TABLE blind_tokens (
        share_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        epoch {BIGINT} NOT NULL,
        token {BLOB} NOT NULL,
        PRIMARY KEY (share_id, token)
    )""",
    "CREATE INDEX blind_tokens_match ON blind_tokens(channel_id, epoch, token)",
    """CREATE TABLE blind_matches (
        seq {SERIAL},
        share_id TEXT NOT NULL,
        other_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        epoch {BIGINT} NOT NULL,
        tokens {BIGINT} NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX blind_matches_pair ON blind_matches(share_id, other_id)",
]

INTEROP_MIGRATION: list[str] = [
    # the (id, version) pairs read at the cursor's date, so a resumed pull skips exactly
    # those; who holds a pull's lease (host, pid, process start), so a dead one is free
    "ALTER TABLE feeds ADD COLUMN cursor_keys TEXT",
    "ALTER TABLE feeds ADD COLUMN lease_owner TEXT",
    # what the feed is: a TAXII 2.1 collection ('taxii') or a MISP feed ('misp')
    "ALTER TABLE feeds ADD COLUMN kind TEXT",
    # TAXII versions keep every digit down to the nanosecond (they were cut to the
    # microsecond): the stored microsecond forms get three more digits
    "UPDATE taxii_objects SET version = substr(version, 1, 26) || '000Z' "
    "WHERE length(version) = 27 AND substr(version, 20, 1) = '.'",
    # what a push already delivered to a target collection (member, channel, URL)
    """CREATE TABLE feed_pushed (
        target TEXT NOT NULL,
        object_id TEXT NOT NULL,
        version TEXT NOT NULL,
        PRIMARY KEY (target, object_id, version)
    )""",
]


# Per-member positions: a member's cursor in its inbox, its correlation notices and its
# TAXII collections (``pos``: the ``seq`` of the API, the TAXII ``next``) counts that
# member's own entries only, so it tells nothing of what others receive. A position is
# never handed out twice (``cursor_heads`` keeps each member's last per stream, even
# when rows go). Rows stored before keep their node-wide seq as position, and every
# member's head starts past the highest seq ever handed out, so cursors held by clients
# stay valid.
def _positions(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ADD COLUMN pos {{BIGINT}} NOT NULL DEFAULT 0",
        f"UPDATE {table} SET pos = seq",
        f"INSERT INTO cursor_heads(member_id, stream, head) "
        f"SELECT id, '{table}', {{SEQ_HIGH_{table}}} FROM members",
        f"CREATE UNIQUE INDEX {table}_member_pos ON {table}(member_id, pos)",
    ]


MEMBER_CURSOR_MIGRATION: list[str] = [
    """CREATE TABLE cursor_heads (
        member_id TEXT NOT NULL,
        stream TEXT NOT NULL,
        head {BIGINT} NOT NULL,
        PRIMARY KEY (member_id, stream)
    )""",
    *_positions("inbox"),
    *_positions("correlations"),
    *_positions("taxii_access"),
    "CREATE INDEX taxii_access_channel_pos ON taxii_access(member_id, channel, pos)",
    # a blind match is a fact about two shares; each member that is a party to both
    # (originator or recipient) gets a notice row at its own next position
    """CREATE TABLE blind_notices (
        member_id TEXT NOT NULL,
        share_id TEXT NOT NULL,
        other_id TEXT NOT NULL,
        pos {BIGINT} NOT NULL,
        PRIMARY KEY (member_id, pos)
    )""",
    "CREATE INDEX blind_notices_share ON blind_notices(share_id)",
    "CREATE INDEX blind_notices_other ON blind_notices(other_id)",
    """INSERT INTO blind_notices(member_id, share_id, other_id, pos)
    SELECT a.member_id, m.share_id, m.other_id, m.seq FROM blind_matches m
    JOIN (SELECT member_id, share_id FROM inbox UNION SELECT originator, id FROM shares) a
      ON a.share_id = m.share_id
    JOIN (SELECT member_id, share_id FROM inbox UNION SELECT originator, id FROM shares) b
      ON b.share_id = m.other_id AND b.member_id = a.member_id""",
    "INSERT INTO cursor_heads(member_id, stream, head) "
    "SELECT id, 'blind_matches', {SEQ_HIGH_blind_matches} FROM members",
]

# Channel names are unique per owner, not node-wide: a node-wide name would answer
# "exists" for a channel the creator cannot see. (SQLite cannot drop a column's UNIQUE:
# the table is rebuilt, with foreign keys off during migrations and checked before
# each commit; see SqliteStore.migrate.)
CHANNEL_NAMES_MIGRATION: list[str] = [
    only("sqlite", """CREATE TABLE channels_v8 (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL REFERENCES members(id),
        created TEXT NOT NULL
    )"""),
    only("sqlite", "INSERT INTO channels_v8(id, name, kind, owner, created) "
                   "SELECT id, name, kind, owner, created FROM channels"),
    only("sqlite", "DROP TABLE channels"),
    only("sqlite", "ALTER TABLE channels_v8 RENAME TO channels"),
    only("postgresql", "ALTER TABLE channels DROP CONSTRAINT channels_name_key"),
    "CREATE UNIQUE INDEX channels_owner_name ON channels(owner, name)",
]

# Federation trust: what this node witnessed of other nodes' logs (one latest checkpoint
# per origin, and every verified root it saw, to find two roots for one size), the
# cosignatures its own checkpoints gathered, evidence and fork alarms, the key
# directory log of the members it hosts and the revocations every node enforces, and
# the node roster.
TRUST_MIGRATION: list[str] = [
    """CREATE TABLE witness_heads (
        origin TEXT PRIMARY KEY,
        size {BIGINT} NOT NULL,
        root {BLOB} NOT NULL,
        note TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE witness_roots (
        origin TEXT NOT NULL,
        size {BIGINT} NOT NULL,
        root {BLOB} NOT NULL,
        note TEXT NOT NULL,
        source TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (origin, size, root)
    )""",
    """CREATE TABLE trust_evidence (
        seq {SERIAL},
        origin TEXT NOT NULL,
        kind TEXT NOT NULL,
        size {BIGINT} NOT NULL,
        notes TEXT NOT NULL,
        detail TEXT NOT NULL,
        source TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX trust_evidence_origin ON trust_evidence(origin, seq)",
    """CREATE TABLE fork_alarms (
        node TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        evidence {BIGINT} NOT NULL,
        raised TEXT NOT NULL,
        status TEXT NOT NULL,
        decided_by TEXT,
        decided TEXT,
        reason TEXT
    )""",
    """CREATE TABLE cosignatures (
        origin TEXT NOT NULL,
        size {BIGINT} NOT NULL,
        root {BLOB} NOT NULL,
        witness TEXT NOT NULL,
        line TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (origin, size, witness)
    )""",
    """CREATE TABLE witness_held (
        witness TEXT NOT NULL,
        origin TEXT NOT NULL,
        size {BIGINT} NOT NULL,
        PRIMARY KEY (witness, origin)
    )""",
    """CREATE TABLE dir_entries (
        idx {BIGINT} PRIMARY KEY,
        member TEXT NOT NULL,
        kind TEXT NOT NULL,
        data {BLOB} NOT NULL
    )""",
    "CREATE INDEX dir_entries_member ON dir_entries(member, idx)",
    """CREATE TABLE key_revocations (
        key_id TEXT PRIMARY KEY,
        member TEXT NOT NULL,
        home TEXT NOT NULL,
        after_index {BIGINT} NOT NULL,
        entry TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    # items received signed by a key, so a revocation learnt late marks them
    """CREATE TABLE key_uses (
        share_id TEXT PRIMARY KEY,
        home TEXT NOT NULL,
        key_id TEXT NOT NULL,
        log_index {BIGINT} NOT NULL,
        revoked {BOOL} NOT NULL
    )""",
    "CREATE INDEX key_uses_key ON key_uses(key_id, log_index)",
    # what a relay keeps of a hop it forwards: nothing more
    """CREATE TABLE relay_hops (
        hop_id TEXT PRIMARY KEY,
        dest TEXT NOT NULL,
        bucket {BIGINT} NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE roster_statements (
        seq {BIGINT} PRIMARY KEY,
        kind TEXT NOT NULL,
        data {BLOB} NOT NULL
    )""",
]


# v12: federation (vigil.federation; queries in vigil.storage.federation)
FEDERATION_MIGRATION: list[str] = [
    # the nodes this node peers with, pinned by node key (and TLS key)
    """CREATE TABLE fed_peers (
        node_id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        node_key {BLOB} NOT NULL,
        pin TEXT NOT NULL,
        hop_key {BLOB} NOT NULL,
        tls_pin TEXT,
        log_origin TEXT NOT NULL,
        descriptor TEXT NOT NULL,
        added TEXT NOT NULL,
        removed {BOOL} NOT NULL
    )""",
    # members homed at another node (every other member is homed here)
    """CREATE TABLE fed_members (
        member_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        log_index {BIGINT} NOT NULL,
        revoked_index {BIGINT}
    )""",
    "CREATE INDEX fed_members_node ON fed_members(node_id)",
    # channels homed at another node: the highest epoch applied
    """CREATE TABLE fed_channels (
        channel_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        epoch {BIGINT} NOT NULL
    )""",
    # what this node sends: one gap-free dseq per destination; kept until acked
    """CREATE TABLE fed_outbox (
        dest TEXT NOT NULL,
        dseq {BIGINT} NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (dest, dseq)
    )""",
    # per destination: the last dseq handed out and the peer's acked cursor
    """CREATE TABLE fed_links (
        dest TEXT PRIMARY KEY,
        head {BIGINT} NOT NULL,
        acked {BIGINT} NOT NULL,
        acked_at TEXT,
        last_ok TEXT,
        last_error TEXT
    )""",
    # per origin: the cursor this node has applied, and what its heartbeats said
    """CREATE TABLE fed_cursors (
        origin TEXT PRIMARY KEY,
        cursor {BIGINT} NOT NULL,
        peer_head {BIGINT} NOT NULL,
        last_batch TEXT,
        last_heartbeat TEXT,
        withheld TEXT
    )""",
    # items (or whole batches, dseq NULL) refused, with what proves it
    """CREATE TABLE fed_quarantine (
        seq {SERIAL},
        origin TEXT NOT NULL,
        dseq {BIGINT},
        kind TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence {BLOB} NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX fed_quarantine_origin ON fed_quarantine(origin, seq)",
    # the log scans and the revocations a heartbeat carries read the log by kind
    "CREATE INDEX log_leaves_kind ON log_leaves(kind, idx)",
    # how far each log scan went (member, channel, receipt entries to announce)
    """CREATE TABLE fed_scans (
        name TEXT NOT NULL,
        dest TEXT NOT NULL,
        idx {BIGINT} NOT NULL,
        PRIMARY KEY (name, dest)
    )""",
]


# consent grants and private matching of selectors (vigil.consent, vigil.match; the
# issue named slot v15, it is the migration after federation here).
# The match tables hold OPRF outputs and blinded group elements only: never a selector,
# never a member's OPRF key.
MIGRATION_INTEL: list[str] = [
    """CREATE TABLE consent_requests (
        id TEXT PRIMARY KEY,
        share_id TEXT NOT NULL,
        asker TEXT NOT NULL,
        originator TEXT NOT NULL,
        what TEXT NOT NULL,
        reason TEXT NOT NULL,
        created TEXT NOT NULL,
        state TEXT NOT NULL,
        answered TEXT,
        until_at TEXT,
        answer TEXT,
        signature TEXT
    )""",
    "CREATE INDEX consent_asker ON consent_requests(asker, share_id)",
    "CREATE INDEX consent_originator ON consent_requests(originator, state)",
    # every declared use of a share (court, forward, retain, and opening a share that
    # holds personal data, with its purpose), shown to the share's originator
    """CREATE TABLE share_uses (
        share_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        what TEXT NOT NULL,
        purpose TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX share_uses_share ON share_uses(share_id, at)",
    """CREATE TABLE match_index (
        member_id TEXT NOT NULL,
        output TEXT NOT NULL,
        PRIMARY KEY (member_id, output)
    )""",
    """CREATE TABLE match_queries (
        id TEXT PRIMARY KEY,
        asker TEXT NOT NULL,
        blinded TEXT NOT NULL,
        created TEXT NOT NULL,
        holders TEXT NOT NULL
    )""",
    "CREATE INDEX match_queries_asker ON match_queries(asker, created)",
    """CREATE TABLE match_evaluations (
        query_id TEXT NOT NULL,
        holder TEXT NOT NULL,
        evaluated TEXT NOT NULL,
        hit {BOOL} NOT NULL DEFAULT FALSE,
        PRIMARY KEY (query_id, holder)
    )""",
]

# key life cycle (vigil.node.keylife) and back-channel SSO logout (vigil.signin.sso)
KEY_LIFECYCLE_MIGRATION: list[str] = [
    # keys a member no longer uses, or whose use is limited: retired by rotation or
    # recovery, given an expiry, or revoked (the current keys stay in members)
    """CREATE TABLE member_keys (
        key_id TEXT PRIMARY KEY,
        member_id TEXT NOT NULL,
        use TEXT NOT NULL,
        public {BLOB} NOT NULL,
        retired TEXT,
        expires TEXT,
        revoked_since TEXT,
        revoked_at TEXT,
        revoked_index {BIGINT}
    )""",
    "CREATE INDEX member_keys_member ON member_keys(member_id)",
    """CREATE TABLE recovery_keys (
        member_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        public {BLOB} NOT NULL,
        created TEXT NOT NULL
    )""",
    # shares signed with a revoked key at or after its revocation point
    """CREATE TABLE revoked_shares (
        share_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        marked TEXT NOT NULL
    )""",
    # content keys a member wrapped again to its own new key
    """CREATE TABLE rewraps (
        share_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        blob {BLOB} NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (share_id, member_id)
    )""",
    # back-channel logout names the provider's session (sid) or subject (sub)
    "ALTER TABLE sso_sessions ADD COLUMN sid TEXT",
    "ALTER TABLE sso_sessions ADD COLUMN sub TEXT",
]

# A share writes an entry per recipient into every member-keyed index of the inbox and
# of the TAXII index, and once a node holds more than a few shares per member each of
# those entries lands on a page of its own: every such index costs a page per recipient
# in each share's durable commit. v17 drops the three that per-member positions (v7)
# replaced and that no query reads, and keys the two that keep a share once per member
# by share first, so that a share's entries sit together on a page or two (lookups give
# both columns; a share's rows are now found by its id alone too).
FAN_OUT_INDEXES_MIGRATION: list[str] = [
    "DROP INDEX IF EXISTS inbox_member_seq",
    "DROP INDEX IF EXISTS taxii_access_member",
    "DROP INDEX IF EXISTS taxii_access_channel",
    "CREATE UNIQUE INDEX inbox_share_member ON inbox(share_id, member_id)",
    "DROP INDEX IF EXISTS inbox_member_share",
    "CREATE UNIQUE INDEX taxii_access_share_member ON taxii_access(share_seq, member_id)",
    "DROP INDEX IF EXISTS taxii_access_share",
]

# the answers to publishes made with an Idempotency-Key (vigil.web.idempotency)
IDEMPOTENCY_MIGRATION: list[str] = [
    """CREATE TABLE idempotency_keys (
        member_id TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        response {BLOB} NOT NULL,
        share_id TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (member_id, key)
    )""",
    "CREATE INDEX idempotency_keys_created ON idempotency_keys(created)",
]

# A plain share's payload holds each of its objects' bytes: a TAXII object row names
# where (``body_at``, ``body_len``: offset and length in the payload) instead of holding
# the object's JSON a second time (``obj`` is then empty). Rows stored before keep
# their ``obj`` (``body_at`` NULL).
TAXII_SPANS_MIGRATION: list[str] = [
    "ALTER TABLE taxii_objects ADD COLUMN body_at {BIGINT}",
    "ALTER TABLE taxii_objects ADD COLUMN body_len {BIGINT}",
]

# A member may read a TAXII object iff it may read the share that carries it, and the
# shares it may read are its inbox's and its own (the access gate's rule), so the TAXII
# index keeps no per-member rows: v22 drops ``taxii_access`` (per recipient of every
# share: a row, a position and four index entries, three of them keyed by member). A
# collection is read from the member's inbox rows (their positions and ``added``)
# joined to ``taxii_shares``, and from its own shares, each of which takes a position in
# its originator's inbox stream (``own_pos``, a position no inbox row holds) unless the
# originator is also a recipient. Own shares stored before are placed after their
# originator's last inbox position, in the order they were stored.
# Where a member's entries added after a time start (TAXII ``added_after``) is found
# without an index per recipient: an inbox entry is added when its share is stored
# (``taxii_shares.added``, indexed once per share), unless it was placed again later
# (a share let through, a recall): such entries are noted in ``inbox_moves`` (and those
# of before, whose ``added`` is not their share's, copied there).
TAXII_FROM_INBOX_MIGRATION: list[str] = [
    "ALTER TABLE taxii_shares ADD COLUMN own_pos {BIGINT}",
    """UPDATE taxii_shares SET own_pos = n.pos FROM (
        SELECT t.share_seq, coalesce(h.head, 0) + ROW_NUMBER() OVER (
            PARTITION BY t.originator ORDER BY t.share_seq) AS pos
        FROM taxii_shares t LEFT JOIN cursor_heads h
          ON h.member_id = t.originator AND h.stream = 'inbox'
        WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.share_id = t.share_id
                          AND i.member_id = t.originator)) AS n
    WHERE taxii_shares.share_seq = n.share_seq""",
    """INSERT INTO cursor_heads(member_id, stream, head)
    SELECT originator, 'inbox', max(own_pos) FROM taxii_shares WHERE own_pos IS NOT NULL
    GROUP BY originator
    ON CONFLICT (member_id, stream) DO UPDATE SET head = excluded.head""",
    "DELETE FROM cursor_heads WHERE stream = 'taxii_access'",
    "DROP TABLE taxii_access",
    "CREATE UNIQUE INDEX taxii_shares_own ON taxii_shares(originator, own_pos)",
    "CREATE INDEX taxii_shares_added ON taxii_shares(added)",
    """CREATE TABLE inbox_moves (
        member_id TEXT NOT NULL,
        pos {BIGINT} NOT NULL,
        added TEXT NOT NULL,
        PRIMARY KEY (member_id, pos)
    )""",
    """INSERT INTO inbox_moves(member_id, pos, added)
    SELECT i.member_id, i.pos, i.added FROM inbox i
    LEFT JOIN taxii_shares t ON t.share_id = i.share_id
    WHERE t.share_id IS NULL OR i.added <> t.added""",
]

# The TAXII object-id index as sorted runs (``vigil.storage.taxii_runs``): a share's
# transaction writes its objects' ids as one new run, sorted, at the end of
# ``taxii_ids`` (``(run, object_id, share_seq, pos)``), instead of inserting each id at
# a random place in one B-tree (a page dirtied per object at every POST); runs are
# merged by tiers. A lookup probes every run (``taxii_runs``). The ids stored before
# are one run, of a level the merges leave alone until it has peers.
TAXII_ID_RUNS_MIGRATION: list[str] = [
    """CREATE TABLE taxii_runs (
        run {BIGINT} PRIMARY KEY,
        level INTEGER NOT NULL,
        n {BIGINT} NOT NULL
    )""",
    only("sqlite", """CREATE TABLE taxii_ids (
        run INTEGER NOT NULL,
        object_id TEXT NOT NULL,
        share_seq INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        PRIMARY KEY (run, object_id, share_seq, pos)
    ) WITHOUT ROWID"""),
    only("postgresql", """CREATE TABLE taxii_ids (
        run BIGINT NOT NULL,
        object_id TEXT NOT NULL,
        share_seq BIGINT NOT NULL,
        pos INTEGER NOT NULL,
        PRIMARY KEY (run, object_id, share_seq, pos)
    )"""),
    "INSERT INTO taxii_runs(run, level, n) SELECT 1, 6, c.n "
    "FROM (SELECT count(*) AS n FROM taxii_objects) c WHERE c.n > 0",
    "INSERT INTO taxii_ids(run, object_id, share_seq, pos) "
    "SELECT 1, object_id, share_seq, pos FROM taxii_objects",
    "DROP INDEX taxii_objects_id",
]

# Filters of the TAXII id runs (``vigil.storage.taxii_filters``): each run's blocked Bloom
# filter of its ids, in parts by id range, so that a lookup by id probes about one run; a
# run's ``tag`` says its filter is whole (the runs of before are filtered in bounded steps
# by the merges' task, and probed for every lookup until then).
TAXII_ID_FILTERS_MIGRATION: list[str] = [
    "ALTER TABLE taxii_runs ADD COLUMN tag {BIGINT}",
    """CREATE TABLE taxii_id_filters (
        run {BIGINT} NOT NULL,
        part INTEGER NOT NULL,
        lo TEXT NOT NULL,
        hi TEXT NOT NULL,
        bits {BLOB} NOT NULL,
        PRIMARY KEY (run, part)
    )""",
]

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
    [  # v6: users that may revoke their member's users and deactivate it (vigil.signin.users)
        "ALTER TABLE users ADD COLUMN admin {BOOL} NOT NULL DEFAULT FALSE",
    ],
    MEMBER_CURSOR_MIGRATION,  # v7: per-member inbox, notice, TAXII and blind positions
    CHANNEL_NAMES_MIGRATION,  # v8: channel names unique per owner
    INTEROP_MIGRATION,  # v9: feed cursors, leases, push records; ns TAXII versions
    [  # v10: what a token may do and until when; the member's sign-in events (vigil.signin.tokens)
        "ALTER TABLE users ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'",
        "ALTER TABLE users ADD COLUMN expires TEXT",
        "ALTER TABLE users ADD COLUMN token_prefix TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX users_token_prefix ON users(token_prefix)",
        """CREATE TABLE auth_events (
            seq {SERIAL},
            member_id TEXT NOT NULL,
            user_id TEXT,
            event TEXT NOT NULL,
            detail TEXT NOT NULL,
            address TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX auth_events_member ON auth_events(member_id, seq)",
        # client certificates standing for a user (vigil.signin.certs): an SPKI pin or a subject
        """CREATE TABLE user_certs (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked {BOOL} NOT NULL
        )""",
        "CREATE INDEX user_certs_value ON user_certs(kind, value)",
    ],
    [  # v11: console sign-in by OpenID Connect and WebAuthn (vigil.signin: sso, passkeys)
        """CREATE TABLE sso_providers (
            issuer TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            client_secret TEXT NOT NULL,
            member_claim TEXT NOT NULL,
            user_claim TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE sso_members (
            issuer TEXT NOT NULL REFERENCES sso_providers(issuer) ON DELETE CASCADE,
            member_id TEXT NOT NULL,
            PRIMARY KEY (issuer, member_id)
        )""",
        # a browser's sign-in under way: only a hash of its state is kept
        """CREATE TABLE sso_pending (
            state_hash TEXT PRIMARY KEY,
            issuer TEXT NOT NULL,
            nonce TEXT NOT NULL,
            verifier TEXT NOT NULL,
            expires TEXT NOT NULL
        )""",
        # the ID token of a console session opened by SSO (for the provider's logout)
        """CREATE TABLE sso_sessions (
            session_hash TEXT PRIMARY KEY,
            issuer TEXT NOT NULL,
            id_token TEXT NOT NULL,
            expires TEXT NOT NULL
        )""",
        """CREATE TABLE passkeys (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            public_key {BLOB} NOT NULL,
            sign_count {BIGINT} NOT NULL,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX passkeys_user ON passkeys(user_id)",
        "CREATE TABLE passkey_members (member_id TEXT PRIMARY KEY)",
        # a first factor passed, a passkey still to come; or a passkey ceremony under way
        """CREATE TABLE signin_steps (
            id_hash TEXT PRIMARY KEY,
            user_id TEXT,
            challenge TEXT NOT NULL,
            method TEXT NOT NULL,
            issuer TEXT,
            id_token TEXT,
            expires TEXT NOT NULL
        )""",
    ],
    FEDERATION_MIGRATION,  # v12: peers, remote members, outbox, cursors, quarantine
    MIGRATION_INTEL,  # v13: consent requests, declared uses, private selector matching
    TRUST_MIGRATION,  # v14: witnessing, key directory, revocations, relay hops, roster
    OBSERVABLE_KEY_MIGRATION,  # v15: observables keyed for lookups in the store
    KEY_LIFECYCLE_MIGRATION,  # v16: key history, revocations, rewraps; SSO logout ids
    FAN_OUT_INDEXES_MIGRATION,  # v17: fewer index pages per recipient of a share
    IDEMPOTENCY_MIGRATION,  # v18: answers to publishes made with an Idempotency-Key
    # v19: a large payload stored apart from its share row (SQLite: vigil.storage.payloads)
    ["ALTER TABLE shares ADD COLUMN payload_ref TEXT"],
    TAXII_SPANS_MIGRATION,  # v20: TAXII objects served from their share's payload
    # v21: a peer reached through a relay (the relay's node id), not at its own address
    ["ALTER TABLE fed_peers ADD COLUMN via TEXT"],
    TAXII_FROM_INBOX_MIGRATION,  # v22: TAXII access read from the inbox, no rows of its own
    OBSERVABLE_KEY_INDEX_MIGRATION,  # v23: observable keys merged apart; rows name a share seq
    # v24: a received share's place in its origin's log, proven by a checkpoint of that
    # log with k cosignatures (vigil.federation.trust_origin)
    ["""CREATE TABLE origin_proofs (
        share_id TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        idx {BIGINT} NOT NULL,
        size {BIGINT} NOT NULL,
        checkpoint TEXT NOT NULL,
        proof TEXT NOT NULL
    )"""],
    TAXII_ID_RUNS_MIGRATION,  # v25: TAXII object ids in sorted runs, merged by tiers
    # v26: channel items held until every member they name is known here, kept in the
    # transaction that moves the cursor past them, with the member each waits for (NULL:
    # held behind an earlier item of its channel) (vigil.federation.held)
    [
        """CREATE TABLE fed_held (
            seq {SERIAL},
            origin TEXT NOT NULL,
            dseq {BIGINT} NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            waiting TEXT,
            body {BLOB} NOT NULL,
            evidence {BLOB} NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX fed_held_item ON fed_held(origin, dseq)",
        "CREATE INDEX fed_held_channel ON fed_held(channel, origin, seq)",
        "CREATE INDEX fed_held_at ON fed_held(at, seq)",
    ],
    TAXII_ID_FILTERS_MIGRATION,  # v27: a filter of each TAXII id run's ids
]


def render(statement: str, dialect: Dialect) -> str:
    if statement.startswith(_ONLY):
        tag, _, statement = statement.partition("\n")
        if tag != f"{_ONLY}{dialect}":
            return ""
    for word, sql in _TYPES[dialect].items():
        statement = statement.replace(word, sql)
    return statement


def schema_version() -> int:
    return len(MIGRATIONS)
