"""The district database's tables, as SQLAlchemy 2.0 typed models.

The same tables serve SQLite (one office) and PostgreSQL (a district or a city); the
schema is made and changed only by the Alembic migrations in `district/migrations`.
Hot paths (upload, blobs, changes) use these tables through SQLAlchemy Core; the models
are the one declaration of the schema.

Personal data (the resident and form of an application, the bytes of every blob) is kept
sealed with the server key (`district.vault`) in `*_sealed` columns; nothing else here
names or identifies a resident. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kiosk.store.models import UTCDateTime  # the same aware-UTC column as the kiosk

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: An autoincrementing 64-bit key (SQLite only autoincrements its INTEGER rowid alias).
BigSerial = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meta(Base):
    """Facts about this database: its epoch (part of every changes cursor), the id of the
    server key its sealed data needs, the district's name."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Station(Base):
    """A service station. `public_key` (raw Ed25519, 32 bytes) is set at enrollment."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    software: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EnrollmentCode(Base):
    """A one-time enrollment code, kept only as its sha256. Once used, it remembers the
    key it was used with, so the same code and key may enroll again (a lost answer)."""

    __tablename__ = "enrollment_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)


class Nonce(Base):
    """A nonce a station has used; a second use within the clock window is a replay.
    Rows older than the window are pruned: a request that old is refused as stale."""

    __tablename__ = "nonces"

    station_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Catalog(Base):
    """A published catalog version: the kiosk's catalog file as imported."""

    __tablename__ = "catalogs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    item_count: Mapped[int] = mapped_column(Integer)
    toml: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogItem(Base):
    """The item codes of a published catalog (what an upload is checked against)."""

    __tablename__ = "catalog_items"

    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)


class SettingsVersion(Base):
    """A settings document for every station (`station_id` NULL) or for one station. The
    row id is the version: one sequence for all, so a station's effective version (the
    larger of its newest own and newest global row) only ever grows."""

    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id"), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Blob(Base):
    """A material's bytes, named by the sha256 of the plain bytes, sealed at rest."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Application(Base):
    """An application as a station sent it. The id (the kiosk's UUID) is the permanent
    unique key that makes a repeated upload change nothing; `content_sha256` tells a
    repeat from another application claiming the same id."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40), index=True)
    item_code: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    resident_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    form_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the kiosk's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Material(Base):
    """A material of an application, in the order the station sent them."""

    __tablename__ = "materials"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)


class Change(Base):
    """A state an agent's decision set, in one global order (`seq`) that the changes
    cursor counts in. Writers take a lock first, so `seq` order is commit order."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_station_seq", "station_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
