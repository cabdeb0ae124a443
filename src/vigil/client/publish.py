"""Publishing: the preview of who would receive a share, the client's own check of it,
and the share signed and sealed here (or attested by the node without a keyring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from vigil.client.channel_keys import ChannelKeys
from vigil.client.session import unb64
from vigil.errors import CryptoError
from vigil.model import Audience, ChannelKind, Form, Handling, Tlp
from vigil.policy.decide import WIDE_TLPS, share_form
from vigil.protocol.envelope import build_share, envelope_to_json


class Publishing(ChannelKeys):
    def preview(self, *, tlp: str, to: Sequence[str] = (), purpose: str | None = None,
                no_onward: bool = False, codes: Sequence[str] = (), themes: Sequence[str] = (),
                regions: Sequence[str] = (), expires: str | None = None,
                evaluation: str | None = None, legal_basis: str | None = None,
                legal_purposes: Sequence[str] = (), personal_data: bool = False
                ) -> dict[str, Any]:
        """Who exactly would receive a share with this audience (a dry run).
        ``evaluation`` (``B2``, ``4x4:B2``), ``legal_basis`` and ``legal_purposes`` are
        required for terrorism and organised crime; ``personal_data`` says the share
        holds some (then a legal basis is required)."""
        out: dict[str, Any] = self._call("POST", "/api/v1/preview", json={
            "tlp": tlp, "to": list(to), "purpose": purpose, "no_onward": no_onward,
            "codes": list(codes), "themes": list(themes), "regions": list(regions),
            "expires": expires, "evaluation": evaluation, "legal_basis": legal_basis,
            "legal_purposes": list(legal_purposes), "personal_data": personal_data})
        return out

    def publish(self, bundle: bytes, *, tlp: str, to: Sequence[str] = (),
                purpose: str | None = None, no_onward: bool = False, codes: Sequence[str] = (),
                themes: Sequence[str] = (), regions: Sequence[str] = (),
                expires: str | None = None, blind: bool = True, evaluation: str | None = None,
                legal_basis: str | None = None, legal_purposes: Sequence[str] = (),
                personal_data: bool = False) -> dict[str, Any]:
        """Publish a STIX bundle. With a keyring the share is signed and sealed here and
        the node sees only the signed header and ciphertext; without one the node
        attests it. A sealed share to a channel carries blind tokens of its observables
        (``blind=False`` leaves them out), so the node can match it without reading it."""
        if self.keyring is None:
            params: list[tuple[str, str]] = [("tlp", tlp)]
            params += [("to", t) for t in to] + [("code", c) for c in codes]
            params += [("theme", t) for t in themes] + [("region", r) for r in regions]
            if purpose:
                params.append(("purpose", purpose))
            if no_onward:
                params.append(("no_onward", "true"))
            if expires:
                params.append(("expires", expires))
            if evaluation:
                params.append(("evaluation", evaluation))
            if legal_basis:
                params.append(("legal_basis", legal_basis))
            params += [("legal_purpose", p) for p in legal_purposes]
            if personal_data:
                params.append(("personal_data", "true"))
            return self._publish_call("/api/v1/shares", params=params, content=bundle,
                                      headers={"Content-Type": "application/stix+json"})
        from vigil.intel import evaluation as intel_evaluation
        from vigil.intel import legal as intel_legal
        from vigil.intel import personal
        from vigil.stix import strictjson
        from vigil.stix.validate import validate_bundle

        parsed = strictjson.loads(bundle)
        validate_bundle(parsed)
        personal.check(parsed, personal_data)  # the member's own lint, before sealing
        pv = self.preview(tlp=tlp, to=to, purpose=purpose, no_onward=no_onward, codes=codes,
                          themes=themes, regions=regions, expires=expires,
                          evaluation=evaluation, legal_basis=legal_basis,
                          legal_purposes=legal_purposes, personal_data=personal_data)
        # the evaluation and legal basis signed are the member's own words, never the
        # node's echo of them
        ev = intel_evaluation.parse(evaluation) if evaluation else None
        legal = intel_legal.legal_basis(legal_basis, legal_purposes) if legal_basis else None
        kr = self.keyring
        form = self.check_preview(pv, tlp=tlp, to=to, purpose=purpose, no_onward=no_onward,
                                   codes=codes)
        recipients = [str(r["id"]) for r in pv["recipients"]]
        keys: dict[str, tuple[str, bytes]] = {}
        if form is Form.SEALED:
            proven = self.proven_members(recipients)
            for r in pv["recipients"]:
                m = proven[r["id"]]
                if r["enc_key"] != {"id": m["enc_key"]["id"], "public": m["enc_key"]["public"]}:
                    raise CryptoError(f"the preview's key for {r['name']!r} is not the one "
                                      "the log holds", code="client.key_swapped")
                keys[m["id"]] = (m["enc_key"]["id"], unb64(m["enc_key"]["public"]))
            keys[kr.member_id] = (kr.enc_key_id, kr.enc_public)
        h = pv["handling"]
        env = build_share(
            plaintext=bundle,
            originator=kr.member_id,
            audience=Audience(Tlp(pv["audience"]["tlp"]), pv["audience"]["channel"],
                              tuple(recipients)),
            recipients=recipients,
            form=form,
            handling=Handling(h["purpose"], bool(h["no_onward"]), tuple(h["codes"])),
            themes=tuple(pv["themes"]),
            regions=tuple(pv["regions"]),
            expires=pv["expires"],
            signer_private=kr.sign_private,
            signer_key_id=kr.sign_key_id,
            recipient_keys=keys,
            evaluation=ev,
            legal=legal,
            personal_data=personal_data,
        )
        if blind and form is Form.SEALED and pv["audience"]["channel"]:
            return self._publish_blind(env, bundle, str(pv["audience"]["channel"]))
        return self._publish_call("/api/v1/envelopes",
                                  content=orjson.dumps(envelope_to_json(env)),
                                  headers={"Content-Type": "application/json"})

    def check_preview(self, pv: dict[str, Any], *, tlp: str, to: Sequence[str],
                       purpose: str | None, no_onward: bool, codes: Sequence[str]) -> Form:
        """The form this client decides for the share (``share_form``: plain only for a
        community-wide TLP:CLEAR/GREEN share), after checking that the node's preview
        keeps the marking, handling and named recipients asked for. A preview that
        would send a sealed-level share in plain is refused (``client.form_downgrade``)."""
        from vigil.stix.tlp import parse_tlp

        want = parse_tlp(tlp)
        aud = pv["audience"]
        named = [t for t in to if t.startswith(("member:", "identity--"))]
        channels = [t for t in to if t not in named]
        h = pv["handling"]
        if (aud["tlp"] != want.value or bool(aud["channel"]) != bool(channels)
                or bool(h["no_onward"]) != bool(no_onward) or (h["purpose"] or None) !=
                (purpose or None) or sorted(h["codes"]) != sorted(set(codes))):
            raise CryptoError("the node's preview changed the marking, audience or handling "
                              "asked for", code="client.preview_mismatch")
        if named:
            me = self.keyring.member_id if self.keyring else None
            want_names = {t.removeprefix("member:") for t in named if t.startswith("member:")}
            want_ids = {t for t in named if t.startswith("identity--")} - {me}
            got = {(str(r["id"]), str(r["name"])) for r in pv["recipients"]}
            own = self.me()["member"]["name"] if want_names else None
            # exactly the members named (less this one): none added, none left out
            if not (all(i in want_ids or n in want_names for i, n in got)
                    and want_ids <= {i for i, _ in got}
                    and want_names - {own} <= {n for _, n in got}):
                raise CryptoError("the node's preview names other recipients than asked for",
                                  code="client.preview_mismatch")
        kind: ChannelKind | None = None
        if channels and not named and want in WIDE_TLPS:  # else sealed, whatever its kind
            kind = ChannelKind(self.channel(str(aud["channel"]))["kind"])
        elif channels:
            kind = ChannelKind.GROUP
        form = share_form(want, explicit=bool(named), channel_kind=kind)
        if form is Form.SEALED and pv["form"] != Form.SEALED.value:
            raise CryptoError(f"the node asked for a TLP:{want.value.upper()} share in "
                              f"{pv['form']}; this client seals it", code="client.form_downgrade")
        return form

    # -- channel keys and blind tokens ------------------------------------------------
