"""The sync protocol between a kiosk and its district: the wire models both sides share,
and how requests are signed.

Everything is JSON over HTTPS (plain HTTP on loopback for tests and the demo) under
`/v1`, except blob bodies, which are raw bytes.

Enrollment (unsigned; the one-time code is the credential)
    POST /v1/enroll                 EnrollRequest → EnrollAnswer
        The kiosk made an Ed25519 key pair; only the public key is sent. The same code with
        the same key again returns the same answer (the kiosk may not have heard the first
        one); a used code with another key, an unknown or expired code, a revoked station →
        403 Problem. Case, spaces and dashes in the typed code do not matter.

Every other request is signed by the station (see `canonical_request` and `sign_request`):
    X-Doorstep-Station:   the station id the district gave at enrollment
    X-Doorstep-Timestamp: Unix seconds; refused if more than CLOCK_SKEW_S away from the
                          server's clock
    X-Doorstep-Nonce:     32 hex digits, never used twice by a station within the window
    X-Doorstep-Signature: base64 of the Ed25519 signature of canonical_request(...)
    Refused with 401 (unsigned, bad signature, stale, replayed), 403 (revoked station, or
    a station id the district does not know or has not enrolled). The path signed is the
    request target exactly as sent on the request line (percent-encoding and query string
    included: httpx's `request.url.raw_path`); the body's sha256 is of the bytes sent (an
    empty body for GET and HEAD). The district checks a request in this order: path and
    query parameters (422), headers present (401), timestamp (401 stale), body size (413),
    station (403), signature (401), nonce (401 replayed), then the body (422). A refused
    request changes nothing, and its nonce is not spent.

Upload (blobs first, then the applications that refer to them)
    HEAD /v1/blobs/{sha256}         200 if the district has it, 404 if not
    PUT  /v1/blobs/{sha256}         the raw bytes; 201 stored, 200 already there; 422 if the
                                    bytes do not hash to {sha256}; 413 over MAX_BLOB_BYTES
    POST /v1/blobs:check            BlobCheck → BlobCheckAnswer: which of up to
                                    MAX_BLOB_CHECK hashes the district lacks (one request
                                    instead of a HEAD per blob)
    POST /v1/blobs:bundle           many blobs in one request (optional; the same as a PUT
                                    each, far fewer round trips): the body is frames
                                    `<sha256 hex> <size decimal>\n<size bytes>` one after
                                    the other (`bundle_frames` makes it, `parse_bundle`
                                    reads it), at most MAX_BUNDLE_BLOBS blobs and
                                    MAX_BUNDLE_BYTES in all → BundleAnswer. All or nothing:
                                    a bad frame → 422 malformed, a blob whose bytes do not
                                    hash to its name → 422 hash_mismatch (the problem's
                                    `mismatched` lists them), and nothing is stored.
    POST /v1/applications:batch     UploadBatch → BatchAnswer (always 200 for a well-formed
                                    batch: one verdict per item, in order). Applied in one
                                    server transaction; the application id is a permanent
                                    UNIQUE key, so a repeated item is answered `accepted`
                                    again and changes nothing. An item the district cannot
                                    read is rejected `invalid` (its field names in the
                                    message, never its values), an item code that is not
                                    in the newest published catalog `unknown_item`, a
                                    material whose blob the district lacks (or whose size
                                    differs) `blob_missing`, an id already held with other
                                    content or by another station `conflict`. Only a body
                                    that is not a batch at all (not JSON, no list of
                                    applications, an item without a readable id, more than
                                    MAX_BATCH items) is refused whole: 422 malformed.
    POST /v1/ratings:batch          RatingBatch → BatchAnswer (a verdict per item, in
                                    order, in one server transaction). The rating id is a
                                    permanent UNIQUE key: a repeat changes nothing, and the
                                    same rating again with another staff comment replaces
                                    the comment (the last one sent is the newest: a kiosk
                                    sends a rating's comment only after its earlier upload
                                    was answered). The same id with another score, time,
                                    application or item, or from another station, is
                                    rejected `conflict`. A rating of an application the
                                    district does not know is still accepted. A body that is
                                    not a batch of readable ratings → 422 malformed.
    POST /v1/callbacks:batch        CallbackBatch → BatchAnswer (a verdict per item, in
                                    order, in one server transaction): the call-back
                                    requests residents left when no agent could take their
                                    call. The id is a permanent UNIQUE key: a repeat
                                    changes nothing (and leaves what agents did with it as
                                    it is); the same id with another number, item, time or
                                    preference, or from another station, is rejected
                                    `conflict`; an item code in no catalog the district
                                    ever published, `unknown_item` (the kiosk keeps the
                                    request, out of its queue). The phone number is
                                    personal data: sealed at the district, never in a
                                    verdict's message. A body that is not a batch of
                                    readable call-backs → 422 malformed.
    POST /v1/station:report         StationReport → 204: the station's small health report
                                    (software and catalog versions, queue depth, rejected
                                    count, the five devices' state and last error code,
                                    the kiosk's clock), kept as the station's newest report
                                    with the server's time as its last contact. At most
                                    MAX_REPORT_BYTES; anything else than the model → 422,
                                    and nothing is kept.

Download
    GET /v1/catalog?have=VERSION    CatalogAnswer (200), or 204 when VERSION is current
                                    (or the district has published no catalog yet)
    GET /v1/settings?have=VERSION   SettingsAnswer (200), or 204 when VERSION is current;
                                    version 0 and {} until the district publishes settings
    GET /v1/changes?cursor=C&limit=N  ChangesAnswer: this station's application state
                                    changes after cursor C (none: from the start). A cursor
                                    the server does not know (another database, garbage)
                                    answers `reset: true` and no changes: start over with no
                                    cursor. Applying a change twice is harmless (states are
                                    set, not stepped). `limit` is 1..MAX_CHANGES (100 if
                                    not given).

Unsigned: GET /v1/health (is the server up and its database reachable) and the OpenAPI
document, GET /openapi.json (kept in the repository as district/openapi.json).

Errors are RFC 9457 problem documents (`Problem`) with a 4xx/5xx status. A kiosk retries
5xx, timeouts and broken connections with capped exponential backoff and full jitter; it
never retries a 4xx as is.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field

from kiosk.core.catalog import ITEM_CODE_PATTERN
from kiosk.core.phone import PHONE_PATTERN

API = "/v1"
CLOCK_SKEW_S = 300  # how far a request's timestamp may be from the server's clock
MAX_BLOB_BYTES = 20 * 1024 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024  # a JSON request
MAX_BATCH = 500  # applications in one upload batch
MAX_BLOB_CHECK = 2000  # hashes in one POST /v1/blobs:check
MAX_BUNDLE_BLOBS = 1000  # blobs in one POST /v1/blobs:bundle
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # the whole body of a bundle
MAX_CHANGES = 1000  # the largest `limit` of GET /v1/changes
MAX_RATINGS = 500  # ratings in one POST /v1/ratings:batch
MAX_COMMENT = 200  # characters of a staff comment on a rating
MAX_CALLBACKS = 200  # call-back requests in one POST /v1/callbacks:batch
MAX_ITEM_TITLE = 200  # characters of the item's title a call-back names
MAX_REPORT_BYTES = 16 * 1024  # the body of POST /v1/station:report

HEADER_STATION = "X-Doorstep-Station"
HEADER_TIMESTAMP = "X-Doorstep-Timestamp"
HEADER_NONCE = "X-Doorstep-Nonce"
HEADER_SIGNATURE = "X-Doorstep-Signature"

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Uuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
ItemCode = Annotated[str, Field(pattern=ITEM_CODE_PATTERN)]
Reference = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}-[0-9]{8}-[0-9]{4,}$", max_length=40)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def canonical_request(
    method: str, path_and_query: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """What a station signs: method, path with query, timestamp, nonce and the body's
    sha256, one per line. The server rebuilds it from what it received."""
    return canonical_request_for_digest(
        method, path_and_query, timestamp, nonce, hashlib.sha256(body).hexdigest()
    )


def canonical_request_for_digest(
    method: str, path_and_query: str, timestamp: int, nonce: str, body_sha256: str
) -> bytes:
    """`canonical_request` for a body whose sha256 (hex) is already known."""
    return f"{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_sha256}".encode()


def sign_request(
    private_key: Ed25519PrivateKey,
    station_id: str,
    method: str,
    path_and_query: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that sign one request (a fresh nonce and the current time unless
    given: tests give them to make stale or replayed requests on purpose)."""
    when = int(time.time()) if timestamp is None else timestamp
    once = secrets.token_hex(16) if nonce is None else nonce
    signature = private_key.sign(canonical_request(method, path_and_query, when, once, body))
    return {
        HEADER_STATION: station_id,
        HEADER_TIMESTAMP: str(when),
        HEADER_NONCE: once,
        HEADER_SIGNATURE: b64(signature),
    }


