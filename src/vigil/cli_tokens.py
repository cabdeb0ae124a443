"""`vigil user tokens|rotate` and `vigil audit`: the node operator's commands for a
member's tokens and sign-in events (on the node's own store)."""

from __future__ import annotations

import click

from vigil import audit, clock, tokens
from vigil.cli import Ctx, out, pass_ctx


@click.command("tokens")
@click.argument("member_name")
@click.argument("user_name", required=False)
@pass_ctx
def user_tokens(c: Ctx, member_name: str, user_name: str | None) -> None:
    """List the tokens of a member's users (or of one user): prefix, scope, expiry,
    revoked or expired. Tokens themselves are never stored."""
    from vigil.node import open_exchange

    out([t.to_dict() for t in tokens.tokens(open_exchange(c.settings()), member_name,
                                             user_name)])


@click.command("rotate")
@click.argument("member_name")
@click.argument("user_name")
@click.option("--scope", type=click.Choice(list(tokens.SCOPES)), help="a new scope")
@click.option("--expires", help="a new expiry: RFC 3339 or a span (90d); default: keep")
@pass_ctx
def user_rotate(c: Ctx, member_name: str, user_name: str, scope: str | None,
                expires: str | None) -> None:
    """Give a user a new token; the old one, its console sessions and its open
    streams end at once (recorded)."""
    from vigil.node import open_exchange

    uid, token = tokens.rotate(open_exchange(c.settings()), member_name, user_name,
                               scope=scope,
                               expires=clock.parse_expiry(expires) if expires else None,
                               by="operator")
    click.echo(f"rotated the token of user {user_name} ({uid}) of member:{member_name}")
    click.echo(f"token {token}")
    click.echo("(shown once)", err=True)


@click.command("audit")
@click.argument("member_name")
@click.option("--after", type=int, default=0, help="events after this sequence number")
@click.option("--limit", type=int, default=100, show_default=True)
@pass_ctx
def audit_cmd(c: Ctx, member_name: str, after: int, limit: int) -> None:
    """A member's sign-in events: sign-ins, failed sign-ins, tokens created, rotated
    and revoked."""
    from vigil.node import open_exchange

    ex = open_exchange(c.settings())
    out([e.to_dict() for e in audit.events(ex, ex.member(member_name).id, after, limit)])


def register(cli: click.Group) -> None:
    user = cli.commands["user"]
    assert isinstance(user, click.Group)
    for cmd in (user_tokens, user_rotate):
        user.add_command(cmd)
    cli.add_command(audit_cmd)
