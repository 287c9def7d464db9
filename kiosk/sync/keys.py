"""The station's signing key: an Ed25519 key pair made on the kiosk at enrollment.

The private key never leaves the kiosk: it lives in `keys/station-sign.key` in the data
folder (raw 32-byte seed, readable by the kiosk's user only, next to the station's
encryption key) and signs every request to the district (`sign_request`). Only the public
key is ever sent, once, at enrollment.

The key is made once and then kept: enrolling again with the same code after a lost answer
sends the same public key, which is what lets the district answer it again.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.config import Paths
from kiosk.errors import StoreError
from kiosk.store.crypto import write_secret_file
from kiosk.sync.wire import b64, sign_request

_SEED_BYTES = 32


def key_path(paths: Paths) -> Path:
    return paths.station_key.parent / "station-sign.key"


class StationKey:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def load_or_create(cls, paths: Paths) -> StationKey:
        path = key_path(paths)
        if not path.exists():
            write_secret_file(path, _SEED_BYTES)
        return cls.load(paths)

    @classmethod
    def load(cls, paths: Paths) -> StationKey:
        path = key_path(paths)
        try:
            seed = path.read_bytes()
        except OSError as exc:
            raise StoreError(
                f"cannot read the station's signing key {path}: {exc.strerror}"
            ) from None
        if len(seed) != _SEED_BYTES:
            raise StoreError(f"the station's signing key {path} is damaged")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def public_key(self) -> str:
        """The public key, base64 of its 32 raw bytes (what enrollment sends)."""
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64(raw)

    def sign_request(
        self, station_id: str, method: str, path_and_query: str, body: bytes
    ) -> dict[str, str]:
        """The headers that sign one request (see kiosk.sync.wire)."""
        return sign_request(self._private, station_id, method, path_and_query, body)
