"""canonical() against the RFC 8785 reference vectors (cyberphone/json-canonicalization)."""

import json
from pathlib import Path
from types import MappingProxyType

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.crypto.canonical import canonical
from vigil.errors import CryptoError

JCS = Path(__file__).parent.parent / "data" / "vectors" / "jcs"
NAMES = sorted(p.name for p in (JCS / "input").glob("*.json"))


def test_vectors_present() -> None:
    assert len(NAMES) == 6


@pytest.mark.parametrize("name", NAMES)
def test_rfc8785_vector(name: str) -> None:
    value = json.loads((JCS / "input" / name).read_text(encoding="utf-8"))
    assert canonical(value) == (JCS / "output" / name).read_bytes()


def test_mappings_and_tuples() -> None:
    assert canonical(MappingProxyType({"b": (1, 2), "a": None})) == b'{"a":null,"b":[1,2]}'


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), 2**53, -(2**53), {1: "x"}, b"bytes", "\ud800", {1.5}]
)
def test_not_canonicalisable(value: object) -> None:
    with pytest.raises(CryptoError) as e:
        canonical(value)
    assert e.value.code == "crypto.not_canonical"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=2000, deadline=None)
@given(_json)
def test_fast_path_agrees_with_rfc8785(value: object) -> None:
    assert canonical(value) == rfc8785.dumps(value)


def test_fast_path_declines_what_it_cannot_do() -> None:
    # non-ASCII keys sort by UTF-16 code units in RFC 8785: U+E000 after U+1F600
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical({"a": 1.5}) == b'{"a":1.5}'
    with pytest.raises(CryptoError):
        canonical({"a": "\ud800"})
    with pytest.raises(CryptoError):
        canonical({"a": 2**53})
