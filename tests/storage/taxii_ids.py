"""The TAXII object-id index as its rows (runs of ids, object rows) and as the by-id answers
a member gets, for the tests of the index's runs and filters."""

from __future__ import annotations

from tests.taxii.conftest import read_all

from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource


def entries(ex: Exchange) -> list[tuple[int, str, int, int]]:
    return [(int(r), str(o), int(s), int(p)) for r, o, s, p in ex.store.read(
        lambda sql: sql.execute("SELECT run, object_id, share_seq, pos FROM taxii_ids "
                                "ORDER BY run, object_id, share_seq, pos").fetchall())]


def object_rows(ex: Exchange) -> list[tuple[str, int, int]]:
    return sorted((str(o), int(s), int(p)) for o, s, p in ex.store.read(
        lambda sql: sql.execute("SELECT object_id, share_seq, pos FROM taxii_objects"
                                ).fetchall()))


def answers(ex: Exchange, who: str, every: list[str]) -> tuple[list[str], list[str]]:
    """By-id answers: a page through some ids, and each of a few ids alone."""
    src = ExchangeSource(ex)
    coll = src.collections(Actor(who))[0]
    alone = [i.id for oid in every[::17] for i in
             src.page(Actor(who), coll, Query(ids=(oid,))).items]
    return read_all(src, who, 7, ids=tuple(every[::3])), alone
