"""The vigil command line: thin commands over the node (local admin) and the SDK (members)."""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from vigil.cli.base import Ctx, member_client, out, pass_ctx, passphrase, remote
from vigil.cli.commands import COMMANDS, MEMBER_COMMANDS, USER_COMMANDS
from vigil.cli.lazy import LazyGroup
from vigil.cli.options import CURSOR
from vigil.errors import VigilError


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", envvar="VIGIL_DATA", help="node data directory (default .vigil)")
@click.option("--debug", is_flag=True, help="show tracebacks on errors")
@click.option("--cert", envvar="VIGIL_CERT", help="client certificate (PEM) for the node")
@click.option("--key", envvar="VIGIL_KEY",
              help="the client certificate's key: a PEM file, or the pkcs11: URI (RFC 7512) "
                   "of a key kept in a token")
@click.option("--ca", envvar="VIGIL_CA", help="CA (PEM) to trust for the node's certificate")
@click.option("--pin", envvar="VIGIL_PIN", help="the node's key instead of a CA: sha256/…")
@click.version_option(package_name="vigil")
@click.pass_context
def cli(ctx: click.Context, data: str | None, debug: bool, cert: str | None,
        key: str | None, ca: str | None, pin: str | None) -> None:
    """vigil: a threat-intelligence exchange: signed, sealed, immediate and fair."""
    ctx.obj = Ctx(data, debug, {"cert": cert, "key": key, "ca": ca, "pin": pin})


# -- node administration (local data directory) -----------------------------------

@cli.command()
@click.option("--name", help="human name of the node")
@click.option("--pkcs11", "pkcs11_uri", metavar="URI",
              help="make the node's Ed25519 key inside this PKCS#11 token (RFC 7512 URI)")
@pass_ctx
def init(c: Ctx, name: str | None, pkcs11_uri: str | None) -> None:
    """Create a node: data directory, node signing key, database."""
    from vigil.node.datadir import init_node

    s = c.settings()
    info = init_node(s, name, pkcs11=pkcs11_uri)
    click.echo(f"node {info['id']} created in {s.data_dir}")


@cli.group(cls=LazyGroup, lazy=MEMBER_COMMANDS)
def member() -> None:
    """Members: organisations with their own keys."""


@member.command("add")
@click.argument("name")
@click.option("--country", required=True, help="ISO 3166 code (or region name)")
@click.option("--kind", required=True,
              type=click.Choice(["agency", "cert", "police", "regional-org"]))
@click.option("--display-name", help="full name of the organisation")
@click.option("--keyring", "keyring_path", type=click.Path(dir_okay=False),
              help="where to write the member's keyring (default: held by this node)")
@click.option("--classical", is_flag=True,
              help="classical keys (ed25519, x25519) instead of the hybrid default")
@click.option("--pkcs11", "pkcs11_uri", metavar="URI",
              help="make the keys inside this PKCS#11 token (RFC 7512 pkcs11: URI; "
                   "classical suites; the keyring file then holds only the URI)")
@pass_ctx
def member_add(c: Ctx, name: str, country: str, kind: str, display_name: str | None,
               keyring_path: str | None, classical: bool, pkcs11_uri: str | None) -> None:
    """Register a member: a STIX identity, a signing key (ed25519+mldsa65) and an
    encryption key (mlkem768x25519), or ed25519 and x25519 with --classical.

    The private keys go to a passphrase-protected keyring file (mode 0600), never into
    the node database. Without --keyring the node holds the keyring (its own member)."""
    from vigil.features import open_exchange
    from vigil.model import MemberKind
    from vigil.node.datadir import keyring_dir

    s = c.settings()
    ex = open_exchange(s)
    hold = keyring_path is None
    path = keyring_dir(s) / f"{name}.keyring" if hold else Path(keyring_path or "")
    pw = "" if pkcs11_uri else str(s.keyring_passphrase) if hold and s.keyring_passphrase \
        else passphrase(sys.stdin.isatty(), confirm=True)
    m, kr = ex.add_member(name, country=country, kind=MemberKind(kind),
                          display_name=display_name, keyring_path=path, passphrase=pw,
                          hold=hold, hybrid=not classical, pkcs11=pkcs11_uri)
    click.echo(f"member {m.name} {m.id} ({m.sign_key_id.split(':')[0]}, "
               f"{m.enc_key_id.split(':')[0]})")
    if s.fed_name:  # peers take a member's keys only from the key directory
        from vigil.federation.trust_directory import register_keys

        click.echo(f"directory entry {register_keys(ex, kr)}")
    click.echo(f"keyring {path}" + (" (held by this node)" if hold else ""))


