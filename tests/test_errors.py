"""vigil's errors: a stable code and an HTTP status per kind, each replaceable per error,
and the body every surface renders from them."""

from __future__ import annotations

import pytest

from vigil import errors
from vigil.errors import InputError, NotFound, StixError, VigilError

KINDS = [errors.InputError, errors.StixError, errors.AuthError, errors.NotFound,
         errors.PolicyDenied, errors.Conflict, errors.CryptoError, errors.KeyringError,
         errors.Unavailable, errors.ConfigError]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_its_own_default_code_and_an_error_status(kind: type[VigilError]
                                                                ) -> None:
    e = kind("no")
    assert e.code == kind.code != VigilError.code and 400 <= e.status <= 599
    assert isinstance(e, VigilError) and str(e) == e.message == "no"


def test_defaults_are_per_kind_and_never_shared_through_an_instance() -> None:
    assert len({k.code for k in KINDS}) == len(KINDS)
    e = InputError("bad", code="input.expires", status=413, pointer="/expires")
    assert (e.code, e.status, e.pointer) == ("input.expires", 413, "/expires")
    assert (InputError.code, InputError.status) == ("input.invalid", 400)
    assert issubclass(StixError, InputError) and StixError.status == 422
    assert NotFound("x").status == 404  # forbidden and missing look the same


def test_the_rendered_body() -> None:
    assert VigilError("boom").to_dict() == {"code": "vigil.error", "message": "boom"}
    e = InputError("bad", pointer="/objects/0", detail={"allowed": [1]})
    assert e.to_dict() == {"code": "input.invalid", "message": "bad",
                           "pointer": "/objects/0", "detail": {"allowed": [1]}}
    assert repr(e) == "InputError('input.invalid', 'bad', pointer='/objects/0')"
    assert InputError("x", detail=None).detail == {}
