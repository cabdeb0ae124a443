"""`vigil key …`: the key life cycle (docs/keys.md).

Member commands (over HTTP, with the member's keyring): ``rotate``, ``recovery``,
``recover``, ``rewrap``, ``revoke`` (the member's own, on compromise). Operator
commands (on the node's store): ``revoke MEMBER``, ``expire MEMBER WHEN``, ``list
MEMBER``, ``warnings``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vigil.cli.base import Ctx, member_client, out, pass_ctx, passphrase, remote


@click.group()
def key() -> None:
    """Keys over their life: rotation, expiry, revocation, recovery, re-wrapping."""


def _keyring_path(keyring_path: str | None) -> Path:
    if not keyring_path:
        from vigil.errors import InputError
        raise InputError("this command needs the member's keyring (--keyring)",
                         code="client.no_keyring")
    return Path(keyring_path)


def _with_retired(cl: object, path: Path) -> None:
    from vigil.client.keys import load_retired
    from vigil.crypto.keyring import is_token_keyring

    pw = "" if is_token_keyring(path) else passphrase(sys.stdin.isatty())
    cl.retired_keyrings.extend(load_retired(path, pw))  # type: ignore[attr-defined]


@key.command("rotate")
@remote
@click.option("--classical", is_flag=True, help="new keys in the classical suites")
@click.option("--hybrid", is_flag=True, help="new keys in the hybrid suites")
@click.option("--pkcs11", "pkcs11_uri", metavar="URI", help="make the new keys in this token")
@click.option("--no-rewrap", is_flag=True, help="leave the held shares on the old key")
@pass_ctx
def key_rotate(c: Ctx, node_url: str | None, token: str | None, keyring_path: str | None,
               classical: bool, hybrid: bool, pkcs11_uri: str | None, no_rewrap: bool) -> None:
    """Rotate the member's keys: new keys signed by the old (logged by the node); the
    old keyring is kept as <keyring>.retired-<n>, and the shares the member holds are
    wrapped again to the new key on this machine."""
    from vigil.client import keys as client_side
    from vigil.crypto.keyring import is_token_keyring

    path = _keyring_path(keyring_path)
    cl = member_client(c, node_url, token, keyring_path)
    _with_retired(cl, path)
    pw = "" if pkcs11_uri else passphrase(sys.stdin.isatty(),
                                           confirm=is_token_keyring(path))
    new = client_side.rotate(cl, path, pw, pkcs11=pkcs11_uri,
                             hybrid=False if classical else True if hybrid else None)
    click.echo(f"rotated: {new.sign_key_id} {new.enc_key_id}")
    if not no_rewrap:
        click.echo(f"re-wrapped {client_side.rewrap(cl)} held share(s) to the new key")


@key.command("rewrap")
@remote
@pass_ctx
def key_rewrap(c: Ctx, node_url: str | None, token: str | None,
               keyring_path: str | None) -> None:
    """Wrap the shares the member holds again to its current key, with the retired
    keyrings kept beside the keyring."""
    from vigil.client import keys as client_side

    path = _keyring_path(keyring_path)
    cl = member_client(c, node_url, token, keyring_path)
    _with_retired(cl, path)
    click.echo(f"re-wrapped {client_side.rewrap(cl)} held share(s) to the new key")


@key.command("recovery")
@remote
@click.argument("recovery_keyring", type=click.Path(dir_okay=False))
@pass_ctx
def key_recovery(c: Ctx, node_url: str | None, token: str | None, keyring_path: str | None,
                 recovery_keyring: str) -> None:
    """Make a recovery keyring (keep it offline) and register its key with the node."""
    from vigil.client import keys as client_side

    _keyring_path(keyring_path)
    cl = member_client(c, node_url, token, keyring_path)
    rec = client_side.register_recovery(cl, Path(recovery_keyring),
                                        passphrase(sys.stdin.isatty(), confirm=True))
    click.echo(f"recovery key {rec.sign_key_id} registered; keep {recovery_keyring} offline")


@key.command("recover")
@remote
@click.argument("recovery_keyring", type=click.Path(dir_okay=False, exists=True))
@click.option("--pkcs11", "pkcs11_uri", metavar="URI", help="make the new keys in this token")
@pass_ctx
def key_recover(c: Ctx, node_url: str | None, token: str | None, keyring_path: str | None,
                recovery_keyring: str, pkcs11_uri: str | None) -> None:
    """After a compromise: new keys at --keyring, vouched for by the recovery key."""
    from vigil.client import keys as client_side
    from vigil.crypto.keyring import load_keyring

    path = _keyring_path(keyring_path)
    pw = passphrase(sys.stdin.isatty())
    rec = load_keyring(Path(recovery_keyring), pw)
    cl = member_client(c, node_url, token, None)
    new = client_side.recover(cl, rec, path, pw, pkcs11=pkcs11_uri)
    click.echo(f"recovered: {new.sign_key_id} {new.enc_key_id}")


@key.command("revoke")
@click.argument("member_name", required=False)
@click.option("--compromised", is_flag=True, required=True,
              help="the key is compromised (the only reason taken)")
@click.option("--since", help="the revocation point: a time or a span back (2d); "
                              "default now")
@remote
@pass_ctx
def key_revoke(c: Ctx, member_name: str | None, compromised: bool, since: str | None,
               node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Revoke a member's current keys: MEMBER on this node's store (the operator), or
    without MEMBER the token's own member over the API. Logged; shares signed with the
    key since the revocation point are marked and refused everywhere. On a federating
    node the home's revoke entry enters the key directory too, so peers and members'
    clients learn the point (docs/keys.md)."""
    if member_name:
        from vigil.features import open_exchange
        from vigil.node import keylife as actions

        rec = actions.revoke(open_exchange(c.settings()), member_name, since=since)
        out(rec.to_json())
        return
    cl = member_client(c, node_url, token, None)
    out(cl._call("POST", "/api/v1/keys/revoke", json={"since": since} if since else {}))


@key.command("expire")
@click.argument("member_name")
@click.argument("when")
@pass_ctx
def key_expire(c: Ctx, member_name: str, when: str) -> None:
    """Schedule the expiry of a member's current keys (a time or a span such as 365d)."""
    from vigil.features import open_exchange
    from vigil.node import keylife as actions

    at = actions.set_expiry(open_exchange(c.settings()), member_name, when)
    click.echo(f"member:{member_name}'s keys expire at {at}")


@key.command("list")
@click.argument("member_name")
@pass_ctx
def key_list(c: Ctx, member_name: str) -> None:
    """A member's keys: current, retired, expiring, revoked."""
    from vigil.features import open_exchange
    from vigil.node import keylife as actions

    out([{k: v for k, v in r.items() if k not in ("log", "revoke_log", "public")}
         for r in actions.history(open_exchange(c.settings()), member_name)])


@key.command("warnings")
@click.option("--within", default="30d", show_default=True, help="how far ahead to warn")
@pass_ctx
def key_warnings(c: Ctx, within: str) -> None:
    """Members whose keys expire soon (exit status 1 if any)."""
    from datetime import UTC, datetime

    from vigil import params
    from vigil.features import open_exchange
    from vigil.node import keylife as actions

    now = datetime.now(UTC)
    found = actions.expiry_warnings(open_exchange(c.settings()), now=now,
                                    within=params.expiry(within, base=now) - now)
    for w in found:
        state = "EXPIRED" if w["expired"] else "expires"
        click.echo(f"warning: member:{w['name']} key {w['key']} {state} {w['expires']}",
                   err=True)
    if found:
        sys.exit(1)
