"""Publishing on a node: a user's words turned into a share request, a posted bundle
signed or attested, a client-signed envelope checked, and the share stored with its
hooks in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from vigil import clock
from vigil.errors import CryptoError, InputError, NotFound, PolicyDenied, VigilError
from vigil.intel import evaluation as intel_evaluation
from vigil.intel import legal as intel_legal
from vigil.intel.header import intel_of
from vigil.log.entries import share_entry
from vigil.log.tree import LogRef
from vigil.model import (
    Actor,
    Audience,
    Decision,
    Envelope,
    Form,
    Handling,
    Provenance,
    ShareRequest,
    Tlp,
)
from vigil.node.bundle_pool import check_valid
from vigil.node.channels import Channels
from vigil.node.hooks import Claim, Committed, Published
from vigil.node.inputs import check_client_header, check_marking, check_regions, check_themes
from vigil.policy.access import publish, suite
from vigil.policy.suites import SUITE_REQUIRED
from vigil.protocol.envelope import (
    build_share,
    new_share_id,
    share_id_bound,
    verify_envelope,
)
from vigil.stix import parsed, strictjson
from vigil.stix.validate import ValidBundle, validate_bundle
from vigil.storage.base import Sql, same_share

log = logging.getLogger("vigil.node.exchange")  # the name it has always logged under


class Publishing(Channels):
    """Publishing on an exchange."""

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
        committed: Committed | None = None,
    ) -> Published:
        """Publish a bundle posted to the node: signed with the member's keyring if the
        node holds it, else attested by the node on behalf of the authenticated user.
        ``lint`` refuses undeclared personal data (``vigil.intel.personal``), checked with
        the bundle (in its worker when it is large). ``claim`` runs in the share's
        transaction, ``committed`` right after it (see ``_store``). ``valid``: ``raw``
        is a bundle the node wrote itself from objects its validator passed
        (``ObjectChecker.bundle``, e.g. a converted MISP event), not parsed or
        validated again."""
        env, recipients, bundle = self._prepare(actor, raw, request, lint, valid)
        if bundle is not None:  # for the share transaction's hooks
            parsed.remember(raw, bundle, share=env.id)
        try:
            return self._store(env, recipients, claim, committed)
        finally:
            parsed.forget()

    def publish_bundles(self, actor: Actor,
                        items: Sequence[tuple[bytes, ShareRequest, ValidBundle | None]]
                        ) -> list[Published | VigilError]:
        """``publish_bundle`` for several bundles of one member (``(raw, request,
        valid)`` each, in order), stored in one write of the store (SQLite: one
        transaction, one commit and sync for all). Each answer is the share or the
        error that refused that bundle, which stores nothing of it; every share in
        the answer is durable when it returns."""
        out: list[Published | VigilError | None] = [None] * len(items)
        ready: list[tuple[int, Envelope, tuple[str, ...], bytes, dict[str, Any] | None]] = []
        for i, (raw, request, valid) in enumerate(items):
            try:
                env, recipients, bundle = self._prepare(actor, raw, request, False, valid)
                self._check_store(env, recipients)
            except VigilError as exc:
                out[i] = exc
                continue
            ready.append((i, env, recipients, raw, bundle))
        refs: dict[str, LogRef] = {}

        def also_for(env: Envelope, recipients: tuple[str, ...], raw: bytes,
                     bundle: dict[str, Any] | None) -> Callable[[Sql], None]:
            def also(sql: Sql) -> None:
                if bundle is not None:
                    parsed.remember(raw, bundle, share=env.id)
                try:
                    refs[env.id] = self.log.append(sql, share_entry(env), locked=True)
                    for hook in self.share_tx_hooks:
                        hook(sql, env, recipients)
                finally:
                    parsed.forget()
            return also

        stored = self.store.put_shares(
            [(env, recipients, also_for(env, recipients, raw, bundle))
             for _, env, recipients, raw, bundle in ready], clock.now()) if ready else []
        for (i, env, recipients, _, _), got in zip(ready, stored, strict=True):
            out[i] = got if isinstance(got, VigilError) else \
                self._stored(Published(env, recipients, got), refs.get(env.id))
        return [x for x in out if x is not None]

    def _prepare(self, actor: Actor, raw: bytes, request: ShareRequest, lint: bool,
                 valid: ValidBundle | None
                 ) -> tuple[Envelope, tuple[str, ...], dict[str, Any] | None]:
        """A posted bundle's share, decided, checked, signed (or attested) and sealed
        as the policy says: the envelope, its recipients and the parsed bundle."""
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
        return env, tuple(dec.recipients), checked.bundle

    def accept_envelope(self, actor: Actor, env: Envelope, claim: Claim | None = None,
                        committed: Committed | None = None) -> Published:
        """Accept a share signed (and sealed) by a member's own client; ``claim`` runs
        in the share's transaction, ``committed`` right after it (see ``_store``)."""
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
        return self._store(env, recipients, claim, committed)

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

    def _check_store(self, env: Envelope, recipients: Sequence[str]) -> None:
        """What the node checks of a share just before it stores it: its signing key,
        and the suites the node requires."""
        if env.header.get("provenance") != Provenance.ATTESTED.value:
            self.keybook.check_signing(self.directory(), env.header)
        if self.suite_rule and not suite(self.suite_rule, self.directory(),
                                         env.header, tuple(recipients)):
            raise PolicyDenied("this share must be signed and sealed with the hybrid "
                               "(post-quantum) suites", code=SUITE_REQUIRED)

    def _store(self, env: Envelope, recipients: Sequence[str], claim: Claim | None = None,
               committed: Committed | None = None) -> Published:
        """Store a share; ``claim`` (the caller's record of its request, such as an
        idempotency key) runs last in the same transaction, only for a new share: an
        error it raises stores nothing. ``committed`` is called once a new share's
        transaction has committed and its envelope and log reference are cached (what
        a stream's read of it serves), before the after-publish hooks; it must only
        hand work on (ring), not do it."""
        recipients = tuple(recipients)
        self._check_store(env, recipients)
        hooks = self.share_tx_hooks
        refs: list[LogRef] = []

        def also(sql: Sql) -> None:
            refs.append(self.log.append(sql, share_entry(env), locked=True))
            for hook in hooks:
                hook(sql, env, recipients)
            if claim is not None:
                claim(sql, Published(env, recipients, True))

        new = self.store.put_share(env, recipients, clock.now(), also)
        return self._stored(Published(env, recipients, new), refs[-1] if refs else None,
                            committed)

    def _stored(self, published: Published, ref: LogRef | None,
                committed: Committed | None = None) -> Published:
        """After a share's commit: the caches, ``committed``, and the after-publish hooks
        of a new one."""
        if published.new:
            env = published.envelope
            self.envelopes.put(env.id, env)
            if ref is not None:
                self.log.refs.put(env.id, ref)
            if committed is not None:
                try:
                    committed(published)
                except Exception:  # the caller rings later instead
                    log.exception("commit callback failed for %s", env.id)
            for hook in self.published_hooks:
                try:
                    hook(published)
                except Exception:
                    log.exception("after-publish hook %r failed for %s", hook, env.id)
        return published
