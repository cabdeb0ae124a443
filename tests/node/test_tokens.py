"""A user's bearer token: random, named by a prefix, kept only as a hash, scoped."""

from __future__ import annotations

import hashlib

import pytest

from vigil.errors import InputError
from vigil.node.tokens import SCOPES, TOKEN_PREFIX, check_scope, hash_token, new_token


def test_tokens_are_random_and_kept_as_a_hash() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for t in tokens:
        assert t.startswith("vgl_") and len(t) >= 4 + 43
        assert hash_token(t) == hashlib.sha256(t.encode()).hexdigest() != t
        assert t[:TOKEN_PREFIX] in t and len(t[:TOKEN_PREFIX]) == 12  # the shown name
    assert len({hash_token(t) for t in tokens}) == 50


def test_a_scope_is_one_of_the_three() -> None:
    assert SCOPES == ("read", "publish", "admin")
    for s in SCOPES:
        check_scope(s)
    with pytest.raises(InputError) as e:
        check_scope("root")
    assert (e.value.code, e.value.pointer) == ("input.scope", "/scope")
