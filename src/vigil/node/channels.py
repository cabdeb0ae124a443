"""Channels of a node: made, seen through the access gate, joined and left."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from vigil import clock
from vigil.errors import Conflict, InputError, NotFound, PolicyDenied
from vigil.log.entries import channel_entry
from vigil.model import (
    Channel,
    ChannelKind,
)
from vigil.node.inputs import check_name
from vigil.node.members import Members
from vigil.policy.access import Access
from vigil.storage.base import Sql


class Channels(Members):
    """Channels of an exchange."""

    # -- channels -------------------------------------------------------------
    def create_channel(
        self, actor: str, name: str, kind: ChannelKind, members: Sequence[str]
    ) -> Channel:
        check_name(name, "channel")
        d = self.directory()
        ids = {self.member(m).id for m in members}
        if kind is ChannelKind.COMMUNITY:
            if ids:
                raise InputError("a community channel has every member; name none",
                                 code="channel.community_members")
        else:
            ids.add(actor)
        if kind is ChannelKind.BILATERAL and len(ids) != 2:
            raise InputError("a bilateral channel has exactly two members",
                             code="channel.bilateral_size")
        for m in ids:
            if not d.members[m].active:
                raise InputError(f"member {d.members[m].name} is not active",
                                 code="channel.inactive_member")
        # Names are unique per owner, and among the channels the creator sees: never
        # node-wide, which would tell it of a channel it cannot see.
        if any(c.name == name for c in Access(self, actor, directory=d).channels()):
            raise Conflict(f"you already see a channel named {name!r}",
                           code="channel.exists")
        ch = Channel(id=f"channel--{uuid.uuid4()}", name=name, kind=kind, owner=actor,
                     members=frozenset(ids), created=clock.now())

        def log_channel(sql: Sql) -> None:
            self._log(sql, channel_entry(ch.id, actor, "create", actor, ch.created))
            for m in sorted(ch.members):
                self._log(sql, channel_entry(ch.id, m, "join", actor, ch.created))

        self.store.add_channel(ch, actor, ch.created, log_channel)
        return ch

    def channel(self, actor: str, ref: str) -> Channel:
        """A channel the actor may see, by id or by name among those it sees (a name two
        of them bear answers Conflict: use the id); any other answers NotFound."""
        d = self.directory()
        gate = Access(self, actor, directory=d)
        ch = d.channels.get(ref)
        if ch is None:
            named = [c for c in gate.channels() if c.name == ref]
            if len(named) > 1:
                raise Conflict(f"several channels you see are named {ref!r}: give its id",
                               code="channel.ambiguous",
                               detail={"channels": sorted(c.id for c in named)})
            ch = named[0] if named else None
        if not gate.channel(ch):
            raise NotFound(f"no channel {ref!r}", code="channel.not_found")
        assert ch is not None
        return ch

    def channels(self, actor: str) -> list[Channel]:
        return Access(self, actor).channels()

    def change_channel(self, actor: str, ref: str, member_ref: str, *, add: bool) -> Channel:
        ch = self.channel(actor, ref)
        dec = Access(self, actor).manage_channel(ch)
        if not dec:
            raise PolicyDenied(f"cannot change channel {ch.name}: {dec.reason}", code=dec.reason)
        m = self.member(member_ref)
        if add:
            if not m.active:
                raise InputError(f"member {m.name} is not active", code="channel.inactive_member")
            at = clock.now()
            self.store.add_channel_member(ch.id, m.id, actor, at, lambda sql: self._log(
                sql, channel_entry(ch.id, m.id, "join", actor, at)))
        else:
            if m.id == ch.owner:
                raise InputError("the owner cannot leave its channel", code="channel.owner_leaves")
            at = clock.now()
            self.store.remove_channel_member(ch.id, m.id, actor, at, lambda sql: self._log(
                sql, channel_entry(ch.id, m.id, "leave", actor, at)))
        return self.channel(actor, ch.id)

    def channel_events(self, actor: str, ref: str) -> list[dict[str, Any]]:
        return self.store.channel_events(self.channel(actor, ref).id)
