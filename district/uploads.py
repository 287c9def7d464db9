"""What stations upload: blobs by sha256, then batches of applications.

Each function runs inside the request's one transaction (the caller's `connection`,
which has already checked the signature and spent the nonce), so a refused request
changes nothing.

Blobs are stored sealed with the server key and named by the sha256 of their plain bytes;
storing one that is there already is a no-op (INSERT … ON CONFLICT DO NOTHING), which
makes the PUT and the bundle idempotent and safe to race.

A batch gets one verdict per item, in order. Whatever can be answered per item is (an
unreadable item is `invalid`, a code outside the newest catalog `unknown_item`, a material
whose blob is missing `blob_missing`, an id held with other content or by another station
`conflict`), so one bad application never blocks a station's queue. The application id
is the primary key: a repeated item (same station, same content) is `accepted` and
changes nothing. All of it costs a handful of queries per batch, whatever its size: one
look-up each for the ids, the catalog codes and the blobs, then one multi-row insert each
for applications and materials.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, select

from district.catalogs import newest_catalog_id
from district.db import Database
from district.errors import ProblemError, field_summary
from district.models import Application, Blob, CatalogItem, Material
from kiosk.sync.wire import (
    MAX_BATCH,
    ApplicationWire,
    BatchAnswer,
    BlobCheck,
    BlobCheckAnswer,
    BundleAnswer,
    BundleMalformed,
    ItemVerdict,
    RejectReason,
    UploadBatch,
    Verdict,
    parse_bundle,
)

_CHUNK = 500  # values in one IN (...) list
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def blob_context(sha256: str) -> bytes:
    return f"blobs:{sha256}".encode()


def sealed_context(column: str, application_id: str) -> bytes:
    return f"applications.{column}:{application_id}".encode()


# -- blobs ------------------------------------------------------------------------------


def has_blob(connection: Connection, sha256: str) -> bool:
    return connection.scalar(select(Blob.size).where(Blob.sha256 == sha256)) is not None


def put_blob(
    db: Database, connection: Connection, sha256: str, content: bytes, body_sha256: str
) -> bool:
    """Store one blob; True if it is new. `body_sha256` is the hash of `content`."""
    if body_sha256 != sha256:
        raise ProblemError(422, "hash_mismatch", "the bytes sent do not hash to the blob's name")
    inserted = connection.execute(
        db.insert(Blob)
        .values(
            sha256=sha256,
            size=len(content),
            sealed=db.vault.seal(content, blob_context(sha256)),
            received_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(Blob.sha256)
    ).first()
    return inserted is not None


def check_blobs(connection: Connection, body: bytes) -> BlobCheckAnswer:
    try:
        asked = BlobCheck.model_validate_json(body).sha256
    except ValidationError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    present = _present_blobs(connection, asked)
    return BlobCheckAnswer(missing=[sha for sha in dict.fromkeys(asked) if sha not in present])


def put_bundle(db: Database, connection: Connection, body: bytes) -> BundleAnswer:
    """Store every blob of a bundle, or none if any frame is wrong."""
    try:
        frames = parse_bundle(body)
    except BundleMalformed as exc:
        raise ProblemError(422, "malformed", f"the bundle is malformed: {exc}") from None
    mismatched = [sha for sha, content in frames if hashlib.sha256(content).hexdigest() != sha]
    if mismatched:
        raise ProblemError(
            422,
            "hash_mismatch",
            f"{len(mismatched)} blob(s) of the bundle do not hash to their names",
            mismatched=mismatched[:100],
        )
    unique = dict(frames)
    present = _present_blobs(connection, list(unique))
    now = datetime.now(UTC)
    rows = [
        {
            "sha256": sha,
            "size": len(content),
            "sealed": db.vault.seal(content, blob_context(sha)),
            "received_at": now,
        }
        for sha, content in unique.items()
        if sha not in present
    ]
    if rows:
        connection.execute(db.insert(Blob).on_conflict_do_nothing(), rows)
    return BundleAnswer(
        stored=[row["sha256"] for row in rows], present=[sha for sha in unique if sha in present]
    )


def _present_blobs(connection: Connection, hashes: Sequence[str]) -> dict[str, int]:
    """Which of `hashes` the district has, with their sizes."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(dict.fromkeys(hashes))):
        found.update(
            connection.execute(select(Blob.sha256, Blob.size).where(Blob.sha256.in_(chunk))).all()
        )
    return found


# -- applications -----------------------------------------------------------------------


class _Envelope(BaseModel):
    """A batch read loosely, so that each item can get its own verdict."""

    model_config = ConfigDict(extra="forbid")

    applications: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH)]


@dataclass(frozen=True)
class _Unreadable:
    id: str
    reason: RejectReason
    message: str


