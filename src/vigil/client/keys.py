"""The member's client in the key life cycle: it makes new keys, signs the statements,
keeps its old keys until every share it still holds is wrapped again to the new key,
and checks other members' old and revoked keys against the node's log.

* :func:`rotate`: a new keyring (same suites unless told), the statement signed by the
  old and the new key, the node takes it; the old keyring is kept beside the new one
  (``<keyring>.retired-<n>``) and :func:`rewrap` moves the held shares to the new key.
* :func:`register_recovery` / :func:`recover`: a recovery keyring made ahead of time,
  kept offline, and used after a compromise (the node has revoked the old key).
* :func:`signing_key`: the public key a share's signer used, current or retired, taken
  only with the log proof of the entry that introduced it; a revoked key verifies only
  shares logged before its revocation point (``keys.revoked`` otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keyring import (
    Keyring,
    create_token_keyring,
    is_token_keyring,
    load_keyring,
    write_keyring,
)
from vigil.crypto.keys import alg_of, is_hybrid, key_id, sign_alg_of_public
from vigil.crypto.seal import open_payload, unwrap_key, wrap_key
from vigil.errors import CryptoError, VigilError
from vigil.model import Envelope, Form, Wrap
from vigil.protocol import key_statements as statements
from vigil.protocol.directory_entries import member_signature, rotation_after
from vigil.protocol.envelope import open_share
from vigil.protocol.witnessing import SIGNED_BEFORE_REVOCATION as SIGNED_BEFORE_REVOCATION

if TYPE_CHECKING:
    from vigil.client import Client
    from vigil.client.proofs import LogProofs
    from vigil.client.session import Session



def _retired_path(path: Path) -> Path:
    n = 1
    while (p := path.with_name(f"{path.name}.retired-{n}")).exists():
        n += 1
    return p


def rotate(client: Client, path: Path, passphrase: str, *, hybrid: bool | None = None,
           pkcs11: str | None = None) -> Keyring:
    """Rotate the member's keys: new keys (in a keyring file under ``passphrase``, or in
    the token ``pkcs11`` names), the statement signed by old and new, sent to the node.
    The old keyring moves to ``<path>.retired-<n>``; the client's keyring becomes the
    new one."""
    old = client.keyring
    if old is None:
        raise CryptoError("rotating needs the member's keyring", code="client.no_keyring")
    last = _last_directory_entry(client, old.member_id)
    new, retired = _new_keys(old, path, passphrase, hybrid, pkcs11)
    doc = statements.signed(statements.rotation(old.member_id, old, new),
                            old=old.sign_private, new=new.sign_private)
    if last is not None:  # the same rotation in the key directory, signed by the old key
        entry = rotation_after(last, new.sign_public, new.enc_public)
        doc["directory"] = {"entry": entry, "sig": member_signature(entry, old.sign_private)}
    try:
        client._call("POST", "/api/v1/keys/rotate", json=doc)
    except BaseException:
        _undo(path, retired)
        raise
    client.keyring = new
    client.retired_keyrings.append(old)
    client.forget_member(old.member_id)
    return new


def _last_directory_entry(client: Client, member: str) -> dict[str, Any] | None:
    """The member's last entry in its home node's key directory (none when the node
    does not federate or the member has no entry). A rotation extends it, so peers
    take the new keys; the member's monitor checks what the node then logs."""
    try:
        answer = client._call("GET", "/fed/v1/directory/lookup", params={"member": member})
    except VigilError as e:
        if e.code != "dir.not_witnessed" and e.status == 404:
            return None  # fed.off, dir.unknown_member
        raise  # dir.not_witnessed: the last entry is being witnessed; again in a second
    entries = answer.get("entries") if isinstance(answer, dict) else None
    if not entries:
        return None
    last: dict[str, Any] = entries[-1]["entry"]
    return last


def _new_keys(old: Keyring, path: Path, passphrase: str, hybrid: bool | None,
              pkcs11: str | None) -> tuple[Keyring, Path]:
    hybrid = is_hybrid(old.sign_key_id) if hybrid is None else hybrid
    retired = _retired_path(path)
    path.rename(retired)
    try:
        if pkcs11:
            new = create_token_keyring(path, old.member_id, pkcs11)
        else:
            new = Keyring.generate(old.member_id, hybrid=hybrid)
            write_keyring(path, new, passphrase)
    except BaseException:
        retired.rename(path)
        raise
    return new, retired


