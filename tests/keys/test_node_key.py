"""The node's own Ed25519 key inside a PKCS#11 token (SoftHSM2): `vigil init --pkcs11`
makes it there, no node.key is written, and the log's checkpoints are signed by the
token."""

from __future__ import annotations

from pathlib import Path

from vigil.config import load_settings
from vigil.crypto import pkcs11
from vigil.features import open_exchange
from vigil.log.note import verify_note
from vigil.model import MemberKind
from vigil.node.datadir import init_node
from vigil.testing import PASSPHRASE

from .conftest import SoftHsm


def test_the_node_key_lives_in_the_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    uri = softhsm.uri()
    settings = load_settings(tmp_path / "node", keyring_passphrase=PASSPHRASE)
    init_node(settings, "token node", pkcs11=uri)
    assert not (tmp_path / "node" / "node.key").exists()
    settings = load_settings(tmp_path / "node", keyring_passphrase=PASSPHRASE)
    assert settings.values["node_key_pkcs11"] == uri  # no PIN in it
    ex = open_exchange(settings)
    try:
        token_key = pkcs11.open_sign_key(uri)
        assert ex.node_key_raw == token_key.public_raw
        ex.add_member("alpha", country="EE", kind=MemberKind.CERT,
                             keyring_path=settings.data_dir / "keyrings" / "alpha.keyring",
                             passphrase=PASSPHRASE, hold=True)
        _, note = ex.log.checkpoint()
        verify_note(note, ex.log.key_name, token_key.public_raw)
        assert ex.log.public_raw == token_key.public_raw
    finally:
        ex.store.close()
