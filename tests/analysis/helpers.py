"""Small builders shared by the analysis tests."""

from __future__ import annotations

from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published


def publish(ex: Exchange, member: str, raw: bytes, *, tlp: Tlp = Tlp.GREEN,
            to: tuple[str, ...] = (), no_onward: bool = False,
            expires: str | None = None) -> Published:
    req = ex.make_request(member, tlp=tlp, to=to, no_onward=no_onward, expires=expires)
    return ex.publish_bundle(Actor(member=member, user=None), raw, req)
