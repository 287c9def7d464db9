"""Encryption at rest for personal data: AES-256-GCM under a per-station key.

The key is 32 random bytes in its own file (`keys/station.key` in the data folder, mode
0600 in a 0700 folder), never in the database, so a database file or blob copied off the
machine reveals no resident. Each sealed value is `version byte | 12-byte nonce |
ciphertext+tag`, and is bound to where it belongs by the associated data (for a column,
the table, column and row id), so a sealed value moved to another row does not open.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.errors import StoreError

_FORMAT = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class SealBroken(StoreError):
    """A sealed value did not open: wrong key, tampered bytes or moved to another place."""


class Vault:
    """Seals and opens personal data with the station key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise StoreError(f"station key must be {_KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_key_file(cls, path: Path) -> Vault:
        """Load the station key, making it (readable by this user only) on first use."""
        if not path.exists():
            _create_key_file(path)
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read the station key {path}: {exc.strerror}") from None
        return cls(key)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _FORMAT + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _FORMAT:
            raise SealBroken("sealed value has an unknown format")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context)
        except InvalidTag:
            raise SealBroken("sealed value does not open with this station's key") from None

    def seal_json(self, value: Any, context: bytes) -> bytes:
        return self.seal(json.dumps(value, ensure_ascii=False).encode(), context)

    def open_json(self, sealed: bytes, context: bytes) -> Any:
        return json.loads(self.open(sealed, context))


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    write_secret_file(path, _KEY_BYTES)


def write_secret_file(path: Path, size: int) -> None:
    """Make `path` hold `size` fresh random bytes, readable by this user only, durably;
    if another process made the file meanwhile, theirs is kept (never overwritten)."""
    temporary = _private_temporary(path, secrets.token_bytes(size))
    try:
        os.link(temporary, path)  # link() refuses to replace a file another process made
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    fsync_dir(path.parent)


def write_private_file(path: Path, content: bytes) -> None:
    """Replace `path` with `content`, readable by this user only, atomically and durably:
    a reader sees the old file or the new one, never a part of either."""
    temporary = _private_temporary(path, content)
    try:
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _private_temporary(path: Path, content: bytes) -> Path:
    """`content` written and fsynced to a fresh mode-0600 file beside `path`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    except OSError:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return temporary


def fsync_dir(folder: Path) -> None:
    """Make a rename or new file in `folder` survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
