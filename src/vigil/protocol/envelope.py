"""Share envelopes: build, verify, open, and their JSON wire form.

An envelope is a signed header, the stored payload bytes (plaintext for plain shares,
``nonce || AES-256-GCM ciphertext`` for sealed ones) and, for sealed shares, one
wrapped content key per recipient. The header is signed over its RFC 8785 canonical
JSON with the tag ``vigil/share/v1``; it carries the payload's size and SHA-256 and the
digest of the wraps, so a node checks integrity without decrypting. The format is
stated in docs/protocol.md.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import (
    ENC_ALGS,
    SIGN_ALGS,
    SIGNATURE_LENS,
    EncPrivate,
    SignPrivate,
    alg_of,
    is_key_id,
    key_id,
    sign_alg_of_public,
    sign_key_id,
)
from vigil.crypto.seal import (
    open_payload,
    seal_payload,
    seal_suite,
    unwrap_key,
    wrap_key,
    wrap_well_formed,
    wraps_digest,
    wraps_json,
)
from vigil.crypto.sign import TAG_SHARE, sign, verify, verify_canonical
from vigil.errors import CryptoError, InputError
from vigil.intel import evaluation as intel_evaluation
from vigil.intel import legal as intel_legal
from vigil.model import (
    Audience,
    Envelope,
    Evaluation,
    Form,
    Handling,
    LegalBasis,
    PostedBy,
    Provenance,
    ShareHeader,
    Tlp,
    Wrap,
)
from vigil.protocol.header_form import (
    MEMBER_ID_RE,
    SHARE_ID_RE,
    STIX_MEDIA_TYPE,
    check_header,
    fields,
    malformed,
    string,
)

# ---------------------------------------------------------------------------- helpers


def utc_now_ms() -> str:
    """The current time as RFC 3339 UTC with milliseconds, e.g. 2026-11-29T08:00:00.000Z."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


SHARE_ID_TAG = b"vigil/share-id/v1\0"
_TAG_HEX = 12  # the first 48 bits of a share id name its originator


def _originator_tag(originator: str) -> str:
    return hashlib.sha256(SHARE_ID_TAG + originator.encode()).hexdigest()[:_TAG_HEX]


def new_share_id(originator: str) -> str:
    """A fresh share id bound to its originator: a UUIDv4 whose first 48 bits are
    ``sha256("vigil/share-id/v1" || 0x00 || originator)`` (the other 74 random bits
    stay random). Ids of two originators thus never collide, so whether an id is free
    never depends on another member's shares (docs/protocol.md, "Share ids")."""
    u = uuid.uuid4().hex
    tag = _originator_tag(originator)
    return f"share--{tag[:8]}-{tag[8:]}-{u[12:16]}-{u[16:20]}-{u[20:]}"


def share_id_bound(share_id: str, originator: str) -> bool:
    """Is this share id one made for this originator by ``new_share_id``?"""
    tag = _originator_tag(originator)
    return share_id.startswith(f"share--{tag[:8]}-{tag[8:]}-")


def payload_digest(stored: bytes) -> str:
    """``"sha256:" + hex(sha256(stored payload bytes))``."""
    return "sha256:" + hashlib.sha256(stored).hexdigest()



