"""What stations report besides applications: the 好差评 ratings residents gave, and the
small health report each sync pass ends with.

Both run inside the signed request's one transaction (the caller's `connection`, which
has checked the signature and spent the nonce), so a refused request changes nothing.

Ratings (POST /v1/ratings:batch) are keyed on the kiosk's permanent UUID: the same
rating again changes nothing; the same rating with another staff comment replaces the
comment (the kiosk sends a rating again only when staff changed its comment, after the
earlier upload was answered, so the last one received is the newest); the same id with
another score, time, application or item, or from another station, is `conflict`. A
rating names its application only by id and is kept even when the district does not hold
that application (it may still be on its way, or the station's retention cleared it).

The health report (POST /v1/station:report) replaces the station's last one, with the
server's clock as the station's last contact (`stations.report_at`): kiosk clocks drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, select, update

from district.errors import ProblemError, field_summary
from district.models import Rating, Station
from kiosk.sync.wire import (
    BatchAnswer,
    ItemVerdict,
    RatingBatch,
    RatingWire,
    RejectReason,
    StationReport,
    Verdict,
)


def upload_ratings(connection: Connection, station_id: str, body: bytes) -> BatchAnswer:
    """POST /v1/ratings:batch: one verdict per rating, in order."""
    try:
        batch = RatingBatch.model_validate_json(body)
    except ValidationError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    ids = list(dict.fromkeys(rating.id for rating in batch.ratings))
    held: dict[str, dict[str, Any]] = {
        row.id: dict(row._mapping)
        for row in connection.execute(
            select(
                Rating.id,
                Rating.station_id,
                Rating.application_id,
                Rating.item_code,
                Rating.score,
                Rating.rated_at,
                Rating.comment,
            ).where(Rating.id.in_(ids))
        )
    }
    now = datetime.now(UTC)
    verdicts: list[ItemVerdict] = []
    new: dict[str, dict[str, Any]] = {}
    comments: dict[str, str] = {}
    for rating in batch.ratings:
        row = _row(rating, station_id)
        known = held.get(rating.id) or new.get(rating.id)
        if known is None:
            new[rating.id] = {**row, "received_at": now}
        elif any(known[key] != row[key] for key in _IDENTITY):
            verdicts.append(
                ItemVerdict(
                    id=rating.id,
                    verdict=Verdict.REJECTED,
                    reason=RejectReason.CONFLICT,
                    message="the district holds this rating id with another rating",
                )
            )
            continue
        elif rating.id in new:
            new[rating.id]["comment"] = rating.comment
        elif known["comment"] != rating.comment or rating.id in comments:
            comments[rating.id] = rating.comment
        verdicts.append(ItemVerdict(id=rating.id, verdict=Verdict.ACCEPTED))
    if new:
        connection.execute(Rating.__table__.insert(), list(new.values()))
    for rating_id, comment in comments.items():
        connection.execute(update(Rating).where(Rating.id == rating_id).values(comment=comment))
    return BatchAnswer(results=verdicts)


#: What makes a rating the same rating (the comment is staff's, and may change).
_IDENTITY = ("station_id", "application_id", "item_code", "score", "rated_at")


def _row(rating: RatingWire, station_id: str) -> dict[str, Any]:
    rated_at = rating.rated_at
    rated_at = rated_at.replace(tzinfo=UTC) if rated_at.tzinfo is None else rated_at
    return {
        "id": rating.id,
        "station_id": station_id,
        "application_id": rating.application_id,
        "item_code": rating.item_code,
        "score": rating.score,
        "rated_at": rated_at.astimezone(UTC),
        "comment": rating.comment,
    }


def store_report(connection: Connection, station_id: str, body: bytes) -> None:
    """POST /v1/station:report: keep the report as the station's newest."""
    try:
        report = StationReport.model_validate_json(body)
    except ValidationError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    connection.execute(
        update(Station)
        .where(Station.id == station_id)
        .values(report=report.model_dump(mode="json"), report_at=datetime.now(UTC))
    )
