"""Helpers for tests, shipped for users' own tests: a throw-away node and a live server
(``node``), STIX objects (``stix``), and fresh PostgreSQL databases copied from one migrated
template (``postgres``)."""

from vigil.testing.node import (
    PASSPHRASE,
    ServerProcess,
    TestMember,
    TestNode,
    four_member_exchange,
    free_port,
    make_node,
)

__all__ = ["PASSPHRASE", "ServerProcess", "TestMember", "TestNode", "four_member_exchange",
           "free_port", "make_node"]
