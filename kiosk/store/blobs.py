"""The content-addressed blob store: document images, photos and PDFs as files named by
the sha256 of their content.

A blob is written to a temporary name, fsynced, renamed into place and the folder
fsynced; only then may a committed row refer to it, so a row never points at a file a
power cut took away. Blob contents are personal data, so the file holds them sealed with
the station key (bound to the hash); the name is the hash of the plain content, which is
what the district checks on upload. A blob written but never referenced (the kiosk died
between the file and the row) is harmless and can be swept.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from kiosk.errors import StoreError
from kiosk.store.crypto import Vault, fsync_dir

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobMissing(StoreError):
    """A blob a row refers to is not on disk."""


class BlobCorrupt(StoreError):
    """A blob's file does not hold the content its name promises."""


class BlobStore:
    def __init__(self, root: Path, vault: Vault) -> None:
        self._root = root
        self._vault = vault

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise StoreError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return self._root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        """Store `content` durably and return its sha256 (hex). Idempotent."""
        sha256 = hashlib.sha256(content).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = target.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
        sealed = self._vault.seal(content, sha256.encode())
        with temporary.open("wb") as stream:
            stream.write(sealed)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.rename(target)
        fsync_dir(target.parent)
        return sha256

    def put_many(self, contents: list[bytes]) -> list[str]:
        """Store many blobs durably with one flush to disk for all of them (a bulk import:
        one fsync per file would cost ~2 ms each); returns their sha256s in order."""
        written: list[str] = []
        folders: set[Path] = set()
        for content in contents:
            sha256 = hashlib.sha256(content).hexdigest()
            written.append(sha256)
            target = self.path(sha256)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = target.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
            temporary.write_bytes(self._vault.seal(content, sha256.encode()))
            temporary.rename(target)
            folders.add(target.parent)
        if folders:
            os.sync()  # every file and rename above is on disk when this returns
        return written

    def get(self, sha256: str) -> bytes:
        """The content of a blob, checked against its hash."""
        try:
            sealed = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"blob {sha256} is missing") from None
        content = self._vault.open(sealed, sha256.encode())
        if hashlib.sha256(content).hexdigest() != sha256:
            raise BlobCorrupt(f"blob {sha256} does not match its hash")
        return content