def read_batch(body: bytes) -> list[ApplicationWire | _Unreadable]:
    """The items of a batch body; 422 only when it is not a batch at all."""
    try:
        return list(UploadBatch.model_validate_json(body).applications)
    except ValidationError:
        pass  # find out which items are wrong, below
    try:
        envelope = _Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    items: list[ApplicationWire | _Unreadable] = []
    for index, raw in enumerate(envelope.applications):
        try:
            items.append(ApplicationWire.model_validate(raw))
            continue
        except ValidationError as exc:
            error = exc
        identifier = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(identifier, str) or not _UUID.match(identifier):
            raise ProblemError(
                422, "malformed", f"applications.{index} has no id the district can read"
            )
        fields = {
            str(problem["loc"][0]) if problem["loc"] else "" for problem in error.errors()
        }
        if fields == {"item_code"}:
            items.append(
                _Unreadable(
                    identifier,
                    RejectReason.UNKNOWN_ITEM,
                    "the item code is not one the district's catalog could hold",
                )
            )
        else:
            items.append(
                _Unreadable(
                    identifier,
                    RejectReason.INVALID,
                    field_summary(error, "the district cannot read this application")[:500],
                )
            )
    return items


def content_sha256(item: ApplicationWire) -> str:
    """What tells a repeat of an application from another one under the same id."""
    canonical = json.dumps(
        item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def upload_batch(
    db: Database, connection: Connection, station_id: str, body: bytes
) -> BatchAnswer:
    """POST /v1/applications:batch, inside the request's transaction."""
    items = read_batch(body)
    readable = [item for item in items if isinstance(item, ApplicationWire)]
    ids = list(dict.fromkeys(item.id for item in readable))
    existing: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(
            select(Application.id, Application.station_id, Application.content_sha256).where(
                Application.id.in_(chunk)
            )
        ):
            existing[row.id] = (row.station_id, row.content_sha256)
    newest = newest_catalog_id(connection)
    known_codes: set[str] = set()
    if newest is not None:
        codes = list({item.item_code for item in readable if item.id not in existing})
        for chunk in _chunks(codes):
            known_codes.update(
                connection.scalars(
                    select(CatalogItem.code).where(
                        CatalogItem.catalog_id == newest[0], CatalogItem.code.in_(chunk)
                    )
                )
            )
    blobs = _present_blobs(
        connection,
        [m.sha256 for item in readable if item.id not in existing for m in item.materials],
    )

    now = datetime.now(UTC)
    verdicts: list[ItemVerdict] = []
    taken: dict[str, str] = {}  # id → content hash, accepted earlier in this batch
    applications: list[dict[str, Any]] = []
    materials: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, _Unreadable):
            verdicts.append(_rejected(item.id, item.reason, item.message))
            continue
        content = content_sha256(item)
        holder = existing.get(item.id)
        if holder is not None or item.id in taken:
            same = holder == (station_id, content) if holder else taken[item.id] == content
            verdicts.append(
                ItemVerdict(id=item.id, verdict=Verdict.ACCEPTED)
                if same
                else _rejected(
                    item.id, RejectReason.CONFLICT, "the district holds this id with other content"
                )
            )
            continue
        if item.item_code not in known_codes:
            where = f"version {newest[1]}" if newest else "none published yet"
            verdicts.append(
                _rejected(
                    item.id,
                    RejectReason.UNKNOWN_ITEM,
                    f"item {item.item_code} is not in the district's catalog ({where})",
                )
            )
            continue
        missing = [n for n, m in enumerate(item.materials, 1) if m.sha256 not in blobs]
        if missing:
            verdicts.append(
                _rejected(
                    item.id,
                    RejectReason.BLOB_MISSING,
                    f"the district lacks the blob of material(s) {_numbers(missing)}: "
                    "upload it, then send the application again",
                )
            )
            continue
        wrong = [n for n, m in enumerate(item.materials, 1) if blobs[m.sha256] != m.size]
        if wrong:
            verdicts.append(
                _rejected(
                    item.id,
                    RejectReason.INVALID,
                    f"the size of material(s) {_numbers(wrong)} differs from their blob",
                )
            )
            continue
        taken[item.id] = content
        verdicts.append(ItemVerdict(id=item.id, verdict=Verdict.ACCEPTED))
        applications.append(_application_row(db, item, station_id, content, now))
        materials.extend(
            {
                "application_id": item.id,
                "position": position,
                "sha256": material.sha256,
                "kind": material.kind,
                "label": material.label,
                "media_type": material.media_type,
                "size": material.size,
            }
            for position, material in enumerate(item.materials)
        )
    if applications:
        connection.execute(Application.__table__.insert(), applications)
    if materials:
        connection.execute(Material.__table__.insert(), materials)
    return BatchAnswer(results=verdicts)


def _application_row(
    db: Database, item: ApplicationWire, station_id: str, content: str, now: datetime
) -> dict[str, Any]:
    def seal(column: str, value: dict[str, Any] | None) -> bytes | None:
        if value is None:
            return None
        return db.vault.seal_json(value, sealed_context(column, item.id))

    return {
        "id": item.id,
        "station_id": station_id,
        "reference": item.reference,
        "item_code": item.item_code,
        "state": "submitted",
        "reason": None,
        "content_sha256": content,
        "resident_sealed": seal("resident", item.resident),
        "form_sealed": seal("form", item.form),
        "created_at": item.created_at.astimezone(UTC) if item.created_at.tzinfo else
        item.created_at.replace(tzinfo=UTC),
        "received_at": now,
        "updated_at": now,
    }


def _rejected(application_id: str, reason: RejectReason, message: str) -> ItemVerdict:
    return ItemVerdict(
        id=application_id, verdict=Verdict.REJECTED, reason=reason, message=message[:500]
    )


def _numbers(positions: Iterable[int]) -> str:
    return ", ".join(str(n) for n in positions)


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
