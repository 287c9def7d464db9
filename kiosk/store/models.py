"""The local store's tables, as SQLAlchemy 2.0 typed models.

Columns that hold personal data end in `_sealed` and hold bytes sealed by
`kiosk.store.crypto.Vault` (context: see `sealed_context`); nothing else in these tables
names or identifies a resident. Times are UTC and only ever shown or ordered by, never
used to decide anything: kiosk clocks drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored naive (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def sealed_context(table: str, column: str, row_id: str) -> bytes:
    """The associated data that binds a sealed value to its table, column and row."""
    return f"{table}.{column}:{row_id}".encode()


class CatalogInfo(Base):
    """Which catalog is in use (one row, id 1)."""

    __tablename__ = "catalog_info"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    sample: Mapped[bool]
    source_sha256: Mapped[str] = mapped_column(String(64))
    item_count: Mapped[int]
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogItemRow(Base):
    """One service item of the catalog in use, as its validated JSON."""

    __tablename__ = "catalog_items"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    data: Mapped[dict[str, object]] = mapped_column(JSON)


class ReferenceCounter(Base):
    """The last sequence number used in human references, per station and day."""

    __tablename__ = "reference_counters"

    station_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_sequence: Mapped[int]


class Application(Base):
    """A resident's application for one service item."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    station_code: Mapped[str] = mapped_column(String(12))
    item_code: Mapped[str] = mapped_column(String(16), index=True)
    item_name_zh: Mapped[str] = mapped_column(String(60))
    item_name_en: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True)
    resident_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    form_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    materials: Mapped[list[Material]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Material.id"
    )
    history: Mapped[list[StateChange]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="StateChange.id"
    )


class Blob(Base):
    """A file in the blob store that rows may refer to."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the district confirmed it has this blob (sync sends it no more); None: not yet.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Material(Base):
    """A captured material of an application (a page, a photo, a card face)."""

    __tablename__ = "application_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")

    application: Mapped[Application] = relationship(back_populates="materials")
    blob: Mapped[Blob] = relationship()


class StateChange(Base):
    """One step of an application's history, for staff and for the audit trail."""

    __tablename__ = "application_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="history")


class OutboxEntry(Base):
    """An application waiting to be uploaded to the district, in queue order (FIFO)."""

    __tablename__ = "outbox"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """A 好差评 rating a resident gave at the end of a visit (no resident in it), with the
    short comment staff may attach. The id is a UUID made here, the district's permanent
    key for it. `application_id` names the application rated, if any, without a foreign
    key: the rating outlives the application when retention clears that."""

    __tablename__ = "ratings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str | None] = mapped_column(String(36))
    item_code: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(200), default="")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the district last confirmed it (with its comment as it was then); None: not yet.
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RatingOutboxEntry(Base):
    """A rating waiting to be uploaded (again, when staff changed its comment), FIFO.

    Ratings have a queue of their own rather than a second kind of `OutboxEntry`: they
    have no blobs, no states and no verdict to apply but "the district has it", so the
    sync engine's application path stays as it is and the ratings path is a few lines."""

    __tablename__ = "rating_outbox"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rating_id: Mapped[str] = mapped_column(
        ForeignKey("ratings.id", ondelete="CASCADE"), unique=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Callback(Base):
    """A call-back request a resident left (no agent could take their call): the number
    to call, sealed (`phone_sealed`, personal data), the item and its title, and when they
    would like the call (`preferred`: today, tomorrow_am, tomorrow_pm). The id is a UUID
    made here, the district's permanent key for it. Once the district has it the number
    is dropped here (`phone_sealed` None): the district calls back, the kiosk does not."""

    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(16))
    item_title: Mapped[str] = mapped_column(String(200), default="")
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    preferred: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When the district confirmed it; None: not yet.
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallbackOutboxEntry(Base):
    """A call-back request waiting to be uploaded, FIFO (a queue of its own, as ratings
    have: nothing else goes with it)."""

    __tablename__ = "callback_outbox"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    callback_id: Mapped[str] = mapped_column(
        ForeignKey("callbacks.id", ondelete="CASCADE"), unique=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrintJob(Base):
    """A document to print (a receipt, a form, a report, a test page) and how it went.

    The document itself is a blob (sealed at rest like every blob); `title` and `reason`
    are shown to staff and in logs, so they never hold personal data (a receipt's title
    is its reference). `backend_job` is the print system's own id for the job while the
    print system holds it; it is cleared when the print system lost the job, which is
    what allows the job to be sent again without printing it twice.
    """

    __tablename__ = "print_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, unique=True)  # FIFO order
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str | None] = mapped_column(String(40), index=True)
    document_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    printer: Mapped[str | None] = mapped_column(String(127))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    backend_job: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reprint_of: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncInfo(Base):
    """The station's standing with its district (one row, id 1): who the district says this
    station is, where the sync got to, and how the last attempt went."""

    __tablename__ = "sync_info"

    id: Mapped[int] = mapped_column(primary_key=True)
    server_url: Mapped[str | None] = mapped_column(String(500))
    station_id: Mapped[str | None] = mapped_column(String(36))
    station_code: Mapped[str | None] = mapped_column(String(12))
    station_name: Mapped[str | None] = mapped_column(String(120))
    district_name: Mapped[str | None] = mapped_column(String(120))
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changes_cursor: Mapped[str | None] = mapped_column(String(200))
    settings_version: Mapped[int | None] = mapped_column(Integer)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
