"""Helpers for the tests of the agents' pages: stations in a station group, with
applications uploaded through the real API (`submit`) or, for paging through many,
inserted straight into the tables (`insert_applications`).

    station = group_station(db, make_station, "g1")
    [application_id] = submit(station, materials=[PNG])
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from district.db import Database
from district.models import Application, Station
from tests.district.conftest import ITEM, Kiosk, MakeStation, snapshot

#: A 1×1 PNG: a material that is an image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def set_group(db: Database, station_id: str, group: str) -> None:
    with db.write() as connection:
        connection.execute(
            update(Station).where(Station.id == station_id).values(station_group=group)
        )


def group_station(
    db: Database, make_station: MakeStation, group: str = "g1", name: str = "测试服务站",
    code: str | None = None,
) -> Kiosk:
    """An enrolled station in `group` (the station admin pages set groups; this is quicker)."""
    kiosk = make_station(name, code=code)
    set_group(db, kiosk.station_id, group)
    return kiosk


def submit(
    kiosk: Kiosk, count: int = 1, *, materials: Sequence[bytes] = (), item: str = ITEM,
    media_types: Sequence[str] = (),
) -> list[str]:
    """Upload `count` applications of the station (their blobs first); their ids."""
    for content in materials:
        assert kiosk.put_blob(content).status_code in (200, 201, 204)
    items = []
    for number in range(1, count + 1):
        application = kiosk.application(item, materials, number=number)
        for material, media_type in zip(application["materials"], media_types, strict=False):
            material["media_type"] = media_type
        items.append(application)
    answer = kiosk.upload(*items)
    assert answer.status_code == 200, answer.text
    verdicts = answer.json()["results"]
    assert all(v["verdict"] == "accepted" for v in verdicts), verdicts
    return [application["id"] for application in items]


def insert_applications(
    db: Database, station_id: str, count: int, *, item: str = ITEM, state: str = "submitted",
    start: datetime | None = None, step: timedelta = timedelta(minutes=1),
) -> list[str]:
    """`count` applications straight into the table (no resident, no materials), received
    `step` apart from `start` on; their ids, oldest first."""
    start = start or datetime.now(UTC) - timedelta(days=40)
    rows = []
    for n in range(count):
        at = start + n * step
        application_id = str(uuid.uuid4())
        rows.append(
            {
                "id": application_id, "station_id": station_id,
                "reference": f"R-{n:05d}", "item_code": item, "state": state,
                "reason": None,
                "content_sha256": hashlib.sha256(application_id.encode()).hexdigest(),
                "resident_sealed": None, "form_sealed": None, "created_at": at,
                "received_at": at, "updated_at": at, "version": 0,
            }
        )
    with db.write() as connection:
        connection.execute(Application.__table__.insert(), rows)
    return [row["id"] for row in rows]


#: The tables an agent's requests may change (sessions change on every request).
WORK_TABLES = ("applications", "changes", "decisions", "access_grants", "audit_log")


def work_rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables an agent's work changes, to show a request changed none."""
    rows = snapshot(db)
    return {name: rows[name] for name in WORK_TABLES}
