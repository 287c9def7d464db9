"""The server key: 32 random bytes in a file, never in the database, that seal the
personal data the district keeps (applications' resident and form, every blob's bytes)
with AES-256-GCM (`kiosk.store.crypto.Vault`, the kiosk's own sealing).

Where the key file is: the global `--key-file` option, else `DISTRICT_KEY_FILE`, else next
to a SQLite database file (`district.sqlite3` → `district.sqlite3.key`), else
`district.key` in the current folder. It is made (mode 0600) the first time it is
missing. Every process of one district must use the same key file: the database records
the key's id and refuses any other key, so data is never sealed under two keys.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import URL

from district.errors import KeyFileError
from kiosk.store.crypto import Vault, write_secret_file

log = logging.getLogger(__name__)

KEY_BYTES = 32
ENV_KEY_FILE = "DISTRICT_KEY_FILE"


def default_key_file(url: URL, env: dict[str, str] | None = None) -> Path:
    environment = os.environ if env is None else env
    if environment.get(ENV_KEY_FILE):
        return Path(environment[ENV_KEY_FILE])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".key")
    return Path("district.key")


def load_key(path: Path) -> bytes:
    """The key in `path`, made first if the file does not exist."""
    if not path.exists():
        _create(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the server key {path}: {exc.strerror}") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"the server key {path} is damaged ({len(key)} bytes, not 32)")
    return key


def key_id(key: bytes) -> str:
    """A public name for a key (what the database records), not the key."""
    return hashlib.sha256(b"doorstep-district-key\n" + key).hexdigest()[:32]


def open_vault(key: bytes) -> Vault:
    return Vault(key)


def _create(path: Path) -> None:
    try:
        write_secret_file(path, KEY_BYTES)
    except OSError as exc:
        raise KeyFileError(f"cannot make the server key {path}: {exc.strerror}") from None
    log.info("made a new server key in %s (keep it with the database's backups)", path)
