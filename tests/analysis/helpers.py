"""Small builders shared by the analysis tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import strategies as st

from vigil.analysis.correlation_rows import write_observables
from vigil.analysis.observables import Observable, normalise
from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.storage import Store, open_store
from vigil.storage.base import Sql

share_ids = itertools.count()


def publish(ex: Exchange, member: str, raw: bytes, *, tlp: Tlp = Tlp.GREEN,
            to: tuple[str, ...] = (), no_onward: bool = False,
            expires: str | None = None) -> Published:
    req = ex.make_request(member, tlp=tlp, to=to, no_onward=no_onward, expires=expires)
    return ex.publish_bundle(Actor(member=member, user=None), raw, req)


def module_store(name: str) -> Callable[..., Any]:
    """A fixture: one bare SQLite store for the whole test module."""
    @pytest.fixture(scope="module")
    def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
        s = open_store(f"sqlite:///{tmp_path_factory.mktemp(name) / 'x.db'}")
        try:
            yield s
        finally:
            s.close()
    return store


def put_fake_shares(sql: Sql, held: list[tuple[Observable, int]]) -> dict[int, str]:
    """Store the rows of fake shares (one per distinct ref) and their observables;
    ref -> share id."""
    ids: dict[int, str] = {}
    by_share: dict[str, list[Observable]] = {}
    for o, ref in held:
        if ref not in ids:
            ids[ref] = sid = f"share-{next(share_ids)}"
            sql.execute("INSERT INTO shares(id, originator, header, signature, payload, wraps, "
                        "created, recalled, purged) VALUES(?,?,?,?,?,?,?,?,?)",
                        (sid, f"member-{ref}", b"{}", b"", b"", b"", "", False, False))
        by_share.setdefault(ids[ref], []).append(o)
    write_observables(sql, by_share)
    return ids


_v4 = st.builds(lambda a, b, p: f"10.{a}.{b}.0/{p}" if p < 32 else f"10.{a}.{b}.1",
                st.integers(0, 3), st.integers(0, 3), st.sampled_from([8, 16, 22, 24, 30, 32]))


_v6 = st.builds(lambda a, p: f"2001:db8:{a}::/{p}", st.integers(0, 3),
                st.sampled_from([32, 48, 64, 128]))


_ip = st.one_of(_v4, _v6).map(lambda v: normalise("ip", v))


_other = st.builds(Observable, st.sampled_from(["domain", "md5"]),
                   st.sampled_from(["a", "b", "c"]))


any_observable = st.one_of(_ip, _other)
