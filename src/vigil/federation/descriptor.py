"""A node's signed descriptor (``/.well-known/vigil-node``), its hop key, its TLS pair.

The descriptor binds the node id, its federation name, its Ed25519 node key (what a peer
pins, as the key id ``pin``), its X25519 hop key, the SPKI pin of its TLS certificate
and its endpoint, signed ``vigil/node/v1`` by the node key. The certificate itself
travels beside it (``tls_cert``), taken only if its key is the pinned one: a peer
trusts it as the client certificate this node presents (vigil.federation.tls).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from vigil import clock
from vigil.config import Settings
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import key_id
from vigil.crypto.pins import spki_pin
from vigil.crypto.secretfile import write_secret_file
from vigil.crypto.sign import sign, verify
from vigil.errors import ConfigError, CryptoError, InputError, VigilError
from vigil.node.exchange import Exchange

TAG_NODE = "vigil/node/v1"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
WELL_KNOWN = "/.well-known/vigil-node"
FIELDS = frozenset({"v", "kind", "node", "name", "key", "pin", "hop_key", "tls_pin",
                    "endpoints", "log", "at"})


def fed_name(settings: Settings) -> str:
    """This node's federation name; ConfigError when federation is off."""
    name = str(settings.values.get("fed_name") or "")
    if not name:
        raise ConfigError("this node does not federate: set fed_name (VIGIL_FED_NAME)",
                          code="fed.off")
    if not NAME_RE.match(name):
        raise ConfigError(f"fed_name {name!r} must be 1-63 of a-z 0-9 . _ -",
                          code="config.bad_value")
    return name


def hop_key(data: Path) -> X25519PrivateKey:
    """The node's X25519 hop key (``<data>/node-hop.key``), made on first use."""
    path = data / "node-hop.key"
    if not path.exists():
        write_secret_file(path, X25519PrivateKey.generate().private_bytes_raw())
    return X25519PrivateKey.from_private_bytes(path.read_bytes())


def tls_paths(data: Path) -> tuple[Path, Path]:
    return data / "tls" / "node-cert.pem", data / "tls" / "node-key.pem"


def self_signed(data: Path, host: str = "localhost") -> tuple[Path, Path, str]:
    """(cert, key, SPKI pin) of the node's self-signed TLS pair, made on first use."""
    cert_path, key_path = tls_paths(data)
    if not cert_path.exists():
        cert_path.parent.mkdir(mode=0o700, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        now = dt.datetime.now(dt.UTC)
        alt = [x509.DNSName(host), x509.DNSName("localhost")]
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .sign(key, hashes.SHA256()))
        write_secret_file(key_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        write_secret_file(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, tls_pin(cert_path)


def tls_pin(cert_path: Path) -> str:
    return spki_pin(x509.load_pem_x509_certificate(cert_path.read_bytes()))


def tls_pair(settings: Settings) -> tuple[str, str] | None:
    """(certificate, key) of the node's TLS pair: what it serves and what it presents to
    its peers as a client (``fed_tls_cert``/``fed_tls_key``, else the self-signed pair in
    ``<data>/tls``); None when the node has none."""
    cert = str(settings.values.get("fed_tls_cert") or tls_paths(settings.data_dir)[0])
    key = str(settings.values.get("fed_tls_key") or "")
    if not key and cert == str(tls_paths(settings.data_dir)[0]):
        key = str(tls_paths(settings.data_dir)[1])
    if not key or not Path(cert).exists():
        return None
    return cert, key


def leaf_pem(cert_path: Path) -> str:
    """The PEM of the first (leaf) certificate in ``cert_path``."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def peer_tls_cert(signed: Any) -> str | None:
    """The TLS certificate (PEM) served beside a descriptor, if its key is the one the
    signed descriptor pins (``tls_pin``); a peer presents it as its client certificate."""
    if not isinstance(signed, dict) or not isinstance(signed.get("tls_cert"), str):
        return None
    d = signed.get("descriptor")
    try:
        cert = x509.load_pem_x509_certificate(signed["tls_cert"].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    if not isinstance(d, dict) or not d.get("tls_pin") or spki_pin(cert) != d["tls_pin"]:
        return None
    if _can_issue(cert):  # it becomes a trust anchor: it must not vouch for others
        return None
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _can_issue(cert: x509.Certificate) -> bool:
    """Whether OpenSSL could take ``cert`` as the issuer of another certificate: a v1
    certificate, a CA by its basic constraints, or one whose key usage signs
    certificates."""
    if cert.version != x509.Version.v3:
        return True
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value
                    .key_cert_sign)
    except x509.ExtensionNotFound:
        return False


def endpoint(settings: Settings) -> str:
    url = str(settings.public_url or "").rstrip("/")
    if not url:
        scheme = "https" if tls_paths(settings.data_dir)[0].exists() else "http"
        url = f"{scheme}://{settings.host}:{settings.port}"
    return url


def descriptor(ex: Exchange, settings: Settings) -> dict[str, Any]:
    """The signed descriptor of this node, and beside it (unsigned, bound by the signed
    ``tls_pin``) the TLS certificate the node serves and presents to its peers."""
    cert = Path(str(settings.values.get("fed_tls_cert") or tls_paths(settings.data_dir)[0]))
    pin = tls_pin(cert) if cert.exists() else None
    hop = hop_key(settings.data_dir).public_key().public_bytes_raw()
    d = {"v": 1, "kind": "node", "node": ex.node_id, "name": fed_name(settings),
         "key": b64u(ex.node_key_raw), "pin": ex.node_key_id, "hop_key": b64u(hop),
         "tls_pin": pin, "endpoints": {"fed": endpoint(settings) + "/fed/v1"},
         "log": ex.log.origin, "at": clock.now()}
    out: dict[str, Any] = {"descriptor": d, "signature": b64u(sign(TAG_NODE, d, ex.node_key))}
    if pin is not None:
        out["tls_cert"] = leaf_pem(cert)
    return out


def check_descriptor(signed: Any, pin: str | None = None) -> dict[str, Any]:
    """The descriptor, if well formed, signed by its own key, and (with ``pin``) that key
    is the pinned one."""
    bad = "fed.bad_descriptor"
    if not isinstance(signed, dict) or not isinstance(signed.get("descriptor"), dict):
        raise InputError("not a node descriptor", code=bad)
    d = signed["descriptor"]
    if set(d) != FIELDS or d["v"] != 1 or d["kind"] != "node" or \
            not isinstance(d["name"], str) or not NAME_RE.match(d["name"]):
        raise InputError("malformed node descriptor", code=bad)
    try:
        raw = b64u_decode(d["key"])
        b64u_decode(d["hop_key"])
        verify(TAG_NODE, d, b64u_decode(str(signed.get("signature"))), raw)
    except (VigilError, ValueError, TypeError):
        raise CryptoError("the node descriptor's signature does not verify", code=bad) \
            from None
    if key_id("ed25519", raw) != d["pin"]:
        raise CryptoError("the descriptor's pin is not its key's id", code=bad)
    if pin is not None and pin != d["pin"]:
        raise CryptoError(f"the node's key {d['pin']} is not the pinned {pin}",
                          code="fed.pin_mismatch")
    return dict(d)
