"""`vigil user revoke|list|admin` and `vigil member deactivate|activate`: the node
operator's commands for taking access away (on the node's own store).

A revocation made here reaches the running server through its store: an open push
stream of the revoked credential delivers nothing stored after the revocation and ends
at its next wake-up or keep-alive (``keepalive`` seconds at most).
"""

from __future__ import annotations

import click

from vigil.cli.base import Ctx, out, pass_ctx
from vigil.signin import users as access


@click.command("revoke")
@click.argument("member_name")
@click.argument("user_name")
@pass_ctx
def user_revoke(c: Ctx, member_name: str, user_name: str) -> None:
    """Revoke a user's token (by user name, id, the token or its first 12 characters
    as listings and logs show them): API calls with it answer 401 at
    once, its console sessions end, and its open streams stop delivering."""
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    uid = access.revoke_user(ex, member_name, user_name, by="operator")
    click.echo(f"revoked user {user_name} ({uid}) of member:{member_name}")


@click.command("list")
@click.argument("member_name")
@pass_ctx
def user_list(c: Ctx, member_name: str) -> None:
    """List a member's users, revoked ones included."""
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    out([{"id": u.id, "name": u.name, "created": u.created, "admin": u.admin,
          "revoked": u.revoked} for u in access.users(ex, member_name)])


@click.command("admin")
@click.argument("member_name")
@click.argument("user_name")
@click.option("--off", is_flag=True, help="take the role back")
@pass_ctx
def user_admin(c: Ctx, member_name: str, user_name: str, off: bool) -> None:
    """Make a user an admin of its member: through the API it may then revoke the
    member's users and deactivate the member."""
    from vigil.features import open_exchange

    access.set_admin(open_exchange(c.settings()), member_name, user_name, not off)
    click.echo(f"user {user_name} of member:{member_name} is {'not ' if off else ''}an admin")


@click.command("deactivate")
@click.argument("member_name")
@pass_ctx
def member_deactivate(c: Ctx, member_name: str) -> None:
    """Deactivate a member: none of its users authenticates any longer, its sessions
    end and its open streams stop delivering (logged)."""
    from vigil.features import open_exchange

    mid = access.set_member_active(open_exchange(c.settings()), member_name, False)
    click.echo(f"deactivated member:{member_name} ({mid})")


@click.command("activate")
@click.argument("member_name")
@pass_ctx
def member_activate(c: Ctx, member_name: str) -> None:
    """Reactivate a deactivated member (logged)."""
    from vigil.features import open_exchange

    mid = access.set_member_active(open_exchange(c.settings()), member_name, True)
    click.echo(f"activated member:{member_name} ({mid})")