def bundle_frames(blobs: Iterable[tuple[str, bytes]]) -> bytes:
    """The body of POST /v1/blobs:bundle for (sha256, content) pairs."""
    parts: list[bytes] = []
    for sha256, content in blobs:
        parts.append(f"{sha256} {len(content)}\n".encode("ascii"))
        parts.append(content)
    return b"".join(parts)


class BundleMalformed(ValueError):
    """A bundle body that does not follow the framing."""


_FRAME_HEADER = re.compile(rb"([0-9a-f]{64}) (0|[1-9][0-9]{0,9})\n")


def parse_bundle(body: bytes) -> list[tuple[str, bytes]]:
    """The (sha256 as named, content) pairs of a bundle body; raises BundleMalformed.
    Whether each content hashes to its name is for the caller to check."""
    frames: list[tuple[str, bytes]] = []
    view = memoryview(body)
    position = 0
    while position < len(body):
        if len(frames) >= MAX_BUNDLE_BLOBS:
            raise BundleMalformed(f"more than {MAX_BUNDLE_BLOBS} blobs in one bundle")
        header = _FRAME_HEADER.match(body, position)
        if header is None:
            raise BundleMalformed(f"no frame header at byte {position}")
        size = int(header.group(2))
        if size > MAX_BLOB_BYTES:
            raise BundleMalformed(f"a blob of {size} bytes is over {MAX_BLOB_BYTES}")
        start = header.end()
        if start + size > len(body):
            raise BundleMalformed(f"the blob at byte {start} is cut short")
        frames.append((header.group(1).decode("ascii"), bytes(view[start : start + size])))
        position = start + size
    return frames


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# -- enrollment -------------------------------------------------------------------------