@member.command("list")
@pass_ctx
def member_list(c: Ctx) -> None:
    """List the members of this node."""
    from vigil.features import open_exchange

    ex = open_exchange(c.settings())
    for m in sorted(ex.directory().members.values(), key=lambda m: m.name):
        held = " (keys held)" if m.id in ex.held else ""
        click.echo(f"{m.name:<16} {m.country:<8} {m.kind.value:<13} {m.id}{held}")


@cli.group(cls=LazyGroup, lazy=USER_COMMANDS)
def user() -> None:
    """Users: analysts and services acting for a member."""


@user.command("add")
@click.argument("member_name")
@click.argument("user_name")
@click.option("--scope", type=click.Choice(["read", "publish", "admin"]), default="read",
              show_default=True, help="what the token may do (vigil.signin.tokens)")
@click.option("--expires", help="when the token stops working: RFC 3339 or a span (90d)")
@pass_ctx
def user_add(c: Ctx, member_name: str, user_name: str, scope: str,
             expires: str | None) -> None:
    """Issue an API token for a member's user (stored hashed, shown once)."""
    from vigil import clock
    from vigil.features import open_exchange
    from vigil.signin import tokens

    ex = open_exchange(c.settings())
    u, token = tokens.issue(ex, member_name, user_name, scope,
                            clock.parse_expiry(expires) if expires else None, by="operator")
    click.echo(f"user {u.name} of member:{member_name} (scope {u.scope}, "
               f"expires {u.expires or 'never'})")
    click.echo(f"token {token}")
    click.echo("(shown once; export VIGIL_TOKEN=... for the member commands)", err=True)


# -- member commands (over HTTP, as the token's member) ----------------------------------

@cli.group()
def channel() -> None:
    """Channels: bilateral, group and community audiences."""


@channel.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["bilateral", "group", "community"]), default="group")
@click.option("--member", "members", multiple=True, help="member name (repeat)")
@click.option("--as", "as_member", help="create locally on this node, owned by this member")
@remote
@pass_ctx
def channel_create(c: Ctx, name: str, kind: str, members: tuple[str, ...],
                   as_member: str | None, node_url: str | None, token: str | None,
                   keyring_path: str | None) -> None:
    """Create a channel owned by the acting member."""
    from vigil.model import ChannelKind

    if as_member:
        from vigil.features import open_exchange

        ex = open_exchange(c.settings())
        ch = ex.create_channel(ex.member(as_member).id, name, ChannelKind(kind), members)
        click.echo(f"channel {ch.name} {ch.id}")
        return
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl.create_channel(name, kind, members)
    click.echo(f"channel {doc['name']} {doc['id']}")


@channel.command("list")
@remote
@pass_ctx
def channel_list(c: Ctx, node_url: str | None, token: str | None, keyring_path: str | None
                 ) -> None:
    """The channels the token's member is in."""
    with member_client(c, node_url, token, keyring_path) as cl:
        for ch in cl.channels():
            names = ", ".join(ch["member_names"]) if ch["member_names"] is not None else "all"
            click.echo(f"{ch['name']:<20} {ch['kind']:<10} {names}")


@channel.command("show")
@click.argument("ref")
@remote
@pass_ctx
def channel_show(c: Ctx, ref: str, node_url: str | None, token: str | None,
                 keyring_path: str | None) -> None:
    """A channel with its join/leave history."""
    with member_client(c, node_url, token, keyring_path) as cl:
        out(cl.channel(ref))


