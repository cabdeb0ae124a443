from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.feeds.medallion import Medallion


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[Medallion]:
    server = Medallion(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
