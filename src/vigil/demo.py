"""`vigil demo`: a node with sample members, channels and real public threat data."""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import click
import orjson

from vigil.config import load_settings
from vigil.consent import service as consent
from vigil.errors import Conflict
from vigil.features import open_exchange
from vigil.interop.iocs import indicators_bundle, read_abusech
from vigil.match import node as match
from vigil.match.member import MatchKey
from vigil.model import Actor, ChannelKind, MemberKind, Tlp
from vigil.node.datadir import init_node, keyring_dir
from vigil.node.exchange import Exchange
from vigil.stix.tlp import marking_id_for

PASSPHRASE = "vigil-demo"
MARKER = "demo.marker"

MEMBERS: list[tuple[str, str, MemberKind, str]] = [
    ("ee-cert", "EE", MemberKind.CERT, "National CERT of Estonia (demo)"),
    ("de-police", "DE", MemberKind.POLICE, "Federal criminal police of Germany (demo)"),
    ("ke-agency", "KE", MemberKind.AGENCY, "National security agency of Kenya (demo)"),
    ("sg-agency", "SG", MemberKind.AGENCY, "Cyber security agency of Singapore (demo)"),
    ("br-police", "BR", MemberKind.POLICE, "Federal police of Brazil (demo)"),
    ("au-ctc", "africa", MemberKind.REGIONAL_ORG,
     "African regional counter-terrorism centre (demo)"),
]


def _data(name: str) -> Path:
    return Path(str(resources.files("vigil") / "data" / "demo" / name))


def _iocs_bundle(file: str, limit: int, creator: str, tlp: Tlp) -> bytes:
    iocs = [i for _, i in zip(range(limit), read_abusech(_data(file)), strict=False)]
    b = indicators_bundle(iocs, created_by=creator, marking=marking_id_for(tlp))
    return orjson.dumps(b)