@channel.command("add")
@click.argument("ref")
@click.argument("member_name")
@remote
@pass_ctx
def channel_add(c: Ctx, ref: str, member_name: str, node_url: str | None, token: str | None,
                keyring_path: str | None) -> None:
    """Add a member to a group channel (owner only)."""
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl.channel_add(ref, member_name)
    click.echo(f"{doc['name']}: {', '.join(doc['member_names'])}")


@channel.command("remove")
@click.argument("ref")
@click.argument("member_name")
@remote
@pass_ctx
def channel_remove(c: Ctx, ref: str, member_name: str, node_url: str | None,
                   token: str | None, keyring_path: str | None) -> None:
    """Remove a member from a group channel (owner only)."""
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl.channel_remove(ref, member_name)
    click.echo(f"{doc['name']}: {', '.join(doc['member_names'])}")


@cli.command()
@click.argument("file", type=click.File("rb"))
@click.option("--tlp", required=True, help="clear, green, amber, amber+strict, red")
@click.option("--to", "to", multiple=True, help="CHANNEL or member:NAME (repeat)")
@click.option("--purpose", help="why recipients get it (handling)")
@click.option("--no-onward", is_flag=True, help="recipients may not pass it on")
@click.option("--code", "codes", multiple=True, help="handling code (repeat)")
@click.option("--theme", "themes", multiple=True,
              help="terrorism, cyber, critical-infrastructure[/sector], organised-crime[/type]")
@click.option("--region", "regions", multiple=True, help="country code or region (repeat)")
@click.option("--expires", help="RFC 3339 time or a span such as 90d")
@click.option("--dry-run", is_flag=True, help="only show exactly who would receive it")
@click.option("--evaluation", help="source and information codes: B2 (Admiralty) or 4x4:B2")
@click.option("--legal-basis", help="the instrument allowing the exchange, e.g. eu-2016/794")
@click.option("--legal-purpose", "legal_purposes", multiple=True,
              help="purpose (repeat): prevention, investigation, prosecution, …")
@click.option("--personal-data", is_flag=True,
              help="the share holds personal data (needs a legal basis)")
