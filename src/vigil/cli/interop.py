"""`vigil import misp` and `vigil export misp`: MISP JSON events in and out, converted
on this side (misp-stix), published and read through the node's API as the user's
member (with --keyring, signed, sealed and opened here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from vigil.cli.base import Ctx, member_client, pass_ctx, remote
from vigil.errors import InputError, VigilError


def _read_events(source: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, event) of a file, every *.json file of a directory, or stdin (-)."""
    from vigil.interop.misp import events_of
    from vigil.stix import strictjson

    if source == "-":
        blobs = [("-", sys.stdin.buffer.read())]
    else:
        p = Path(source)
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        blobs = [(str(f), f.read_bytes()) for f in files]
    out = []
    for where, data in blobs:
        try:
            events = events_of(strictjson.loads(data, max_bytes=256 * 1024 * 1024))
        except VigilError as exc:
            raise InputError(f"{where}: {exc.message}", code=exc.code,
                             pointer=exc.pointer) from None
        out += [(where, e) for e in events]
    return out


@click.group("import")
def import_group() -> None:
    """Import intelligence from other formats."""


@import_group.command("misp")
@click.argument("source")
@click.option("--to", "to", multiple=True,
              help="CHANNEL, member:NAME or community (repeat): confirms the audience and "
                   "publishes; without it, only the report and the proposed audience")
@click.option("--tlp", help="TLP of the shares (default: the event's tlp: tag; never wider)")
@click.option("--json", "as_json", is_flag=True, help="the reports as JSON")
@remote
@pass_ctx
def import_misp(c: Ctx, source: str, to: tuple[str, ...], tlp: str | None, as_json: bool,
                node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """MISP JSON events from SOURCE (a file, a directory of *.json, or - for stdin), one
    share per event. Exits non-zero when an event was refused."""
    from vigil.interop.misp import check_tlp, convert
    from vigil.interop.misp_exchange import audience_words
    from vigil.stix.tlp import parse_tlp

    events = _read_events(source)
    words = audience_words(to) if to else None
    reports = []
    failed = 0
    with member_client(c, node_url, token, keyring_path) as cl:
        names = [ch["name"] for ch in cl.channels()]
        for where, event in events:
            try:
                conv = convert(event, to=words, channels=names)
                rep: dict[str, Any] = {"file": where, **conv.report()}
                if words is not None:
                    level = check_tlp(conv.marking, parse_tlp(tlp) if tlp else None)
                    res = cl.publish(conv.bundle(), tlp=level.value, to=words,
                                     codes=conv.marking.codes)
                    rep["share"] = {"id": res["id"], "tlp": level.value,
                                    "recipients": len(res["recipients"])}
            except VigilError as exc:
                failed += 1
                rep = {"file": where, "uuid": event["Event"].get("uuid"),
                       "info": event["Event"].get("info"),
                       "error": {"code": exc.code, "message": exc.message,
                                 "pointer": exc.pointer}}
            reports.append(rep)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for rep in reports:
            _show(rep)
    if failed:
        raise VigilError(f"{failed} of {len(reports)} event(s) refused", code="misp.refused",
                         status=422)


def _show(rep: dict[str, Any]) -> None:
    click.echo(f"{rep['file']}: event {rep.get('uuid')} {rep.get('info', '')!r}")
    if "error" in rep:
        e = rep["error"]
        click.echo(f"  refused [{e['code']}]: {e['message']}")
        return
    tlp = f"TLP:{rep['tlp'].upper()}" if rep.get("tlp") else "no TLP tag"
    click.echo(f"  {rep['objects']} STIX object(s), {len(rep['losses'])} loss(es), {tlp}, "
               f"codes {', '.join(rep['codes']) or '-'}; audience: "
               f"{rep['proposal']['text']}")
    for loss in rep["losses"]:
        click.echo(f"  lost {loss['pointer']} {loss['stix_id'] or ''} [{loss['code']}]: "
                   f"{loss['reason']}")
    if "share" in rep:
        s = rep["share"]
        click.echo(f"  published {s['id']} TLP:{s['tlp'].upper()} to {s['recipients']} "
                   "recipient(s)")
    else:
        click.echo("  not published: confirm the audience with --to")


@import_group.command("text")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--to", "to", multiple=True,
              help="CHANNEL, member:NAME or community (repeat): publishes what was found; "
                   "without it, only the report")
