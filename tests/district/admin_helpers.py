"""Helpers for the tests of the admins' and supervisors' console pages: the audit entries
of one action, a station's health report written as a sync would, and a form's refusal
that must change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update

from district import audit
from district.db import Database
from district.models import Station
from tests.district.conftest import snapshot


def logged(db: Database, action: str) -> list[tuple[str, str, str]]:
    """(account, record, detail) of every audit entry of `action`, oldest first."""
    return [
        (entry["account"], entry["record"], entry["detail"])
        for entry in audit.entries(db)
        if entry["action"] == action
    ]


def set_report(db: Database, code: str, report: Any, at: datetime | None = None) -> None:
    """Store `report` as station `code`'s last health report, as POST /v1/station:report
    does (but without its checks: the console must read whatever is there)."""
    with db.write() as connection:
        connection.execute(
            update(Station)
            .where(Station.code == code)
            .values(report=report, report_at=at or datetime.now(UTC))
        )


def refused_without_change(
    db: Database, send: Callable[[], httpx.Response], status: int
) -> httpx.Response:
    """Send a request that must be refused with `status` and leave every row as it was."""
    before = snapshot(db)
    answer = send()
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    assert snapshot(db) == before
    return answer


#: A report as the kiosk sends it (kiosk.sync.wire.StationReport).
WIRE_REPORT = {
    "software": "1.4.0",
    "catalog_version": "2026.11",
    "queued": 3,
    "rejected": 1,
    "ratings_queued": 0,
    "devices": [
        {"family": "card_reader", "state": "ok", "error": None},
        {"family": "camera", "state": "ok", "error": None},
        {"family": "document_camera", "state": "missing", "error": None},
        {"family": "scanner", "state": "simulated", "error": None},
        {"family": "printer", "state": "failing", "error": "paper_out"},
    ],
    "clock": "2026-12-06T09:30:00+08:00",
}
