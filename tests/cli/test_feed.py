"""`vigil feed add|list|show|remove` on the node's own store (a TAXII collection and a MISP
feed, their secrets never shown; URLs that are not http(s) or carry credentials refused),
and `vigil gateway`'s listen address checked before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil import testing
from vigil.cli.main import cli
from vigil.errors import InputError
from vigil.model import ChannelKind


@pytest.fixture
def node(tmp_path: Path) -> testing.TestNode:
    n = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = n.exchange()
    try:
        ex.create_channel(n.members["alpha"].id, "intel", ChannelKind.GROUP,
                          [n.members["bravo"].id])
    finally:
        ex.store.close()
    return n


def refused(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code != 0 and isinstance(res.exception, InputError), res.output
    return res.exception.code


def test_add_list_show_remove(node: testing.TestNode) -> None:
    run = CliRunner()
    base = ["--data", str(node.data), "feed"]

    def vigil(*args: str) -> str:
        res = run.invoke(cli, [*base, *args], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return str(res.stdout)

    said = vigil("add", "https://taxii.example/api1/", "--collection", "c1", "--as", "alpha",
                 "--tlp", "amber", "--to", "intel", "--every", "1h", "--user", "u",
                 "--password", "s3cret-pass")
    assert said.startswith("feed alpha-c1: https://taxii.example/api1/collections/c1/ as "
                           "member:alpha, TLP:AMBER, every 1h")
    said = vigil("add", "https://misp.example/feed", "--format", "misp", "--as", "bravo",
                 "--tlp", "green", "--name", "mispfeed", "--token", "t0ken-value")
    assert "MISP feed https://misp.example/feed/ as member:bravo, TLP:GREEN" in said
    docs = json.loads(vigil("list", "--json"))
    assert sorted(d["name"] for d in docs) == ["alpha-c1", "mispfeed"]
    listing = vigil("list")
    assert "alpha-c1" in listing and "TLP:AMBER to intel every 1h" in listing
    assert "never" in listing
    shown = json.loads(vigil("show", "alpha-c1"))
    assert (shown["collection"], shown["tlp"], shown["to"]) == ("c1", "amber", ["intel"])
    assert shown["rejects"] == [] and shown["cursor"] is None
    everything = listing + json.dumps(docs) + json.dumps(shown)
    assert "s3cret-pass" not in everything and "t0ken-value" not in everything
    assert vigil("remove", "mispfeed") == "feed mispfeed removed\n"
    assert [d["name"] for d in json.loads(vigil("list", "--json"))] == ["alpha-c1"]
    d = str(node.data)
    assert refused("--data", d, "feed", "add", "ftp://x/", "--collection", "c", "--as", "alpha",
                   "--tlp", "green") == "feed.url"
    assert refused("--data", d, "feed", "add", "https://x/", "--as", "alpha",
                   "--tlp", "green") == "feed.collection"
    assert refused("--data", d, "feed", "add", "https://x/", "--format", "misp", "--collection",
                   "c", "--as", "alpha", "--tlp", "green") == "feed.collection"


def test_the_gateway_listen_address_is_checked(tmp_path: Path) -> None:
    keyring = tmp_path / "k"
    keyring.write_text("x")
    assert refused("--data", str(tmp_path), "gateway", "--node", "http://127.0.0.1:9",
                   "--token", "t", "--keyring", str(keyring), "--listen", "nowhere") \
        == "gateway.listen"



def test_credentials_in_the_url_are_refused(node: testing.TestNode) -> None:
    res = CliRunner().invoke(cli, ["--data", str(node.data), "feed", "add",
                                   "https://u:secret@taxii.example/api1/", "--collection", "c",
                                   "--as", "alpha", "--tlp", "green"])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    assert res.exception.code == "feed.url"
