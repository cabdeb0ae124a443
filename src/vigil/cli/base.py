"""What every command module shares: the root command's context, JSON output, the
passphrase, and the member commands' options and SDK client."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vigil.config import load_settings
from vigil.crypto.secretfile import owner_only_dir
from vigil.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    def __init__(self, data: str | None, debug: bool,
                 tls: dict[str, str | None] | None = None) -> None:
        self.data = data
        self.debug = debug
        self.tls = tls or {}  # cert, key, ca, pin of the member commands' connection

    def settings(self) -> Any:
        return load_settings(self.data)


pass_ctx = click.make_pass_decorator(Ctx)


def out(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def passphrase(prompt: bool, confirm: bool = False) -> str:
    p = os.environ.get("VIGIL_KEYRING_PASSPHRASE")
    if p is not None:
        return p
    if not prompt:
        raise InputError("set VIGIL_KEYRING_PASSPHRASE or run in a terminal",
                         code="keyring.no_passphrase")
    return str(click.prompt("keyring passphrase", hide_input=True,
                            confirmation_prompt=confirm))


def remote(f: F) -> F:
    f = click.option("--node", "node_url", envvar="VIGIL_NODE",
                     help="node URL (default: this data directory's server)")(f)
    f = click.option("--token", envvar="VIGIL_TOKEN", help="API token of a user")(f)
    f = click.option("--keyring", "keyring_path", envvar="VIGIL_KEYRING",
                     type=click.Path(dir_okay=False),
                     help="member keyring: sign and seal here, open sealed shares")(f)
    return f


def member_client(c: Ctx, node_url: str | None, token: str | None, keyring_path: str | None,
            state: str | None = None, witnesses: str | None = None) -> Any:
    """The member's SDK client. It keeps the checkpoints of the node's log it accepted
    in ``state`` (default ``<data>/checkpoints.json``) and checks the node's latest one
    against them before anything else: a rollback or a fork stops every command. With
    ``witnesses`` (a file of pinned witness keys,
    :func:`vigil.trust_client.load_witnesses`) it is a
    :class:`vigil.trust_client.TrustingClient`: another node's member's key is taken
    only as its home's witnessed directory proves it."""
    from vigil.client import Client
    from vigil.crypto.keyring import is_token_keyring, load_keyring

    if not token and not c.tls.get("cert"):
        raise InputError("a token is needed: --token or VIGIL_TOKEN (see `vigil user add`), "
                         "or a client certificate: vigil --cert … --key …",
                         code="auth.required")
    s = c.settings()
    if not node_url:
        node_url = str(s.public_url) or f"http://{s.host}:{s.port}"
    kr = None
    if keyring_path:
        in_token = is_token_keyring(keyring_path)
        kr = load_keyring(Path(keyring_path), "" if in_token else
                          passphrase(sys.stdin.isatty()), allow_empty=in_token)
    state = state or os.environ.get("VIGIL_LOG_STATE")
    path = Path(state) if state else s.data_dir / "checkpoints.json"
    owner_only_dir(path.parent)
    t = c.tls
    kind: Any = Client
    extra: dict[str, Any] = {}
    if witnesses:
        from vigil.trust_client import TrustingClient, load_witnesses

        kind, extra = TrustingClient, {"witnesses": load_witnesses(Path(witnesses))}
    client = kind(node_url, token or "", kr, log_state=path, cert=t.get("cert"),
                  key=t.get("key"), ca=t.get("ca"), pin=t.get("pin"), **extra)
    try:
        client.checkpoint()
    except BaseException:
        client.close()
        raise
    return client
