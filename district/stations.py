"""Stations and their enrollment: what `district station …` and POST /v1/enroll do.

An admin adds a station and gets a one-time enrollment code (10 characters from an
alphabet without look-alikes, shown as `ABCDE-FGHJK`; typing it in lower case, without
the dash or with spaces is fine). Only the code's sha256 is stored, with its expiry.

Enrollment takes the code and the public key the kiosk made:
- an unknown code → 403 bad_code; an unused code past its expiry → 403 code_expired;
- an unused, valid code → the station takes the key; the code is spent and remembers it;
- a spent code with the same key (the kiosk never heard the answer) → the same answer
  again, even after the expiry; with another key → 403 code_used;
- a revoked station → 403 revoked, whatever the code.

`district station code ID` issues a new code for an enrolled station (a replaced kiosk):
enrolling with it replaces the station's key, and the station's older unused codes are
void. Revoking is immediate (every signed request checks it) and final.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, func, select, update

from district.db import DEFAULT_DISTRICT_NAME, Database
from district.errors import NotFound, ProblemError, Refused, field_summary
from district.models import EnrollmentCode, Station
from kiosk.sync.wire import EnrollAnswer, EnrollRequest, unb64

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 10
DEFAULT_EXPIRES_MINUTES = 30
STATION_CODE = re.compile(r"^[A-Z0-9]{2,12}$")


@dataclass(frozen=True)
class NewCode:
    station_id: str
    station_code: str
    station_name: str
    enrollment_code: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "station_code": self.station_code,
            "station_name": self.station_name,
            "enrollment_code": self.enrollment_code,
            "expires_at": self.expires_at.isoformat(),
        }


def make_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def code_sha256(code: str) -> str:
    """The stored form of a code, after the normalisation a person's typing needs."""
    normal = re.sub(r"[\s-]", "", code).upper()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def district_name(db: Database, connection: Connection) -> str:
    return db.meta(connection, "district_name") or DEFAULT_DISTRICT_NAME


def set_district_name(db: Database, name: str) -> None:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise Refused("the district's name must be 1 to 120 characters")
    with db.write() as connection:
        db.set_meta(connection, "district_name", name)


def add_station(
    db: Database, name: str, *, code: str | None = None, expires_minutes: int = 30
) -> NewCode:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise Refused("a station's name must be 1 to 120 characters")
    if code is not None and not STATION_CODE.match(code):
        raise Refused("a station code is 2 to 12 capital letters and digits, such as PD0101")
    _check_minutes(expires_minutes)
    now = datetime.now(UTC)
    station_id = str(uuid.uuid4())
    with db.write() as connection:
        if code is None:
            code = _next_station_code(connection)
        elif connection.scalar(select(Station.id).where(Station.code == code)) is not None:
            raise Refused(f"there is already a station with the code {code}")
        connection.execute(
            Station.__table__.insert().values(
                id=station_id, code=code, name=name, software="", created_at=now
            )
        )
        enrollment_code, expires_at = _issue_code(connection, station_id, now, expires_minutes)
    return NewCode(station_id, code, name, enrollment_code, expires_at)


def new_code(db: Database, station: str, *, expires_minutes: int = 30) -> NewCode:
    """A new enrollment code for an existing station (a replaced or reinstalled kiosk)."""
    _check_minutes(expires_minutes)
    now = datetime.now(UTC)
    with db.write() as connection:
        row = find_station(connection, station)
        if row.revoked_at is not None:
            raise Refused(f"station {row.code} is revoked; add a new station instead")
        connection.execute(
            delete(EnrollmentCode).where(
                EnrollmentCode.station_id == row.id, EnrollmentCode.used_at.is_(None)
            )
        )
        enrollment_code, expires_at = _issue_code(connection, row.id, now, expires_minutes)
    return NewCode(row.id, row.code, row.name, enrollment_code, expires_at)


