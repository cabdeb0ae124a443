"""canonical() against the RFC 8785 reference vectors (cyberphone/json-canonicalization)."""

import json
from pathlib import Path
from types import MappingProxyType

import pytest

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
