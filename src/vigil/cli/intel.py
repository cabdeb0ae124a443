"""`vigil consent …`, `vigil use …` and `vigil match …`: consent grants, declared uses
and private selector matching, from the member's side (the SDK over REST)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vigil.cli.base import Ctx, member_client, pass_ctx, remote
from vigil.intel.handling import USES
from vigil.match import sdk
from vigil.match.member import Blinded, MatchKey
from vigil.match.selectors import KINDS, oprf_input


@click.group("consent")
def consent_group() -> None:
    """Ask an originator for a use its handling forbids; grant or refuse one."""


@consent_group.command("ask")
@click.argument("share_id")
@click.argument("use", type=click.Choice(USES))
@click.option("--reason", required=True, help="why the use is needed")
@remote
@pass_ctx
def consent_ask(c: Ctx, share_id: str, use: str, reason: str, node_url: str | None,
                token: str | None, keyring_path: str | None) -> None:
    with member_client(c, node_url, token, keyring_path) as cl:
        req = sdk.ask_consent(cl, share_id, use, reason)
    click.echo(f"asked {req['id']} ({req['use']} of {req['share']}): {req['state']}")


@consent_group.command("list")
@click.option("--role", type=click.Choice(["any", "asker", "originator"]), default="any")
@remote
@pass_ctx
def consent_list(c: Ctx, role: str, node_url: str | None, token: str | None,
                 keyring_path: str | None) -> None:
    with member_client(c, node_url, token, keyring_path) as cl:
        got = cl._call("GET", "/api/v1/consent", params={"role": role})
    for r in got["requests"]:
        click.echo(f"{r['id']}  {r['state']:<8} {r['use']:<8} {r['share']}  {r['reason']}")


@consent_group.command("answer")
@click.argument("request_id")
@click.option("--grant/--refuse", required=True)
@click.option("--until", help="a grant ends at this RFC 3339 time")
@remote
@pass_ctx
def consent_answer(c: Ctx, request_id: str, grant: bool, until: str | None,
                   node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Sign the answer with --keyring, or let the node sign with the keyring it holds."""
    with member_client(c, node_url, token, keyring_path) as cl:
        req = cl._call("GET", f"/api/v1/consent/{request_id}")
        if cl.keyring is not None:
            done = sdk.answer_consent(cl, req, grant, until=until)
        else:
            done = cl._call("POST", f"/api/v1/consent/{request_id}/answer",
                            json={"grant": grant, "until": until})
    click.echo(f"{done['id']}: {done['state']}")


@click.command("use")
@click.argument("share_id")
@click.argument("what", type=click.Choice(USES))
@click.option("--purpose", required=True, help="what the share is used for")
@remote
@pass_ctx
def use_cmd(c: Ctx, share_id: str, what: str, purpose: str, node_url: str | None,
            token: str | None, keyring_path: str | None) -> None:
    """Declare a use of a share: refused (policy.grant_required) when its handling
    forbids it and the originator has not granted it."""
    with member_client(c, node_url, token, keyring_path) as cl:
        res = sdk.use(cl, share_id, what, purpose)
    click.echo(f"{res['use']} of {res['share']} recorded ({res['reason']})")


@click.group("match")
def match_group() -> None:
    """Private selector matching (RFC 9497 OPRF; the key stays in --match-key)."""


def _key(path: str) -> MatchKey:
    return MatchKey.load(Path(path), create=True)


KEY_OPTION = click.option("--match-key", "key_path", required=True,
                          type=click.Path(dir_okay=False),
                          help="the member's matching key file (made on first use, 0600)")


@match_group.command("index")
@click.argument("file", type=click.File("r"))
@KEY_OPTION
@remote
@pass_ctx
def match_index(c: Ctx, file: click.File, key_path: str, node_url: str | None,
                token: str | None, keyring_path: str | None) -> None:
    """Publish the member's index from FILE: one `KIND VALUE` a line (kinds: phone,
    iban, wallet, passport, email)."""
    pairs = []
    for line in file:  # type: ignore[attr-defined]
        kind, _, value = str(line).strip().partition(" ")
        if kind:
            pairs.append((kind, value.strip()))
    with member_client(c, node_url, token, keyring_path) as cl:
        n = sdk.publish_index(cl, _key(key_path), pairs)
    click.echo(f"index: {n} selector(s)")


@match_group.command("answer")
@KEY_OPTION
@remote
@pass_ctx
def match_answer(c: Ctx, key_path: str, node_url: str | None, token: str | None,
                 keyring_path: str | None) -> None:
    """Evaluate the blinded selectors other members asked about."""
    with member_client(c, node_url, token, keyring_path) as cl:
        n = sdk.answer_pending(cl, _key(key_path))
    click.echo(f"answered {n} quer(y/ies)")


@match_group.command("ask")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("value")
@remote
@pass_ctx
def match_ask(c: Ctx, kind: str, value: str, node_url: str | None, token: str | None,
              keyring_path: str | None) -> None:
    """Ask who holds a selector; prints the query and the blinding to keep (secret)."""
    with member_client(c, node_url, token, keyring_path) as cl:
        qid, b = sdk.ask(cl, kind, value)
    click.echo(json.dumps({"query": qid, "kind": kind, "value": value,
                           "blind": b.blind.hex()}))


@match_group.command("hits")
@click.argument("query")
@click.option("--kind", required=True, type=click.Choice(sorted(KINDS)))
@click.option("--value", required=True)
@click.option("--blind", required=True, help="the blinding `match ask` printed")
@remote
@pass_ctx
def match_hits(c: Ctx, query: str, kind: str, value: str, blind: str, node_url: str | None,
               token: str | None, keyring_path: str | None) -> None:
    """The members holding the selector (among those that have answered): ask them
    for it with `vigil consent` on a share of theirs, or bilaterally."""
    b = Blinded(oprf_input(kind, value), bytes.fromhex(blind), "")
    with member_client(c, node_url, token, keyring_path) as cl:
        got = sdk.hits(cl, query, b)
        names = {m["id"]: m["name"] for m in cl.members()}
    for h in got:
        click.echo(f"held by member:{names.get(h, h)}")
    if not got:
        click.echo("no holder has answered with a match (yet)")
