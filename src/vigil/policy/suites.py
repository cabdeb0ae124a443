"""Which shares must use the hybrid (post-quantum) suites, and the check every share
passes before it is stored.

A rule names the node (every share), members (every share a member sends or is sent)
and channels (every share addressed to the channel). A share meets it when its header
key is a hybrid signing key (``ed25519+mldsa65``) and, if sealed, its ``seal.suite``
is the hybrid one (every wrap ``mlkem768x25519``; the envelope's own checks hold the
wraps to that suite). Otherwise it is refused with ``policy.suite_required``.

Setting ``require_hybrid``: empty (off), or a comma-separated list of ``node``,
``member:NAME`` (or a member id) and ``channel:NAME`` (or a channel id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigil.crypto.keys import is_hybrid
from vigil.crypto.seal import SUITE_HYBRID
from vigil.errors import ConfigError
from vigil.model import Decision, Directory, Form, ShareHeader

SUITE_REQUIRED = "policy.suite_required"


@dataclass(frozen=True, slots=True)
class SuiteRule:
    """Where the hybrid suites are required (members and channels by id or name)."""

    node: bool = False
    members: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> SuiteRule:
        node, members, channels = False, set(), set()
        for raw in str(text or "").split(","):
            item = raw.strip()
            if not item:
                continue
            if item == "node":
                node = True
            elif item.startswith(("member:", "identity--")):
                members.add(item.removeprefix("member:"))
            elif item.startswith(("channel:", "channel--")):
                channels.add(item.removeprefix("channel:") if item.startswith("channel:")
                             else item)
            else:
                raise ConfigError(
                    f"require_hybrid: {item!r} is not node, member:NAME or channel:NAME",
                    code="config.bad_value")
        return cls(node, frozenset(members), frozenset(channels))

    def __bool__(self) -> bool:
        return self.node or bool(self.members) or bool(self.channels)

    def applies(self, directory: Directory, header: ShareHeader,
                recipients: Iterable[str]) -> bool:
        """Does the rule cover this share (by node, its members, or its channel)?"""
        if self.node:
            return True
        parties = {str(header.get("originator")), *recipients}
        for mid in parties:
            m = directory.members.get(mid)
            if mid in self.members or (m is not None and m.name in self.members):
                return True
        channel = (header.get("audience") or {}).get("channel")
        if channel is None:
            return False
        ch = directory.channels.get(channel)
        return channel in self.channels or (ch is not None and ch.name in self.channels)


def meets_hybrid(header: ShareHeader) -> bool:
    """True if the share is signed with a hybrid key and, if sealed, sealed hybrid."""
    if not is_hybrid(header.get("key")):
        return False
    payload = header.get("payload")
    if payload is not None and payload.get("form") == Form.SEALED.value:
        seal = header.get("seal")
        return seal is not None and seal.get("suite") == SUITE_HYBRID
    return True


def decide_suite(rule: SuiteRule, directory: Directory, header: ShareHeader,
                 recipients: Iterable[str]) -> Decision:
    """``policy.suite_required`` if the rule covers the share and it is not hybrid."""
    if rule and rule.applies(directory, header, recipients) and not meets_hybrid(header):
        return Decision(False, SUITE_REQUIRED)
    return Decision(True, "ok")
