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
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
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
    """A service station. `public_key` (raw Ed25519, 32 bytes) is set at enrollment.
    `station_group` is the group of agents who serve it ("" is no group: only admins see
    it). `report` is the small health report the kiosk sends with each sync (queue depth,
    rejected count, version, catalog version, the five devices); `report_at` is when it
    came, which is the station's last contact."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    software: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    station_group: Mapped[str] = mapped_column(
        String(60), default="", server_default="", index=True
    )
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    __table_args__ = (
        Index("ix_applications_station_received", "station_id", "received_at"),
        Index("ix_applications_state_received", "state", "received_at"),
        Index("ix_applications_station_state", "station_id", "state"),
    )

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
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # bumped by every decision: a decision names the version it was made on, so the
    # second of two agents deciding at once is told instead of overwriting the first
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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


# -- the console: accounts, sessions, audit, decisions, ratings --------------------------


class User(Base):
    """A console account. `role` is agent, supervisor, admin or auditor; agents and
    supervisors work on the stations of their `station_group`. The password is kept as
    an argon2id hash; the TOTP secret (when the account has a second factor) sealed with
    the server key. A disabled account cannot sign in and its sessions end."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    station_group: Mapped[str] = mapped_column(String(60), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    """A signed-in browser. Only the sha256 of the cookie's token is kept. A session is
    `pending` between the password and the TOTP code. It ends on logout, after the idle
    limit without a request, and at its absolute limit, whatever happens."""

    __tablename__ = "console_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginAttempt(Base):
    """A failed sign-in, for throttling by account and by address (pruned after a day)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_at", "account", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessGrant(Base):
    """An agent's recorded access to one application's identity or materials, with the
    reason given; it lasts a few minutes for that session (`district.console.access`)."""

    __tablename__ = "access_grants"

    session_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    what: Mapped[str] = mapped_column(String(16), primary_key=True)  # identity, materials
    reason: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Decision(Base):
    """An agent's decision on an application: who, when, from which state to which, why.
    The station hears of it through `changes`; this is the console's history."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Rating(Base):
    """A 好差评 rating a resident gave at a station (no resident in it), as the station
    sent it; the id is the kiosk's UUID, so a repeated upload changes nothing."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_station_rated", "station_id", "rated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    application_id: Mapped[str | None] = mapped_column(String(36))
    item_code: Mapped[str | None] = mapped_column(String(16), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the kiosk's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One entry of the append-only audit log: time, account, address, action, record,
    result, and a short detail that never holds personal data. `hash` is the sha256 of
    the previous entry's hash and this entry's fields (`district.audit`), so a changed,
    removed or reordered entry breaks the chain."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    record: Mapped[str] = mapped_column(String(80))
    result: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(200))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The audit chain's head at a moment: `district audit verify` checks that the entry
    at `seq` still has `hash`, so removing the newest entries is caught too."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- remote assistance -----------------------------------------------------------------


class Call(Base):
    """A resident's video call from a station (`district.calls` keeps its states:
    waiting → active → ended). The id is the kiosk's call UUID, so a request repeated
    after a dropped socket is the same call. `identity` is only ever the masked form the
    station shows (张*三 310***********1234); `application_id` names the visit's
    application, which may not have synced yet (so no foreign key). `kiosk_seen_at` and
    `agent_seen_at` are each side's last heartbeat: a side silent for
    `protocol.SILENT_S` ends its call with reason `gone`. `supervisor_id` is the supervisor
    who joined it (its agent asked for help at `help_at`)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_state_created", "state", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # waiting, active, ended
    item_code: Mapped[str] = mapped_column(String(16), default="", server_default="")
    item_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    category: Mapped[str] = mapped_column(String(60), default="", server_default="")
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    identity: Mapped[str] = mapped_column(String(80), default="", server_default="")
    source: Mapped[str] = mapped_column(String(16), default="guide", server_default="guide")
    audio: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    help_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the agent asked for help
    # the call-back request an agent's call to the station answers (no foreign key: the
    # request may be pruned before the call's history)
    callback_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kiosk_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgentPresence(Base):
    """What an agent or supervisor is doing for the call queue: available, busy (on
    `call_id`), on a break (with a `reason`), after-call work, or offline (no socket);
    `since` is when that state began, `seen_at` their socket's last heartbeat. `skills`
    are the catalog categories whose calls are routed to them first."""

    __tablename__ = "agent_presence"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="offline", server_default="offline")
    reason: Mapped[str] = mapped_column(String(100), default="", server_default="")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_id: Mapped[str | None] = mapped_column(String(36))


class CallSignal(Base):
    """A message waiting to be delivered to one side of a call: the station
    (`recipient` its id) or an agent (`recipient` the user id). Written in the
    transaction that made it, then delivered and deleted by whichever server process
    holds that side's socket (woken by NOTIFY on PostgreSQL), so no message depends on
    the process that wrote it."""

    __tablename__ = "call_signals"
    __table_args__ = (Index("ix_call_signals_side_recipient", "to_side", "recipient", "id"),)

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(36), index=True)
    to_side: Mapped[str] = mapped_column(String(8))  # station, agent
    recipient: Mapped[str] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallCapture(Base):
    """An image a station captured for the agent during a call, in arrival order; its
    bytes are a blob like any material's (sealed at rest)."""

    __tablename__ = "call_captures"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    request: Mapped[str] = mapped_column(String(40), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallbackRequest(Base):
    """A call-back request a resident left at a station when no agent could take their
    call (`district.callbacks`): the number to call (`phone_sealed`, sealed with the server
    key: personal data), the item and its title as the kiosk showed it, when they would
    like the call (today, tomorrow_am, tomorrow_pm, from `requested_at`, the kiosk's
    clock), and whether an agent has answered it: `state` open → done, by whom
    (`done_by`) and when. The id is the kiosk's UUID, so a repeated upload changes
    nothing."""

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_state_requested", "state", "requested_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(16))
    item_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    preferred: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the kiosk's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
