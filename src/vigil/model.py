"""Frozen value types shared by every layer: members, channels, envelopes, decisions."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict


class MemberKind(enum.StrEnum):
    AGENCY = "agency"
    CERT = "cert"
    POLICE = "police"
    REGIONAL_ORG = "regional-org"


class ChannelKind(enum.StrEnum):
    BILATERAL = "bilateral"
    GROUP = "group"
    COMMUNITY = "community"


class Tlp(enum.StrEnum):
    """TLP 2.0 levels, in order from widest to narrowest."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


class Form(enum.StrEnum):
    PLAIN = "plain"
    SEALED = "sealed"


class Provenance(enum.StrEnum):
    ORIGINATOR = "originator"
    ATTESTED = "attested"


class Action(enum.StrEnum):
    PUBLISH = "publish"
    READ = "read"
    FORWARD = "forward"
    SEE_CHANNEL = "see_channel"
    MANAGE_CHANNEL = "manage_channel"


THEMES: tuple[str, ...] = (
    "terrorism",
    "cyber",
    "critical-infrastructure",
    "organised-crime",
)
"""Top-level themes. A theme may be refined as ``theme/sub`` (e.g.
``critical-infrastructure/energy``, ``organised-crime/drug-trafficking``); the named
sub-themes of terrorism and organised crime are ``vigil.intel.themes.SUBTHEMES``."""

EVALUATED_THEMES: frozenset[str] = frozenset({"terrorism", "organised-crime"})
"""Top-level themes whose shares carry an evaluation, a legal basis and purposes when
the node requires them (``IntelRules.require_evaluation``; docs/policy.md)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The originator's evaluation of a share's source and information, in the scheme
    it uses: ``admiralty`` (source A-F, information 1-6) or ``4x4`` (source A, B, C, X;
    information 1-4). ``vigil.intel.evaluation`` maps one into the other."""

    scheme: str
    source: str
    information: str


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """Which instrument allows this exchange, and for which purposes."""

    basis: str
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IntelRules:
    """A node's rules for intelligence beyond cyber (the settings ``require_evaluation``,
    ``seal_personal_data``, ``match_rate`` and ``match_window``)."""

    require_evaluation: bool = True
    seal_personal_data: bool = False
    match_rate: int = 30  # private selector queries per member per window
    match_window: float = 3600.0  # seconds


@dataclass(frozen=True, slots=True)
class Member:
    id: str  # identity--<uuid>
    name: str  # short unique slug used on the CLI (member:NAME)
    display_name: str
    country: str  # ISO 3166-1 alpha-2, or a region code for regional bodies
    kind: MemberKind
    sign_key: bytes  # raw public key: ed25519 (32 bytes) or ed25519+mldsa65 (1984)
    sign_key_id: str
    enc_key: bytes  # raw public key: x25519 (32 bytes) or mlkem768x25519 (1216)
    enc_key_id: str
    created: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class User:
    id: str
    member_id: str
    name: str
    created: str
    scope: str = "admin"  # read | publish | admin (vigil.signin.tokens)
    expires: str | None = None  # the token answers 401 from then on


@dataclass(frozen=True, slots=True)
class Channel:
    id: str  # channel--<uuid>
    name: str
    kind: ChannelKind
    owner: str  # member id
    members: frozenset[str]
    created: str


@dataclass(frozen=True, slots=True)
class Directory:
    """A consistent snapshot of members and channels, the input the policy reads."""

    members: Mapping[str, Member]
    channels: Mapping[str, Channel]

    def active_member_ids(self) -> frozenset[str]:
        return frozenset(m.id for m in self.members.values() if m.active)


@dataclass(frozen=True, slots=True)
class Audience:
    tlp: Tlp
    channel: str | None = None  # channel id
    recipients: tuple[str, ...] = ()  # explicit member ids


@dataclass(frozen=True, slots=True)
class Handling:
    purpose: str | None = None
    no_onward: bool = False
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """What a publisher asks for, before the policy resolves recipients."""

    originator: str
    audience: Audience
    handling: Handling = field(default_factory=Handling)
    themes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    expires: str | None = None
    evaluation: Evaluation | None = None
    legal: LegalBasis | None = None
    personal_data: bool = False  # the share holds personal data (lint + member's word)


@dataclass(frozen=True, slots=True)
class Decision:
    allow: bool
    reason: str  # a stable code, e.g. "ok", "policy.not_in_channel"
    recipients: tuple[str, ...] = ()  # resolved, sorted; for PUBLISH decisions
    form: Form | None = None  # for PUBLISH decisions

    def __bool__(self) -> bool:
        return self.allow


@dataclass(frozen=True, slots=True)
class Wrap:
    member: str
    key: str  # recipient's encryption key id (its algorithm is the wrap's suite)
    blob: bytes  # HPKE enc || ciphertext of the content key


class AudienceHeader(TypedDict):
    tlp: str
    channel: str | None
    recipients: list[str]


class HandlingHeader(TypedDict):
    purpose: str | None
    no_onward: bool
    codes: list[str]


class PayloadHeader(TypedDict):
    media_type: str
    form: str
    size: int
    digest: str


class SealHeader(TypedDict):
    suite: str
    wraps_digest: str


class PostedBy(TypedDict):
    member: str
    user: str


class ShareHeader(TypedDict):
    """The signed header of a share, as ``vigil.protocol.header_form.check_header`` checks
    it (docs/protocol.md)."""

    v: int
    kind: str
    id: str
    originator: str
    key: str
    provenance: str
    created: str
    expires: str | None
    audience: AudienceHeader
    handling: HandlingHeader
    themes: list[str]
    regions: list[str]
    payload: PayloadHeader
    posted_by: NotRequired[PostedBy]  # attested shares
    seal: NotRequired[SealHeader]  # sealed shares
    evaluation: NotRequired[dict[str, Any]]  # vigil.intel.evaluation
    legal: NotRequired[dict[str, Any]]  # vigil.intel.legal


@dataclass(frozen=True, slots=True)
class Envelope:
    """A share as it travels and is stored: signed header, payload bytes, wraps."""

    header: ShareHeader
    signature: bytes
    payload: bytes
    wraps: tuple[Wrap, ...] = ()

    @property
    def id(self) -> str:
        return str(self.header["id"])

    @property
    def originator(self) -> str:
        return str(self.header["originator"])

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(self.header["audience"]["recipients"])

    @property
    def channel(self) -> str | None:
        c = self.header["audience"].get("channel")
        return None if c is None else str(c)

    @property
    def tlp(self) -> Tlp:
        return Tlp(self.header["audience"]["tlp"])

    @property
    def form(self) -> Form:
        return Form(self.header["payload"]["form"])

    @property
    def created(self) -> str:
        return str(self.header["created"])

    @property
    def expires(self) -> str | None:
        e = self.header.get("expires")
        return None if e is None else str(e)

    @property
    def no_onward(self) -> bool:
        return bool(self.header["handling"]["no_onward"])


@dataclass(frozen=True, slots=True)
class ShareState:
    """What the node knows about a stored share beyond its signed envelope."""

    recalled: bool = False
    purged: bool = False
    # signed with a revoked key at or after its revocation point (vigil.lifecycle)
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class InboxEntry:
    seq: int  # the member's cursor position (monotonic per node)
    member: str
    share_id: str
    added: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: always derived from authentication, never from a request body."""

    member: str
    user: str | None = None
    scope: str = "admin"  # what the credential may do (vigil.signin.tokens)
