"""The TAXII collections a member sees, and the small interface a collection source
offers the server (``Source``): the node implements it over its exchange
(``vigil.taxii.view.ExchangeSource``); a member-side gateway can implement it over what
it verified and opened.

Collections of a node, per authenticated member (ids are uuid5 of the node id and what
the collection stands for, so they are stable and the same for every member):

* ``inbox``: every object of every share the member may read.
* ``channel-<name>``: the objects of shares sent through that channel that the member
  may read, for each channel the member is in. A channel the member is not in has no
  collection for it: its id answers 404 exactly like an id that never existed.
* ``publish-community-<tlp>`` and ``publish-channel-<name>-<tlp>`` (tlp: clear, green,
  amber, amber-strict): read, write and delete. A POST publishes the objects as one
  share from the member with that audience (every active member, or the channel's
  members); a GET reads the objects of the shares at that TLP sent through no channel
  (or that channel) that the member may read; a DELETE recalls the member's own shares
  that hold the object. Standard clients (taxii2-client) need one collection that is
  both readable and writable to delete.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vigil.model import Actor, Channel, Tlp
from vigil.taxii.media import STIX, TAXII
from vigil.taxii.query import Cursor, Query

PUBLISH_TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT)
NAMESPACE = uuid.UUID("5b0d6d6e-3c1f-5d43-9a57-7669676974e1")


def tlp_word(tlp: Tlp) -> str:
    return tlp.value.replace("+", "-")


def collection_id(node_id: str, what: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{node_id}/{what}"))


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    alias: str
    title: str
    description: str
    can_read: bool
    can_write: bool
    channel: str | None = None  # reads: only shares sent through this channel
    tlp: Tlp | None = None  # writes: the audience of a POST
    to: tuple[str, ...] = ()  # writes: the channel id (none: every active member)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description,
                "alias": self.alias, "can_read": self.can_read, "can_write": self.can_write,
                "media_types": [STIX, TAXII]}


def node_collections(node_id: str, channels: Sequence[Channel], *, sealed_note: str = ""
                     ) -> list[Collection]:
    """The collections of a member that sees ``channels``. A channel's aliases use its
    name, or its id where two of those channels share the name (names are unique per
    owner only), so every alias stays unique."""
    names = Counter(ch.name for ch in channels)

    def label(ch: Channel) -> str:
        return ch.name if names[ch.name] == 1 else ch.id

    out = [Collection(
        collection_id(node_id, "inbox"), "inbox", "Inbox",
        "Every object of every share you may read, in the order the node stored them."
        + sealed_note, True, False)]
    for ch in channels:
        out.append(Collection(
            collection_id(node_id, f"channel/{ch.id}"), f"channel-{label(ch)}",
            f"Channel {ch.name}",
            f"Objects of the shares sent through the {ch.kind.value} channel {ch.name} "
            f"that you may read." + sealed_note, True, False, channel=ch.id))
    for tlp in PUBLISH_TLPS:
        out.append(Collection(
            collection_id(node_id, f"publish/community/{tlp.value}"),
            f"publish-community-{tlp_word(tlp)}",
            f"Publish to every member, TLP:{tlp.value.upper()}",
            f"A POST publishes its objects as one share to every active member of the "
            f"node, TLP:{tlp.value.upper()}; a GET reads the shares at that TLP sent "
            f"through no channel that you may read; a DELETE recalls your shares holding "
            f"the object.", True, True, tlp=tlp))
    for ch in channels:
        for tlp in PUBLISH_TLPS:
            out.append(Collection(
                collection_id(node_id, f"publish/{ch.id}/{tlp.value}"),
                f"publish-channel-{label(ch)}-{tlp_word(tlp)}",
                f"Publish to channel {ch.name}, TLP:{tlp.value.upper()}",
                f"A POST publishes its objects as one share to the members of the channel "
                f"{ch.name}, TLP:{tlp.value.upper()}; a GET reads the channel's shares at "
                f"that TLP that you may read; a DELETE recalls your shares holding the "
                f"object.", True, True, tlp=tlp, to=(ch.id,)))
    return out


@dataclass(frozen=True, slots=True)
class Item:
    """One version of one object in a collection."""

    seq: int  # position in the member's collection, with pos (the object's place in
    pos: int  # its share's bundle)
    id: str
    type: str
    version: str  # normalised timestamp
    spec_version: str
    added: str  # the time the share was stored (vigil's millisecond form)
    body: bytes  # the object's JSON
    share: int = 0  # the seq of the share that holds it (0: the source has no shares)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    more: bool
    next: Cursor | None
    withheld: int = 0  # sealed shares the member may read that this node cannot open


@dataclass(slots=True)
class Added:
    """What a POST of objects did, for its status resource."""

    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    share_id: str | None = None
    recipients: tuple[str, ...] = ()
    sealed: bool = False  # the audience makes the share sealed: keep no object ids
    status: dict[str, Any] = field(default_factory=dict)  # the status resource (response)
    status_saved: bool = False  # stored in the share's own transaction


class Source(Protocol):
    """Where a TAXII server's collections come from. Every method is synchronous (the
    server runs it in a thread where needed) and decides visibility itself."""

    def api_root_title(self) -> str: ...

    def collections(self, actor: Actor) -> list[Collection]: ...

    def page(self, actor: Actor, collection: Collection, query: Query) -> Page:
        """Objects of a readable collection matching ``query``, in a stable order."""
        ...

    def add(self, actor: Actor, collection: Collection, objects: list[Any],
            status: dict[str, Any] | None = None) -> Added: ...

    def delete(self, actor: Actor, collection: Collection, query: Query) -> int:
        """Remove the object versions ``query`` selects (its ``ids`` hold one id);
        returns how many. Refuses objects the actor did not originate."""
        ...

    def save_status(self, actor: Actor, status: dict[str, Any]) -> None: ...

    def status(self, actor: Actor, status_id: str) -> bytes | None: ...
