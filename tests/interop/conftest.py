"""``quiet_misp``: misp-stix and PyMISP log only what is critical (the conversion tests feed
them events they warn about by design)."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def quiet_misp() -> None:
    logging.getLogger("misp_stix_converter").setLevel(logging.CRITICAL)
    logging.getLogger("pymisp").setLevel(logging.CRITICAL)
