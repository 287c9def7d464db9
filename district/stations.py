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
void. Revoking is immediate (every signed request checks it) and final. A station can be
renamed and moved to another station group (the agents who serve it; "" is none).
Adding, a new code, revoking, renaming and regrouping are each an audit entry
(`station:<code>`), written in the change's own transaction.

`read_health` reads the health report a station sent with its last sync
(`kiosk.sync.wire.StationReport`) defensively: it was stored by whatever software the
station ran, so any part of it may be missing or of another shape.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, func, select, update

from district import audit
from district.accounts import GROUP_PATTERN
from district.db import DEFAULT_DISTRICT_NAME, Database
from district.errors import NotFound, ProblemError, Refused, field_summary
from district.models import EnrollmentCode, Station
from kiosk.sync.wire import EnrollAnswer, EnrollRequest, unb64

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 10
DEFAULT_EXPIRES_MINUTES = 30
STATION_CODE = re.compile(r"^[A-Z0-9]{2,12}$")
NAME_MAX = 120
StationState = Literal["enrolled", "waiting", "revoked"]
#: The five devices of a station's kit, as its health report names them.
DEVICES = ("card_reader", "camera", "document_camera", "scanner", "printer")


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


@dataclass(frozen=True)
class Device:
    """One device of the kit as the station last reported it (None: not said)."""

    name: str
    state: str | None
    error: str | None


@dataclass(frozen=True)
class Health:
    """A station's last health report, each part None when missing or malformed."""

    software: str | None
    catalog_version: str | None
    queue_depth: int | None
    rejected: int | None
    clock: str | None
    devices: tuple[Device, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "software": self.software,
            "catalog_version": self.catalog_version,
            "queue_depth": self.queue_depth,
            "rejected": self.rejected,
            "clock": self.clock,
            "devices": {
                device.name: {"state": device.state, "error": device.error}
                for device in self.devices
            },
        }


def read_health(report: object, software: str = "") -> Health:
    """The parts of a station's health report that are what they should be; `software`
    (the version it enrolled with) stands in when the report names none."""
    fields = report if isinstance(report, dict) else {}
    devices = fields.get("devices")
    if isinstance(devices, list):  # the wire's form: [{"family": ..., "state": ...}, ...]
        devices = {
            device["family"]: device
            for device in devices
            if isinstance(device, dict) and isinstance(device.get("family"), str)
        }
    devices = devices if isinstance(devices, dict) else {}

    def device(name: str) -> Device:
        found = devices.get(name)
        found = found if isinstance(found, dict) else {}
        return Device(name, _short(found.get("state")), _short(found.get("error")))

    queued = fields.get("queued", fields.get("queue_depth"))
    return Health(
        software=_short(fields.get("software")) or _short(software),
        catalog_version=_short(fields.get("catalog_version")),
        queue_depth=_count(queued),
        rejected=_count(fields.get("rejected")),
        clock=_short(fields.get("clock")),
        devices=tuple(device(name) for name in DEVICES),
    )


def _short(value: object) -> str | None:
    """A short printable text from a report, or None."""
    if not isinstance(value, str):
        return None
    value = "".join(char for char in value[:64] if char.isprintable()).strip()
    return value or None


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


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
    db: Database,
    name: str,
    *,
    code: str | None = None,
    station_group: str = "",
    expires_minutes: int = 30,
    by: str = audit.COMMAND_LINE,
    address: str = "",
) -> NewCode:
    name = check_name(name)
    if code is not None and not STATION_CODE.fullmatch(code):
        raise Refused("a station code is 2 to 12 capital letters and digits, such as PD0101")
    station_group = check_group(station_group)
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
                id=station_id, code=code, name=name, software="", created_at=now,
                station_group=station_group,
            )
        )
        enrollment_code, expires_at = _issue_code(connection, station_id, now, expires_minutes)
        audit.append(
            db, connection, account=by, address=address, action=audit.STATION_ADDED,
            record=f"station:{code}",
        )
    return NewCode(station_id, code, name, enrollment_code, expires_at)


def new_code(
    db: Database, station: str, *, expires_minutes: int = 30, by: str = audit.COMMAND_LINE,
    address: str = "",
) -> NewCode:
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
        audit.append(
            db, connection, account=by, address=address, action=audit.STATION_CODE,
            record=f"station:{row.code}",
        )
    return NewCode(row.id, row.code, row.name, enrollment_code, expires_at)


def revoke(
    db: Database, station: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> dict[str, Any]:
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
        audit.append(
            db, connection, account=by, address=address, action=audit.STATION_REVOKED,
            record=f"station:{row.code}",
        )
    return {"station_id": row.id, "station_code": row.code, "revoked_at": revoked_at.isoformat()}


def rename(
    db: Database, station: str, name: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> dict[str, Any]:
    """Give station ID another name (what its screens and the console show)."""
    return _change(db, station, "name", check_name(name), by=by, address=address)


def set_group(
    db: Database, station: str, group: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> dict[str, Any]:
    """Move station ID to station group `group` ("" for none: only admins see it then)."""
    return _change(db, station, "station_group", check_group(group), by=by, address=address)


def check_name(name: str) -> str:
    """A station's name as stored: 1 to 120 characters, no control characters."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or any(
        unicodedata.category(char) in ("Cc", "Cs") for char in name
    ):
        raise Refused(f"a station's name must be 1 to {NAME_MAX} characters, no control ones")
    return name


def check_group(group: str) -> str:
    """A station group as stored ("" for none)."""
    group = group.strip()
    if group and not GROUP_PATTERN.fullmatch(group):
        raise Refused("a station group is 1 to 60 letters, digits, dots or dashes")
    return group


def _change(
    db: Database, station: str, column: str, value: str, *, by: str, address: str
) -> dict[str, Any]:
    with db.write() as connection:
        row = find_station(connection, station)
        if getattr(row, column) != value:
            connection.execute(
                update(Station).where(Station.id == row.id).values({column: value})
            )
            audit.append(
                db, connection, account=by, address=address, action=audit.STATION_CHANGED,
                record=f"station:{row.code}", detail="name" if column == "name" else "group",
            )
        changed = connection.execute(select(Station).where(Station.id == row.id)).one()
    return _station_json(changed)


def state_of(row: Any) -> StationState:
    """A station's state: "revoked", "enrolled" or "waiting" (for its kiosk to enroll)."""
    if row.revoked_at is not None:
        return "revoked"
    return "enrolled" if row.public_key is not None else "waiting"


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
        "station_group": row.station_group,
        "state": state_of(row),
    }

