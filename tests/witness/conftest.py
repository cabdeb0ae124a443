"""The witness tests run on the in-process trust nodes of ``tests/federation/trust``."""

from tests.federation.trust.conftest import trio as trio
