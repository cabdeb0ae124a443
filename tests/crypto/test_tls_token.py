"""A TLS client certificate whose key stays in a PKCS#11 token (SoftHSM2), end to end:
`vigil serve` terminating TLS and asking for client certificates, a user mapped to the
certificate's key, and the SDK and the CLI given ``--cert cert.pem --key 'pkcs11:…'``.
The key is made inside the token (sensitive, not extractable) by another process, as a
card is provisioned elsewhere, on a token of its own (libp11 0.4.12 cannot list the keys
of a token that also holds the Ed25519/X25519 keys of the other tests). Without the
token's key (another label, a wrong PIN, a key that is not the certificate's) the
client refuses before connecting, and the node answers a client without a certificate
401.

Needs OpenSSL's PKCS#11 engine (Debian's libengine-pkcs11-openssl, installed by
scripts/test.sh with softhsm2)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import ipaddress
import multiprocessing
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.keys.conftest import MODULE, SoftHsm, _missing

from vigil.client import Client
from vigil.client.tls import transports
from vigil.crypto.pins import spki_pin
from vigil.crypto.pkcs11 import TokenError
from vigil.signin import certs
from vigil.testing import ServerProcess, make_node

ENGINES = "/usr/lib/*/engines-3/pkcs11.so"  # Debian's libengine-pkcs11-openssl

# run in another process: an EC P-256 pair made in the token, its halves sharing a
# CKA_ID as a card's do (the engine finds the public half by it); prints the public key
MAKE_KEY = """
import os, sys, pkcs11
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
module, label, pin, name = sys.argv[1:5]
with pkcs11.lib(module).get_token(token_label=label).open(user_pin=pin, rw=True) as s:
    params = s.create_domain_parameters(KeyType.EC, {
        Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    pub, priv = params.generate_keypair(store=True, label=name, id=os.urandom(8), private_template={
        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True})
    assert priv[Attribute.SENSITIVE] and not priv[Attribute.EXTRACTABLE]
    sys.stdout.buffer.write(encode_ec_public_key(pub))
"""


def token_key(hsm: SoftHsm, name: str) -> ec.EllipticCurvePublicKey:
    got = subprocess.run([sys.executable, "-c", MAKE_KEY, MODULE, hsm.tls_label, hsm.pin,
                          name],
                         capture_output=True, check=True)
    pub = serialization.load_der_public_key(got.stdout)
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    return pub


@dataclass
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    file: str


def issue(tmp: Path, name: str, pub: ec.EllipticCurvePublicKey, signer: Ca | None,
          *, key: ec.EllipticCurvePrivateKey | None = None, server: bool = False) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CERT-EE")])
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(signer.cert.subject if signer else subject).public_key(pub)
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=signer is None, path_length=None),
                        critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    signing_key = signer.key if signer else key
    assert signing_key is not None
    cert = b.sign(signing_key, hashes.SHA256())
    path = tmp / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


FilePair = tuple[str, str, ec.EllipticCurvePrivateKey]  # certificate file, key file, key


def file_pair(tmp: Path, name: str, signer: Ca | None, **kw: bool) -> FilePair:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue(tmp, name, key.public_key(), signer, key=key, **kw)
    path = tmp / f"{name}.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert, str(path), key


@dataclass
class Tls:
    url: str
    node_cert: str  # the node's own certificate, trusted by the clients
    ca: Ca | None  # the client CA the node asks for (None: not handed to another process)
    tmp: Path
    hsm: SoftHsm
    card: str  # a certificate for a key made in the token, mapped to alpha's user "card"
    uri: str  # that key's URI


def uri_of(hsm: SoftHsm, label: str) -> str:
    return f"pkcs11:token={hsm.tls_label};object={label}?module-path={MODULE}"


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory, _softhsm_store: SoftHsm
             ) -> Iterator[Tls]:
    tmp_path, softhsm = tmp_path_factory.mktemp("tls-token"), _softhsm_store
    if not any(Path("/").glob(ENGINES.lstrip("/"))):
        _missing("OpenSSL's PKCS#11 engine is not installed "
                 "(apt-get install libengine-pkcs11-openssl)")
    ca_cert, _, ca_key = file_pair(tmp_path, "client-ca", None)
    ca = Ca(ca_key, x509.load_pem_x509_certificate(Path(ca_cert).read_bytes()), ca_cert)
    node_cert, node_key, _ = file_pair(tmp_path, "node", None, server=True)
    label = f"tls-{uuid.uuid4().hex[:8]}"
    card = issue(tmp_path, "ops-card", token_key(softhsm, label), ca)
    node = make_node(tmp_path / "node", {"alpha": True}, hybrid=False)
    ex = node.exchange()
    ex.add_user("alpha", "card", "publish")
    certs.add(ex, "alpha", "card", "spki",
              spki_pin(x509.load_pem_x509_certificate(Path(card).read_bytes())))
    ex.store.close()
    srv = ServerProcess(node.data, ca=node_cert, args=[
        "--tls-cert", node_cert, "--tls-key", node_key, "--tls-client-ca", ca.file])
    with srv:
        yield Tls(srv.url, node_cert, ca, tmp_path, softhsm, card, uri_of(softhsm, label))


def pinned(t: Tls) -> str:
    return spki_pin(x509.load_pem_x509_certificate(Path(t.node_cert).read_bytes()))


def test_the_sdk_signs_in_with_a_certificate_whose_key_stays_in_the_token(tls_node: Tls
                                                                          ) -> None:
    """Run in a process of its own: OpenSSL's PKCS#11 engine initialises the token's
    module in the process that uses it, and python-pkcs11 (the member and node keys of
    other tests run by the same test worker) then finds the module initialised."""
    t = tls_node
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        pool.submit(sdk_steps, replace(t, ca=None)).result(timeout=300)
    # the certificate with a key file that is not its key: no handshake either
    assert t.ca is not None
    _, stray_key, _ = file_pair(t.tmp, "stray", t.ca)
    with pytest.raises(ssl.SSLError):
        Client(t.url, "", cert=t.card, key=stray_key, pin=pinned(t), verify_log=False)


def sdk_steps(t: Tls) -> None:
    # no certificate, no token: refused
    r = httpx.get(f"{t.url}/api/v1/me", verify=ssl.create_default_context(cafile=t.node_cert))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.required")
    # the certificate with its key in the token: alpha's user "card"
    with Client(t.url, "", cert=t.card, key=t.uri, pin=pinned(t), verify_log=False) as c:
        me = c.me()
    assert me["member"]["name"] == "alpha" and me["scope"] == "publish"
    with Client(t.url, "", cert=t.card, key=t.uri, ca=t.node_cert, verify_log=False) as c:
        assert c.me()["member"]["name"] == "alpha"
    # the async transport (the SDK's streams): the handshake through asyncio's TLS

    async def me_async() -> int:
        _, transport = transports(cert=t.card, key=t.uri, pin=pinned(t))
        async with httpx.AsyncClient(transport=transport) as http:
            return (await http.get(f"{t.url}/api/v1/me")).status_code

    assert asyncio.run(me_async()) == 200

    # without the token's key: another label, or a token key that is not the card's
    with pytest.raises(TokenError) as exc:
        Client(t.url, "", cert=t.card, key=uri_of(t.hsm, "no-such-key"), pin=pinned(t),
               verify_log=False)
    assert exc.value.code == "hsm.no_key"
    other = f"tls-other-{uuid.uuid4().hex[:8]}"
    token_key(t.hsm, other)
    with pytest.raises(TokenError) as exc:
        Client(t.url, "", cert=t.card, key=uri_of(t.hsm, other), pin=pinned(t),
               verify_log=False)
    assert exc.value.code == "tls.client_cert"


def cli(t: Tls, *args: str, pin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_TOKEN": "", "SOFTHSM2_CONF": str(t.hsm.conf),
           "VIGIL_PKCS11_PIN": pin or t.hsm.pin}
    return subprocess.run([sys.executable, "-m", "vigil.cli", "--data", str(t.tmp / "cli"),
                           *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_signs_in_with_a_certificate_whose_key_stays_in_the_token(tls_node: Tls
                                                                          ) -> None:
    t = tls_node
    base = ["--cert", t.card, "--pin", pinned(t)]
    got = cli(t, *base, "--key", t.uri, "inbox", "--node", t.url)
    assert got.returncode == 0, got.stderr
    got = cli(t, *base, "--key", t.uri, "inbox", "--node", t.url, pin="not-the-pin")
    assert got.returncode != 0 and "hsm.login" in got.stdout + got.stderr, got
    got = cli(t, *base, "--key", uri_of(t.hsm, "no-such-key"), "inbox", "--node", t.url)
    assert got.returncode != 0 and "hsm.no_key" in got.stdout + got.stderr, got
