"""The bundle being published from a thread, parsed once and found again by its bytes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from vigil.stix import parsed

PAYLOAD = b'{"type":"bundle","id":"bundle--1","objects":[{"type":"x"}]}'


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    parsed.forget()
    yield
    parsed.forget()


def test_the_remembered_bundle_is_found_by_equal_bytes_only() -> None:
    held = {"objects": [{"type": "remembered"}]}
    parsed.remember(PAYLOAD, held)
    assert parsed.bundle_of(bytes(PAYLOAD)) is held
    assert parsed.objects_of(PAYLOAD) == [{"type": "remembered"}]
    assert parsed.bundle_of(PAYLOAD + b" ") is None
    assert parsed.objects_of(PAYLOAD + b" ") == [{"type": "x"}]  # parsed instead
    parsed.forget()
    assert parsed.bundle_of(PAYLOAD) is None


def test_a_share_is_found_by_its_id() -> None:
    plain = {"objects": []}
    parsed.remember(b"ciphertext", plain, share="share--1")
    assert parsed.of_share("share--1") is plain
    assert parsed.of_share("share--2") is None
    parsed.remember(PAYLOAD, plain)
    assert parsed.of_share("share--1") is None


def test_each_thread_has_its_own() -> None:
    parsed.remember(PAYLOAD, {"objects": []})
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(parsed.bundle_of(PAYLOAD)))
    t.start()
    t.join()
    assert seen == [None]


def test_objects_of_what_is_not_a_bundle() -> None:
    assert parsed.objects_of(b"[1, 2]") == []
    assert parsed.objects_of(b'{"objects": 3}') == []
