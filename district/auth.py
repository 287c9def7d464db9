"""Checking a station's signed request (the scheme is in `kiosk.sync.wire`).

`read_headers` checks what needs no database: the four headers are there and well formed
(401 unsigned) and the timestamp is within CLOCK_SKEW_S of the server's clock (401 stale).
`verify` runs inside the transaction that does the request's work: the station exists, is
enrolled (403 unknown_station) and is not revoked (403 revoked, so a revocation shuts a
station out at its very next request), the Ed25519 signature over the canonical request
holds (401 bad_signature), and the nonce is new (401 replayed). The nonce is inserted in
that same transaction, so a request that fails later leaves no trace, and a nonce is
spent only by a request that did its work.

Nonces older than NONCE_KEEP_S are pruned (`prune_nonces`): a request that old is refused
as stale before its nonce is looked at.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, select

from district.db import Database
from district.errors import ProblemError
from district.models import Nonce, Station
from kiosk.sync.wire import (
    CLOCK_SKEW_S,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_STATION,
    HEADER_TIMESTAMP,
    canonical_request_for_digest,
    unb64,
)

#: How long a nonce is remembered: past twice the skew a replay is stale whatever its
#: timestamp said, plus a margin for the server's own clock steps.
NONCE_KEEP_S = 2 * CLOCK_SKEW_S + 60

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True)
class SignedHeaders:
    station_id: str
    timestamp: int
    nonce: str
    signature: bytes


def read_headers(headers: Mapping[str, str], now: float | None = None) -> SignedHeaders:
    """The signing headers of a request, checked for form and time (no database)."""
    values = {
        name: headers.get(name)
        for name in (HEADER_STATION, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ProblemError(401, "unsigned", f"the request is not signed (no {', '.join(missing)})")
    station = values[HEADER_STATION] or ""
    stamp = values[HEADER_TIMESTAMP] or ""
    nonce = values[HEADER_NONCE] or ""
    if not _TIMESTAMP.match(stamp):
        raise ProblemError(401, "unsigned", f"{HEADER_TIMESTAMP} is not Unix seconds")
    if not _NONCE.match(nonce):
        raise ProblemError(401, "unsigned", f"{HEADER_NONCE} is not 32 hex digits")
    timestamp = int(stamp)
    offset = timestamp - (time.time() if now is None else now)
    if abs(offset) > CLOCK_SKEW_S:
        raise ProblemError(
            401,
            "stale",
            f"the request's time is {abs(offset):.0f} s {'ahead of' if offset > 0 else 'behind'} "
            f"the district's clock (at most {CLOCK_SKEW_S} s allowed)",
        )
    if not _UUID.match(station):
        raise ProblemError(403, "unknown_station", "the district knows no such station")
    try:
        signature = unb64(values[HEADER_SIGNATURE] or "")
    except ValueError:
        signature = b""
    if len(signature) != 64:
        raise ProblemError(401, "bad_signature", f"{HEADER_SIGNATURE} is not an Ed25519 signature")
    return SignedHeaders(station, timestamp, nonce, signature)


def verify(
    db: Database,
    connection: Connection,
    signed: SignedHeaders,
    method: str,
    target: str,
    body_sha256: str,
) -> str:
    """Check the station and the signature, and spend the nonce, inside the request's
    transaction. Returns the station id."""
    row = connection.execute(
        select(Station.public_key, Station.revoked_at).where(Station.id == signed.station_id)
    ).first()
    if row is None or row.public_key is None:
        raise ProblemError(403, "unknown_station", "the district knows no such enrolled station")
    if row.revoked_at is not None:
        raise ProblemError(403, "revoked", "the district has revoked this station")
    message = canonical_request_for_digest(
        method, target, signed.timestamp, signed.nonce, body_sha256
    )
    try:
        _public_key(row.public_key).verify(signed.signature, message)
    except InvalidSignature:
        raise ProblemError(
            401, "bad_signature", "the signature does not match this request and station"
        ) from None
    spent = connection.execute(
        db.insert(Nonce)
        .values(station_id=signed.station_id, nonce=signed.nonce, seen_at=datetime.now(UTC))
        .on_conflict_do_nothing()
        .returning(Nonce.nonce)
    ).first()
    if spent is None:
        raise ProblemError(401, "replayed", "this request was already received (nonce reused)")
    return signed.station_id


@lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def prune_nonces(db: Database, now: datetime | None = None) -> int:
    """Forget nonces too old to matter; returns how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=NONCE_KEEP_S)
    with db.write() as connection:
        return connection.execute(delete(Nonce).where(Nonce.seen_at < cutoff)).rowcount
