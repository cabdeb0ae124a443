"""The use cases of a node: members, users, channels, publish, inbox, read. No HTTP.

Every read path asks the access gate (``vigil.policy.access``) and answers a refused
read exactly like a missing one (``NotFound``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from vigil import clock
from vigil.crypto.keyring import Keyring, create_keyring, create_token_keyring, load_keyring
from vigil.crypto.keys import SignPrivate, key_id
from vigil.crypto.secretfile import SecretBox
from vigil.errors import AuthError, Conflict, CryptoError, InputError, NotFound, PolicyDenied
from vigil.intel import evaluation as intel_evaluation
from vigil.intel import legal as intel_legal
from vigil.intel.header import intel_of
from vigil.log.entries import channel_entry, member_entry, share_entry
from vigil.log.tree import LogRef, StoredLog
from vigil.lru import Lru
from vigil.model import (
    THEMES,
    Actor,
    Audience,
    Channel,
    ChannelKind,
    Decision,
    Directory,
    Envelope,
    Form,
    Handling,
    InboxEntry,
    IntelRules,
    Member,
    MemberKind,
    Provenance,
    ShareHeader,
    ShareRequest,
    ShareState,
    Tlp,
    User,
)
from vigil.node.bundle_pool import BundlePool, check_valid
from vigil.node.bundle_pool import check_marking as marking_within
from vigil.node.keybook import KeyBook
from vigil.policy.access import Access, publish, suite
from vigil.policy.suites import SUITE_REQUIRED, SuiteRule
from vigil.protocol.envelope import (
    build_share,
    new_share_id,
    open_share,
    share_id_bound,
    verify_envelope,
)
from vigil.stix import parsed, strictjson
from vigil.stix.validate import ValidBundle, validate_bundle
from vigil.storage import Store
from vigil.storage.base import Sql, same_share
from vigil.storage.intel import StoredGrants

log = logging.getLogger(__name__)
PartT = TypeVar("PartT")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
REGION_RE = re.compile(r"^([A-Z]{2}|[a-z][a-z0-9-]{1,31})$")
THEME_SUB_RE = re.compile(r"^[a-z0-9](?:[a-z0-9 ._+-]{0,62}[a-z0-9])?$")
# a client envelope's `created` must be this close to the node's clock (docs/protocol.md)
CREATED_PAST = timedelta(hours=24)
CREATED_AHEAD = timedelta(minutes=5)
MEDIA_TYPE = "application/stix+json;version=2.1"


TOKEN_PREFIX = 12  # characters of a token kept in clear to name it ("vgl_" + 8)
SCOPES = ("read", "publish", "admin")  # each includes the ones before it


def new_token() -> str:
    return "vgl_" + secrets.token_urlsafe(32)


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r} is not one of {', '.join(SCOPES)}",
                         code="input.scope", pointer="/scope")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(
            f"{what} name {name!r} must be 1-63 of a-z 0-9 . _ - (starting alphanumeric)",
            code=f"input.{what}_name",
        )
    return name


def check_themes(themes: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for i, t in enumerate(themes):
        t = t.strip().lower()
        top, _, sub = t.partition("/")
        if top not in THEMES or ("/" in t and not THEME_SUB_RE.match(sub)):
            raise InputError(
                f"unknown theme {t[:80]!r}; themes are {', '.join(THEMES)} (optionally "
                f"theme/sub, sub 1-64 of a-z 0-9 space . _ + -)",
                code="input.theme",
                pointer=f"/themes/{i}",
            )
        out.add(t)
    return tuple(sorted(out))


def check_marking(bundle: Mapping[str, Any], tlp: Tlp) -> None:
    """Refuse a share whose TLP is wider than a TLP marking on its objects."""
    marking_within(bundle.get("objects", []), tlp)


def check_client_header(h: ShareHeader, now: datetime) -> None:
    """What a client-signed header must hold beyond its format: themes and regions as
    the node itself would write them, and `created` near the node's clock."""
    if check_themes(h["themes"]) != tuple(h["themes"]):
        raise InputError("themes must be known themes, lower-case, sorted",
                         code="input.theme", pointer="/header/themes")
    if check_regions(h["regions"]) != tuple(h["regions"]):
        raise InputError("regions must be country codes or region names, sorted",
                         code="input.region", pointer="/header/regions")
    created = datetime.strptime(h["created"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    if not now - CREATED_PAST <= created <= now + CREATED_AHEAD:
        raise InputError(f"created {h['created']} is not within {CREATED_PAST} before and "
                         f"{CREATED_AHEAD} after the node's clock",
                         code="envelope.created", pointer="/header/created")


def region(text: str) -> str | None:
    """A country code (upper-cased) or a region name, or None if it is neither."""
    r = text.strip()
    if len(r) == 2:
        r = r.upper()
    return r if REGION_RE.match(r) else None


def check_regions(regions: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for i, text in enumerate(regions):
        r = region(text)
        if r is None:
            raise InputError(
                f"region {text.strip()!r} must be an ISO 3166 country code or a region name",
                code="input.region",
                pointer=f"/regions/{i}",
            )
        out.add(r)
    return tuple(sorted(out))


def member_identity(member: Member) -> dict[str, Any]:
    """The member as a STIX 2.1 identity object."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": member.id,
        "created": member.created,
        "modified": member.created,
        "name": member.display_name,
        "identity_class": "organization",
        "sectors": ["government-national" if member.kind != MemberKind.REGIONAL_ORG
                    else "government-regional"],
        "x_vigil_name": member.name,
        "x_vigil_country": member.country,
        "x_vigil_kind": member.kind.value,
        "x_vigil_sign_key": member.sign_key_id,
        "x_vigil_enc_key": member.enc_key_id,
    }


class ReadGate(Protocol):
    """A node rule that holds some shares back from some recipients for a while (the
    ledger's community rule): the read path asks it, and passes its answer to the policy."""

    def release(self, members: Sequence[str]) -> None:
        """Re-queue, at the end of each member's inbox, the held shares now due."""
        ...

    def not_before(self, member: str, share_ids: Sequence[str]) -> Mapping[str, str]:
        """{share id: the time from which the member may read it} for held shares."""
        ...

    def preview(self, request: ShareRequest, decision: Decision) -> dict[str, Any]:
        """What the rule would do to a share with this audience."""
        ...


Page = tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]
"""Readable entries after a cursor, the cursor to resume from, and whether more may
follow at once."""


@dataclass(frozen=True, slots=True)
class Published:
    envelope: Envelope
    recipients: tuple[str, ...]
    new: bool


Claim = Callable[[Sql, Published], None]
"""Run in the transaction that stores a new share, with what the publish returns."""

ShareHook = Callable[[Sql, Envelope, tuple[str, ...]], None]
"""Run in the transaction that stores a new share, with its recipients here."""
SharesHook = Callable[[Sql, Sequence[tuple[Envelope, tuple[str, ...]]]], None]
"""A ``ShareHook`` for several new shares of one transaction, in the order stored."""


def envelope_weight(env: Envelope) -> int:
    """About the bytes an envelope holds (payload, signature, wraps, header)."""
    return (len(env.payload) + len(env.signature) + sum(len(w.blob) + 128 for w in env.wraps)
            + 1024)


class Exchange:
    """One node's use cases over a Store. Bus rings are the caller's job (async edge)."""

    def __init__(
        self,
        store: Store,
        *,
        node_id: str,
        node_key: SignPrivate,
        held: Mapping[str, Keyring] | None = None,
        max_body: int = 32 * 1024 * 1024,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.node_key = node_key
        self.node_key_raw: bytes = node_key.public_key().public_bytes_raw()
        self.node_key_id = key_id("ed25519", self.node_key_raw)
        self.held: dict[str, Keyring] = dict(held or {})
        self.max_body = max_body
        # Envelopes are immutable once stored: a small cache serves the push path, where
        # every recipient of a new share reads the same envelope at the same moment.
        # Bounded by bytes, so that its memory does not follow the size of the shares.
        self.envelopes: Lru[str, Envelope] = Lru(4096, max_bytes=cache_bytes,
                                                 weigh=envelope_weight)
        # Called after a new share is durably stored (features such as correlation
        # follow publishing here); a hook that raises does not undo the publish.
        self.published_hooks: list[Callable[[Published], None]] = []
        # Called inside the transaction that stores a new share (log entry, object
        # index): an error here fails the publish and stores nothing.
        self.share_tx_hooks: list[ShareHook] = []
        # The form of a share_tx_hook that takes several shares at once, for the
        # transaction that stores a batch of them (``run_share_hooks``); a hook without
        # one is called share by share.
        self.share_tx_many: dict[ShareHook, SharesHook] = {}
        # Called (with the share id) inside the transaction that recalls a share or
        # purges it at expiry: features drop the rows they derived from its payload.
        self.purge_tx_hooks: list[Callable[[Sql, str], None]] = []
        # Called when a member was allowed to read one share by its id (the ledger
        # records opened shares here).
        self.read_hooks: list[Callable[[str, Envelope], None]] = []
        # A rule that holds shares back from some recipients (None: no such rule).
        self.read_gate: ReadGate | None = None
        # The consent grants in force, read by the access gate (vigil.consent).
        self.consent_gate: StoredGrants | None = StoredGrants(store)
        # The rules for intelligence beyond cyber (evaluation, legal basis, personal data).
        self.intel_rules = IntelRules()
        # Where shares must use the hybrid (post-quantum) suites; checked in _store,
        # which every path into the store goes through.
        self.suite_rule = SuiteRule()
        # The transparency log: every share, channel change and key event is appended
        # in the transaction that makes it happen.
        self.log = StoredLog(store, node_id, node_key)
        # Parsing, validating and sealing large posted bundles: in worker processes
        # when the node is given some (``vigil.node.bundle_pool``), else in the caller.
        self.bundles = BundlePool(0)
        # Objects counted while a bundle was checked, taken by the share transaction's
        # hooks (the ledger) so that they need not parse the payload under the lock.
        self.object_counts: Lru[str, int] = Lru(64)
        # retired, expiring and revoked member keys (vigil.node.keylife)
        self.keybook = KeyBook(store)
        # secrets kept in the store sealed under a key in the data directory
        # (open_exchange names it; an Exchange made without one keeps a key in memory)
        self.secrets = SecretBox(None)
        # the running parts of features, one per kind (``attach``)
        self._parts: dict[type, object] = {}
        self._parts_lock = threading.Lock()

    def attach(self, kind: type[PartT], make: Callable[[], PartT]) -> tuple[PartT, bool]:
        """The exchange's one part of this kind (a feature's running state, such as its
        correlator), made by ``make`` if it has none; and whether it was made now."""
        with self._parts_lock:
            got = self._parts.get(kind)
            if got is not None:
                return cast(PartT, got), False
            part = make()
            self._parts[kind] = part
            return part, True

    def part(self, kind: type[PartT]) -> PartT | None:
        """The exchange's part of this kind, if one is attached."""
        with self._parts_lock:
            return cast("PartT | None", self._parts.get(kind))

    def run_share_hooks(self, sql: Sql, shares: Sequence[tuple[Envelope, tuple[str, ...]]]
                        ) -> None:
        """Every ``share_tx_hooks`` entry, in order, for new shares stored together in
        ``sql``'s transaction: its ``share_tx_many`` form once, else share by share."""
        if not shares:
            return
        for hook in self.share_tx_hooks:
            many = self.share_tx_many.get(hook)
            if many is not None:
                many(sql, shares)
            else:
                for env, recipients in shares:
                    hook(sql, env, recipients)

    def _log(self, sql: Sql, entry: Mapping[str, Any]) -> None:
        self.log.append(sql, entry)

    # -- directory -----------------------------------------------------------
    def directory(self) -> Directory:
        return self.store.directory()

    def member(self, ref: str) -> Member:
        """A member by id or name (members are public to every member of the node)."""
        d = self.directory()
        if ref in d.members:
            return d.members[ref]
        name = ref.removeprefix("member:")
        for m in d.members.values():
            if m.name == name:
                return m
        raise NotFound(f"no member {ref!r}", code="member.not_found")

    def add_member(
        self,
        name: str,
        *,
        country: str,
        kind: MemberKind,
        display_name: str | None = None,
        keyring_path: Path,
        passphrase: str,
        hold: bool = False,
        hybrid: bool = True,
        pkcs11: str | None = None,
    ) -> tuple[Member, Keyring]:
        """A new member with fresh keys: in a keyring file under ``passphrase``, or made
        inside the PKCS#11 token the ``pkcs11`` URI names (classical suites only)."""
        check_name(name, "member")
        normal = region(country)
        if normal is None:
            raise InputError(f"country {country.strip()!r} must be an ISO 3166 code",
                             code="input.country")
        country = normal
        if any(m.name == name for m in self.directory().members.values()):
            raise Conflict(f"a member named {name!r} already exists", code="member.exists")
        member_id = f"identity--{uuid.uuid4()}"
        kr = create_token_keyring(keyring_path, member_id, pkcs11, hybrid=False) \
            if pkcs11 else create_keyring(keyring_path, member_id, passphrase, hybrid=hybrid)
        member = Member(
            id=member_id,
            name=name,
            display_name=display_name or name,
            country=country,
            kind=kind,
            sign_key=kr.sign_public,
            sign_key_id=kr.sign_key_id,
            enc_key=kr.enc_public,
            enc_key_id=kr.enc_key_id,
            created=clock.now(),
        )
        try:
            self.store.add_member(member, lambda sql: self._log(sql, member_entry(
                member.id, "add", member.sign_key_id, member.enc_key_id, member.created)))
        except BaseException:
            keyring_path.unlink(missing_ok=True)
            raise
        if hold:
            self.held[member_id] = kr
        return member, kr

    # -- users and authentication -------------------------------------------
    def add_user(self, member_ref: str, user_name: str, scope: str = "admin",
                 expires: str | None = None) -> tuple[User, str]:
        """Issue a user's token with a scope (read | publish | admin, see vigil.signin.tokens)
        and an optional expiry; the token is shown once and only its hash is kept."""
        member = self.member(member_ref)
        check_name(user_name, "user")
        check_scope(scope)
        token = new_token()
        user = User(id=f"user--{uuid.uuid4()}", member_id=member.id, name=user_name,
                    created=clock.now(), scope=scope, expires=expires)
        self.store.add_user(user, hash_token(token), token[:TOKEN_PREFIX])
        return user, token

    def authenticate(self, token: str) -> Actor:
        user = self.store.user_by_token_hash(hash_token(token)) if token else None
        return self._actor_of(user, "token")

    def _actor_of(self, user: User | None, what: str) -> Actor:
        # an expired credential answers like an unknown one
        if user is None or (user.expires is not None and user.expires <= clock.now()):
            raise AuthError(f"unknown or revoked {what}", code=f"auth.bad_{what}")
        m = self.directory().members.get(user.member_id)
        if m is None or not m.active:
            raise AuthError(f"the member of this {what} is not active", code="auth.inactive")
        return Actor(member=user.member_id, user=user.id, scope=user.scope)

    def open_session(self, token: str, ttl_seconds: int) -> tuple[str, str]:
        """Sign a user in for the web console: (session id, CSRF token). Only a hash of
        the session id is stored, so every worker of the node shares the session."""
        self.authenticate(token)
        user = self.store.user_by_token_hash(hash_token(token))
        assert user is not None
        return self.open_user_session(user.id, ttl_seconds)

    def open_user_session(self, user_id: str, ttl_seconds: int) -> tuple[str, str]:
        """A console session for a user who signed in another way (SSO, a passkey)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = clock.fmt(datetime.now(UTC) + timedelta(seconds=ttl_seconds))
        self.store.add_session(hash_token(sid), user_id, csrf, expires)
        return sid, csrf

    def session(self, session_id: str) -> tuple[Actor, str]:
        """The actor and CSRF token of a live console session."""
        got = self.store.get_session(hash_token(session_id), clock.now()) if session_id \
            else None
        if got is None:
            raise AuthError("no such session, or it expired", code="auth.bad_session")
        return self._actor_of(self.store.user_by_id(got[0]), "session"), got[1]

    def close_session(self, session_id: str) -> None:
        self.store.drop_session(hash_token(session_id), clock.now())

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

    # -- publishing --------------------------------------------------------------
    def make_request(
        self,
        actor: str,
        *,
        tlp: Tlp,
        to: Sequence[str] = (),
        purpose: str | None = None,
        no_onward: bool = False,
        codes: Sequence[str] = (),
        themes: Sequence[str] = (),
        regions: Sequence[str] = (),
        expires: str | None = None,
        evaluation: str | None = None,
        legal_basis: str | None = None,
        legal_purposes: Sequence[str] = (),
        personal_data: bool = False,
    ) -> ShareRequest:
        """Turn user words (`--to CHANNEL`, `--to member:NAME`, an evaluation code such
        as ``B2`` or ``4x4:B2``, a legal basis and its purposes) into a ShareRequest."""
        channel: str | None = None
        recipients: list[str] = []
        d = self.directory()
        for i, t in enumerate(to):
            if t.startswith("member:"):
                try:
                    recipients.append(self.member(t).id)
                except NotFound:
                    raise InputError(f"no member {t[7:]!r}", code="input.unknown_recipient",
                                     pointer=f"/to/{i}") from None
            elif t.startswith("identity--") and t in d.members:
                recipients.append(t)
            else:
                if channel is not None:
                    raise InputError("a share goes to at most one channel",
                                     code="input.two_channels", pointer=f"/to/{i}")
                ref = t.removeprefix("channel:")
                try:
                    channel = self.channel(actor, ref).id
                except NotFound:
                    raise PolicyDenied(f"no channel {ref!r}", code="policy.not_in_channel") \
                        from None
        return ShareRequest(
            originator=actor,
            audience=Audience(tlp=tlp, channel=channel, recipients=tuple(sorted(set(recipients)))),
            handling=Handling(purpose=purpose or None, no_onward=no_onward,
                              codes=tuple(sorted(set(codes)))),
            themes=check_themes(themes),
            regions=check_regions(regions),
            expires=clock.parse_expiry(expires) if expires else None,
            evaluation=intel_evaluation.parse(evaluation) if evaluation else None,
            legal=intel_legal.legal_basis(legal_basis, legal_purposes) if legal_basis
            else None,
            personal_data=personal_data,
        )

    def preview(self, request: ShareRequest) -> Decision:
        dec = publish(self.directory(), request, now=clock.now(), rules=self.intel_rules)
        if not dec:
            raise PolicyDenied(f"this share may not be sent: {dec.reason}", code=dec.reason)
        return dec

    def preview_delays(self, request: ShareRequest, decision: Decision) -> dict[str, Any] | None:
        """What the node's community rule does to this share (None: no rule is on)."""
        return None if self.read_gate is None else self.read_gate.preview(request, decision)

    def recipient_keys(self, members: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        d = self.directory()
        return {m: (d.members[m].enc_key_id, d.members[m].enc_key) for m in members}

    def parse_bundle(self, raw: bytes) -> dict[str, Any]:
        bundle = parsed.bundle_of(raw) or strictjson.loads(raw, max_bytes=self.max_body)
        validate_bundle(bundle)
        assert isinstance(bundle, dict)
        return bundle

    def check_bundle(self, raw: bytes) -> int:
        """Parse and validate a bundle (in a worker process when it is large); its
        number of objects."""
        return self.bundles.check(raw, self.max_body).objects

    def publish_bundle(
        self, actor: Actor, raw: bytes, request: ShareRequest, *, lint: bool = False,
        claim: Claim | None = None, valid: ValidBundle | None = None,
    ) -> Published:
        """Publish a bundle posted to the node: signed with the member's keyring if the
        node holds it, else attested by the node on behalf of the authenticated user.
        ``lint`` refuses undeclared personal data (``vigil.intel.personal``), checked with
        the bundle (in its worker when it is large). ``claim`` runs in the share's
        transaction (see ``_store``). ``valid``: ``raw`` is a bundle the node wrote
        itself from objects its validator passed (``ObjectChecker.bundle``, e.g. a
        converted MISP event), not parsed or validated again."""
        if valid is not None and valid.raw is not raw:
            raise ValueError("valid is the bundle of other bytes")
        if request.originator != actor.member:
            raise PolicyDenied("a member publishes only as itself", code="policy.bad_request")
        # The policy is decided first, so that the worker checking a large bundle also
        # seals it; its refusal is raised after the bundle's own errors, as before.
        dec = publish(self.directory(), request, now=clock.now(), rules=self.intel_rules)
        sid = new_share_id(actor.member)
        seal_as = sid if dec and dec.form is Form.SEALED else None
        declared = request.personal_data if lint else None
        checked = check_valid(valid, self.max_body, request.audience.tlp, seal_as,
                              declared) if valid is not None else \
            self.bundles.check(raw, self.max_body, request.audience.tlp, seal_as,
                               declared=declared)
        if not dec:
            raise PolicyDenied(f"this share may not be sent: {dec.reason}", code=dec.reason)
        assert dec.form is not None
        kr = self.held.get(actor.member)
        if kr is not None:
            signer, signer_id, prov, posted = kr.sign_private, kr.sign_key_id, \
                Provenance.ORIGINATOR, None
        else:
            signer, signer_id, prov = self.node_key, self.node_key_id, Provenance.ATTESTED
            posted = {"member": actor.member, "user": actor.user or "node-operator"}
        keys = self.recipient_keys((*dec.recipients, actor.member)) \
            if dec.form is Form.SEALED else {}
        env = build_share(
            plaintext=raw,
            originator=actor.member,
            audience=Audience(request.audience.tlp, request.audience.channel, dec.recipients),
            recipients=dec.recipients,
            form=dec.form,
            handling=request.handling,
            themes=request.themes,
            regions=request.regions,
            expires=request.expires,
            signer_private=signer,
            signer_key_id=signer_id,
            recipient_keys=keys,
            provenance=prov,
            posted_by=posted,
            share_id=sid,
            sealed=checked.sealed if dec.form is Form.SEALED else None,
            evaluation=request.evaluation,
            legal=request.legal,
            personal_data=request.personal_data,
        )
        if dec.form is Form.PLAIN or kr is not None:  # what the node can count later
            self.object_counts.put(env.id, checked.objects)
        if checked.bundle is not None:  # for the share transaction's hooks
            parsed.remember(raw, checked.bundle, share=env.id)
        try:
            return self._store(env, dec.recipients, claim)
        finally:
            parsed.forget()

    def accept_envelope(self, actor: Actor, env: Envelope, claim: Claim | None = None
                        ) -> Published:
        """Accept a share signed (and sealed) by a member's own client; ``claim`` runs
        in the share's transaction (see ``_store``)."""
        h = env.header
        d = self.directory()
        if env.originator != actor.member:
            raise PolicyDenied("a member publishes only as itself", code="policy.bad_request")
        if h.get("provenance") != Provenance.ORIGINATOR.value:
            raise InputError("clients publish originator-signed shares only",
                             code="envelope.provenance", pointer="/header/provenance")
        member = d.members[actor.member]
        verify_envelope(env, member.sign_key)
        self._check_share_id(env)
        check_client_header(h, datetime.now(UTC))
        aud = h["audience"]
        tlp = Tlp(aud["tlp"])
        channel = aud.get("channel")
        recipients = tuple(aud["recipients"])
        handling = Handling(h["handling"].get("purpose"), bool(h["handling"]["no_onward"]),
                            tuple(h["handling"].get("codes", ())))
        base = ShareRequest(actor.member, Audience(tlp, channel, ()), handling,
                            tuple(h.get("themes", ())), tuple(h.get("regions", ())),
                            h.get("expires"), *intel_of(h))
        now = clock.now()
        ok: Decision | None = None
        for req in (base, replace(base, audience=Audience(tlp, channel, recipients))):
            dec = publish(d, req, now=now, rules=self.intel_rules)
            if dec and dec.recipients == recipients and dec.form is env.form:
                ok = dec
                break
        if ok is None:
            dec = publish(d, base, now=now, rules=self.intel_rules)
            reason = dec.reason if not dec else "policy.audience_mismatch"
            raise PolicyDenied(
                "the envelope's recipients or form are not what the policy gives for its audience",
                code=reason,
            )
        if env.form is Form.SEALED:
            wrapped = {w.member for w in env.wraps}
            if not set(recipients) <= wrapped:
                raise CryptoError("the share is not sealed to every recipient",
                                  code="crypto.missing_wrap")
            for w in env.wraps:
                m = d.members.get(w.member)
                if m is None or m.enc_key_id != w.key:
                    raise CryptoError("a wrap names a key that is not the member's current key",
                                      code="crypto.wrap_key")
        else:
            check_marking(self.parse_bundle(env.payload), tlp)
        return self._store(env, recipients, claim)

    def _check_share_id(self, env: Envelope) -> None:
        """A client's share id must be bound to its originator (``new_share_id``), so
        that it can never be another member's: the answer to an id then never depends on
        shares of others. An unbound id is accepted only as the resubmission of the
        originator's own identical share (stored before ids were bound); otherwise,
        whether or not any share bears it, it is refused the same way."""
        if share_id_bound(env.id, env.originator):
            return
        got = self.store.get_share(env.id)
        if got is None or got[0].originator != env.originator or not same_share(got[0], env):
            raise InputError("a share id must be bound to its originator (share ids made "
                             "by vigil's envelope.new_share_id)", code="share.id_unbound",
                             pointer="/header/id")

    def revoked_shares(self, share_ids: Iterable[str], directory: Directory | None = None
                       ) -> set[str]:
        """The ids among ``share_ids`` signed with a revoked key at or after its
        revocation point (the access gate refuses them), as of ``directory`` (the
        current one if None)."""
        return self.keybook.marked(directory or self.directory(), share_ids)

    def _store(self, env: Envelope, recipients: Sequence[str], claim: Claim | None = None
               ) -> Published:
        """Store a share; ``claim`` (the caller's record of its request, such as an
        idempotency key) runs last in the same transaction, only for a new share: an
        error it raises stores nothing."""
        recipients = tuple(recipients)
        if env.header.get("provenance") != Provenance.ATTESTED.value:
            self.keybook.check_signing(self.directory(), env.header)
        if self.suite_rule and not suite(self.suite_rule, self.directory(),
                                         env.header, recipients):
            raise PolicyDenied("this share must be signed and sealed with the hybrid "
                               "(post-quantum) suites", code=SUITE_REQUIRED)
        hooks = self.share_tx_hooks
        refs: list[LogRef] = []

        def also(sql: Sql) -> None:
            refs.append(self.log.append(sql, share_entry(env), locked=True))
            for hook in hooks:
                hook(sql, env, recipients)
            if claim is not None:
                claim(sql, Published(env, recipients, True))

        new = self.store.put_share(env, recipients, clock.now(), also)
        published = Published(env, tuple(recipients), new)
        if new:
            self.envelopes.put(env.id, env)
            self.log.refs.put(env.id, refs[-1])
            for hook in self.published_hooks:
                try:
                    hook(published)
                except Exception:
                    log.exception("after-publish hook %r failed for %s", hook, env.id)
        return published

    # -- reading -----------------------------------------------------------------
    def inbox_page(self, member: str, after: int, limit: int, *, notices: bool = False
                   ) -> tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]:
        """Entries the member may read after a cursor, the cursor to resume from (past
        entries the policy now hides too), and whether more may follow at once. With
        ``notices``, a recalled share its recipients may be told of comes as its signed
        header without payload or wraps (the delivery of a recall)."""
        return self.inbox_pages([(member, after)], limit, notices=notices)[0]

    def inbox_pages(self, requests: Sequence[tuple[str, int]], limit: int, *,
                    notices: bool = False) -> list[Page]:
        """``inbox_page`` for several (member, cursor) pairs with one store read."""
        d = self.directory()
        if self.read_gate is not None:
            self.read_gate.release([m for m, _ in requests])
        ref_lists = self.store.inbox_refs_many(requests, limit)

        def lookup(share_id: str) -> Envelope | None:
            env = self.envelopes.get(share_id)
            if env is None:
                got = self.store.get_share(share_id)
                if got is None:
                    return None
                env = got[0]
                self.envelopes.put(share_id, env)
            return env

        out = self._pages(d, requests, ref_lists, limit, lookup, notices)
        # every delivered share carries its log place and proof: warm that cache with
        # one read for the shares it lacks
        self.log.share_refs(sorted({e.share_id for rows, _, _ in out for e, _, _ in rows}))
        return out

    async def inbox_pages_async(self, requests: Sequence[tuple[str, int]], limit: int, *,
                                notices: bool = False) -> list[Page] | None:
        """``inbox_pages`` on the event loop, for stores that offer ``push_reads`` (two
        round trips and no thread); None when the store does not."""
        push = getattr(self.store, "push_reads", None)
        if push is None or self.read_gate is not None:
            return None

        def missing(ids: list[str]) -> list[str]:
            return [i for i in ids
                    if self.envelopes.get(i) is None or self.log.refs.get(i) is None]

        got = await push(requests, limit, missing)
        if got is None:
            return None
        d, ref_lists, shares = got
        if d is None:
            d = await asyncio.to_thread(self.directory)
        for sid, (env, _, log_row) in shares.items():
            self.envelopes.put(sid, env)
            if log_row is not None:
                self.log.refs.put(sid, self.log.ref_of(*log_row))
        return self._pages(d, requests, ref_lists, limit, self.envelopes.get, notices)

    def _pages(self, d: Directory, requests: Sequence[tuple[str, int]],
               ref_lists: Sequence[Sequence[tuple[InboxEntry, ShareState]]], limit: int,
               lookup: Callable[[str], Envelope | None], notices: bool) -> list[Page]:
        now = clock.now()
        gates = [Access(self, member, directory=d, now=now) for member, _ in requests]
        founds = [[(entry, env, state) for entry, state in refs
                   if (env := lookup(entry.share_id)) is not None] for refs in ref_lists]
        # one revocation lookup and one consent read for every member of the batch
        all_views = Access.views_many(gates, [[(env.id, env.header, state)
                                               for _, env, state in found]
                                              for found in founds])
        out: list[Page] = []
        for (_, after), refs, gate, found, views in zip(requests, ref_lists, gates, founds,
                                                         all_views, strict=True):
            cursor = refs[-1][0].seq if refs else after
            readable = []
            for (entry, env, state), view in zip(found, views, strict=True):
                what = gate.delivery(view, notices=notices)
                if what == "share":
                    readable.append((entry, env, state))
                elif what == "notice":
                    # the delivery of a recall: the signed header, nothing else
                    readable.append((entry, Envelope(env.header, env.signature, b"", ()),
                                     state))
            out.append((readable, cursor, len(refs) == limit))
        return out

    def share(self, member: str, share_id: str) -> tuple[Envelope, ShareState]:
        """A share the member may read now (the community hold included), for its
        content; NotFound otherwise, exactly like a missing share. This does not count
        as an opening: a surface that shows the share to a person calls
        ``record_opened`` as well."""
        gate = Access(self, member)
        got = gate.fetch(share_id)
        if got is None or not gate.read(got[1]):
            raise NotFound(f"no share {share_id!r}", code="share.not_found")
        return got[0], got[1].state

    def record_opened(self, member: str, env: Envelope) -> None:
        """Tell the read hooks (ledger openings, held members' receipts) that the member
        opened a share it was allowed to read."""
        for hook in self.read_hooks:
            hook(member, env)

    def sent(self, member: str, after: int = 0, limit: int = 100
             ) -> list[tuple[int, Envelope, ShareState]]:
        """The shares the member published and may still read (not purged), among the
        ``limit`` it published after the cursor ``after``."""
        return self.sent_page(member, after, limit)[0]

    def sent_page(self, member: str, after: int = 0, limit: int = 100
                  ) -> tuple[list[tuple[int, Envelope, ShareState]], int]:
        """``sent``, and the cursor to resume from (past hidden shares too)."""
        rows = self.store.sent(member, after, limit)
        gate = Access(self, member)
        views = gate.views((env.id, env.header, state) for _, env, state in rows)
        shown = [row for row, view in zip(rows, views, strict=True) if gate.own(view)]
        return shown, rows[-1][0] if rows else after

    def signer_key(self, env: Envelope) -> bytes:
        """The public key that must have signed this envelope."""
        if env.header.get("provenance") == Provenance.ATTESTED.value:
            if env.header["key"] != self.node_key_id:
                raise CryptoError("attested by an unknown node key", code="crypto.unknown_key")
            return self.node_key_raw
        return self.keybook.signer(self.directory(), env.originator, str(env.header["key"]))

    def open(self, member: str, env: Envelope) -> bytes | None:
        """The plaintext for a member, verified; None if sealed and the node lacks its keys."""
        verify_envelope(env, self.signer_key(env))
        if env.form is Form.PLAIN:
            return env.payload
        kr = self.held.get(member)
        if kr is None:
            return None
        return open_share(env, member, kr.enc_private)


def hold_keyrings(keyring_dir: Path, passphrase: str, store: Store) -> dict[str, Keyring]:
    """Load the keyrings a node holds for its own members (``<data>/keyrings``)."""
    held: dict[str, Keyring] = {}
    if not keyring_dir.is_dir():
        return held
    members = store.directory().members
    for path in sorted(keyring_dir.glob("*.keyring")):
        kr = load_keyring(path, passphrase)
        if kr.member_id in members:
            held[kr.member_id] = kr
    return held