@remote
@pass_ctx
def publish(c: Ctx, file: Any, tlp: str, to: tuple[str, ...], purpose: str | None,
            no_onward: bool, codes: tuple[str, ...], themes: tuple[str, ...],
            regions: tuple[str, ...], expires: str | None, dry_run: bool,
            evaluation: str | None, legal_basis: str | None,
            legal_purposes: tuple[str, ...], personal_data: bool,
            node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Publish a STIX 2.1 bundle from FILE (- for stdin)."""
    from vigil.stix import strictjson
    from vigil.stix.validate import validate_bundle

    data = file.read()
    validate_bundle(strictjson.loads(data))
    kw: dict[str, Any] = {"tlp": tlp, "to": to, "purpose": purpose, "no_onward": no_onward,
                          "codes": codes, "themes": themes, "regions": regions,
                          "expires": expires, "evaluation": evaluation,
                          "legal_basis": legal_basis, "legal_purposes": legal_purposes,
                          "personal_data": personal_data}
    with member_client(c, node_url, token, keyring_path) as cl:
        if dry_run:
            pv = cl.preview(**kw)
            if cl.keyring is not None:  # the form this client would seal with, checked
                pv["form"] = cl.check_preview(pv, tlp=tlp, to=to, purpose=purpose,
                                              no_onward=no_onward, codes=codes).value
            click.echo(f"TLP:{pv['audience']['tlp'].upper()}, payload {pv['form']}, "
                       f"{len(pv['recipients'])} recipient(s):")
            for r in pv["recipients"]:
                click.echo(f"  {r['name']:<16} {r['country']:<8} {r['display_name']}")
            rule = pv.get("community_rule")
            if rule and rule["held_back"]:
                click.echo(f"community rule: held back until {rule['not_before']} from "
                           + ", ".join(x["name"] for x in rule["held_back"]))
            return
        res = cl.publish(data, **kw)
    click.echo(f"published {res['id']} ({res['form']}, {res['provenance']}) to "
               f"{len(res['recipients'])} recipient(s)")


def _line(e: Any, names: dict[str, str], cl: Any = None) -> str:
    h = e.envelope.header
    aud = h["audience"]
    return (f"{e.seq:>6}  {e.share_id}  TLP:{aud['tlp'].upper():<13} "
            f"{h['payload']['form']:<6} from {names.get(h['originator'], h['originator'])}  "
            f"{h['created']}  {','.join(h.get('themes', []))}"
            + ("  RECALLED by its originator" if e.state.get("recalled") else "")
            + (_verdict(cl, e) if cl is not None else ""))


def _verdict(cl: Any, e: Any) -> str:
    """With pinned witnesses: the signature's verdict where it is more than "verified"
    (what `vigil show --witnesses` says of the share)."""
    from vigil.protocol.witnessing import SIGNED_BEFORE_REVOCATION

    try:
        signer = cl.verify(e.envelope, header_only=bool(e.state.get("recalled")
                                                        or e.state.get("purged")))
    except VigilError as exc:
        return f"  REFUSED [{exc.code}]"
    return f"  {SIGNED_BEFORE_REVOCATION}" if SIGNED_BEFORE_REVOCATION in signer else ""


@cli.command()
@click.option("--after", type=CURSOR, default=0, help="cursor: start after this inbox seq")
@click.option("--follow", is_flag=True, help="keep streaming new shares as they arrive")
@click.option("--watch-every", default=30.0, show_default=True,
              help="with --follow and --keyring: seconds between watches of the log for "
                   "keys registered in this member's name")
@click.option("--witnesses", "witnesses_path", envvar="VIGIL_WITNESSES",
              type=click.Path(exists=True, dir_okay=False),
              help="JSON of the witnesses to pin (as for `vigil show`): each share's "
                   "signature is checked too, and a line says \"signed before "
                   "revocation\" or REFUSED [code] where that is the verdict")
@remote
@pass_ctx
def inbox(c: Ctx, after: int, follow: bool, watch_every: float, witnesses_path: str | None,
          node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """List the shares in the token's member's inbox (each share's log proof checked)."""
    with member_client(c, node_url, token, keyring_path, witnesses=witnesses_path) as cl:
        names = {m["id"]: m["name"] for m in cl.members()}
        checker = cl if witnesses_path else None
        entries = cl.inbox(after)
        for e in entries:
            click.echo(_line(e, names, checker))
        last = entries.cursor  # past entries the node skipped, too
        if not follow:
            return
        import asyncio  # only a --follow runs the event loop

        async def shares() -> None:
            async for e in cl.stream(last):
                click.echo(_line(e, names, checker))

        async def run() -> None:
            tasks = [asyncio.ensure_future(shares())]
            if cl.keyring is not None:
                from vigil.cli.log import watch_keys

                tasks.append(asyncio.ensure_future(watch_keys(cl, watch_every)))
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    t.result()
            finally:
                for t in tasks:
                    t.cancel()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())


@cli.command()
@click.argument("share_id")
@click.option("--json", "as_json", is_flag=True, help="print the STIX bundle")
@click.option("--witnesses", "witnesses_path", envvar="VIGIL_WITNESSES",
              type=click.Path(exists=True, dir_okay=False),
              help="JSON of the witnesses to pin ({name: hex key}, or the `witnesses` of "
                   "GET /api/v1/federation/trust): another node's member's key is then "
                   "taken only as its home's witnessed directory proves it")
@remote
@pass_ctx
def show(c: Ctx, share_id: str, as_json: bool, witnesses_path: str | None,
         node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Show a share: verify its signature, open it, say who signed and how ("signed
    before revocation" for a key revoked after it)."""
    from vigil.stix.summary import summarize

    with member_client(c, node_url, token, keyring_path, witnesses=witnesses_path) as cl:
        sh = cl.get(share_id)
    h = sh.envelope.header
    click.echo(f"share      {sh.id}")
    click.echo(f"signature  {sh.signer}")
    click.echo(f"audience   TLP:{h['audience']['tlp'].upper()}, "
               f"{len(h['audience']['recipients'])} recipient(s), payload {h['payload']['form']}")
    click.echo(f"created    {h['created']}" + (f", expires {h['expires']}" if h["expires"] else ""))
    if h.get("themes") or h.get("regions"):
        click.echo(f"themes     {', '.join(h.get('themes', []))}  regions "
                   f"{', '.join(h.get('regions', []))}")
    if sh.bundle is None:
        click.echo("content    sealed to the member's keys: pass --keyring to open it here")
        return
    click.echo(f"opened by  {sh.opened_by}")
    if as_json:
        click.echo(sh.bundle.decode("utf-8"))
    else:
        for line in summarize(sh.stix() or {}):
            click.echo(f"  {line}")


# -- serving -------------------------------------------------------------------------------

@cli.command()
@click.option("--host", help="listen address")
@click.option("--port", type=int, help="listen port")
@click.option("--workers", type=int, default=1, show_default=True,
              help="worker processes (needs a shared store and bus, e.g. PostgreSQL + NATS)")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="serve HTTPS with this certificate (PEM, chain)")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
              help="the certificate's private key (PEM)")
@click.option("--tls-client-ca", type=click.Path(exists=True, dir_okay=False),
              help="accept client certificates issued by this CA (vigil user cert add)")
@click.option("--tls-self-signed", is_flag=True,
              help="serve HTTPS with the node's own self-signed pair (made once in "
                   "<data>/tls; its pin is printed), e.g. for federation")
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None, workers: int, tls_cert: str | None,
          tls_key: str | None, tls_client_ca: str | None, tls_self_signed: bool) -> None:
    """Run the node: REST API, push stream, OpenAPI at /api/openapi.json."""
    from vigil.web.serve import run
    from vigil.web.tls import REVERSE_PROXY

    if tls_self_signed:
        if tls_cert:
            raise click.UsageError("--tls-self-signed or --tls-cert, not both")
        from vigil.federation.descriptor import self_signed
        cert, key, pin = self_signed(c.settings().data_dir)
        tls_cert, tls_key = str(cert), str(key)
        click.echo(f"TLS: self-signed certificate {cert}, pin {pin}", err=True)
    if bool(tls_cert) != bool(tls_key) or (tls_client_ca and not tls_cert):
        raise click.UsageError("--tls-cert and --tls-key go together (and --tls-client-ca "
                               "needs them)")
    if not tls_cert:
        click.echo(REVERSE_PROXY, err=True)
    s = c.settings().with_overrides(host=host, port=port)
    if tls_cert and not s.values.get("fed_tls_cert"):
        s.values["fed_tls_cert"] = tls_cert  # the pin the node descriptor carries
        s.values["fed_tls_key"] = tls_key  # the pair it presents to its peers
    run(s, workers=workers, tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_client_ca)


@cli.command()
@click.option("--port", type=int, default=8470, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--fresh/--keep", default=True, help="start from a new demo data directory")
@click.option("--no-serve", is_flag=True, help="set up and publish, then exit")
@pass_ctx
def demo(c: Ctx, port: int, host: str, fresh: bool, no_serve: bool) -> None:
    """Start a node with sample members, channels and real public threat data."""
    from vigil.demo import run_demo

    run_demo(Path(c.data or ".vigil-demo"), host=host, port=port, fresh=fresh,
             serve=not no_serve)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except VigilError as exc:
        if debug:
            traceback.print_exc()
        where = f" (at {exc.pointer})" if exc.pointer else ""
        click.echo(f"error [{exc.code}]: {exc.message}{where}", err=True)
        sys.exit(1)
    except OSError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error [os.error]: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error [internal]: {type(exc).__name__}: {exc} (rerun with --debug)",
                   err=True)
        sys.exit(1)

