"""What the command modules share: JSON output, the keyring passphrase from the
environment (refused when there is none and no terminal to ask), and the member client,
which needs a token or a client certificate."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from vigil.cli.base import Ctx, member_client, out, passphrase
from vigil.errors import InputError


def test_out_prints_indented_json_as_written() -> None:
    @click.command()
    def show() -> None:
        out({"name": "Ünï", "n": [1]})

    printed = CliRunner().invoke(show).output
    assert json.loads(printed) == {"name": "Ünï", "n": [1]} and "Ünï" in printed
    assert printed.startswith('{\n  "name"')


def test_the_passphrase_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_KEYRING_PASSPHRASE", "from env")
    assert passphrase(prompt=False) == "from env"
    monkeypatch.delenv("VIGIL_KEYRING_PASSPHRASE")
    with pytest.raises(InputError) as caught:
        passphrase(prompt=False)
    assert caught.value.code == "keyring.no_passphrase"


def test_a_member_client_needs_a_credential() -> None:
    with pytest.raises(InputError) as caught:
        member_client(Ctx(None, False), "http://127.0.0.1:9", None, None)
    assert caught.value.code == "auth.required"