def _undo(path: Path, retired: Path) -> None:
    path.unlink(missing_ok=True)
    retired.rename(path)


def register_recovery(client: Client, recovery_path: Path, passphrase: str) -> Keyring:
    """Make a recovery keyring at ``recovery_path`` (to be kept offline) and register its
    signing key with the node, vouched for by the member's current key."""
    kr = client.keyring
    if kr is None:
        raise CryptoError("registering a recovery key needs the member's keyring",
                          code="client.no_keyring")
    rec = Keyring.generate(kr.member_id, hybrid=is_hybrid(kr.sign_key_id))
    write_keyring(recovery_path, rec, passphrase)
    doc = statements.signed(statements.recovery_key(kr, rec.sign_private),
                            old=kr.sign_private, new=rec.sign_private)
    try:
        client._call("POST", "/api/v1/keys/recovery", json=doc)
    except BaseException:
        recovery_path.unlink(missing_ok=True)
        raise
    return rec


def recover(client: Client, recovery: Keyring, path: Path, passphrase: str, *,
            pkcs11: str | None = None) -> Keyring:
    """After a compromise: new keys at ``path``, vouched for by the recovery key. The
    compromised keyring (if still at ``path``) is kept aside as ``.retired-<n>``."""
    me = client.me()["member"]
    prev = {"sign_key": me["sign_key"]["id"], "enc_key": me["enc_key"]["id"]}
    hybrid = is_hybrid(prev["sign_key"])
    if path.exists():
        retired = _retired_path(path)
        path.rename(retired)
    if pkcs11:
        new = create_token_keyring(path, me["id"], pkcs11)
    else:
        new = Keyring.generate(me["id"], hybrid=hybrid)
        write_keyring(path, new, passphrase)
    doc = statements.signed(statements.rotation(me["id"], prev, new, event="recover"),
                            recovery=recovery.sign_private, new=new.sign_private)
    client._call("POST", "/api/v1/keys/recover", json=doc)
    if client.keyring is not None:
        client.retired_keyrings.append(client.keyring)
    client.keyring = new
    client.forget_member(me["id"])
    return new


def load_retired(path: Path, passphrase: str) -> list[Keyring]:
    """The keyrings a rotation kept beside ``path`` (``.retired-<n>``), oldest first."""
    out = []
    n = 1
    while (p := path.with_name(f"{path.name}.retired-{n}")).exists():
        out.append(load_keyring(p, "" if is_token_keyring(p) else passphrase,
                                allow_empty=is_token_keyring(p)))
        n += 1
    return out


def open_held(client: Session, env: Envelope) -> bytes:
    """The payload of a share for this member: with its current key, a re-wrapped
    content key for it, or a retired key the client still has."""
    kr = client.keyring
    if kr is None:
        raise CryptoError("opening needs the member's keyring", code="client.no_keyring")
    if env.form is Form.PLAIN:
        return bytes(env.payload)
    mine = [w for w in env.wraps if w.member == kr.member_id]
    if mine and mine[0].key == kr.enc_key_id:
        return open_share(env, kr.member_id, kr.enc_private)
    for old in client.retired_keyrings:
        if mine and mine[0].key == old.enc_key_id:
            return open_share(env, kr.member_id, old.enc_private)
    got = client._call("GET", f"/api/v1/shares/{env.id}/rewrap")
    if got.get("key") != kr.enc_key_id:
        raise CryptoError("no wrapped key for this member's current key",
                          code="crypto.no_wrap")
    w = Wrap(member=kr.member_id, key=kr.enc_key_id, blob=b64u_decode(str(got["blob"])))
    return open_payload(env.id, env.payload, unwrap_key(env.id, w, kr.enc_private))


