"""`vigil sso add|list|remove`: the OpenID providers the node's console trusts, and
(`vigil member set --require-webauthn`) the members whose users must use a key."""

from __future__ import annotations

from pathlib import Path

import click

from vigil.cli.base import Ctx, out, pass_ctx
from vigil.signin import passkeys, sso


@click.group("sso")
def sso_group() -> None:
    """Single sign-on for the console: OpenID providers and whom they may sign in."""


@sso_group.command("add")
@click.argument("issuer")
@click.option("--client-id", required=True, help="the client id the provider issued")
@click.option("--client-secret-file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a file holding the client secret (kept in the node's store)")
@click.option("--member-claim", required=True,
              help="the claim whose value is the member's name")
@click.option("--user-claim", required=True,
              help="the claim whose value is the user's name within that member")
@click.option("--member", "members", multiple=True, required=True,
              help="a member this provider may sign in (repeat for more)")
@click.option("--scopes", default=sso.DEFAULT_SCOPES, show_default=True,
              help="the scopes to ask for (space-separated; must include openid)")
@pass_ctx
def sso_add(c: Ctx, issuer: str, client_id: str, client_secret_file: Path,
            member_claim: str, user_claim: str, members: tuple[str, ...],
            scopes: str) -> None:
    """Trust an OpenID provider for console sign-in. Register the console's
    https://HOST/signin/sso/callback as its redirect URI and https://HOST/signin as
    its post-logout redirect URI."""
    from vigil.features import open_exchange

    p = sso.add_provider(open_exchange(c.settings()), issuer, client_id=client_id,
                         client_secret=client_secret_file.read_text().strip(),
                         member_claim=member_claim, user_claim=user_claim,
                         members=members, scopes=scopes)
    out(p.to_dict())


@sso_group.command("list")
@pass_ctx
def sso_list(c: Ctx) -> None:
    """The providers the console trusts (without their secrets)."""
    from vigil.features import open_exchange

    out([p.to_dict() for p in sso.providers(open_exchange(c.settings()))])


@sso_group.command("remove")
@click.argument("issuer")
@pass_ctx
def sso_remove(c: Ctx, issuer: str) -> None:
    """Stop trusting a provider (sessions it opened end when they expire or sign out)."""
    from vigil.features import open_exchange

    sso.remove_provider(open_exchange(c.settings()), issuer)
    click.echo(f"removed {issuer}")


@click.command("set")
@click.argument("member_name")
@click.option("--require-webauthn/--no-require-webauthn", default=None,
              help="whether the member's users must sign in to the console with a key")
@pass_ctx
def member_set(c: Ctx, member_name: str, require_webauthn: bool | None) -> None:
    """Change a member's sign-in policy."""
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    if require_webauthn is not None:
        passkeys.set_required(ex, member_name, require_webauthn)
    member = ex.member(member_name)
    out({"member": member.id, "name": member.name,
         "require_webauthn": passkeys.required(ex, member.id)})
