"""A node's data directory: its key, its identity, its settings; its exchange without
features (``vigil.features.open_exchange`` adds them)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil import clock
from vigil.config import Settings, write_settings_file
from vigil.crypto.keys import SignPrivate
from vigil.crypto.secretfile import SecretBox, owner_only_dir, write_secret_file
from vigil.errors import ConfigError, Conflict
from vigil.model import IntelRules
from vigil.node.exchange import Exchange, hold_keyrings
from vigil.policy.suites import SuiteRule
from vigil.storage import Store, open_store


def keyring_dir(settings: Settings) -> Path:
    return settings.data_dir / "keyrings"


def init_node(settings: Settings, name: str | None = None,
              extra: dict[str, Any] | None = None, *,
              pkcs11: str | None = None) -> dict[str, Any]:
    """Create a node in the settings' data directory: its identity, its Ed25519 key (a
    file, or made inside the PKCS#11 token ``pkcs11`` names) and its store."""
    data = settings.data_dir
    if (data / "node.json").exists():
        raise Conflict(f"{data} already holds a node", code="node.exists")
    owner_only_dir(data)
    os.chmod(data, 0o700)
    keyring_dir(settings).mkdir(mode=0o700, exist_ok=True)
    extra = dict(extra or {})
    if pkcs11:
        from vigil.crypto import pkcs11 as tokens

        tokens.create_sign_key(pkcs11)
        extra["node_key_pkcs11"] = tokens.parse_uri(pkcs11).without_secrets()
    else:
        key = Ed25519PrivateKey.generate()
        write_secret_file(data / "node.key", key.private_bytes_raw())
    info = {"id": f"node--{uuid.uuid4()}", "name": name or settings.node_name,
            "created": clock.now()}
    write_secret_file(data / "node.json", (json.dumps(info, indent=2) + "\n").encode())
    values: dict[str, Any] = {"node_name": info["name"]}
    values.update(extra or {})
    write_settings_file(data / "vigil.toml", values)
    store = open_store(settings.store_url)
    store.set_meta("node_id", str(info["id"]))
    store.close()
    return info


def node_key(data: Path, pkcs11: str = "") -> SignPrivate:
    """The node's Ed25519 signing key: in the token ``pkcs11`` names, else ``node.key``."""
    if pkcs11:
        from vigil.crypto import pkcs11 as tokens

        return tokens.open_sign_key(pkcs11)
    return Ed25519PrivateKey.from_private_bytes((data / "node.key").read_bytes())


def node_info(settings: Settings) -> dict[str, Any]:
    path = settings.data_dir / "node.json"
    if not path.exists():
        raise ConfigError(
            f"no node in {settings.data_dir}: run `vigil init` (or set VIGIL_DATA)",
            code="node.missing",
        )
    info: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return info


def core_exchange(settings: Settings, store: Store | None = None) -> Exchange:
    """The node's exchange, no feature installed."""
    info = node_info(settings)
    key = node_key(settings.data_dir, str(settings.values.get("node_key_pkcs11") or ""))
    store = store or open_store(settings.store_url)
    if store.dialect == "sqlite":
        from vigil.storage.sqlite import SqliteStore

        if isinstance(store, SqliteStore):
            apart = int(settings.payload_apart)
            store.apart = apart if apart > 0 else 1 << 62
    held = hold_keyrings(keyring_dir(settings), str(settings.keyring_passphrase), store)
    ex = Exchange(store, node_id=str(info["id"]), node_key=key, held=held,
                  max_body=int(settings.max_body),
                  cache_bytes=int(settings.cache_mib) * 1024 * 1024)
    ex.suite_rule = SuiteRule.parse(str(settings.require_hybrid))
    ex.secrets = SecretBox(settings.data_dir / "secrets.key")
    ex.intel_rules = IntelRules(
        require_evaluation=bool(int(settings.require_evaluation)),
        seal_personal_data=bool(int(settings.seal_personal_data)),
        match_rate=int(settings.match_rate), match_window=float(settings.match_window))
    return ex