class EnrollRequest(_Wire):
    code: Annotated[str, Field(min_length=6, max_length=64)]
    public_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]  # base64 Ed25519, 32 bytes
    software: Annotated[str, Field(max_length=64)] = ""


class EnrollAnswer(_Wire):
    station_id: Uuid
    station_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]
    station_name: Annotated[str, Field(max_length=120)]
    district_name: Annotated[str, Field(max_length=120)]
    enrolled_at: datetime


# -- upload -----------------------------------------------------------------------------


class BlobCheck(_Wire):
    sha256: Annotated[list[Sha256], Field(min_length=1, max_length=MAX_BLOB_CHECK)]


class BlobCheckAnswer(_Wire):
    missing: list[Sha256]  # the hashes asked about that the district does not have, in order


class BundleAnswer(_Wire):
    stored: list[Sha256]  # new to the district
    present: list[Sha256]  # the district had them already


class MaterialWire(_Wire):
    sha256: Sha256
    kind: Annotated[str, Field(min_length=1, max_length=16)]
    label: Annotated[str, Field(max_length=200)] = ""
    media_type: Annotated[str, Field(max_length=64)]
    size: Annotated[int, Field(ge=0, le=MAX_BLOB_BYTES)]


class ApplicationWire(_Wire):
    """One application as the district receives it. `resident` and `form` hold personal
    data: they go only to the district, over the station's signed channel."""

    id: Uuid
    reference: Reference
    item_code: ItemCode
    created_at: datetime
    resident: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    materials: Annotated[list[MaterialWire], Field(max_length=50)] = []


class UploadBatch(_Wire):
    applications: Annotated[list[ApplicationWire], Field(min_length=1, max_length=MAX_BATCH)]


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    UNKNOWN_ITEM = "unknown_item"  # the item code is not in the district's catalog
    BLOB_MISSING = "blob_missing"  # a material's blob has not been uploaded (upload it, retry)
    CONFLICT = "conflict"  # the id exists with other content (never expected)
    INVALID = "invalid"  # the district cannot take it as it is


class ItemVerdict(_Wire):
    id: Uuid
    verdict: Verdict
    reason: RejectReason | None = None
    message: Annotated[str, Field(max_length=500)] = ""  # for staff, no personal data


class BatchAnswer(_Wire):
    results: list[ItemVerdict]


