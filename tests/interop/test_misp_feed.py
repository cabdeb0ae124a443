"""A member's inbox served as a MISP feed (manifest.json, hashes.csv, one JSON per
event) checked field by field against MISP's feed format and loaded with PyMISP; and
pulled by another node with `vigil feed add --format misp`, incrementally."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from pathlib import Path

import httpx
import orjson
from click.testing import CliRunner
from pymisp import MISPEvent

from vigil.cli.main import cli
from vigil.client import Client
from vigil.interop.misp_exchange import import_events
from vigil.model import Actor
from vigil.testing import ServerProcess, make_node

DATA = Path(__file__).resolve().parents[1] / "data" / "misp"
MANIFEST_FIELDS = {"Orgc", "Tag", "info", "date", "analysis", "threat_level_id",
                   "timestamp"}


def test_the_inbox_as_a_misp_feed_and_pulling_it(tmp_path: Path) -> None:
    source = make_node(tmp_path / "source", {"origin": True, "reader": True})
    ex = source.exchange()
    try:
        events = [json.loads((DATA / "sighting_1.json").read_text("utf-8"))]
        [rep] = import_events(ex, Actor(source.members["origin"].id, "test"), events,
                              to=["community"], tlp="green")
        assert "share" in rep, rep
    finally:
        ex.store.close()
    want = events[0]["Event"]
    here = make_node(tmp_path / "here", {"alpha": True, "bravo": True})
    run = CliRunner().invoke
    with ServerProcess(source.data) as srv:
        with Client(srv.url, source.members["origin"].token) as c:  # a plain STIX share
            c.publish(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                    "objects": [{
                                        "type": "malware", "spec_version": "2.1",
                                        "id": f"malware--{uuid.uuid4()}",
                                        "created": "2024-06-01T00:00:00.000Z",
                                        "modified": "2024-06-01T00:00:00.000Z",
                                        "name": "family", "is_family": True}]}),
                      tlp="green")
        base = f"{srv.url}/api/v1/misp-feed/"
        h = {"Authorization": f"Bearer {source.members['reader'].token}"}
        assert httpx.get(base + "manifest.json", timeout=120).status_code == 401
        manifest = httpx.get(base + "manifest.json", headers=h, timeout=120).json()
        assert len(manifest) == 2 and want["uuid"] in manifest
        for u, meta in manifest.items():
            assert set(meta) == MANIFEST_FIELDS, meta
            assert {"name", "uuid"} <= set(meta["Orgc"]) and int(meta["timestamp"]) > 0
            doc = httpx.get(f"{base}{u}.json", headers=h, timeout=120).json()
            ev = MISPEvent()
            ev.from_dict(**copy.deepcopy(doc))
            assert ev.uuid == u and ev.info == meta["info"]
        assert manifest[want["uuid"]]["info"] == want["info"]
        lines = httpx.get(base + "hashes.csv", headers=h, timeout=120).text.splitlines()
        want_hashes = {f"{hashlib.md5(a['value'].encode()).hexdigest()},{want['uuid']}"
                       for a in want["Attribute"]}
        assert want_hashes <= set(lines)
        assert httpx.get(f"{base}{uuid.uuid4()}.json", headers=h, timeout=120).status_code == 404

        res = run(cli, ["--data", str(here.data), "feed", "add", base, "--format", "misp",
                        "--as", "alpha", "--tlp", "green", "--name", "peer-misp",
                        "--token", source.members["reader"].token], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        res = run(cli, ["--data", str(here.data), "feed", "pull", "peer-misp"],
                  catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "2 fetched" in res.output and "2 share(s)" in res.output
        res = run(cli, ["--data", str(here.data), "feed", "pull", "peer-misp"],
                  catch_exceptions=False)
        assert "0 fetched, 0 published in 0 share(s), 2 already published" in res.output
    ex = here.exchange()
    try:
        rows, _, _ = ex.inbox_page(here.members["bravo"].id, 0, 10)
        assert len(rows) == 2
        values = set()
        for _, env, _ in rows:
            plain = ex.open(here.members["bravo"].id, env)
            assert plain is not None
            values |= {o.get("value") for o in orjson.loads(plain)["objects"]}
        assert {a["value"] for a in want["Attribute"] if a["type"] in ("url", "domain")} \
            <= values
    finally:
        ex.store.close()
