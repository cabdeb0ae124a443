"""The application's start: settings that shape how the process shares its CPU."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.web import create_app


def test_the_switch_interval_is_the_settings(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    before = sys.getswitchinterval()
    try:
        app = create_app(node.settings.with_overrides(switch_interval=0.0025), exchange=ex,
                         bus=LocalBus())
        with TestClient(app):
            assert abs(sys.getswitchinterval() - 0.0025) < 1e-9
    finally:
        sys.setswitchinterval(before)
        ex.store.close()