def setup_demo(data: Path, *, fresh: bool = True) -> tuple[Exchange, dict[str, str]]:
    """Create the demo node in `data` and publish the sample shares; return the
    exchange and a token per member."""
    if fresh and data.exists():
        if not (data / MARKER).exists():
            raise Conflict(f"{data} exists and is not a demo directory; not touching it",
                           code="demo.not_demo_dir")
        shutil.rmtree(data)
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", PASSPHRASE)
    settings = load_settings(data, keyring_passphrase=os.environ["VIGIL_KEYRING_PASSPHRASE"])
    if (data / "node.json").exists():
        ex = open_exchange(settings)
        tokens: dict[str, str] = json.loads((data / "demo-tokens.json").read_text())
        return ex, tokens
    init_node(settings, "vigil demo node")
    (data / MARKER).write_text("created by vigil demo\n")
    ex = open_exchange(settings)
    ids: dict[str, str] = {}
    tokens = {}
    for name, country, kind, display in MEMBERS:
        m, _ = ex.add_member(name, country=country, kind=kind, display_name=display,
                             keyring_path=keyring_dir(settings) / f"{name}.keyring",
                             passphrase=settings.keyring_passphrase, hold=True)
        ids[name] = m.id
        _, tokens[name] = ex.add_user(name, "analyst")
    fd = os.open(data / "demo-tokens.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f, indent=2)
    ex.create_channel(ids["ee-cert"], "ee-de", ChannelKind.BILATERAL, [ids["de-police"]])
    ex.create_channel(ids["ee-cert"], "ics-defenders", ChannelKind.GROUP,
                      [ids["sg-agency"], ids["de-police"]])
    ex.create_channel(ids["au-ctc"], "africa-ct", ChannelKind.GROUP, [ids["ke-agency"]])
    ex.create_channel(ids["ee-cert"], "community", ChannelKind.COMMUNITY, [])

    def pub(member: str, raw: bytes, tlp: Tlp, to: list[str], themes: list[str],
            regions: list[str], purpose: str | None = None, no_onward: bool = False,
            **intel: Any) -> str:
        req = ex.make_request(ids[member], tlp=tlp, to=to, themes=themes, regions=regions,
                              purpose=purpose, no_onward=no_onward, expires="365d", **intel)
        return ex.publish_bundle(Actor(ids[member], "demo"), raw, req).envelope.id

    pub("ee-cert", _data("ics-attack-subset.json").read_bytes(), Tlp.GREEN, ["community"],
        ["critical-infrastructure/energy", "cyber"], ["EE", "UA"],
        purpose="ICS threat awareness")
    pub("de-police", _iocs_bundle("abusech-feodotracker-ipblocklist-2024-04-04.csv", 100,
                                  ids["de-police"], Tlp.AMBER),
        Tlp.AMBER, ["ee-de"], ["organised-crime/cybercrime", "cyber"], ["DE", "EE"],
        purpose="botnet takedown preparation", no_onward=True, evaluation="B2",
        legal_basis="coe-budapest", legal_purposes=["investigation"])
    pub("sg-agency", _iocs_bundle("abusech-threatfox-sha256-sample.csv", 150, ids["sg-agency"],
                                  Tlp.AMBER_STRICT),
        Tlp.AMBER_STRICT, ["ics-defenders"], ["critical-infrastructure", "cyber"], ["SG"])
    pub("ke-agency", _iocs_bundle("abusech-threatfox-urls-sample.csv", 60, ids["ke-agency"],
                                  Tlp.RED),
        Tlp.RED, ["africa-ct", "member:au-ctc"], ["cyber"], ["KE", "africa"],
        purpose="investigation support", no_onward=True)
    pub("br-police", _iocs_bundle("abusech-threatfox-urls-sample.csv", 300, ids["br-police"],
                                  Tlp.GREEN),
        Tlp.GREEN, [], ["organised-crime", "cyber"], ["BR"], evaluation="4x4:B3",
        legal_basis="un-untoc", legal_purposes=["prevention"])
    intel_scenarios(ex, ids, pub, data)
    return ex, tokens


def intel_scenarios(ex: Exchange, ids: dict[str, str], pub: Any, data: Path) -> None:
    """Counter-terrorism and organised crime (docs/model.md): public facts (a UN
    listing, a UN resolution, the EncroChat takedown, real places) with fictional people
    and selectors in reserved ranges; evaluations, legal bases, a consent request still
    waiting for its answer, and the indexes of two members for private matching."""
    ct = pub("au-ctc", _data("ct-scenario.json").read_bytes(), Tlp.AMBER, ["africa-ct"],
             ["terrorism/foreign-fighters", "terrorism/financing"], ["KE", "SO", "africa"],
             purpose="detect returning foreign terrorist fighters", codes=["no-court"],
             evaluation="4x4:B2", legal_basis="un-sc-2396",
             legal_purposes=["border-control", "prevention"], personal_data=True)
    oc = pub("de-police", _data("oc-scenario.json").read_bytes(), Tlp.AMBER, ["ee-de"],
             ["organised-crime/drug-trafficking", "organised-crime/money-laundering"],
             ["DE", "NL", "EE"], purpose="financial investigation", codes=["no-court"],
             evaluation="B2", legal_basis="eu-2016/794",
             legal_purposes=["investigation", "financial-investigation"], personal_data=True)
    consent.ask(ex, ids["ke-agency"], ct, "court", "prosecution of the travel facilitator")
    consent.ask(ex, ids["ee-cert"], oc, "forward", "share with the national FIU")
    for member, selectors in (
            ("de-police", [("iban", "DE89 3704 0044 0532 0130 00"),
                           ("phone", "+44 7700 900456")]),
            ("ke-agency", [("phone", "+44 7700 900123"),
                           ("passport", "KEN:X1234567")])):
        key = MatchKey.load(data / f"{member}.match", create=True)
        match.put_index(ex, ids[member], key.index(selectors))


def report(ex: Exchange) -> list[str]:
    d = ex.directory()
    lines = []
    for m in sorted(d.members.values(), key=lambda m: m.name):
        rows, _, _ = ex.inbox_page(m.id, 0, 1000)
        lines.append(f"{m.name:<11} {m.display_name} — received {len(rows)} share(s)")
        for _, env, _ in rows:
            h = env.header
            origin = d.members[env.originator].name
            lines.append(f"    TLP:{h['audience']['tlp'].upper():<13} {h['payload']['form']:<6} "
                         f"from {origin:<10} {env.id}")
    return lines


def run_demo(data: Path, *, host: str, port: int, fresh: bool, serve: bool) -> None:
    ex, tokens = setup_demo(data, fresh=fresh)
    for line in report(ex):
        click.echo(line)
    url = f"http://{host}:{port}"
    ex.store.close()
    click.echo("")
    click.echo(f"node      {url}/   API reference {url}/api/docs")
    click.echo(f"tokens    {data / 'demo-tokens.json'} (one analyst token per member)")
    first = next(iter(tokens.items()))
    click.echo("try       export VIGIL_NODE=" + url + " VIGIL_TOKEN=" + first[1])
    click.echo(f"          vigil inbox --follow            # as {first[0]}")
    click.echo("          vigil show SHARE_ID")
    if not serve:
        return
    from vigil.web.serve import run

    settings = load_settings(data, host=host, port=port,
                             keyring_passphrase=os.environ["VIGIL_KEYRING_PASSPHRASE"])
    run(settings)


