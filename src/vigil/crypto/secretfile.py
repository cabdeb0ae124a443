"""Writing secret files: mode 0600 from the first byte, atomic, durable."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_secret_file(path: str | os.PathLike[str] | Path, data: bytes, *,
                      overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600: a reader sees the old file or the new
    one, never a partial one; the file and its directory are fsynced. Without
    ``overwrite`` an existing file raises FileExistsError; other failures raise OSError."""
    target = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(target)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # No hard links here: reserve the name, then rename over our own file.
                os.close(os.open(target, flags, 0o600))
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(directory)


def owner_only_dir(path: str | os.PathLike[str] | Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing ``path`` keeps
    its mode (it may be a directory the operator shares on purpose)."""
    p = Path(path)
    if p.is_dir():
        return
    for parent in reversed(p.parents):
        if not parent.exists():
            parent.mkdir(mode=0o700, exist_ok=True)
    p.mkdir(mode=0o700, exist_ok=True)


def owner_only_file(path: str | os.PathLike[str] | Path) -> None:
    """Create ``path`` empty with mode 0600 if missing, and set 0600 on it; files that
    SQLite makes beside a database (``-wal``, ``-shm``, ``-journal``) take its mode."""
    # An existing file is never opened here: closing any descriptor of a SQLite database
    # drops every POSIX lock this process holds on it (fcntl semantics), and another
    # process could then delete the write-ahead log under a live connection.
    if os.path.exists(path):
        os.chmod(path, 0o600)
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


SEALED_PREFIX = "sealed:v1:"
_SEAL_AAD = b"vigil/sealed-secret/v1\0"


class SecretBox:
    """Secrets the node must keep in its store (an OpenID client secret) sealed under a
    key that lives only in its data directory (``secrets.key``, 32 random bytes, mode
    0600, made on first use): ``"sealed:v1:" + base64url(nonce(12) || AES-256-GCM(key,
    nonce, secret, aad = b"vigil/sealed-secret/v1\\0" + purpose))``. A copy of the store
    (a backup, a PostgreSQL dump) holds no secret in clear; ``purpose`` binds each value
    to its place, so a sealed value moved elsewhere does not open."""

    def __init__(self, key_path: str | os.PathLike[str] | Path | None) -> None:
        """``key_path`` None: a key held in memory only (an Exchange made without a
        data directory, in tests)."""
        self.path = Path(key_path) if key_path is not None else Path("secrets.key")
        self._memory = None if key_path is not None else secrets.token_bytes(32)

    def _key(self) -> bytes:
        if self._memory is not None:
            return self._memory
        try:
            key = self.path.read_bytes()
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                write_secret_file(self.path, secrets.token_bytes(32))
            key = self.path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{self.path} is not a 32-byte key")
        return key

    def seal(self, secret: str, purpose: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from vigil.crypto.encoding import b64u

        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._key()).encrypt(nonce, secret.encode("utf-8"),
                                         _SEAL_AAD + purpose.encode("utf-8"))
        return SEALED_PREFIX + b64u(nonce + ct)

    def open(self, value: str, purpose: str) -> str:
        """The secret of a sealed value (a value stored before sealing is returned as
        it is)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from vigil.crypto.encoding import b64u_decode
        from vigil.errors import CryptoError

        if not value.startswith(SEALED_PREFIX):
            return value
        try:
            raw = b64u_decode(value[len(SEALED_PREFIX):])
            return AESGCM(self._key()).decrypt(raw[:12], raw[12:], _SEAL_AAD
                                               + purpose.encode("utf-8")).decode("utf-8")
        except (ValueError, InvalidTag) as e:
            raise CryptoError(f"a sealed secret ({purpose}) does not open with this "
                              f"node's {self.path.name}", code="crypto.open_failed") from e
