"""The form of a share header (``vigil.protocol.header_form``): the headers a node signs
pass, and each fault is refused as ``envelope.malformed`` at its JSON pointer."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import InputError
from vigil.model import Actor, Tlp
from vigil.protocol.header_form import check_header
from vigil.testing import four_member_exchange
from vigil.testing.stix import ioc_bundle


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    node, ex = four_member_exchange(Path(tmp_path_factory.mktemp("node")))
    try:
        alpha = node.members["alpha"].id
        raw = ioc_bundle("45.9.9.9")
        out = {}
        for name, tlp, to in (("plain", Tlp.GREEN, ()), ("sealed", Tlp.AMBER, ["member:bravo"])):
            env = ex.publish_bundle(
                Actor(alpha), raw, ex.make_request(alpha, tlp=tlp, to=to)
            ).envelope
            out[name] = dict(env.header)
        yield out
    finally:
        ex.store.close()


def fault(header: dict[str, Any], path: str, value: Any) -> str | None:
    h = copy.deepcopy(header)
    parts = path.strip("/").split("/")
    doc: Any = h
    for p in parts[:-1]:
        doc = doc[p]
    if value is ...:
        del doc[parts[-1]]
    else:
        doc[parts[-1]] = value
    with pytest.raises(InputError) as e:
        check_header(h)
    assert e.value.code == "envelope.malformed"
    return e.value.pointer


def test_the_headers_a_node_signs_pass(headers: dict[str, dict[str, Any]]) -> None:
    for h in headers.values():
        check_header(h)
    assert "seal" in headers["sealed"] and "seal" not in headers["plain"]


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("/v", 2, "/header/v"),
        ("/v", True, "/header/v"),
        ("/kind", "recall", "/header/kind"),
        ("/id", "share--not-a-uuid", "/header/id"),
        ("/originator", "alpha", "/header/originator"),
        ("/key", "x25519:" + "0" * 32, "/header/key"),
        ("/created", "2026-11-29T08:00:00Z", "/header/created"),
        ("/expires", "2000-01-01T00:00:00.000Z", "/header/expires"),
        ("/audience/tlp", "white", "/header/audience/tlp"),
        ("/audience/tlp", ["green"], "/header/audience/tlp"),
        ("/audience/channel", "general", "/header/audience/channel"),
        ("/audience/extra", 1, "/header/audience/extra"),
        ("/handling/no_onward", 0, "/header/handling/no_onward"),
        ("/handling/purpose", "x" * 1025, "/header/handling/purpose"),
        ("/themes", ["z", "a"], "/header/themes/1"),
        ("/themes", ["a", "a"], "/header/themes/1"),
        ("/payload/size", -1, "/header/payload/size"),
        ("/payload/size", 2**53, "/header/payload/size"),
        ("/payload/digest", "md5:00", "/header/payload/digest"),
        ("/payload/media_type", "not a type", "/header/payload/media_type"),
        ("/payload/form", "open", "/header/payload/form"),
        ("/provenance", "forwarded", "/header/provenance"),
        ("/provenance", "attested", "/header/posted_by"),  # then posted_by is required
        ("/regions", ..., "/header/regions"),
        ("/unknown", 1, "/header/unknown"),
    ],
)
def test_each_fault_is_named_where_it_is(
    headers: dict[str, dict[str, Any]], path: str, value: Any, pointer: str
) -> None:
    assert fault(headers["plain"], path, value) == pointer


def test_a_sealed_header_needs_its_seal(headers: dict[str, dict[str, Any]]) -> None:
    assert fault(headers["sealed"], "/seal/suite", "aes") == "/header/seal/suite"
    assert fault(headers["sealed"], "/seal/wraps_digest", "x") == "/header/seal/wraps_digest"
    assert fault(headers["sealed"], "/seal", ...) == "/header/seal"
    assert fault(headers["plain"], "/seal", {"suite": "x", "wraps_digest": "y"}) == "/header/seal"
    with pytest.raises(InputError) as e:
        check_header("not an object")
    assert e.value.pointer == "/header"