@click.option("--tlp", help="TLP of the share (needed with --to)")
@remote
@pass_ctx
def import_text(c: Ctx, file: Any, to: tuple[str, ...], tlp: str | None,
                node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """IOCs in free text from FILE (- for stdin), in every common defanged form: per
    line, what was found and what was skipped; with --to and --tlp, what was found is
    published as one share of STIX indicators."""
    import orjson

    from vigil.interop.iocs import extract, found_iocs, indicators_bundle
    from vigil.interop.misp_exchange import audience_words

    lines = extract(file.read())
    for line in lines:
        if line.found:
            click.echo(f"line {line.number}: " + ", ".join(
                f"{i.hash_alg or i.kind} {i.value}" for i in line.found))
        elif line.skipped:
            click.echo(f"line {line.number}: skipped ({line.skipped}): {line.text.strip()[:80]}")
    iocs = found_iocs(lines)
    skipped = sum(1 for x in lines if x.skipped)
    click.echo(f"{len(iocs)} IOC(s) found, {skipped} line(s) skipped", err=True)
    if not to:
        click.echo("not published: confirm with --to and --tlp", err=True)
        return
    if not tlp:
        raise InputError("give --tlp with --to", code="input.tlp")
    if not iocs:
        raise InputError("nothing found to publish", code="input.ioc")
    with member_client(c, node_url, token, keyring_path) as cl:
        res = cl.publish(orjson.dumps(indicators_bundle(iocs)), tlp=tlp,
                         to=audience_words(to))
    click.echo(f"published {res['id']} to {len(res['recipients'])} recipient(s)")


@click.group("export")
def export_group() -> None:
    """Export intelligence to other formats."""


@export_group.command("misp")
@click.option("--after", default=0, show_default=True, help="inbox cursor to start after")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="write one EVENT-UUID.json per event here (default: a JSON list on "
                   "stdout)")
@click.option("--purpose", default=None,
              help="why shares holding personal data are opened (recorded for their "
                   "originators; without it such shares are left out)")
@remote
@pass_ctx
def export_misp(c: Ctx, after: int, out_dir: str | None, purpose: str | None,
                node_url: str | None, token: str | None, keyring_path: str | None) -> None:
    """The shares the member may read, after a cursor, as MISP events (what
    pymisp.MISPEvent loads), each share opened and verified here."""
    from vigil.intel.export import add_misp_tags
    from vigil.interop.misp import to_misp

    events = []
    skipped = 0
    with member_client(c, node_url, token, keyring_path) as cl:
        inbox = cl.inbox(after=after)
        for item in inbox:
            try:
                share = cl.get(item.share_id, purpose=purpose)
            except VigilError as exc:
                if exc.code != "share.purpose_required":
                    raise
                skipped += 1
                continue
            if share.bundle is None:
                skipped += 1
                continue
            event, losses = to_misp(share.bundle)
            add_misp_tags(event, share.envelope.header)
            for loss in losses:
                click.echo(f"share {item.share_id}: lost {loss.pointer} {loss.stix_id} "
                           f"[{loss.code}]: {loss.reason}", err=True)
            events.append(event)
        cursor = inbox.cursor
    if out_dir:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for ev in events:
            (d / f"{ev['Event'].get('uuid')}.json").write_text(json.dumps(ev, indent=1),
                                                               "utf-8")
    else:
        click.echo(json.dumps(events, indent=1))
    click.echo(f"{len(events)} event(s), {skipped} share(s) not opened here; cursor "
               f"{cursor}", err=True)
