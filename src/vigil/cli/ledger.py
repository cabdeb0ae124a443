"""`vigil sighting`, `vigil ledger` and `vigil channel-key`: members' commands over HTTP."""

from __future__ import annotations

import click

from vigil.cli.base import Ctx, member_client, out, pass_ctx, remote

FIELDS = ("shares", "objects", "first_reports", "sightings_confirmed", "false_positives",
          "received", "opened")
HEADS = ("shares", "objects", "first", "sighted", "false+", "received", "opened")


@click.group()
def sighting() -> None:
    """Sightings: tell an indicator's originator you saw it, or that it is wrong."""


@sighting.command("add")
@click.argument("share_id")
@click.argument("indicator")
@click.option("--verdict", type=click.Choice(["sighted", "false-positive", "expired"]),
              default="sighted", show_default=True)
@click.option("--count", type=int, default=1, show_default=True, help="times seen")
@click.option("--first-seen", help="RFC 3339 time")
@click.option("--last-seen", help="RFC 3339 time")
@click.option("--disclose", is_flag=True,
              help="let the originator see that this member reported it (default anonymous)")
@remote
@pass_ctx
def sighting_add(c: Ctx, share_id: str, indicator: str, verdict: str, count: int,
                 first_seen: str | None, last_seen: str | None, disclose: bool,
                 node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """Report a sighting of INDICATOR (an indicator id) of SHARE_ID."""
    with member_client(c, node_url, token, keyring_path) as cl:
        s = cl.sight(share_id, indicator, verdict, count=count, first_seen=first_seen,
                     last_seen=last_seen, disclose=disclose)
    click.echo(f"{s['id']}: {verdict} x{s['count']} of {indicator}"
               + (" (disclosed to the originator)" if disclose else " (anonymous)"))


@sighting.command("list")
@click.argument("share_id")
@click.option("--json", "as_json", is_flag=True, help="print the whole answer")
@remote
@pass_ctx
def sighting_list(c: Ctx, share_id: str, as_json: bool, node_url: str | None,
                  token: str | None, keyring_path: str | None) -> None:
    """Sightings of a share: counts per indicator for its originator, your own otherwise."""
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl.sightings(share_id)
        names = {m["id"]: m["name"] for m in cl.members()}
    if as_json:
        out(doc)
        return
    for ind, verdicts in sorted((doc["counts"] or {}).items()):
        parts = [f"{v} {n['reports']} report(s), count {n['count']}"
                 for v, n in sorted(verdicts.items())]
        click.echo(f"{ind}  " + "; ".join(parts))
    for s in doc["sightings"]:
        who = names.get(s.get("created_by_ref", ""), "anonymous")
        click.echo(f"  {s['id']}  {s['x_vigil_verdict']:<14} x{s['count']:<5} "
                   f"{s['sighting_of_ref']}  by {who}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the whole report")
@remote
@pass_ctx
def ledger(c: Ctx, as_json: bool, node_url: str | None, token: str | None,
           keyring_path: str | None) -> None:
    """The reciprocity ledger over the shares you may read: per member, per channel."""
    with member_client(c, node_url, token, keyring_path) as cl:
        doc = cl.ledger()
    if as_json:
        out(doc)
        return

    def table(rows: list[dict[str, int | str]]) -> None:
        click.echo(f"  {'member':<16}" + "".join(f"{h:>9}" for h in HEADS))
        for r in rows:
            click.echo(f"  {r['name']!s:<16}" + "".join(f"{r[f]!s:>9}" for f in FIELDS))

    click.echo("all channels")
    table(doc["members"])
    for ch in doc["channels"]:
        click.echo(f"channel {ch['name']} ({ch['kind']})")
        table(ch["members"])
    rule = doc.get("community_rule")
    if rule:
        click.echo(f"community rule: TLP:AMBER community shares wait {rule['hours']} h for "
                   f"members giving under {rule['ratio']} share(s) per share received "
                   f"(after {rule['grace']} received)")


@click.group("channel-key")
def channel_key() -> None:
    """Channel keys for blind correlation of sealed shares (opened with --keyring)."""


@channel_key.command("show")
@click.argument("ref")
@remote
@pass_ctx
def channel_key_show(c: Ctx, ref: str, node_url: str | None, token: str | None,
                     keyring_path: str | None) -> None:
    """The channel key's epoch, who lacks a copy, and whether a new epoch is due."""
    with member_client(c, node_url, token, keyring_path) as cl:
        st = cl._call("GET", f"/api/v1/channels/{ref}/key")
        names = {m["id"]: m["name"] for m in cl.members()}
    click.echo(f"epoch {st['epoch']}, "
               f"{'a copy sealed to you' if st['sealed'] else 'no copy for you'}"
               f"{', new epoch due' if st['rotate'] else ''}")
    if st["missing"]:
        click.echo("lacking a copy: " + ", ".join(names.get(m, m) for m in st["missing"]))


@channel_key.command("share")
@click.argument("ref")
@remote
@pass_ctx
def channel_key_share(c: Ctx, ref: str, node_url: str | None, token: str | None,
                      keyring_path: str | None) -> None:
    """Seal the current channel key to the members that lack it (e.g. new members)."""
    with member_client(c, node_url, token, keyring_path) as cl:
        done = cl.share_channel_key(ref)
        names = {m["id"]: m["name"] for m in cl.members()}
    click.echo(f"sealed to {', '.join(names.get(m, m) for m in done)}" if done
               else "every member already holds the key")
