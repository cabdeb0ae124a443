"""`vigil user tokens|rotate|cert` and `vigil audit`: the node operator's commands for a
member's tokens, client certificates and sign-in events (on the node's own store)."""

from __future__ import annotations

import click

from vigil import clock
from vigil.cli.base import Ctx, out, pass_ctx
from vigil.crypto import pins
from vigil.signin import audit, certs, tokens


@click.command("tokens")
@click.argument("member_name")
@click.argument("user_name", required=False)
@pass_ctx
def user_tokens(c: Ctx, member_name: str, user_name: str | None) -> None:
    """List the tokens of a member's users (or of one user): prefix, scope, expiry,
    revoked or expired. Tokens themselves are never stored."""
    from vigil.features import open_exchange

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
    from vigil.features import open_exchange

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
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    out([e.to_dict() for e in audit.events(ex, ex.member(member_name).id, after, limit)])


@click.group("cert")
def user_cert() -> None:
    """Client certificates standing for users (vigil serve --tls-client-ca)."""


@user_cert.command("add")
@click.argument("member_name")
@click.argument("user_name")
@click.option("--spki-pin", help="sha256/<base64> of the certificate's public key")
@click.option("--subject", help="the certificate's subject, RFC 4514 (CN=…,O=…)")
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False),
              help="a PEM certificate whose key to pin")
@pass_ctx
def cert_add(c: Ctx, member_name: str, user_name: str, spki_pin: str | None,
             subject: str | None, cert_file: str | None) -> None:
    """Let a client certificate sign a user in (by key pin or by subject)."""
    from pathlib import Path

    from cryptography import x509

    from vigil.features import open_exchange

    if sum(x is not None for x in (spki_pin, subject, cert_file)) != 1:
        raise click.UsageError("give one of --spki-pin, --subject, --cert")
    if cert_file:
        spki_pin = pins.spki_pin(x509.load_pem_x509_certificate(Path(cert_file).read_bytes()))
    kind, value = ("spki", spki_pin) if spki_pin else ("subject", subject or "")
    cid = certs.add(open_exchange(c.settings()), member_name, user_name, kind, value,
                    by="operator")
    click.echo(f"certificate {cid} ({kind} {value}) signs in user {user_name} "
               f"of member:{member_name}")


@user_cert.command("list")
@click.argument("member_name")
@pass_ctx
def cert_list(c: Ctx, member_name: str) -> None:
    """A member's certificate mappings, revoked ones included."""
    from vigil.features import open_exchange

    out([m.to_dict() for m in certs.mappings(open_exchange(c.settings()), member_name)])


@user_cert.command("revoke")
@click.argument("member_name")
@click.argument("cert_id")
@pass_ctx
def cert_revoke(c: Ctx, member_name: str, cert_id: str) -> None:
    """Revoke a certificate mapping: the certificate signs no one in any longer."""
    from vigil.features import open_exchange

    certs.revoke(open_exchange(c.settings()), member_name, cert_id, by="operator")
    click.echo(f"revoked certificate {cert_id} of member:{member_name}")
