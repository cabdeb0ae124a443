"""vigil.testing.node: the throw-away nodes the tests make."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vigil.storage import open_store
from vigil.storage.schema import MIGRATIONS
from vigil.testing import make_node
from vigil.testing.node import sqlite_template

Shape = tuple[list[tuple[str, ...]], dict[str, str], tuple[object, ...]]


def _shape(db: Path) -> Shape:
    with sqlite3.connect(db) as c:
        tables = c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                           "ORDER BY type, name").fetchall()
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        pragmas = tuple(c.execute(f"PRAGMA {p}").fetchone()[0]
                        for p in ("page_size", "journal_mode", "user_version"))
    c.close()
    return tables, meta, pragmas


def test_a_node_s_store_is_the_store_a_fresh_migration_makes(tmp_path: Path) -> None:
    """make_node starts the store from a template migrated once: the node's store has
    the schema, meta rows and file settings of one migrated from nothing, plus its node
    id, and each node has a file of its own."""
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}").close()
    a = make_node(tmp_path / "a", {"alpha": True})
    b = make_node(tmp_path / "b", {"bravo": True})
    tables, meta, pragmas = _shape(fresh)
    for node in (a, b):
        got_tables, got_meta, got_pragmas = _shape(node.data / "vigil.db")
        assert (got_tables, got_pragmas) == (tables, pragmas)
        assert got_meta.pop("node_id").startswith("node--")
        assert {k: v for k, v in got_meta.items() if k != "dir_version"} == \
            {k: v for k, v in meta.items() if k != "dir_version"}
        assert meta["schema_version"] == str(len(MIGRATIONS))
    assert _shape(a.data / "vigil.db")[1]["node_id"] != _shape(b.data / "vigil.db")[1]["node_id"]
    ex = a.exchange()
    try:
        assert list(ex.directory().members) == [a.members["alpha"].id]
    finally:
        ex.store.close()
    # the template itself holds no node
    assert "node_id" not in _shape(sqlite_template())[1]
