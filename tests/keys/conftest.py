"""A SoftHSM2 token for the tests of keys held in hardware (Debian's softhsm2, installed
by scripts/test.sh; skipped without it unless VIGIL_REQUIRE_SERVICES=1).

The PKCS#11 module reads its configuration once per process, so one token serves the
whole session; each test names its own objects."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "4711-token-pin"


@dataclass(frozen=True)
class SoftHsm:
    label: str
    pin: str
    conf: Path
    # a second token for TLS client keys: Debian bookworm's PKCS#11 engine (libp11
    # 0.4.12) cannot list the keys of a token that also holds Ed25519/X25519 keys
    tls_label: str = "vigil-tls"

    def uri(self, obj: str | None = None) -> str:
        obj = obj or f"m{uuid.uuid4().hex[:12]}"
        return f"pkcs11:token={self.label};object={obj}?module-path={MODULE}"


def _missing(why: str) -> None:
    if os.environ.get("VIGIL_REQUIRE_SERVICES") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def _softhsm_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    util = shutil.which("softhsm2-util")
    if util is None or not Path(MODULE).exists():
        _missing("SoftHSM2 is not installed (apt-get install softhsm2)")
    assert util is not None
    store = tmp_path_factory.mktemp("softhsm")
    (store / "tokens").mkdir()
    conf = store / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {store / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    old = {k: os.environ.get(k) for k in ("SOFTHSM2_CONF", "VIGIL_PKCS11_PIN")}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["VIGIL_PKCS11_PIN"] = PIN
    label = "vigil-test"
    for name in (label, SoftHsm.tls_label):
        subprocess.run([util, "--init-token", "--free", "--label", name, "--pin", PIN,
                        "--so-pin", "so-" + PIN], check=True, capture_output=True)
    yield SoftHsm(label, PIN, conf)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def softhsm(_softhsm_store: SoftHsm) -> SoftHsm:
    return _softhsm_store