def share_header(
    *,
    share_id: str,
    originator: str,
    signer_key_id: str,
    audience: Audience,
    recipients: Sequence[str],
    form: Form,
    handling: Handling,
    themes: Sequence[str],
    regions: Sequence[str],
    expires: str | None,
    created: str,
    payload: bytes,
    wraps: Sequence[Wrap] = (),
    provenance: Provenance = Provenance.ORIGINATOR,
    posted_by: Mapping[str, str] | None = None,
    media_type: str = STIX_MEDIA_TYPE,
    evaluation: Evaluation | None = None,
    legal: LegalBasis | None = None,
    personal_data: bool = False,
) -> ShareHeader:
    """The header of a share whose stored payload bytes are ``payload`` (ciphertext
    for sealed shares): lists sorted and de-duplicated, digests computed, checked with
    :func:`check_header`. This is exactly what :func:`build_share` signs."""
    form = Form(form)
    provenance = Provenance(provenance)
    header: ShareHeader = {
        "v": 1,
        "kind": "share",
        "id": share_id,
        "originator": originator,
        "key": signer_key_id,
        "provenance": provenance.value,
        "created": created,
        "expires": expires,
        "audience": {
            "tlp": Tlp(audience.tlp).value,
            "channel": audience.channel,
            "recipients": sorted(set(recipients)),
        },
        "handling": {
            "purpose": handling.purpose,
            "no_onward": handling.no_onward,
            "codes": sorted(set(handling.codes)),
        },
        "themes": sorted(set(themes)),
        "regions": sorted(set(regions)),
        "payload": {
            "media_type": media_type,
            "form": form.value,
            "size": len(payload),
            "digest": payload_digest(payload),
        },
    }
    if evaluation is not None:
        header["evaluation"] = intel_evaluation.to_header(evaluation)
    if legal is not None:
        header["legal"] = intel_legal.to_header(legal, personal_data)
    elif personal_data:
        raise malformed("/header/legal", "personal data needs a legal basis")
    if provenance is Provenance.ATTESTED:
        if posted_by is None:
            raise malformed("/header/posted_by", "required for attested shares")
        header["posted_by"] = cast(PostedBy, dict(posted_by))  # check_header checks it
    elif posted_by is not None:
        raise malformed("/header/posted_by", "only for attested shares")
    if form is Form.SEALED:
        header["seal"] = {"suite": seal_suite(wraps), "wraps_digest": wraps_digest(wraps)}
    elif wraps:
        raise malformed("/wraps", "a plain share has no wraps")
    check_header(header)
    return header


# --------------------------------------------------------------------------- build


def build_share(
    *,
    plaintext: bytes,
    originator: str,
    audience: Audience,
    recipients: Sequence[str],
    form: Form,
    handling: Handling,
    themes: Sequence[str],
    regions: Sequence[str],
    expires: str | None,
    signer_private: SignPrivate,
    signer_key_id: str,
    recipient_keys: Mapping[str, tuple[str, bytes]],
    provenance: Provenance = Provenance.ORIGINATOR,
    posted_by: Mapping[str, str] | None = None,
    share_id: str | None = None,
    created: str | None = None,
    media_type: str = STIX_MEDIA_TYPE,
    sealed: tuple[bytes, bytes] | None = None,
    evaluation: Evaluation | None = None,
    legal: LegalBasis | None = None,
    personal_data: bool = False,
) -> Envelope:
    """Build and sign a share envelope.

    ``recipients`` is the resolved recipient list written into the header. For a
    sealed share, ``recipient_keys`` maps member id -> (encryption key id, raw public key)
    and must hold every recipient, plus optionally the originator, and no one else;
    each gets one wrap. For a plain share ``recipient_keys`` is ignored. An attested
    share (``provenance=ATTESTED``, ``posted_by={"member": originator, "user": …}``)
    is signed by the receiving node's key. ``sealed`` is ``seal_payload(share_id,
    plaintext)`` when the caller already encrypted the payload (e.g. in a worker).
    """
    if signer_key_id != sign_key_id(signer_private):
        raise CryptoError("signer_key_id does not name signer_private", code="crypto.key_mismatch")
    sid = new_share_id(originator) if share_id is None else share_id
    if not isinstance(sid, str) or not SHARE_ID_RE.fullmatch(sid):
        raise malformed("/header/id", "must be share--<uuid4>")
    form = Form(form)
    wraps: tuple[Wrap, ...] = ()
    if form is Form.SEALED:
        wanted = set(recipients)
        missing = sorted(wanted - set(recipient_keys))
        extra = sorted(set(recipient_keys) - wanted - {originator})
        if missing or extra:
            raise InputError(
                "recipient_keys must hold every recipient (and optionally the originator)",
                code="envelope.recipient_keys",
                detail={"missing": missing, "unexpected": extra},
            )
        assert sealed is None or share_id is not None, "sealed beforehand for which id?"
        stored, content_key = seal_payload(sid, plaintext) if sealed is None else sealed
        wraps = tuple(
            wrap_key(sid, content_key, member, recipient_keys[member][0], recipient_keys[member][1])
            for member in sorted(recipient_keys)
        )
    else:
        stored = bytes(plaintext)
    header = share_header(
        share_id=sid,
        originator=originator,
        signer_key_id=signer_key_id,
        audience=audience,
        recipients=recipients,
        form=form,
        handling=handling,
        themes=themes,
        regions=regions,
        expires=expires,
        created=utc_now_ms() if created is None else created,
        payload=stored,
        wraps=wraps,
        provenance=provenance,
        posted_by=posted_by,
        media_type=media_type,
        evaluation=evaluation,
        legal=legal,
        personal_data=personal_data,
    )
    return Envelope(header, sign(TAG_SHARE, header, signer_private), stored, wraps)


