"""Signed key statements: what a member's client signs to rotate its keys, to register
a recovery key, and to recover with it (tag ``vigil/key/v1``, docs/keys.md).

Every statement is a JCS object::

    {"v": 1, "event": "rotate" | "recover" | "recovery-key", "member": "identity--…",
     "at": RFC 3339, "previous": {"sign_key": id, "enc_key": id},
     "sign_key": {"id", "public"}, "enc_key": {"id", "public"}}      (rotate, recover)
     "recovery_key": {"id", "public"}                                 (recovery-key)

and carries two signatures over ``signed_bytes("vigil/key/v1", statement)``:

* ``rotate``: ``old`` by the previous signing key and ``new`` by the new one (the old
  key vouches for the new; the new proves it is held);
* ``recovery-key``: ``old`` by the current signing key and ``new`` by the recovery key;
* ``recover``: ``recovery`` by the registered recovery key and ``new`` by the new key
  (after a compromise the old key vouches for nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil import clock, params
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keyring import Keyring
from vigil.crypto.keys import (
    ENC_ALGS,
    SIGN_ALGS,
    SignPrivate,
    alg_of,
    enc_alg_of_public,
    is_key_id,
    key_id,
    sign_alg_of_public,
    sign_key_id,
    sign_public_raw,
)
from vigil.crypto.sign import TAG_KEY_EVENT, sign, verify
from vigil.errors import CryptoError, InputError

EVENTS = ("rotate", "recover", "recovery-key")
SIGNERS: dict[str, tuple[str, str]] = {"rotate": ("old", "new"),
                                       "recovery-key": ("old", "new"),
                                       "recover": ("recovery", "new")}


def _key(kid: str, public: bytes) -> dict[str, str]:
    return {"id": kid, "public": b64u(public)}


def rotation(member: str, previous: Keyring | Mapping[str, str], new: Keyring, *,
             event: str = "rotate") -> dict[str, Any]:
    """The statement of a rotation (or, with ``event="recover"``, a recovery) from
    ``previous`` (a keyring or its two key ids) to ``new``."""
    prev = previous if isinstance(previous, Mapping) else \
        {"sign_key": previous.sign_key_id, "enc_key": previous.enc_key_id}
    return {"v": 1, "event": event, "member": member, "at": clock.now(),
            "previous": {"sign_key": prev["sign_key"], "enc_key": prev["enc_key"]},
            "sign_key": _key(new.sign_key_id, new.sign_public),
            "enc_key": _key(new.enc_key_id, new.enc_public)}


def recovery_key(current: Keyring, recovery: SignPrivate) -> dict[str, Any]:
    return {"v": 1, "event": "recovery-key", "member": current.member_id, "at": clock.now(),
            "previous": {"sign_key": current.sign_key_id, "enc_key": current.enc_key_id},
            "recovery_key": _key(sign_key_id(recovery), sign_public_raw(recovery))}


def signed(statement: Mapping[str, Any], **signers: SignPrivate) -> dict[str, Any]:
    """``{"statement": …, "signatures": {role: b64u}}`` with each role's signature."""
    return {"statement": dict(statement),
            "signatures": {role: b64u(sign(TAG_KEY_EVENT, statement, key))
                           for role, key in signers.items()}}


def _bad(what: str) -> InputError:
    return InputError(f"key statement: {what}", code="keys.bad_statement")


def public_of(item: Any, algs: frozenset[str], what: str) -> tuple[str, bytes]:
    """(key id, raw public key) of a ``{"id", "public"}`` item, checked."""
    if not isinstance(item, Mapping) or set(item) != {"id", "public"}:
        raise _bad(f"{what} must be {{id, public}}")
    try:
        raw = b64u_decode(str(item["public"]))
        alg = sign_alg_of_public(raw) if algs == SIGN_ALGS else enc_alg_of_public(raw)
    except (ValueError, CryptoError) as e:
        raise _bad(f"{what} is not a public key") from e
    kid = str(item["id"])
    if not is_key_id(kid) or alg_of(kid) not in algs or key_id(alg, raw) != kid:
        raise _bad(f"{what} id does not name its public key")
    return kid, raw


def check(doc: Any, member: str, event: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The statement and its signatures (raw), well formed for ``member`` and ``event``
    (signatures not yet checked: :func:`check_signature`)."""
    if not isinstance(doc, Mapping) or set(doc) != {"statement", "signatures"}:
        raise _bad("the body is {statement, signatures}")
    st, sigs = doc["statement"], doc["signatures"]
    if not isinstance(st, Mapping) or st.get("v") != 1 or st.get("event") != event:
        raise _bad(f"not a {event} statement")
    if st.get("member") != member:
        raise _bad("a member states only its own keys")
    want = {"v", "event", "member", "at", "previous"} | (
        {"recovery_key"} if event == "recovery-key" else {"sign_key", "enc_key"})
    if set(st) != want:
        raise _bad(f"fields must be {sorted(want)}")
    try:
        params.instant(str(st["at"]), "at")
    except InputError as e:
        raise _bad("at is not an RFC 3339 time") from e
    prev = st["previous"]
    if not isinstance(prev, Mapping) or set(prev) != {"sign_key", "enc_key"}:
        raise _bad("previous must be {sign_key, enc_key}")
    if not isinstance(sigs, Mapping) or set(sigs) != set(SIGNERS[event]):
        raise _bad(f"signatures must be {list(SIGNERS[event])}")
    try:
        raw = {k: b64u_decode(str(v)) for k, v in sigs.items()}
    except ValueError as e:
        raise _bad("signatures must be base64url") from e
    if event != "recovery-key":
        public_of(st["sign_key"], SIGN_ALGS, "sign_key")
        public_of(st["enc_key"], ENC_ALGS, "enc_key")
    else:
        public_of(st["recovery_key"], SIGN_ALGS, "recovery_key")
    return dict(st), raw


def check_signature(statement: Mapping[str, Any], signature: bytes, public: bytes,
                    who: str) -> None:
    try:
        verify(TAG_KEY_EVENT, statement, signature, public)
    except CryptoError as e:
        raise CryptoError(f"the key statement's {who} signature does not verify",
                          code="keys.bad_signature") from e
