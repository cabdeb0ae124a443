"""A TLS client certificate whose key stays in a PKCS#11 token (a smart card, an HSM,
SoftHSM2 in tests), for the SDK and CLI (``--key pkcs11:token=…;object=…``).

Python's ``ssl`` module takes key *files* only. This module puts a token key on an
``ssl.SSLContext`` through the OpenSSL that ``ssl`` itself is linked to:

- OpenSSL's PKCS#11 engine (libp11, Debian's ``libengine-pkcs11-openssl``) loads the key
  as an ``EVP_PKEY`` whose signing is a ``C_Sign`` call in the token (the private value is
  never read; a token marks it sensitive and not extractable anyway);
- the key and the certificate chain file are set on the context's ``SSL_CTX`` with
  ``SSL_CTX_use_PrivateKey`` / ``SSL_CTX_use_certificate_chain_file``, and
  ``SSL_CTX_check_private_key`` checks they belong together. The handshake's
  CertificateVerify is then signed by the token.

The ``SSL_CTX`` pointer is read from CPython's ``_ssl`` context object, whose first
field after the object header it is (``PySSLContext``, unchanged since Python 3.0).
Before anything is set on it, its options and security level are compared with what
``ssl`` reports for the same context; a Python that is not CPython, or whose ``ssl``
does not share the process's ``libssl.so.3``, is refused with ``hsm.unavailable``.

URI attributes as in ``vigil.crypto.pkcs11``: ``token``/``serial``/``manufacturer``/
``model`` and ``object`` (the key's label) in the path; ``module-path`` (else
``$VIGIL_PKCS11_MODULE``), ``pin-value`` or ``pin-source`` (else ``$VIGIL_PKCS11_PIN``) in
the query. The engine is loaded once per process, for one PKCS#11 module. The token is
never asked for a PIN interactively. libp11 0.4.12 (Debian bookworm) signs with RSA and
ECDSA keys (an EC P-256 key is what smart cards and this module's tests use), finds the
public half of a key by its ``CKA_ID``, and lists no key at all on a token that also
holds Ed25519 or X25519 keys (such as a member's ``vigil member add --pkcs11`` keys):
the TLS key goes on a token of its own.
"""

from __future__ import annotations

import ctypes
import os
import ssl
import sys
import threading
from typing import Any

from vigil.crypto.pkcs11 import TokenError, format_uri, parse_uri

_PATH_ATTRS = ("token", "serial", "manufacturer", "model", "object", "id")
_lock = threading.Lock()
_state: dict[str, Any] = {}  # libs, engine, module


def is_token_key(key: str | None) -> bool:
    return bool(key) and str(key).startswith("pkcs11:")


