"""`vigil feed …` (external TAXII 2.1 collections) and `vigil gateway` (a member's
local TAXII endpoint over its own keys)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vigil.cli.options import LIMIT
from vigil.errors import InputError
from vigil.params import decimal
from vigil.progress import Bar, bar


def _settings() -> Any:
    """The node's settings, from the root command's --data (duck-typed: the root
    context object has ``settings()``)."""
    return click.get_current_context().find_root().obj.settings()


def _exchange() -> Any:
    from vigil.features import open_exchange

    return open_exchange(_settings())


def _auth(user: str | None, password: str | None, token: str | None) -> Any:
    from vigil.feeds.registry import Auth

    if token and (user or password):
        raise InputError("give --token or --user/--password, not both", code="feed.auth")
    if password and not user:
        raise InputError("--password needs --user", code="feed.auth")
    return Auth(user, password, token)


def _since(text: str) -> str:
    """An RFC 3339 time, or a span back from now such as 7d or 12h."""
    from vigil import clock, params

    return clock.fmt(params.since(text))


def _credentials(f: Any) -> Any:
    f = click.option("--token", envvar="VIGIL_FEED_TOKEN",
                     help="Bearer token for the TAXII server")(f)
    f = click.option("--password", envvar="VIGIL_FEED_PASSWORD",
                     help="HTTP Basic password for the TAXII server")(f)
    f = click.option("--user", help="HTTP Basic user for the TAXII server")(f)
    return f


def _progress(b: Bar) -> Callable[[Any], None]:
    """The counts of a long pull or push, on the progress bar."""
    return lambda result: b.update(int(getattr(result, "fetched", 0)
                                       or getattr(result, "sent", 0)), None, result.line())


@click.group()
def feed() -> None:
    """Feeds: external TAXII 2.1 collections this node pulls from or pushes to."""


@feed.command("add")
@click.argument("url")
@click.option("--format", "kind", type=click.Choice(["taxii", "misp"]), default="taxii",
              show_default=True, help="a TAXII 2.1 API root, or a MISP feed (the URL of "
              "the folder holding manifest.json)")
@click.option("--collection", help="collection id on the TAXII server (or its alias or "
              "title); TAXII feeds only")
@click.option("--as", "as_member", required=True, help="member that publishes what is pulled")
@click.option("--tlp", required=True, help="clear, green, amber, amber+strict, red")
@click.option("--to", "to", multiple=True, help="CHANNEL or member:NAME (repeat)")
@click.option("--every", default="15m", show_default=True, help="pull interval: 30s, 15m, 1h")
@click.option("--name", help="feed name (default: MEMBER-COLLECTION)")
@click.option("--since", help="start from objects added after this RFC 3339 time (or 7d: a "
              "span back from now)")
@_credentials
def feed_add(url: str, kind: str, collection: str | None, as_member: str, tlp: str,
             to: tuple[str, ...], every: str, name: str | None, since: str | None,
             user: str | None, password: str | None, token: str | None) -> None:
    """Subscribe this node to the collection COLLECTION of the TAXII 2.1 API root URL,
    or (--format misp) to the MISP feed at URL."""
    from urllib.parse import urlsplit

    from vigil.feeds.registry import Feed, add_feed, parse_every
    from vigil.node.inputs import check_name
    from vigil.stix.tlp import parse_tlp

    if not url.startswith(("http://", "https://")):
        raise InputError(f"{url!r} is not an http(s) URL", code="feed.url")
    if (kind == "taxii") != bool(collection):
        raise InputError("a TAXII feed needs --collection; a MISP feed takes none",
                         code="feed.collection", pointer="/collection")
    if urlsplit(url).username is not None:
        raise InputError("put credentials in --user/--password or --token, not in the URL "
                         "(feed URLs are shown by feed list)", code="feed.url")
    ex = _exchange()
    try:
        member = ex.member(as_member)
        level = parse_tlp(tlp)
        ex.make_request(member.id, tlp=level, to=to)  # the audience must make sense now
        fname = check_name(name or f"{member.name}-{(collection or kind)[:8]}".lower(),
                           "feed")
        f = add_feed(ex.store, Feed(
            name=fname, url=url if kind == "taxii" else url.rstrip("/") + "/",
            collection=collection or "", member_id=member.id, tlp=level.value,
            to=tuple(to), every=parse_every(every), auth=_auth(user, password, token),
            cursor=_since(since) if since else None, kind=kind))
    finally:
        ex.store.close()
    where = f.collection_url if kind == "taxii" else f"MISP feed {f.url}"
    click.echo(f"feed {f.name}: {where} as member:{member.name}, "
               f"TLP:{f.tlp.upper()}, every {f.public()['every']}, auth {f.auth.describe()}")


@feed.command("list")
@click.option("--json", "as_json", is_flag=True)
def feed_list(as_json: bool) -> None:
    """The feeds of this node, with cursors and counts (never their secrets)."""
    from vigil.feeds.registry import list_feeds, rejects

    ex = _exchange()
    try:
        feeds = list_feeds(ex.store)
        docs = []
        for f in feeds:
            d = f.public()
            d["rejects"] = [r.to_dict() for r in rejects(ex.store, f.name, 5)]
            docs.append(d)
    finally:
        ex.store.close()
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    for d in docs:
        click.echo(f"{d['name']:<24} {d['url']} collection {d['collection']}")
        click.echo(f"{'':<24} TLP:{d['tlp'].upper()} to {','.join(d['to']) or '-'} every "
                   f"{d['every']} auth {d['auth']} cursor {d['cursor'] or '-'}")
        click.echo(f"{'':<24} {d['fetched']} fetched, {d['published']} published, "
                   f"{d['duplicates']} duplicates, {d['rejected']} rejected; last pull "
                   f"{d['last_pull'] or 'never'}"
                   + (f", error: {d['last_error']}" if d["last_error"] else ""))
        for r in d["rejects"]:
            click.echo(f"{'':<24} rejected {r['id']} [{r['code']} at {r['pointer']}]")


@feed.command("show")
@click.argument("name")
@click.option("--limit", type=LIMIT, default=100, show_default=True,
              help="rejected objects to list")
def feed_show(name: str, limit: int) -> None:
    """One feed: settings, cursor, counts, and the objects it sent that were refused."""
    from vigil.feeds.registry import get_feed, rejects

    ex = _exchange()
    try:
        d = get_feed(ex.store, name).public()
        d["rejects"] = [r.to_dict() for r in rejects(ex.store, name, limit)]
    finally:
        ex.store.close()
    click.echo(json.dumps(d, indent=2))


@feed.command("remove")
@click.argument("name")
def feed_remove(name: str) -> None:
    """Unsubscribe: the feed, its cursor and its records go; published shares stay."""
    from vigil.feeds.registry import remove_feed

    ex = _exchange()
    try:
        remove_feed(ex.store, name)
    finally:
        ex.store.close()
    click.echo(f"feed {name} removed")


@feed.command("pull")
@click.argument("name", required=False)
def feed_pull(name: str | None) -> None:
    """Pull one feed (or every feed) now. Exits non-zero if a pull failed (the others
    still run; each resumes from its cursor next time)."""
    from vigil.errors import VigilError
    from vigil.feeds.pull import pull_claimed
    from vigil.feeds.registry import list_feeds

    ex = _exchange()
    rung: set[str] = set()
    failed: list[str] = []
    try:
        names = [name] if name else [f.name for f in list_feeds(ex.store)]
        for n in names:
            try:
                with bar(f"feed {n}") as b:
                    result = pull_claimed(ex, n, progress=_progress(b))
            except VigilError as exc:
                if name:
                    raise
                click.echo(f"feed {n}: failed [{exc.code}]: {exc.message}", err=True)
                failed.append(n)
                continue
            rung |= result.recipients
            click.echo(result.line())
            for r in result.rejects:
                click.echo(f"  rejected {r.object_id} {r.version or '-'} [{r.code} at "
                           f"{r.pointer}]: {r.message}")
    finally:
        ex.store.close()
    if rung:
        _ring(rung)
    if failed:
        raise VigilError(f"{len(failed)} of {len(names)} feed pull(s) failed: "
                         f"{', '.join(failed)}", code="feed.pull_failed", status=502)


def _ring(members: set[str]) -> None:
    """Wake the recipients' live streams on the node's bus (a shared bus such as NATS;
    an in-process bus belongs to the serving process, whose streams see the shares on
    their next read)."""
    import asyncio

    from vigil.bus import open_bus

    async def ring() -> None:
        bus = open_bus(str(_settings().bus_url))
        await bus.start()
        try:
            await bus.ring(members)
        finally:
            await bus.close()

    try:
        asyncio.run(ring())
    except Exception as exc:  # the shares are stored; only the wake-up failed
        click.echo(f"warning: could not ring the bus: {exc}", err=True)


@feed.command("push")
@click.option("--channel", required=True, help="channel whose shares are sent")
@click.option("--as", "as_member", required=True, help="member whose view of the channel")
@click.option("--to", "url", required=True, help="TAXII 2.1 API root URL")
@click.option("--collection", required=True,
              help="collection id on that server (or its alias or title)")
@_credentials
def feed_push(channel: str, as_member: str, url: str, collection: str, user: str | None,
              password: str | None, token: str | None) -> None:
    """Send a channel's shares (those the member may pass on and this node can open) to
    an external TAXII 2.1 collection, and wait for each status to complete."""
    from vigil.feeds.push import push

    ex = _exchange()
    try:
        with bar(f"push {channel}") as b:
            result = push(ex, as_member, channel, url, collection,
                          _auth(user, password, token), progress=_progress(b))
    finally:
        ex.store.close()
    from vigil.errors import VigilError

    click.echo(f"pushed {result.line()}")
    for f in result.failures[:20]:
        click.echo(f"  failed {f.get('id')} {f.get('version', '')}: {f.get('message', '')}")
    if result.failure or result.pending:
        raise VigilError(f"the server did not add {result.failure + result.pending} of "
                         f"{result.sent} object(s) ({result.failure} failed, {result.pending} "
                         "pending); the next push sends them again",
                         code="feed.push_incomplete", status=502)


@click.command()
@click.option("--node", "node_url", envvar="VIGIL_NODE", required=True, help="node URL")
@click.option("--token", envvar="VIGIL_TOKEN", required=True, help="API token of a user")
@click.option("--keyring", "keyring_path", envvar="VIGIL_KEYRING", required=True,
              type=click.Path(dir_okay=False, exists=True), help="the member's keyring")
@click.option("--listen", default="127.0.0.1:9470", show_default=True, help="HOST:PORT")
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="local SQLite file for the opened shares (default ./vigil-gateway.db)")
@click.option("--local-token", envvar="VIGIL_GATEWAY_TOKEN",
              help="token local TAXII clients present (Bearer, or Basic password)")
@click.option("--state", envvar="VIGIL_LOG_STATE", type=click.Path(dir_okay=False),
              help="file of checkpoints this member accepted (default <data>/checkpoints.json)")
@click.option("--watch-every", default=30.0, show_default=True,
              help="seconds between watches of the node's log")
@click.option("--witnesses", "witnesses_path", envvar="VIGIL_WITNESSES",
              type=click.Path(dir_okay=False, exists=True),
              help="JSON of the witnesses to pin ({name: hex key}, or the `witnesses` of "
                   "GET /api/v1/federation/trust, from the operator): signers' keys are "
                   "then taken only with their home's directory proof")
@click.pass_context
def gateway(ctx: click.Context, node_url: str, token: str, keyring_path: str, listen: str,
            db_path: str | None, local_token: str | None, state: str | None,
            watch_every: float, witnesses_path: str | None) -> None:
    """Follow the node's inbox with the member's own keys and serve the opened shares
    as plain STIX on a local, read-only TAXII 2.1 endpoint."""
    import secrets

    from vigil.crypto.keyring import load_keyring
    from vigil.gateway import run_gateway
    from vigil.trust_client import load_witnesses

    host, _, port = listen.rpartition(":")
    if not host or decimal(port) is None:
        raise InputError(f"--listen {listen!r} must be HOST:PORT", code="gateway.listen")
    passphrase = os.environ.get("VIGIL_KEYRING_PASSPHRASE")
    if passphrase is None:
        if not sys.stdin.isatty():
            raise InputError("set VIGIL_KEYRING_PASSPHRASE or run in a terminal",
                             code="keyring.no_passphrase")
        passphrase = str(click.prompt("keyring passphrase", hide_input=True))
    kr = load_keyring(Path(keyring_path), passphrase)
    if not local_token:
        local_token = "vgw_" + secrets.token_urlsafe(24)
        click.echo(f"local token {local_token} (shown once; set VIGIL_GATEWAY_TOKEN to fix it)",
                   err=True)
    state_path = Path(state) if state else ctx.obj.settings().data_dir / "checkpoints.json"
    run_gateway(node_url, token, kr, Path(db_path or "vigil-gateway.db"),
                host=host, port=int(port), local_token=local_token, state=state_path,
                watch_every=watch_every,
                witnesses=load_witnesses(Path(witnesses_path)) if witnesses_path else None)
