"""One table of settings -> defaults, a TOML file in the data directory, VIGIL_* env.

Precedence: explicit overrides > environment (VIGIL_<NAME>) > <data>/vigil.toml > default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.crypto.secretfile import write_secret_file
from vigil.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str


SETTINGS: tuple[Setting, ...] = (
    Setting("data", ".vigil", "data directory of the node (keys, database, keyrings)"),
    Setting("store", "", "store URL: sqlite:///PATH or postgresql://…; default: SQLite in data"),
    Setting("sqlite_cache_mib", 16, "the default SQLite store: MiB of page cache its writer "
            "keeps (filled as the database grows, never past it); an explicit store URL "
            "takes ?cache_mib=N", int),
    Setting("bus", "local://", "bus URL: local:// (in-process) or nats://HOST:PORT"),
    Setting("host", "127.0.0.1", "address the server listens on"),
    Setting("port", 8470, "port the server listens on", int),
    Setting("public_url", "", "URL members use to reach this node (shown by the demo)"),
    Setting("max_body", 32 * 1024 * 1024, "largest accepted request body in bytes", int),
    Setting("node_name", "vigil node", "human name of this node"),
    Setting("node_key_pkcs11", "", "RFC 7512 pkcs11: URI of the node's Ed25519 key in a "
            "token (empty: the key file node.key); the PIN from VIGIL_PKCS11_PIN"),
    Setting("keyring_passphrase", "", "passphrase of keyrings the node holds (prefer the env)"),
    Setting("log_level", "info", "log level: debug, info, warning, error"),
    Setting("log_format", "json", "log format of `vigil serve`: json (one object a line) or "
            "text"),
    Setting("metrics_token", "", "bearer token a Prometheus scraper presents to GET /metrics "
            "on the node's port (empty: /metrics is not served there)"),
    Setting("metrics_bind", "", "HOST:PORT of a separate listener that serves only /metrics, "
            "without a token (empty: none); keep it on a private address"),
    Setting("cache_mib", 64, "MiB of envelopes a process keeps in memory for the push path "
            "and correlation (another quarter of it for serialised push events)", int),
    Setting("malloc_arenas", 2, "glibc: most malloc arenas a serving process uses (0: "
            "glibc's own bound, 8 per core; MALLOC_ARENA_MAX in the environment wins)", int),
    Setting("keepalive", 15.0, "seconds between keep-alive comments on push streams", float),
    Setting("switch_interval", 0.001, "seconds a worker thread (heavy requests) runs before "
            "the event loop may take the interpreter back (Python's switch interval)", float),
    Setting("retention_interval", 60.0, "seconds between purges of expired shares (0: off)",
            float),
    Setting("correlation_processes", -1, "helper processes that extract observables for "
            "correlation (-1: one if the machine has more than one core; 0: none)", int),
    Setting("publish_processes", -1, "worker processes that parse, validate and seal posted "
            "bundles of 1 MiB or more (-1: one per core beyond the first, at most 2; 0: none)",
            int),
    Setting("payload_apart", 128 * 1024, "SQLite: payloads of this many bytes or more are "
            "written to a file of their own beside the database before the share's "
            "transaction, which then holds only the row (0: never)", int),
    Setting("ledger_delay_ratio", 0.0, "community rule: hold TLP:AMBER community shares back "
            "from members with fewer shares given than this times shares received (0: off)",
            float),
    Setting("ledger_delay_hours", 24.0, "community rule: hours such shares are held back",
            float),
    Setting("require_hybrid", "", "shares that must use the hybrid (post-quantum) suites: "
            "empty (none), or a comma list of node, member:NAME, channel:NAME"),
    Setting("fed_name", "", "federation: this node's name in member addresses "
            "(member@NAME); empty: the node does not federate (docs/federation.md)"),
    Setting("fed_heartbeat", 1.0, "federation: seconds between heartbeats to each peer",
            float),
    Setting("fed_receipt_period", 1.0, "federation: seconds between the batches in "
            "which this node sends answers to relayed requests back through each relay",
            float),
    Setting("fed_tls_cert", "", "federation: the TLS certificate whose pin the node "
            "descriptor carries (default: the one `vigil serve` uses)"),
    Setting("fed_tls_key", "", "federation: the key of fed_tls_cert, presented with it as "
            "the node's client certificate to its peers (default: the one `vigil serve` "
            "uses)"),
    Setting("fed_hold_items", 256, "federation: channel items from one peer held until "
            "every member they name is known here; past it the oldest is quarantined "
            "(fed.unknown_member; 0: none held)", int),
    Setting("fed_hold_seconds", 3600.0, "federation: seconds a channel item is held at most "
            "for the members it names; then it is quarantined (fed.unknown_member)", float),
    Setting("require_evaluation", 1, "1: shares about terrorism or organised crime need an "
            "evaluation (Admiralty or 4x4), a legal basis and purposes; 0: not", int),
    Setting("seal_personal_data", 0, "1: shares holding personal data must be sealed", int),
    Setting("match_rate", 30, "private selector matching: queries one member may ask per "
            "window", int),
    Setting("match_window", 3600.0, "private selector matching: the window in seconds", float),
    Setting("ledger_delay_grace", 20, "community rule: shares a member receives before the "
            "rule applies to it", int),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(str(self.values["data"])).expanduser()

    @property
    def store_url(self) -> str:
        url = str(self.values["store"])
        if url:
            return url
        default = f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
        mib = int(self.values["sqlite_cache_mib"])
        return default if mib == 16 else f"{default}?cache_mib={mib}"

    @property
    def sqlite_cache_mib(self) -> int:
        return int(self.values["sqlite_cache_mib"])

    @property
    def bus_url(self) -> str:
        return str(self.values["bus"])

    # one typed property per entry of SETTINGS (tests/test_config.py holds them equal)
    @property
    def store(self) -> str:
        return str(self.values["store"])

    @property
    def bus(self) -> str:
        return str(self.values["bus"])

    @property
    def host(self) -> str:
        return str(self.values["host"])

    @property
    def port(self) -> int:
        return int(self.values["port"])

    @property
    def public_url(self) -> str:
        return str(self.values["public_url"])

    @property
    def max_body(self) -> int:
        return int(self.values["max_body"])

    @property
    def node_name(self) -> str:
        return str(self.values["node_name"])

    @property
    def node_key_pkcs11(self) -> str:
        return str(self.values["node_key_pkcs11"])

    @property
    def keyring_passphrase(self) -> str:
        return str(self.values["keyring_passphrase"])

    @property
    def log_level(self) -> str:
        return str(self.values["log_level"])

    @property
    def log_format(self) -> str:
        return str(self.values["log_format"])

    @property
    def metrics_token(self) -> str:
        return str(self.values["metrics_token"])

    @property
    def metrics_bind(self) -> str:
        return str(self.values["metrics_bind"])

    @property
    def cache_mib(self) -> int:
        return int(self.values["cache_mib"])

    @property
    def malloc_arenas(self) -> int:
        return int(self.values["malloc_arenas"])

    @property
    def keepalive(self) -> float:
        return float(self.values["keepalive"])

    @property
    def switch_interval(self) -> float:
        return float(self.values["switch_interval"])

    @property
    def retention_interval(self) -> float:
        return float(self.values["retention_interval"])

    @property
    def correlation_processes(self) -> int:
        return int(self.values["correlation_processes"])

    @property
    def publish_processes(self) -> int:
        return int(self.values["publish_processes"])

    @property
    def ledger_delay_ratio(self) -> float:
        return float(self.values["ledger_delay_ratio"])

    @property
    def ledger_delay_hours(self) -> float:
        return float(self.values["ledger_delay_hours"])

    @property
    def require_hybrid(self) -> str:
        return str(self.values["require_hybrid"])

    @property
    def fed_name(self) -> str:
        return str(self.values["fed_name"])

    @property
    def fed_heartbeat(self) -> float:
        return float(self.values["fed_heartbeat"])

    @property
    def fed_receipt_period(self) -> float:
        return float(self.values["fed_receipt_period"])

    @property
    def fed_tls_cert(self) -> str:
        return str(self.values["fed_tls_cert"])

    @property
    def fed_tls_key(self) -> str:
        return str(self.values["fed_tls_key"])

    @property
    def fed_hold_items(self) -> int:
        return int(self.values["fed_hold_items"])

    @property
    def fed_hold_seconds(self) -> float:
        return float(self.values["fed_hold_seconds"])

    @property
    def require_evaluation(self) -> int:
        return int(self.values["require_evaluation"])

    @property
    def seal_personal_data(self) -> int:
        return int(self.values["seal_personal_data"])

    @property
    def match_rate(self) -> int:
        return int(self.values["match_rate"])

    @property
    def match_window(self) -> float:
        return float(self.values["match_window"])

    @property
    def ledger_delay_grace(self) -> int:
        return int(self.values["ledger_delay_grace"])

    @property
    def payload_apart(self) -> int:
        return int(self.values["payload_apart"])

    def with_overrides(self, **overrides: Any) -> Settings:
        vals = dict(self.values)
        for k, v in overrides.items():
            if v is not None:
                vals[k] = _coerce(_BY_NAME[k], v)
        return Settings(vals)


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.kind is str:
        return str(value)
    try:
        return setting.kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"setting {setting.name!r} wants a {setting.kind.__name__}, got {value!r}",
            code="config.bad_value",
        ) from exc


def load_settings(data: str | Path | None = None, **overrides: Any) -> Settings:
    env = os.environ
    default_data = str(_BY_NAME["data"].default)
    data_dir = str(data) if data is not None else env.get("VIGIL_DATA", default_data)
    file_values: dict[str, Any] = {}
    toml_path = Path(data_dir).expanduser() / "vigil.toml"
    if toml_path.exists():
        try:
            file_values = tomllib.loads(toml_path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: {exc}", code="config.bad_file") from exc
        unknown = set(file_values) - set(_BY_NAME)
        if unknown:
            raise ConfigError(
                f"{toml_path}: unknown settings {sorted(unknown)}", code="config.unknown_setting"
            )
    values: dict[str, Any] = {}
    for s in SETTINGS:
        v: Any = s.default
        if s.name in file_values:
            v = file_values[s.name]
        env_v = env.get(f"VIGIL_{s.name.upper()}")
        if env_v is not None:
            v = env_v
        values[s.name] = _coerce(s, v)
    values["data"] = data_dir
    return Settings(values).with_overrides(**overrides)


def write_settings_file(path: Path, values: dict[str, Any]) -> None:
    lines = ["# vigil node settings; every VIGIL_<NAME> environment variable overrides these"]
    for s in SETTINGS:
        if s.name in values and s.name != "data":
            lines.append(f"# {s.help}")
            v = values[s.name]
            lines.append(f"{s.name} = {v!r}" if not isinstance(v, str) else f'{s.name} = "{v}"')
    write_secret_file(path, ("\n".join(lines) + "\n").encode(), overwrite=True)
