"""The 好差评 ratings residents give at the end of a visit, and the comments staff attach.

A rating is a score from 1 (很不满意) to 5 (非常满意), the application and item it was
about (if the visit made one), and when it was given; never the resident. `Ratings.add`
stores it and queues it for the district (`rating_outbox`) in the same local transaction,
so a rating the kiosk has taken is uploaded even after a power cut; the sync engine sends
the queue in batches (kiosk.sync.engine) and the district keys each rating on its UUID,
so none is counted twice.

Staff may attach a short comment (at most MAX_COMMENT characters) to one of today's
ratings, in staff mode: before the upload it goes with the rating; after, the rating is
queued again and the district keeps the newest comment.

Before ratings were kept here they went to `ratings.jsonl` in the data folder:
`import_ratings_file` takes that file in once (then renames it `ratings.jsonl.imported`),
so nothing a station collected is lost. Every operation is one local transaction and may
block: the window calls them on a worker thread.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kiosk.core.catalog import ITEM_CODE_PATTERN
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.store.models import Application, Rating, RatingOutboxEntry
from kiosk.sync.wire import MAX_COMMENT

log = logging.getLogger(__name__)

SCORES = range(1, 6)
RATINGS_FILE = "ratings.jsonl"
IMPORTED_SUFFIX = ".imported"
# The UUIDs of imported lines are made from the line (uuid5), so importing the same file
# again after a crash half-way finds them already there.
_IMPORT_NAMESPACE = uuid.UUID("5b0d7e0e-7f9c-4a57-9a4c-52a6d3c1e0a1")


class RatingRefused(DoorstepError):
    """A rating or comment the kiosk cannot take (a score out of range, a comment too
    long, a rating that does not exist)."""

    action = "Choose a score from 1 to 5, and keep the comment to 200 characters."


@dataclass(frozen=True)
class RatingView:
    """A rating as staff see it (there is no personal data in a rating)."""

    id: str
    application_id: str | None
    item_code: str | None
    score: int
    comment: str
    rated_at: datetime
    uploaded: bool
    queued: bool


class Ratings:
    """The operations on ratings, each one local transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self,
        score: int,
        *,
        application_id: str | None = None,
        item_code: str | None = None,
        rated_at: datetime | None = None,
    ) -> RatingView:
        """Store a new rating and queue it for the district, together."""
        if score not in SCORES:
            raise RatingRefused(f"a rating is a score from 1 to 5, not {score!r}")
        with self._store.write() as session:
            rating = Rating(
                id=str(uuid.uuid4()),
                application_id=application_id,
                item_code=item_code,
                score=score,
                comment="",
                rated_at=rated_at or datetime.now(UTC),
            )
            session.add(rating)
            session.flush()
            _queue(session, rating.id)
            return _view(rating, queued=True)

    def comment(self, rating_id: str, comment: str) -> RatingView:
        """Attach staff's comment (replacing any earlier one) and queue the rating, so the
        district hears of it whether or not it had the rating already."""
        comment = comment.strip()
        if len(comment) > MAX_COMMENT:
            raise RatingRefused(f"a comment is at most {MAX_COMMENT} characters")
        with self._store.write() as session:
            rating = session.get(Rating, rating_id)
            if rating is None:
                raise RatingRefused(f"no rating {rating_id!r} on this kiosk")
            rating.comment = comment
            rating.commented_at = datetime.now(UTC)
            _queue(session, rating.id)
            return _view(rating, queued=True)

    def on_day(self, day: datetime, *, limit: int = 200) -> list[RatingView]:
        """The ratings given on the local day that `day` (an aware time) falls in, newest
        first."""
        start = day.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
        with self._store.read() as session:
            queued = set(session.scalars(select(RatingOutboxEntry.rating_id)))
            rows = session.scalars(
                select(Rating)
                .where(Rating.rated_at >= start, Rating.rated_at < end)
                .order_by(Rating.rated_at.desc(), Rating.id)
                .limit(limit)
            )
            return [_view(row, queued=row.id in queued) for row in rows]

    def get(self, rating_id: str) -> RatingView:
        with self._store.read() as session:
            rating = session.get(Rating, rating_id)
            if rating is None:
                raise RatingRefused(f"no rating {rating_id!r} on this kiosk")
            queued = session.scalar(
                select(func.count()).where(RatingOutboxEntry.rating_id == rating_id)
            )
            return _view(rating, queued=bool(queued))

    def queued(self) -> int:
        """How many ratings wait to be uploaded."""
        with self._store.read() as session:
            return session.scalar(select(func.count()).select_from(RatingOutboxEntry)) or 0


def _queue(session: Session, rating_id: str) -> None:
    """Put the rating at the back of the queue (a fresh entry: an upload already under way
    settles only the entries it sent, so a comment made meanwhile still goes)."""
    session.execute(delete(RatingOutboxEntry).where(RatingOutboxEntry.rating_id == rating_id))
    session.add(RatingOutboxEntry(rating_id=rating_id))


def _view(rating: Rating, *, queued: bool) -> RatingView:
    return RatingView(
        id=rating.id,
        application_id=rating.application_id,
        item_code=rating.item_code,
        score=rating.score,
        comment=rating.comment,
        rated_at=rating.rated_at,
        uploaded=rating.uploaded_at is not None,
        queued=queued,
    )


def import_ratings_file(store: Store, data_dir: Path) -> int:
    """Take `ratings.jsonl` (what kiosks wrote before ratings were kept in the store) into
    the store and its upload queue, then rename it `ratings.jsonl.imported`; how many were
    imported. Safe to run again after a crash half-way (each line's id comes from the
    line). A line that cannot be read is left out, and counted in the log, never shown."""
    path = data_dir / RATINGS_FILE
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    unreadable = 0
    imported = 0
    with store.write() as session:
        for number, line in enumerate(lines, 1):
            rating = _from_line(session, line, number)
            if rating is None:
                unreadable += bool(line.strip())
                continue
            if session.get(Rating, rating.id) is not None:
                continue
            session.add(rating)
            session.flush()
            _queue(session, rating.id)
            imported += 1
    path.replace(path.with_name(RATINGS_FILE + IMPORTED_SUFFIX))
    log.info("imported %d rating(s) from %s (%d unreadable line(s))", imported, path.name,
             unreadable)
    return imported


def _from_line(session: Session, line: str, number: int) -> Rating | None:
    """A line of ratings.jsonl ({"at", "reference", "item", "rating"}) as a rating."""
    try:
        record = json.loads(line)
        score = record["rating"]
        rated_at = datetime.fromisoformat(record["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(score, int) or score not in SCORES:
        return None
    rated_at = rated_at if rated_at.tzinfo else rated_at.replace(tzinfo=UTC)
    reference, item = record.get("reference"), record.get("item")
    application_id = (
        session.scalar(select(Application.id).where(Application.reference == reference))
        if isinstance(reference, str) and reference
        else None
    )
    return Rating(
        id=str(uuid.uuid5(_IMPORT_NAMESPACE, f"{number}:{line}")),
        application_id=application_id,
        item_code=item if isinstance(item, str) and re.fullmatch(ITEM_CODE_PATTERN, item) else None,
        score=score,
        comment="",
        rated_at=rated_at,
    )
