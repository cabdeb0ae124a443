"""Blind correlation, the member's part: channel keys sealed to each member, and the keyed
tokens of observables a client sends beside a sealed share. The node's part (storing sealed
copies, matching tokens) is ``vigil.analysis.blind``; the scheme is described there.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from vigil.crypto.kem import hpke_open, hpke_seal
from vigil.crypto.keys import ENC_ALGS, EncPrivate, alg_of, enc_key_id, is_key_id, key_id
from vigil.errors import CryptoError

CHANNEL_KEY_INFO_PREFIX = b"vigil/channel-key/v1\0"
TOKEN_PREFIX = b"vigil/blind-token/v1\0"
CHANNEL_KEY_LEN = 32
TOKEN_LEN = 32

# -- keys and tokens ---------------------------------------------

def channel_key_info(channel_id: str, epoch: int, member_id: str, enc_key_id: str) -> bytes:
    for part in (channel_id, member_id, enc_key_id):
        if not part or "\0" in part:
            raise CryptoError("channel key context must be non-empty without NUL",
                              code="crypto.bad_context")
    return (CHANNEL_KEY_INFO_PREFIX + channel_id.encode() + b"\0" + str(epoch).encode()
            + b"\0" + member_id.encode() + b"\0" + enc_key_id.encode())


def new_channel_key() -> bytes:
    return os.urandom(CHANNEL_KEY_LEN)


def seal_channel_key(key: bytes, channel_id: str, epoch: int, member_id: str,
                     enc_key_id: str, public_raw: bytes) -> bytes:
    """HPKE-seal a channel key to one member's encryption key, in the suite of its key
    id (``x25519`` or ``mlkem768x25519``, as the wraps): ``enc || ciphertext``."""
    if len(key) != CHANNEL_KEY_LEN:
        raise CryptoError("a channel key is 32 bytes", code="crypto.bad_key")
    alg = alg_of(enc_key_id) if is_key_id(enc_key_id) else ""
    if alg not in ENC_ALGS or key_id(alg, public_raw) != enc_key_id:
        raise CryptoError(f"key id {enc_key_id!r} does not name the given key",
                          code="crypto.key_mismatch")
    return hpke_seal(alg, public_raw, key,
                     channel_key_info(channel_id, epoch, member_id, enc_key_id))


def open_channel_key(blob: bytes, channel_id: str, epoch: int, member_id: str,
                     private: EncPrivate) -> bytes:
    kid = enc_key_id(private)
    try:
        key = hpke_open(bytes(blob), private, channel_key_info(channel_id, epoch, member_id, kid))
    except CryptoError as exc:
        raise CryptoError("the sealed channel key cannot be opened",
                          code="crypto.open_failed") from exc
    if len(key) != CHANNEL_KEY_LEN:
        raise CryptoError("the channel key has the wrong length", code="crypto.open_failed")
    return key


def token(key: bytes, observable_key: str) -> bytes:
    """The blind token of one normalised observable (``Observable.key``, ``kind:value``)."""
    return hmac.new(key, TOKEN_PREFIX + observable_key.encode("utf-8"), hashlib.sha256).digest()


def tokens(key: bytes, observable_keys: Iterable[str]) -> list[bytes]:
    """The distinct tokens of some observables, sorted (their order reveals nothing)."""
    return sorted({token(key, k) for k in observable_keys})
