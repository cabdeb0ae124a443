"""The built-in features come from one list (``vigil.features.FEATURES``), installed alike
on every exchange a process opens: the CLI's, the server's, the tests'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from vigil import features
from vigil.analysis.correlate import installed
from vigil.bus.local import LocalBus
from vigil.node.datadir import core_exchange
from vigil.node.exchange import Exchange
from vigil.testing import make_node
from vigil.web import create_app

HOOKS = ("share_tx_hooks", "purge_tx_hooks", "published_hooks", "read_hooks")


def hooks(ex: Exchange) -> dict[str, list[Any]]:
    return {name: list(getattr(ex, name)) for name in HOOKS}


def names(ex: Exchange) -> dict[str, list[str]]:
    """Each hook by the name of its function or class, for comparing two exchanges."""
    return {k: [getattr(h, "__qualname__", type(h).__qualname__) for h in v]
            for k, v in hooks(ex).items()}


def test_every_feature_installs_something_once(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    settings = node.settings.with_overrides(fed_name="one")  # every feature switched on
    ex = core_exchange(settings)
    try:
        assert all(v == [] for v in hooks(ex).values()) and ex.read_gate is None
        for feature in features.FEATURES:
            before = hooks(ex)
            feature.install(ex, settings)
            assert hooks(ex) != before, f"{feature.name} installed nothing"
            again = hooks(ex)
            feature.install(ex, settings)
            assert hooks(ex) == again, f"{feature.name} installed itself twice"
        assert installed(ex) is not None
    finally:
        ex.store.close()


def test_the_cli_and_the_server_get_the_same_features(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    cli_side = features.open_exchange(node.settings)  # what every CLI command opens
    listed = features.install(core_exchange(node.settings), node.settings)
    server_side = node.exchange()
    try:
        assert names(cli_side) == names(listed) == names(server_side)
        # the server adds only its own metrics listener, nothing of a feature
        app = create_app(node.settings, exchange=server_side, bus=LocalBus())
        with TestClient(app):
            want = names(listed)
            want["published_hooks"].append("Metrics.published")
            assert names(server_side) == want
    finally:
        for ex in (cli_side, listed, server_side):
            ex.store.close()
