"""CLI numbers are read by vigil.params: the same forms and codes as the API."""

from __future__ import annotations

import pytest

from vigil.cli.main import cli
from vigil.errors import InputError


@pytest.mark.parametrize(("args", "code", "pointer"), [
    (["log", "proof", "²"], "input.bad_number", "/index"),
    (["log", "proof", str(2**63)], "input.out_of_range", "/index"),
    (["log", "consistency", "0", "5"], "input.out_of_range", "/first"),
    (["log", "verify", "--from", "-1"], "input.bad_number", "/start"),
    (["inbox", "--after", "١"], "input.bad_number", "/after"),
    (["correlations", "--limit", "1001"], "input.out_of_range", "/limit"),
    (["feed", "show", "x", "--limit", "0"], "input.out_of_range", "/limit"),
])
def test_cli_numbers_refused_before_anything_runs(args: list[str], code: str,
                                                  pointer: str) -> None:
    with pytest.raises(InputError) as caught:
        cli.main(args, standalone_mode=False)
    assert caught.value.code == code and caught.value.pointer == pointer
