"""The shares a member may read, as one SQL query over the ``members``, ``shares``,
``revoked_shares``, ``consent_requests``, ``inbox`` and ``share_delays`` tables: the rule
of ``vigil.policy.access.Access.read`` in SQL, for reads that join it to other tables
(``tests/storage/test_readable.py`` compares the two)."""

from __future__ import annotations

from typing import Any

READABLE_SQL = (
    "SELECT s.id FROM shares s WHERE EXISTS (SELECT 1 FROM members WHERE id=? AND active=?) "
    "AND s.purged=? AND (s.originator=? OR (s.recalled=? "
    "AND s.id NOT IN (SELECT share_id FROM revoked_shares) "
    "AND (s.expires IS NULL OR s.expires>? OR s.id IN (SELECT share_id FROM consent_requests "
    "WHERE asker=? AND what=? AND state=? AND (until_at IS NULL OR until_at>?))) "
    "AND s.id IN (SELECT share_id FROM inbox WHERE member_id=?) "
    "AND s.id NOT IN (SELECT share_id FROM share_delays WHERE member_id=? AND not_before>?)))")


def readable_sql(member: str, now: str) -> tuple[str, tuple[Any, ...]]:
    """``SELECT s.id FROM shares s WHERE …`` with its parameters: the ids of the shares
    ``member`` may read at ``now`` (its own while not purged; others addressed to it,
    not recalled, revoked, expired (unless a granted consent to retain holds) or held
    back for it)."""
    return READABLE_SQL, (member, True, False, member, False, now, member, "retain",
                          "granted", now, member, member, now)
