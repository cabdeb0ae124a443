"""TAXII objects served from their share's payload: a row names the slice of the
payload that holds the object's compact JSON; an object the payload does not hold as
such keeps its JSON in the row; rows stored before (JSON in the row) serve the same
bytes; a payload stored apart (SQLite) is read from its file, after a restart too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from tests.conftest import four_member_exchange
from tests.taxii.conftest import many_objects

from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode


def publish_raw(ex: Exchange, who: str, raw: bytes) -> str:
    return ex.publish_bundle(Actor(who), raw, ex.make_request(who, tlp=Tlp.GREEN)).envelope.id


def bundle(objects: list[dict[str, Any]], option: int | None = None) -> bytes:
    return orjson.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001",
                         "objects": objects}, option=option)


def served(ex: Exchange, who: str, limit: int = 7) -> list[bytes]:
    """Every object body a member reads from its first collection, page by page."""
    src = ExchangeSource(ex)
    coll = src.collections(Actor(who))[0]
    out: list[bytes] = []
    cursor = None
    while True:
        page = src.page(Actor(who), coll, Query(limit=limit, cursor=cursor))
        out += [i.body for i in page.items]
        if not page.more:
            return out
        cursor = page.next


def rows(ex: Exchange) -> list[Any]:
    return ex.store.read(lambda sql: sql.execute(
        "SELECT share_seq, pos, obj, body_at, body_len FROM taxii_objects "
        "ORDER BY share_seq, pos").fetchall())


def as_stored_before(ex: Exchange) -> None:
    """Rewrite every object row to the form stored before spans: the JSON in the row."""
    def rewrite(sql: Sql) -> None:
        for seq, payload in sql.execute("SELECT seq, payload FROM shares").fetchall():
            objects = orjson.loads(payload)["objects"]
            sql.executemany("UPDATE taxii_objects SET obj = ?, body_at = NULL, "
                            "body_len = NULL WHERE share_seq = ? AND pos = ?",
                            [(orjson.dumps(o), seq, pos) for pos, o in enumerate(objects)])
    ex.store.write(rewrite)


def test_rows_name_slices_of_the_payload(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(30)
    publish_raw(ex, a, bundle(objects[:12]))
    publish_raw(ex, a, bundle(objects[12:]))
    got = rows(ex)
    assert len(got) == 30
    assert all(bytes(obj) == b"" and at is not None for _, _, obj, at, _ in got)
    payloads = dict(ex.store.read(lambda sql: sql.execute(
        "SELECT seq, payload FROM shares").fetchall()))
    for seq, pos, _, at, length in got:
        assert orjson.loads(bytes(payloads[seq])[at:at + length]) == \
            objects[pos if seq == got[0][0] else 12 + pos]
    now = served(ex, b)
    assert [orjson.loads(x)["id"] for x in now] == [o["id"] for o in objects]
    as_stored_before(ex)  # the rows of a store written before: the same bytes served
    assert all(at is None for *_, at, _ in rows(ex))
    assert served(ex, b) == now


def test_an_object_written_otherwise_keeps_its_json(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(6)
    objects[2] = {**objects[2], "name": "caf\u00e9"}
    raw = bundle(objects)
    escaped = raw.replace("caf\u00e9".encode(), b"caf\\u00e9")  # the same JSON, escaped
    assert escaped != raw
    publish_raw(ex, a, escaped)
    publish_raw(ex, a, bundle(many_objects(9)[6:], orjson.OPT_INDENT_2))  # spaced out
    got = rows(ex)
    kept = [(seq, pos) for seq, pos, obj, at, _ in got if at is None]
    assert kept == [(got[2][0], 2)] + [(got[6][0], p) for p in range(3)]  # the rest: spans
    assert all(bytes(obj) for seq, pos, obj, at, _ in got if at is None)
    now = served(ex, b, 4)
    assert [orjson.loads(x) for x in now] == objects + many_objects(9)[6:]
    as_stored_before(ex)
    assert served(ex, b, 4) == now


def test_a_payload_stored_apart_is_sliced_from_its_file(tmp_path: Path) -> None:
    n, ex = four_member_exchange(tmp_path / "node")
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(40)
    try:
        ex.store.apart = 1024  # type: ignore[attr-defined]
        publish_raw(ex, a, bundle(objects))
        assert ex.store.read(lambda sql: sql.execute(
            "SELECT payload_ref FROM shares").fetchone()[0]) is not None
        assert all(at is not None for *_, at, _ in rows(ex))
        before = served(ex, b)
        assert [orjson.loads(x)["id"] for x in before] == [o["id"] for o in objects]
    finally:
        ex.store.close()
    again = n.exchange()  # a restart: the same bytes from the file
    try:
        assert served(again, b) == before
    finally:
        again.store.close()
