"""Secret files (mode 0600 from the first byte, atomic, no partial file left) and
secrets sealed under the node's ``secrets.key``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vigil.crypto.secretfile import (
    SEALED_PREFIX,
    SecretBox,
    owner_only_dir,
    owner_only_file,
    write_secret_file,
)
from vigil.errors import CryptoError


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_secret_file_is_owner_only_and_not_overwritten_unless_asked(tmp_path: Path
                                                                      ) -> None:
    p = tmp_path / "node.key"
    old = os.umask(0)  # what the process would allow otherwise
    try:
        write_secret_file(p, b"first")
    finally:
        os.umask(old)
    assert p.read_bytes() == b"first" and mode(p) == 0o600
    with pytest.raises(FileExistsError):
        write_secret_file(p, b"second")
    assert p.read_bytes() == b"first"
    write_secret_file(p, b"second", overwrite=True)
    assert p.read_bytes() == b"second" and mode(p) == 0o600
    assert sorted(x.name for x in tmp_path.iterdir()) == ["node.key"]  # no temp file left


def test_owner_only_dirs_and_files(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    owner_only_dir(d)
    assert mode(d) == 0o700 and mode(tmp_path / "a") == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    owner_only_dir(shared)
    assert mode(shared) == 0o755  # an existing directory keeps its mode
    f = tmp_path / "db"
    owner_only_file(f)
    assert f.read_bytes() == b"" and mode(f) == 0o600
    f.write_bytes(b"data")
    f.chmod(0o644)
    owner_only_file(f)
    assert f.read_bytes() == b"data" and mode(f) == 0o600


def test_a_sealed_secret_opens_only_for_its_purpose_and_key(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "secrets.key")
    sealed = box.seal("client-secret", "sso/acme")
    assert sealed.startswith(SEALED_PREFIX) and "client-secret" not in sealed
    assert mode(tmp_path / "secrets.key") == 0o600
    assert len((tmp_path / "secrets.key").read_bytes()) == 32
    assert SecretBox(tmp_path / "secrets.key").open(sealed, "sso/acme") == "client-secret"
    with pytest.raises(CryptoError) as info:
        box.open(sealed, "sso/other")
    assert info.value.code == "crypto.open_failed"
    with pytest.raises(CryptoError):
        SecretBox(None).open(sealed, "sso/acme")  # another key
    with pytest.raises(CryptoError):
        box.open(SEALED_PREFIX + "!!", "sso/acme")
    assert box.open("stored before sealing", "sso/acme") == "stored before sealing"


def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secrets.key").write_bytes(b"short")
    with pytest.raises(ValueError):
        SecretBox(tmp_path / "secrets.key").seal("s", "p")