def rewrap(client: Client, share_ids: Sequence[str] | None = None, *, batch: int = 200
           ) -> int:
    """Wrap the content key of every share the member still holds (its inbox, or
    ``share_ids``) again to its current key, on this client, with the retired keys it
    kept; the node stores the new wraps beside the envelopes. The number re-wrapped."""
    kr = client.keyring
    if kr is None:
        raise CryptoError("re-wrapping needs the member's keyring", code="client.no_keyring")
    old = {o.enc_key_id: o for o in client.retired_keyrings}
    ids = list(share_ids) if share_ids is not None else _held(client)
    pending: list[dict[str, str]] = []
    done = 0
    for sid in ids:
        env, _ = client.envelope(sid)
        if env.form is Form.PLAIN:
            continue
        mine = [w for w in env.wraps if w.member == kr.member_id]
        if not mine or mine[0].key == kr.enc_key_id or mine[0].key not in old:
            continue
        k = unwrap_key(env.id, mine[0], old[mine[0].key].enc_private)
        w = wrap_key(env.id, k, kr.member_id, kr.enc_key_id, kr.enc_public)
        pending.append({"share": env.id, "key": w.key, "blob": b64u(w.blob)})
        if len(pending) >= batch:
            done += client._call("POST", "/api/v1/rewraps", json={"rewraps": pending})["stored"]
            pending = []
    if pending:
        done += client._call("POST", "/api/v1/rewraps", json={"rewraps": pending})["stored"]
    return done


def _held(client: Client) -> list[str]:
    out: list[str] = []
    after = 0
    while True:
        doc = client._call("GET", "/api/v1/inbox", params={"after": after, "limit": 500})
        entries = doc.get("entries") or []
        out += [str(e["share_id"]) for e in entries]
        nxt = int(doc.get("next", after))
        if not entries or nxt == after:
            return out
        after = nxt


def signing_key(client: LogProofs, m: dict[str, Any], env: Envelope) -> tuple[bytes, str]:
    """The public key that signed ``env`` (``m`` its originator, proven) and a note:
    ``""``, or ``"signed before revocation"``. ``crypto.unknown_key`` if the key is not
    one the log names for the member; ``keys.revoked`` if the share is logged at or after
    the key's revocation point; ``keys.order_unproven`` for a key another node's member's
    home revoked (``revoked_at_home``): its point is in the home's log, not this node's,
    and only the home's witnessed log proves the share before it."""
    kid = str(env.header["key"])
    latest = (m.get("log") or {}).get("entry") or {}
    current_ok = m["sign_key"]["id"] == kid and latest.get("event") != "revoke"
    if current_ok or (not client.verify_log and m["sign_key"]["id"] == kid):
        return b64u_decode(m["sign_key"]["public"]), ""
    keys = client._call("GET", f"/api/v1/members/{m['id']}/keys")["keys"]
    rec = next((k for k in keys if k.get("id") == kid and k.get("use") == "sign"), None)
    if rec is None:
        raise CryptoError("signed with a key that is not the member's",
                          code="crypto.unknown_key")
    public = b64u_decode(str(rec["public"]))
    if key_id(sign_alg_of_public(public), public) != kid or alg_of(kid) != rec.get("alg"):
        raise CryptoError("the node served another key under this id",
                          code="log.key_mismatch")
    if client.verify_log:
        _proof(client, rec.get("log"), m["id"], kid, ("add", "rotate", "recover"))
    revoked = rec.get("revoked")
    if not revoked and rec.get("revoked_at_home"):
        raise CryptoError(f"signed with {kid}, which its home node revoked: that this share "
                          "was logged there before the revocation is proven only with the "
                          "home's witnessed log (pin the witnesses: TrustingClient, "
                          "--witnesses)", code="keys.order_unproven")
    if not revoked:
        return public, ""
    from_index = int(revoked["from_index"])
    if client.verify_log:
        entry = _proof(client, rec.get("revoke_log"), m["id"], kid, ("revoke",))
        from_index = int(entry["from_index"])
    try:
        index = client._logged(env, None)
    except VigilError:  # no proof of its place: it cannot be shown to come before
        index = None
    if index is None or index >= from_index:
        raise CryptoError(f"signed with {kid}, revoked since {revoked.get('since')}: "
                          "refused", code="keys.revoked")
    return public, SIGNED_BEFORE_REVOCATION


def _proof(client: LogProofs, log: Any, member: str, kid: str, events: tuple[str, ...]
           ) -> dict[str, Any]:
    entry = (log or {}).get("entry") if isinstance(log, dict) else None
    if not isinstance(entry, dict):
        raise CryptoError("a member's old key came without the log proof of its entry",
                          code="log.missing_proof")
    if entry.get("kind") != "member" or entry.get("member") != member or \
            entry.get("event") not in events or entry.get("sign_key") != kid:
        raise CryptoError("the log entry served is not the one for this key",
                          code="log.key_mismatch")
    client.log_verifier().verify_entry(entry, log)
    return entry
