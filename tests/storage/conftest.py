"""The store of the storage tests, on each backend (SQLite, PostgreSQL), and the members and
sealed envelopes they put in it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vigil.model import Envelope, Member, MemberKind, Wrap
from vigil.storage import Store, open_store
from vigil.storage.schema import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vigil.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()


def member(name: str) -> Member:
    return Member(id=f"identity--{uuid.uuid4()}", name=name, display_name=name.upper(),
                  country="EE", kind=MemberKind.CERT, sign_key=b"s" * 32,
                  sign_key_id="ed25519:" + "0" * 32, enc_key=b"e" * 32,
                  enc_key_id="x25519:" + "1" * 32, created="2026-11-29T08:00:00.000Z")


def envelope(originator: str, recipients: list[str], payload: bytes = b"{}") -> Envelope:
    sid = f"share--{uuid.uuid4()}"
    header = {"v": 1, "kind": "share", "id": sid, "originator": originator,
              "created": "2026-11-29T08:00:00.000Z", "expires": None,
              "audience": {"tlp": "amber", "channel": None, "recipients": sorted(recipients)},
              "handling": {"purpose": None, "no_onward": False, "codes": []},
              "payload": {"form": "sealed", "size": len(payload), "digest": "sha256:x"}}
    return Envelope(header=header, signature=b"sig", payload=payload,
                    wraps=(Wrap(recipients[0], "x25519:k", b"\x00\x01blob"),))


def stores_before(
    migration: list[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, Callable[[], None]]]:
    """For each backend: the URL of a store migrated up to (not including)
    ``migration``, and a function that lets the next open apply every migration."""
    from vigil.storage import postgres as pg_module
    from vigil.storage import sqlite as sqlite_module

    old = MIGRATIONS[: MIGRATIONS.index(migration)]
    for mod, url in (
        (sqlite_module, f"sqlite:///{tmp_path / 'old.db'}"),
        (pg_module, request.getfixturevalue("pg_empty_url")),
    ):
        monkeypatch.setattr(mod, "MIGRATIONS", old)
        yield url, functools.partial(monkeypatch.setattr, mod, "MIGRATIONS", MIGRATIONS)