def _libs() -> tuple[Any, Any]:
    got = _state.get("libs")
    if got is not None:
        return got  # type: ignore[no-any-return]
    if sys.implementation.name != "cpython" or ssl.OPENSSL_VERSION_INFO[0] != 3:
        raise TokenError("a TLS key in a token needs CPython's ssl on OpenSSL 3",
                         code="hsm.unavailable")
    mode = getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL
    try:  # the copies ssl is linked to (already loaded: never a second OpenSSL)
        crypto = ctypes.CDLL("libcrypto.so.3", mode=mode)
        libssl = ctypes.CDLL("libssl.so.3", mode=mode)
    except OSError as e:
        raise TokenError(f"this Python's ssl module does not use a shared OpenSSL 3: {e}",
                         code="hsm.unavailable") from None
    crypto.OpenSSL_version_num.restype = ctypes.c_ulong
    if crypto.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
        raise TokenError("the process's libcrypto is not the one ssl uses",
                         code="hsm.unavailable")
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for lib, name, res, args in (
            (crypto, "ENGINE_by_id", vp, [cp]),
            (crypto, "ENGINE_ctrl_cmd_string", ctypes.c_int, [vp, cp, cp, ctypes.c_int]),
            (crypto, "ENGINE_init", ctypes.c_int, [vp]),
            (crypto, "ENGINE_free", ctypes.c_int, [vp]),
            (crypto, "ENGINE_load_private_key", vp, [vp, cp, vp, vp]),
            (crypto, "UI_null", vp, []),
            (crypto, "EVP_PKEY_free", None, [vp]),
            (crypto, "ERR_get_error", ctypes.c_ulong, []),
            (crypto, "ERR_error_string_n", None, [ctypes.c_ulong, cp, ctypes.c_size_t]),
            (libssl, "SSL_CTX_get_options", ctypes.c_uint64, [vp]),
            (libssl, "SSL_CTX_get_security_level", ctypes.c_int, [vp]),
            (libssl, "SSL_CTX_use_certificate_chain_file", ctypes.c_int, [vp, cp]),
            (libssl, "SSL_CTX_use_PrivateKey", ctypes.c_int, [vp, vp]),
            (libssl, "SSL_CTX_check_private_key", ctypes.c_int, [vp])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _state["libs"] = (crypto, libssl)
    return crypto, libssl


def _errors(crypto: Any) -> list[str]:
    out = []
    while err := crypto.ERR_get_error():
        buf = ctypes.create_string_buffer(256)
        crypto.ERR_error_string_n(err, buf, len(buf))
        out.append(buf.value.decode(errors="replace"))
    return out


def _engine(crypto: Any, module: str) -> Any:
    """The process's PKCS#11 engine for ``module`` (loaded and initialised once)."""
    if _state.get("engine") is not None:
        if _state["module"] != module:
            raise TokenError(f"TLS keys in this process come from {_state['module']}; "
                             f"one PKCS#11 module per process", code="hsm.unavailable")
        return _state["engine"]
    _errors(crypto)
    engine = crypto.ENGINE_by_id(b"pkcs11")
    if not engine:
        raise TokenError("OpenSSL's PKCS#11 engine is not installed (Debian: "
                         f"libengine-pkcs11-openssl): {'; '.join(_errors(crypto))}",
                         code="hsm.unavailable")
    ctrl = crypto.ENGINE_ctrl_cmd_string
    if ctrl(engine, b"MODULE_PATH", module.encode(), 0) != 1 \
            or ctrl(engine, b"QUIET", None, 1) != 1 or crypto.ENGINE_init(engine) != 1:
        why = "; ".join(_errors(crypto))
        crypto.ENGINE_free(engine)
        raise TokenError(f"the PKCS#11 engine cannot load {module}: {why}",
                         code="hsm.unavailable")
    _state["engine"], _state["module"] = engine, module
    return engine


def _ssl_ctx(libssl: Any, ctx: ssl.SSLContext) -> int:
    """The ``SSL_CTX *`` of ``ctx``, checked against what ``ssl`` reports for it."""
    if not isinstance(ctx, ssl.SSLContext):
        raise TokenError("not an ssl.SSLContext", code="hsm.unavailable")
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not ptr or libssl.SSL_CTX_get_options(ptr) != int(ctx.options) \
            or libssl.SSL_CTX_get_security_level(ptr) != ctx.security_level:
        raise TokenError("this Python's ssl context does not have the expected layout",
                         code="hsm.unavailable")
    return int(ptr)


def use_token_key(ctx: ssl.SSLContext, cert: str, uri: str) -> None:
    """Present ``cert`` (a PEM chain file) with the token key named by ``uri`` on every
    handshake of ``ctx``. ``hsm.*`` errors when the key cannot be used: engine or module
    missing, PIN refused, no such key, or a key that is not the certificate's."""
    parsed = parse_uri(uri)
    module, pin = parsed.module(), parsed.pin()
    crypto, libssl = _libs()
    path = {k: v for k, v in parsed.path.items() if k in _PATH_ATTRS}
    key_uri = format_uri({**path, "type": "private"}, {}).encode()
    with _lock:
        engine = _engine(crypto, module)
        ptr = _ssl_ctx(libssl, ctx)
        _errors(crypto)
        if pin is not None and crypto.ENGINE_ctrl_cmd_string(engine, b"PIN", pin.encode(),
                                                            0) != 1:
            raise TokenError(f"the engine refused the PIN: {'; '.join(_errors(crypto))}",
                             code="hsm.login")
        # UI_null: never a prompt on the terminal for a missing or refused PIN
        pkey = crypto.ENGINE_load_private_key(engine, key_uri, crypto.UI_null(), None)
        if not pkey:
            why = "; ".join(_errors(crypto))
            code = "hsm.login" if "PIN" in why or "UI routines" in why else "hsm.no_key"
            hint = "" if code == "hsm.login" else (
                " (no such private key; libp11 0.4.12 also finds none on a token that "
                "holds Ed25519 or X25519 keys: keep the TLS key on a token of its own)")
            raise TokenError(f"no usable key {parsed.without_secrets()} in the token: "
                             f"{why}{hint}", code=code)
        try:
            if libssl.SSL_CTX_use_certificate_chain_file(ptr, os.fsencode(cert)) != 1:
                raise TokenError(f"cannot read the certificate {cert}: "
                                 f"{'; '.join(_errors(crypto))}", code="tls.client_cert")
            if libssl.SSL_CTX_use_PrivateKey(ptr, pkey) != 1 \
                    or libssl.SSL_CTX_check_private_key(ptr) != 1:
                raise TokenError(f"the token key {parsed.without_secrets()} is not the key of "
                                 f"{cert}: {'; '.join(_errors(crypto))}",
                                 code="tls.client_cert")
        finally:
            crypto.EVP_PKEY_free(pkey)  # the SSL_CTX holds its own reference
