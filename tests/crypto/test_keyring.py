import json
import os
import stat
import time
from pathlib import Path

import pytest

from vigil.crypto.keyring import (
    PASSPHRASE_ENV,
    Keyring,
    create_keyring,
    load_keyring,
    passphrase_from_env,
    write_keyring,
)
from vigil.crypto.keys import key_id
from vigil.errors import KeyringError

MEMBER = "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f"
OTHER = "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
PW = "correct horse battery staple"


def code(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises(KeyringError) as e:
        fn(*args, **kw)  # type: ignore[operator]
    return e.value.code


def raw(private: object) -> bytes:
    data = private.private_bytes_raw()  # type: ignore[attr-defined]
    assert isinstance(data, bytes)
    return data


def same(a: Keyring, b: Keyring) -> bool:
    return (
        a.member_id == b.member_id
        and raw(a.sign_private) == raw(b.sign_private)
        and a.enc_private.private_bytes_raw() == b.enc_private.private_bytes_raw()
    )


@pytest.mark.parametrize(("hybrid", "sign_alg", "enc_alg"), [
    (True, "ed25519+mldsa65", "mlkem768x25519"), (False, "ed25519", "x25519")])
@pytest.mark.usefixtures("real_kdf")
def test_create_and_load(tmp_path: Path, hybrid: bool, sign_alg: str, enc_alg: str) -> None:
    path = tmp_path / "alice.keyring"
    ring = create_keyring(path, MEMBER, PW, hybrid=hybrid)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.sign_key_id == key_id(sign_alg, ring.sign_public)
    assert ring.enc_key_id == key_id(enc_alg, ring.enc_public)
    assert same(load_keyring(path, PW), ring)
    assert same(load_keyring(str(path), PW.encode()), ring)
    assert [p.name for p in tmp_path.iterdir()] == ["alice.keyring"]  # no temp file left
    doc = json.loads(path.read_text())
    assert doc["member"] == MEMBER and doc["sign_key"]["id"] == ring.sign_key_id
    assert doc["kdf"]["name"] in ("argon2id", "scrypt")
    if doc["kdf"]["name"] == "argon2id":  # the OWASP baseline, as the module docstring says
        assert (doc["kdf"]["memory_kib"], doc["kdf"]["iterations"], doc["kdf"]["lanes"]) == (
            19456, 2, 1)
    text = path.read_text()
    for secret in (raw(ring.sign_private), ring.enc_private.private_bytes_raw()):
        assert secret.hex() not in text


def test_mode_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_keyring(tmp_path / "k", MEMBER, PW)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


@pytest.mark.usefixtures("real_kdf")
def test_load_is_fast_enough(tmp_path: Path) -> None:
    create_keyring(tmp_path / "k", MEMBER, PW)
    t = time.process_time()  # CPU time of this process: a busy machine does not inflate it
    load_keyring(tmp_path / "k", PW)
    assert time.process_time() - t < 0.15


def test_bad_passphrase(tmp_path: Path) -> None:
    create_keyring(tmp_path / "k", MEMBER, PW)
    assert code(load_keyring, tmp_path / "k", PW + "!") == "keyring.bad_passphrase"


def test_unicode_passphrase_is_nfc_normalised(tmp_path: Path) -> None:
    create_keyring(tmp_path / "k", MEMBER, "caf\u00e9")
    load_keyring(tmp_path / "k", "cafe\u0301")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610, 0o602])
def test_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k"
    create_keyring(path, MEMBER, PW)
    path.chmod(mode)
    assert code(load_keyring, path, PW) == "keyring.permissions"
    path.chmod(0o600)
    load_keyring(path, PW)


def test_refuses_non_regular_file(tmp_path: Path) -> None:
    assert code(load_keyring, tmp_path, PW) in ("keyring.permissions", "keyring.io")


def test_missing_file(tmp_path: Path) -> None:
    assert code(load_keyring, tmp_path / "nope", PW) == "keyring.not_found"


def test_no_clobber_and_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k"
    first = create_keyring(path, MEMBER, PW)
    assert code(create_keyring, path, MEMBER, PW) == "keyring.exists"
    assert same(load_keyring(path, PW), first)
    write_keyring(path, first, "new passphrase", overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert same(load_keyring(path, "new passphrase"), first)
    assert code(load_keyring, path, PW) == "keyring.bad_passphrase"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_empty_passphrase_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "k"
    assert code(create_keyring, path, MEMBER, "") == "keyring.empty_passphrase"
    assert not path.exists()
    ring = create_keyring(path, MEMBER, "", allow_empty=True)
    assert code(load_keyring, path, "") == "keyring.empty_passphrase"
    assert same(load_keyring(path, "", allow_empty=True), ring)
    assert code(load_keyring, path, "x") == "keyring.bad_passphrase"


def test_passphrase_from_env() -> None:
    assert passphrase_from_env({PASSPHRASE_ENV: "s3cret"}) == "s3cret"
    assert passphrase_from_env({}) is None


def _edit(path: Path, fn: object) -> None:
    doc = json.loads(path.read_text())
    fn(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    path.chmod(0o600)


def test_tampered_public_fields_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "k"
    create_keyring(path, MEMBER, PW)
    original = path.read_bytes()
    _edit(path, lambda d: d.__setitem__("member", OTHER))
    assert code(load_keyring, path, PW) == "keyring.bad_passphrase"  # member id is in the AAD
    path.write_bytes(original)
    other = Keyring.generate(MEMBER)

    def swap_key(d: dict[str, dict[str, str]]) -> None:
        from vigil.crypto.encoding import b64u

        d["sign_key"] = {"id": other.sign_key_id, "public": b64u(other.sign_public)}

    _edit(path, swap_key)
    assert code(load_keyring, path, PW) == "keyring.bad_passphrase"


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.pop("kdf"),
        lambda d: d.__setitem__("v", 2),
        lambda d: d.__setitem__("extra", 1),
        lambda d: d["kdf"].__setitem__("name", "pbkdf2"),
        lambda d: d["kdf"].__setitem__("memory_kib", 2**40),
        lambda d: d["kdf"].__setitem__("salt", "!!"),
        lambda d: d["cipher"].__setitem__("nonce", "AAAA"),
        lambda d: d["cipher"].__setitem__("ciphertext", d["cipher"]["ciphertext"][:-4]),
    ],
)
def test_malformed_files(tmp_path: Path, edit: object) -> None:
    path = tmp_path / "k"
    create_keyring(path, MEMBER, PW)
    _edit(path, edit)
    assert code(load_keyring, path, PW) == "keyring.malformed"


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"\xff not json")
    path.chmod(0o600)
    assert code(load_keyring, path, PW) == "keyring.malformed"


def test_bad_member_id(tmp_path: Path) -> None:
    assert code(create_keyring, tmp_path / "k", "alice", PW) == "keyring.malformed"
