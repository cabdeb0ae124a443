"""The member's side of private selector matching (``vigil.match.member``): the OPRF key
kept in a 0600 file of its own and read back the same, the index of normalised
selectors, and a blinded selector whose output, from a holder's evaluation, is the entry
the holder's index holds for it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vigil.errors import KeyringError
from vigil.match.member import Blinded, MatchKey

PHONE = "+44 20 7946 0958"


def test_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "alpha.match"
    with pytest.raises(KeyringError):
        MatchKey.load(path)  # none yet, none made
    key = MatchKey.load(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    assert MatchKey.load(path) == key  # the same key from the same seed
    assert repr(key) == "MatchKey()"  # the key never shows in logs
    (tmp_path / "short.match").write_bytes(b"x" * 31)
    with pytest.raises(KeyringError) as e:
        MatchKey.load(tmp_path / "short.match")
    assert e.value.code == "keyring.invalid"


def test_a_blinded_selector_meets_the_holder_s_index(tmp_path: Path) -> None:
    holder = MatchKey.load(tmp_path / "bravo.match", create=True)
    other = MatchKey.load(tmp_path / "charlie.match", create=True)
    index = holder.index(
        [("phone", PHONE), ("phone", "0044 20 7946 0958"), ("iban", "DE89 3704 0044 0532 0130 00")]
    )
    assert len(index) == 2 and index == sorted(index)  # one number, written two ways
    asked = Blinded.of("phone", "+442079460958")
    assert asked.blinded != Blinded.of("phone", "+442079460958").blinded  # fresh blinding
    assert asked.output(holder.evaluate(asked.blinded)) in index
    assert asked.output(other.evaluate(asked.blinded)) not in index
    assert (
        Blinded.of("phone", "+33 1 23 45 67 89").output(holder.evaluate(asked.blinded)) not in index
    )
    assert holder.index([("phone", PHONE)]) != other.index([("phone", PHONE)])
