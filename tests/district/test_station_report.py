"""POST /v1/station:report: the small health report each sync pass ends with, kept as the
station's newest with the server's time as its last contact; hostile reports (huge,
nested, wrong types), unsigned ones and a revoked station's change nothing. On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from district.db import Database
from district.models import Station
from district.stations import revoke
from kiosk.sync.wire import MAX_REPORT_BYTES
from tests.district.conftest import Kiosk
from tests.district.test_fuzz import JSON
from tests.district.test_ratings import snapshot

PATH = "/v1/station:report"


def report(**fields: Any) -> dict[str, Any]:
    return {
        "software": "0.9.0",
        "catalog_version": "2026.11",
        "queued": 3,
        "rejected": 1,
        "ratings_queued": 2,
        "devices": [
            {"family": "card_reader", "state": "ok", "error": None},
            {"family": "camera", "state": "simulated"},
            {"family": "document_camera", "state": "ok"},
            {"family": "scanner", "state": "missing"},
            {"family": "printer", "state": "failing", "error": "paper_out"},
        ],
        "clock": datetime(2026, 12, 6, 9, 30, tzinfo=UTC).isoformat(),
        **fields,
    }


def kept(db: Database, kiosk: Kiosk) -> tuple[Any, datetime | None]:
    with db.read() as connection:
        row = connection.execute(
            select(Station.report, Station.report_at).where(Station.id == kiosk.station_id)
        ).one()
    return row.report, row.report_at


def test_a_report_is_kept_with_the_servers_time(db: Database, kiosk: Kiosk) -> None:
    before = datetime.now(UTC)
    answer = kiosk.request("POST", PATH, json=report())
    assert answer.status_code == 204, answer.text
    stored, at = kept(db, kiosk)
    assert stored["queued"] == 3
    assert stored["devices"][4] == {"family": "printer", "state": "failing", "error": "paper_out"}
    assert stored["clock"].startswith("2026-12-06T09:30")
    assert at is not None and before - timedelta(seconds=1) <= at <= datetime.now(UTC)


def test_the_newest_report_replaces_the_last(db: Database, kiosk: Kiosk) -> None:
    kiosk.request("POST", PATH, json=report(queued=3))
    kiosk.request("POST", PATH, json=report(queued=0, catalog_version=None))
    stored, _ = kept(db, kiosk)
    assert stored["queued"] == 0
    assert stored["catalog_version"] is None


def test_a_revoked_station_is_refused(db: Database, kiosk: Kiosk) -> None:
    revoke(db, kiosk.station_id)
    before = snapshot(db)
    answer = kiosk.request("POST", PATH, json=report())
    assert answer.status_code == 403
    assert snapshot(db) == before


def test_an_unsigned_report_is_refused(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    assert kiosk.client.post(PATH, json=report()).status_code == 401
    assert snapshot(db) == before


def test_an_oversized_report_is_refused_before_it_is_read(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    body = json.dumps(report(software="x" * MAX_REPORT_BYTES)).encode()
    answer = kiosk.request("POST", PATH, content=body)
    assert answer.status_code == 413
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "change",
    [
        {"software": "v" * 65},
        {"queued": -1},
        {"queued": "3"},
        {"queued": 10**12},
        {"devices": [{"family": "camera", "state": "ok"}] * 6},
        {"devices": [{"family": "toaster", "state": "ok"}]},
        {"devices": [{"family": "camera", "state": "on fire"}]},
        {"devices": [{"family": "camera", "state": "failing", "error": "Card of 张三 stuck"}]},
        {"devices": [{"family": "camera", "state": "ok", "detail": "anything"}]},
        {"clock": "yesterday"},
        {"resident": {"name": "张三"}},
    ],
)
def test_a_report_that_is_not_the_model_is_refused(
    db: Database, kiosk: Kiosk, change: dict[str, Any]
) -> None:
    before = snapshot(db)
    answer = kiosk.request("POST", PATH, json=report(**change))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "malformed"
    assert "张三" not in answer.text
    assert snapshot(db) == before


FIELDS = ["software", "catalog_version", "queued", "rejected", "ratings_queued", "devices",
          "clock"]


@st.composite
def hostile_reports(draw: st.DrawFn) -> bytes:
    """A report with fields replaced by anything (deeply nested too), or anything at all."""
    kind = draw(st.sampled_from(["mangled", "json", "bytes", "deep"]))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(10, 400))
        return json.dumps(report(devices="[" * depth + "]" * depth)).encode().replace(
            b'"' + b"[" * depth + b"]" * depth + b'"', b"[" * depth + b"]" * depth
        )
    body: dict[str, Any] = report()
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            body[name] = draw(JSON)
        else:
            del body[name]
    return json.dumps(body, ensure_ascii=False).encode()


def test_hostile_reports_are_refused_cleanly(db: Database, kiosk: Kiosk) -> None:
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(body=hostile_reports())
    def run(body: bytes) -> None:
        before = snapshot(db)
        answer = kiosk.request("POST", PATH, content=body)
        if answer.status_code == 204:
            # a mangled field that still fits the model (e.g. catalog_version replaced
            # by null): kept, and well-formed
            stored, _ = kept(db, kiosk)
            assert set(stored) == set(FIELDS)
            return
        assert answer.status_code in (413, 422), answer.text
        assert snapshot(db) == before

    run()
