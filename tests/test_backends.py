"""Stores and buses are chosen by URL scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.bus import open_bus
from vigil.bus.local import LocalBus
from vigil.errors import ConfigError
from vigil.storage import open_store
from vigil.storage.sqlite import SqliteStore


def test_known_schemes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert isinstance(store, SqliteStore)
        assert store.get_meta("schema_version") is not None
    finally:
        store.close()
    assert isinstance(open_bus("local://"), LocalBus)


@pytest.mark.parametrize(("opener", "url", "code"), [
    (open_store, "mysql://localhost/db", "config.store_url"),
    (open_bus, "kafka://localhost", "config.bus_url"),
])
def test_unknown_scheme_is_a_config_error(opener: object, url: str, code: str) -> None:
    with pytest.raises(ConfigError) as err:
        opener(url)  # type: ignore[operator]
    assert err.value.code == code