# -------------------------------------------------------------------------- verify


def verify_header(env: Envelope, signer_public_raw: bytes, *, checked: bool = False,
                  header_jcs: bytes | None = None) -> None:
    """The first checks of :func:`verify_envelope`: the key, the signature and the
    header's structure -- all that is left to check of a recalled or purged share,
    whose payload and wraps the node removed. ``checked``: the header's structure was
    checked already (:func:`envelope_from_json` does), so it is not walked again.
    ``header_jcs``: ``canonical(env.header)``, when the caller made it already."""
    header = env.header
    claimed = header.get("key") if isinstance(header, Mapping) else None
    alg = alg_of(str(claimed)) if is_key_id(claimed) else None
    if (alg not in SIGN_ALGS or claimed != key_id(str(alg), signer_public_raw)
            or alg != sign_alg_of_public(signer_public_raw)):
        raise CryptoError(
            "header.key does not name the signer's public key", code="crypto.key_mismatch"
        )
    if header_jcs is None:
        verify(TAG_SHARE, header, env.signature, signer_public_raw)
    else:
        verify_canonical(TAG_SHARE, header_jcs, env.signature, signer_public_raw)
    if not checked:
        check_header(header)


def verify_envelope(env: Envelope, signer_public_raw: bytes, *, checked: bool = False,
                    header_jcs: bytes | None = None) -> None:
    """Check an envelope without decrypting it; raise ``CryptoError`` on any fault.

    ``signer_public_raw`` is the originator's signing key (ed25519 or ed25519+mldsa65)
    for ``provenance: "originator"`` and the attesting node's key for ``"attested"``
    (the caller picks it and checks it is not revoked). Checks, in order: header.key
    names that key in its suite (``crypto.key_mismatch``); the signature of that suite
    (``crypto.bad_signature``); the header's structure (``envelope.malformed``,
    InputError); payload size and SHA-256 (``crypto.digest_mismatch``); for sealed
    shares the wraps digest (``crypto.wraps_mismatch``), that the wraps are in the
    header's seal suite (``crypto.bad_wraps``) and that there is exactly one
    well-formed wrap for each recipient, optionally one for the originator, and none
    for anyone else
    (``crypto.bad_wraps``); a plain share has no wraps (``crypto.bad_wraps``).
    ``checked``: as for :func:`verify_header`, an envelope just parsed by
    :func:`envelope_from_json`, whose header's structure that checked; ``header_jcs``
    as for :func:`verify_header`.
    """
    verify_header(env, signer_public_raw, checked=checked, header_jcs=header_jcs)
    header = env.header
    pl = header["payload"]
    if pl["size"] != len(env.payload) or pl["digest"] != payload_digest(env.payload):
        raise CryptoError("payload does not match its digest", code="crypto.digest_mismatch")
    if header["payload"]["form"] == Form.PLAIN.value:
        if env.wraps:
            raise CryptoError("a plain share has no wraps", code="crypto.bad_wraps")
        return
    if wraps_digest(env.wraps) != header["seal"]["wraps_digest"]:
        raise CryptoError("wraps do not match their digest", code="crypto.wraps_mismatch")
    if seal_suite(env.wraps) != header["seal"]["suite"]:
        raise CryptoError("the wraps are not in the header's seal suite",
                          code="crypto.bad_wraps")
    recipients = set(header["audience"]["recipients"])
    allowed = recipients | {header["originator"]}
    seen: set[str] = set()
    for w in env.wraps:
        if w.member not in allowed or w.member in seen:
            raise CryptoError(
                f"unexpected or duplicate wrap for {w.member}", code="crypto.bad_wraps"
            )
        if not wrap_well_formed(w):
            raise CryptoError(f"malformed wrap for {w.member}", code="crypto.bad_wraps")
        seen.add(w.member)
    if not recipients <= seen:
        raise CryptoError(
            "recipients without a wrap: " + ", ".join(sorted(recipients - seen)),
            code="crypto.bad_wraps",
        )