class RatingWire(_Wire):
    """One 好差评 rating a resident gave, as the station sends it: no resident in it, the
    application and item it was about (if any), and the comment staff attached."""

    id: Uuid
    application_id: Uuid | None = None
    item_code: ItemCode | None = None
    score: Annotated[int, Field(strict=True, ge=1, le=5)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT)] = ""
    rated_at: Annotated[datetime, Field(strict=True)]  # the kiosk's clock


class RatingBatch(_Wire):
    ratings: Annotated[list[RatingWire], Field(min_length=1, max_length=MAX_RATINGS)]


class CallbackWire(_Wire):
    """A call-back request a resident left at the station (no agent could take the call,
    or the station was offline): the number to call, typed on the keypad (digits only;
    personal data), the item they wanted help with, and when they would like the call,
    relative to `requested_at` (the kiosk's clock): later that day, the next morning or
    the next afternoon."""

    id: Uuid
    phone: Annotated[str, Field(pattern=PHONE_PATTERN)]
    item_code: ItemCode
    item_title: Annotated[str, Field(max_length=MAX_ITEM_TITLE)] = ""
    preferred: Literal["today", "tomorrow_am", "tomorrow_pm"]
    requested_at: Annotated[datetime, Field(strict=True)]  # the kiosk's clock


class CallbackBatch(_Wire):
    callbacks: Annotated[list[CallbackWire], Field(min_length=1, max_length=MAX_CALLBACKS)]


# -- the station's health report ---------------------------------------------------------


class DeviceState(StrEnum):
    OK = "ok"
    SIMULATED = "simulated"
    MISSING = "missing"  # nothing found where the device should be
    FAILING = "failing"  # found, or looked for, and something is wrong
    UNKNOWN = "unknown"


Count = Annotated[int, Field(strict=True, ge=0, le=10**9)]
ErrorCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
DeviceFamily = Literal["card_reader", "camera", "document_camera", "scanner", "printer"]


class DeviceHealth(_Wire):
    """How one device of the five-piece kit is doing: a state and the last error's code
    (never a message: messages can quote what a device read)."""

    family: DeviceFamily
    state: DeviceState
    error: ErrorCode | None = None


class StationReport(_Wire):
    software: Annotated[str, Field(max_length=64)]
    catalog_version: Annotated[str, Field(max_length=64)] | None
    queued: Count  # applications waiting to be uploaded
    rejected: Count  # applications the district refused
    ratings_queued: Count = 0
    devices: Annotated[list[DeviceHealth], Field(max_length=5)]
    clock: Annotated[datetime, Field(strict=True)]  # the kiosk's clock at the report


# -- download ---------------------------------------------------------------------------


class CatalogAnswer(_Wire):
    version: Annotated[str, Field(min_length=1, max_length=64)]
    catalog_toml: str  # the kiosk's catalog format, as `kiosk catalog import` takes it


class SettingsAnswer(_Wire):
    version: Annotated[int, Field(ge=0)]
    settings: dict[str, Any]  # tables of the kiosk's settings the district manages


class RemoteState(StrEnum):
    """The states an agent's decisions move an application to."""

    NEEDS_MORE = "needs_more"  # 补正: the reason says what is missing
    ACCEPTED = "accepted"
    READY_FOR_PICKUP = "ready_for_pickup"
    COMPLETED = "completed"
    REJECTED = "rejected"


class Change(_Wire):
    """One decision. A state this kiosk's software does not know (a newer district's)
    is read as a plain string, so that the kiosk can skip that one change instead of
    refusing the whole answer."""

    application_id: Uuid
    state: Annotated[
        RemoteState | Annotated[str, Field(max_length=32)], Field(union_mode="left_to_right")
    ]
    reason: Annotated[str, Field(max_length=500)] | None = None
    at: datetime


class ChangesAnswer(_Wire):
    changes: list[Change]
    cursor: Annotated[str, Field(max_length=200)] | None  # where the next request starts
    more: bool = False  # another request would return more now
    reset: bool = False  # the cursor given was not known: start over with no cursor


# -- errors -----------------------------------------------------------------------------


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    code: Literal[
        "unsigned",
        "bad_signature",
        "stale",
        "replayed",
        "revoked",
        "unknown_station",
        "bad_code",
        "code_used",
        "code_expired",
        "too_large",
        "hash_mismatch",
        "malformed",
        "not_found",
        "method_not_allowed",
        "server_error",
        # the console's JSON endpoints
        "forbidden",
        "csrf",
        "conflict",
        "password_change",
    ]