def revoke(db: Database, station: str) -> dict[str, Any]:
    with db.write() as connection:
        row = find_station(connection, station)
        revoked_at = row.revoked_at or datetime.now(UTC)
        connection.execute(
            update(Station).where(Station.id == row.id).values(revoked_at=revoked_at)
        )
        connection.execute(
            delete(EnrollmentCode).where(
                EnrollmentCode.station_id == row.id, EnrollmentCode.used_at.is_(None)
            )
        )
    return {"station_id": row.id, "station_code": row.code, "revoked_at": revoked_at.isoformat()}


def list_stations(db: Database) -> list[dict[str, Any]]:
    with db.read() as connection:
        rows = connection.execute(select(Station).order_by(Station.code)).all()
    return [_station_json(row) for row in rows]


def find_station(connection: Connection, station: str) -> Any:
    """A station row by its id or its code."""
    column = Station.id if len(station) == 36 else Station.code
    row = connection.execute(select(Station).where(column == station)).first()
    if row is None:
        raise NotFound(f"no station {station!r}")
    return row


def enroll(db: Database, body: bytes) -> EnrollAnswer:
    """POST /v1/enroll."""
    try:
        request = EnrollRequest.model_validate_json(body)
    except ValueError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    try:
        key = unb64(request.public_key)
        Ed25519PublicKey.from_public_bytes(key)
    except ValueError:
        raise ProblemError(422, "malformed", "public_key is not a base64 Ed25519 key") from None
    digest = code_sha256(request.code)
    now = datetime.now(UTC)
    for _attempt in range(3):
        with db.write() as connection:
            code = connection.execute(
                select(EnrollmentCode).where(EnrollmentCode.code_sha256 == digest)
            ).first()
            if code is None:
                raise ProblemError(403, "bad_code", "the district knows no such enrollment code")
            station = connection.execute(
                select(Station).where(Station.id == code.station_id)
            ).one()
            if station.revoked_at is not None:
                raise ProblemError(403, "revoked", "the district has revoked this station")
            if code.used_at is not None:
                if code.public_key == key and station.public_key == key:
                    return _answer(db, connection, station)
                raise ProblemError(403, "code_used", "this enrollment code was already used")
            if code.expires_at <= now:
                raise ProblemError(403, "code_expired", "this enrollment code has expired")
            claimed = connection.execute(
                update(EnrollmentCode)
                .where(EnrollmentCode.code_sha256 == digest, EnrollmentCode.used_at.is_(None))
                .values(used_at=now, public_key=key)
            )
            if claimed.rowcount != 1:
                continue  # another enrollment took it meanwhile: look again
            connection.execute(
                update(Station)
                .where(Station.id == station.id)
                .values(public_key=key, enrolled_at=now, software=request.software)
            )
            enrolled = connection.execute(select(Station).where(Station.id == station.id)).one()
            return _answer(db, connection, enrolled)
    raise ProblemError(403, "code_used", "this enrollment code was already used")


def _answer(db: Database, connection: Connection, station: Any) -> EnrollAnswer:
    return EnrollAnswer(
        station_id=station.id,
        station_code=station.code,
        station_name=station.name,
        district_name=district_name(db, connection),
        enrolled_at=station.enrolled_at,
    )


def _issue_code(
    connection: Connection, station_id: str, now: datetime, minutes: int
) -> tuple[str, datetime]:
    code = make_code()
    expires_at = now + timedelta(minutes=minutes)
    connection.execute(
        EnrollmentCode.__table__.insert().values(
            code_sha256=code_sha256(code),
            station_id=station_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return code, expires_at


def _next_station_code(connection: Connection) -> str:
    count = connection.scalar(select(func.count()).select_from(Station)) or 0
    number = count + 1
    while True:
        code = f"ST{number:04d}"
        if connection.scalar(select(Station.id).where(Station.code == code)) is None:
            return code
        number += 1


def _check_minutes(minutes: int) -> None:
    if not 1 <= minutes <= 7 * 24 * 60:
        raise Refused("an enrollment code expires after 1 minute to 7 days (10080 minutes)")


def _station_json(row: Any) -> dict[str, Any]:
    return {
        "station_id": row.id,
        "station_code": row.code,
        "station_name": row.name,
        "enrolled": row.public_key is not None,
        "enrolled_at": row.enrolled_at.isoformat() if row.enrolled_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "software": row.software,
    }