# ---------------------------------------------------------------------------- open


def open_share(env: Envelope, member_id: str, enc_private: EncPrivate) -> bytes:
    """The plaintext payload, opened as ``member_id`` with its private encryption key.

    Plain shares return the payload as stored. For sealed shares: ``crypto.no_wrap`` if
    the envelope holds no wrap for ``member_id``; ``crypto.open_failed`` if the wrap or
    the payload does not open (wrong key, or a wrap or payload moved from elsewhere).
    Call :func:`verify_envelope` first: this checks confidentiality, not authorship.
    """
    if env.form is Form.PLAIN:
        return bytes(env.payload)
    mine = [w for w in env.wraps if w.member == member_id]
    if len(mine) != 1:
        raise CryptoError(f"no wrapped key for {member_id}", code="crypto.no_wrap")
    content_key = unwrap_key(env.id, mine[0], enc_private)
    return open_payload(env.id, env.payload, content_key)


# ------------------------------------------------------------------------------ wire


def _json_copy(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _json_copy(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_copy(x) for x in v]
    return v


def envelope_to_json(env: Envelope) -> dict[str, Any]:
    """The wire form: ``{header, signature, payload, wraps: [{member, key, blob}]}``,
    every binary value base64url without padding, wraps sorted by member."""
    return {
        "header": _json_copy(env.header),
        "signature": b64u(env.signature),
        "payload": b64u(env.payload),
        "wraps": wraps_json(env.wraps),
    }


def _b64(v: Any, pointer: str) -> bytes:
    if not isinstance(v, str):
        raise malformed(pointer, "must be a base64url string")
    try:
        return b64u_decode(v)
    except ValueError as e:
        raise malformed(pointer, "must be base64url without padding") from e


def envelope_from_json(d: Any, *, owned: bool = False) -> Envelope:
    """Parse the wire form strictly; ``envelope.malformed`` (InputError, with pointer)
    for any unknown or missing field, wrong type, or bad base64url. Does not verify.
    ``owned``: ``d`` is the caller's to give away (JSON it parsed for this), so the
    envelope keeps its header rather than a copy."""
    doc = fields(d, "", {"header", "signature", "payload", "wraps"})
    check_header(doc["header"])
    signature = _b64(doc["signature"], "/signature")
    if len(signature) != SIGNATURE_LENS[alg_of(doc["header"]["key"])]:
        raise malformed("/signature", "must be a signature of the suite of header.key")
    payload = _b64(doc["payload"], "/payload")
    if not isinstance(doc["wraps"], list):
        raise malformed("/wraps", "must be an array")
    wraps = []
    for i, w in enumerate(doc["wraps"]):
        p = f"/wraps/{i}"
        wd = fields(w, p, {"member", "key", "blob"})
        member = string(wd["member"], f"{p}/member", MEMBER_ID_RE, "identity--<uuid>")
        if not is_key_id(wd["key"]) or alg_of(wd["key"]) not in ENC_ALGS:
            raise malformed(f"{p}/key", "must be an x25519 or mlkem768x25519 key id")
        wraps.append(Wrap(member=member, key=wd["key"], blob=_b64(wd["blob"], f"{p}/blob")))
    header = doc["header"] if owned else _json_copy(doc["header"])
    return Envelope(header, signature, payload, tuple(wraps))
