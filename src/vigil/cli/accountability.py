"""`vigil recall`, `vigil receipts` (a member's commands over HTTP) and `vigil purge`
(an operator's retention pass on the local node)."""

from __future__ import annotations

import json
from typing import Any

import click

from vigil.cli.base import member_client, remote


def _root() -> Any:
    """The root command's context object (``settings()``, used by ``member_client``)."""
    return click.get_current_context().find_root().obj


@click.command()
@click.argument("share_id")
@remote
def recall(share_id: str, node_url: str | None, token: str | None,
           keyring_path: str | None) -> None:
    """Recall a share you published: the node removes its payload and tells every
    recipient, whose clients drop it and acknowledge. With --keyring the recall is
    signed here; without, the node signs it (keyring it holds, or an attested share)."""
    with member_client(_root(), node_url, token, keyring_path) as cl:
        res = cl.recall(share_id)
    word = "recalled" if res["new"] else "already recalled"
    click.echo(f"{share_id} {word} at {res['at']} (log entry {res['log_index']}, "
               f"{len(res['recipients'])} recipient(s) told)")


@click.command()
@click.argument("share_id")
@click.option("--json", "as_json", is_flag=True, help="print the node's answer as JSON")
@remote
def receipts(share_id: str, as_json: bool, node_url: str | None, token: str | None,
             keyring_path: str | None) -> None:
    """Who received and opened a share you published, and who acknowledged its recall."""
    with member_client(_root(), node_url, token, keyring_path) as cl:
        doc = cl.receipts(share_id)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    recalled = doc["recall"] is not None
    head = f"{'recipient':<16} {'received':<25} {'opened':<25}"
    click.echo(head + (f" {'recall-ack':<25}" if recalled else ""))
    for r in doc["recipients"]:
        cells = [r["received"], r["opened"]] + ([r["recall_ack"]] if recalled else [])
        click.echo(f"{r['name'] or r['member']:<16} "
                   + " ".join(f"{(c['at'] if c else '-'):<25}" for c in cells))
    if recalled:
        left = doc["not_acknowledged"]
        click.echo(f"recalled at {doc['recall']['at']}; "
                   + (f"{len(left)} recipient(s) have not acknowledged" if left
                      else "every recipient acknowledged"))


@click.command()
@click.option("--expired", is_flag=True, required=True,
              help="purge every share whose expiry has passed (the only mode)")
@click.option("--batch", type=int, default=200, show_default=True,
              help="shares per transaction")
def purge(expired: bool, batch: int) -> None:
    """Run one retention pass on this node now (the server runs one every
    retention_interval seconds): expired shares lose payload, wraps and inbox rows;
    the log keeps their entries and records each purge."""
    from vigil.features import open_exchange
    from vigil.node.accountability import purge_expired

    ex = open_exchange(_root().settings())
    try:
        n = purge_expired(ex, batch=max(1, batch),
                          progress=lambda k: click.echo(f"purged {k}", err=True))
    finally:
        ex.store.close()
    click.echo(f"{n} expired share(s) purged")
