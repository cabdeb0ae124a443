"""A member whose keys exist only in a PKCS#11 token (SoftHSM2), registered with `vigil
member add --pkcs11`: it publishes (signing in the token), opens what it receives
(unwrapping in the token, in the SDK and the gateway), rotates to new token keys and is
revoked; afterwards no file of the node or the member, and nothing the
processes printed or logged, holds a private key's bytes.

The keys are imported into the token here (as an HSM's own tools would) so that the test
knows the bytes it looks for; inside the token they are sensitive and not extractable."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi.testclient import TestClient

from vigil.bus.local import LocalBus
from vigil.cli import main as cli_mod
from vigil.client import Client, InboxItem
from vigil.client import keys as client_side
from vigil.crypto import pkcs11
from vigil.crypto.keyring import load_keyring
from vigil.errors import PolicyDenied
from vigil.gateway import LocalStore, ingest
from vigil.node import keylife
from vigil.testing import make_node, stix
from vigil.web import create_app

from .conftest import SoftHsm


def import_keys(hsm: SoftHsm) -> tuple[str, list[bytes]]:
    """A URI naming a fresh object whose two key pairs were imported into the token;
    the private keys' raw bytes."""
    import pkcs11 as p11
    from pkcs11.util.ec import encode_named_curve_parameters

    uri = hsm.uri()
    tok = pkcs11.token(pkcs11.parse_uri(uri))
    obj = pkcs11.parse_uri(uri).object
    ed, x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    A = p11.Attribute
    for label, key, oid, use in ((obj + "/sign", ed, pkcs11.ED25519_OID, A.SIGN),
                                 (obj + "/enc", x, pkcs11.X25519_OID, A.DERIVE)):
        params = encode_named_curve_parameters(oid)
        pub = key.public_key().public_bytes_raw()
        with tok.calls() as s:
            s.create_object({A.CLASS: p11.ObjectClass.PRIVATE_KEY,
                             A.KEY_TYPE: p11.KeyType.EC_EDWARDS, A.EC_PARAMS: params,
                             A.VALUE: key.private_bytes_raw(), A.LABEL: label, A.TOKEN: True,
                             A.PRIVATE: True, A.SENSITIVE: True, A.EXTRACTABLE: False,
                             use: True})
            s.create_object({A.CLASS: p11.ObjectClass.PUBLIC_KEY,
                             A.KEY_TYPE: p11.KeyType.EC_EDWARDS, A.EC_PARAMS: params,
                             A.EC_POINT: b"\x04\x20" + pub, A.LABEL: label, A.TOKEN: True})
    return uri, [ed.private_bytes_raw(), x.private_bytes_raw()]


def forms(secret: bytes) -> list[bytes]:
    return [secret, secret.hex().encode(), base64.b64encode(secret).rstrip(b"="),
            base64.urlsafe_b64encode(secret).rstrip(b"=")]


def bundle(name: str) -> bytes:
    return stix.bundle(stix.malware(name))


def test_publish_open_rotate_revoke_with_keys_only_in_the_token(
        softhsm: SoftHsm, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    uri, secrets = import_keys(softhsm)
    node = make_node(tmp_path / "node", {"alpha": False})
    ex = node.exchange()
    path = tmp_path / "bravo.keyring"
    # `vigil member add --pkcs11 URI` takes the keys the token holds under the URI's object
    run = CliRunner().invoke(cli_mod.cli, [
        "--data", str(node.settings.data_dir), "member", "add", "bravo", "--country", "DE",
        "--kind", "agency", "--keyring", str(path), "--pkcs11", uri], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    bravo = ex.member("bravo")
    assert bravo.sign_key_id.startswith("ed25519:") and bravo.enc_key_id.startswith("x25519:")
    # the keyring file names the token object and holds public keys only
    assert sorted(json.loads(path.read_text())) == [
        "enc_key", "member", "sign_key", "type", "uri", "v"]
    assert "pin-value" not in path.read_text()
    # the keys it registered are the ones in the token
    assert bravo.sign_key == Ed25519PrivateKey.from_private_bytes(
        secrets[0]).public_key().public_bytes_raw()
    assert bravo.enc_key == X25519PrivateKey.from_private_bytes(
        secrets[1]).public_key().public_bytes_raw()
    _, token = ex.add_user("bravo", "analyst")
    alpha = node.members["alpha"]
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    try:
        with TestClient(app) as http:
            def sdk(tok: str, kr: object) -> Client:
                return Client("http://testserver", tok, kr,  # type: ignore[arg-type]
                              transport=http._transport,
                              log_state=tmp_path / f"{uuid.uuid4().hex}.json")

            kr = load_keyring(path, "", allow_empty=True)  # the file holds only the URI
            b = sdk(token, kr)
            a = sdk(alpha.token, alpha.keyring)
            # bravo signs in the token; alpha verifies
            mine = b.publish(bundle("signed in the token"), tlp="amber",
                             to=["member:alpha"])["id"]
            assert "verified" in a.get(mine).signer
            # alpha seals to bravo's token key; bravo unwraps in the token
            to_b = a.publish(bundle("sealed to the token"), tlp="amber",
                             to=["member:bravo"])["id"]
            got = b.get(to_b)
            assert got.bundle is not None and b"sealed to the token" in got.bundle
            # the gateway opens it through the token too
            env, state = b.envelope(to_b)
            gw = LocalStore(tmp_path / "gateway.db")
            try:
                ingest(b, gw, kr, InboxItem(1, to_b, "", env, state))
                assert gw.counts()["shares"] == 1 and gw.counts()["refused"] == 0
            finally:
                gw.close()

            # rotation to new keys, again only in the token; the old share is re-wrapped
            uri2, secrets2 = import_keys(softhsm)
            new = client_side.rotate(b, path, "", pkcs11=uri2)
            assert client_side.rewrap(b) == 1
            fresh = sdk(token, load_keyring(path, "", allow_empty=True))
            assert fresh.keyring is not None and fresh.keyring.sign_key_id == new.sign_key_id
            assert fresh.get(to_b).bundle is not None
            after = fresh.publish(bundle("after rotation"), tlp="amber",
                                  to=["member:alpha"])["id"]
            assert "verified" in sdk(alpha.token, alpha.keyring).get(after).signer

            # revocation: later signatures refused
            keylife.revoke(ex, "bravo")
            with pytest.raises(PolicyDenied) as info:
                fresh.publish(bundle("after revocation"), tlp="amber", to=["member:alpha"])
            assert info.value.code == "keys.revoked"
    finally:
        ex.store.close()
        pkcs11.forget_tokens()

    # no private key byte anywhere: the node's data directory, the member's files, the
    # processes' output and logs
    out, err = capfd.readouterr()
    printed = (out + err + caplog.text + run.output).encode()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "softhsm" not in str(p)]
    assert files
    for secret in secrets + secrets2:
        for form in forms(secret):
            assert form not in printed
            assert [str(p) for p in files if form in p.read_bytes()] == []
