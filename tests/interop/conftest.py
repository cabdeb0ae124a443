"""misp-stix imports the STIX 1 library, whose package is named ``stix`` — the name the
test tree's ``tests/stix`` package has on this test run's path. Import misp-stix once
with the library's ``stix`` in place, then give the name back, so both work."""

from __future__ import annotations

import sys


def _import_misp_stix() -> None:
    if "misp_stix_converter" in sys.modules:
        return
    saved = {k: v for k, v in sys.modules.items() if k == "stix" or k.startswith("stix.")}
    for k in saved:
        del sys.modules[k]
    tests_dir = [p for p in sys.path if p.rstrip("/").endswith("/tests")]
    for p in tests_dir:
        sys.path.remove(p)
    try:
        import misp_stix_converter  # noqa: F401
    finally:
        for k in [k for k in sys.modules if k == "stix" or k.startswith("stix.")]:
            del sys.modules[k]
        sys.modules.update(saved)
        sys.path[:0] = tests_dir


_import_misp_stix()
