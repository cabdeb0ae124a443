"""The SoftHSM2 token of ``tests/keys`` for the PKCS#11 tests here."""

from tests.keys.conftest import _softhsm_store as _softhsm_store
from tests.keys.conftest import softhsm as softhsm
