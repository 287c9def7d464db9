"""The console's reports: the figures on known data (both databases), the page, the CSV
and the PDF, who may see them (a supervisor of g1 sees nothing of g2 in any of the
three), and bad parameters (a 400 page, never a 5xx)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import true

from district import reporting
from district.db import Database
from district.models import Application, Decision, Rating, Station
from tests.district.browsing import Person, sign_in
from tests.pdfcheck import assert_fonts_embedded, page_info, text_of

MONTH = "2026-11"
HOSTILE = "=HYPERLINK(\"http://x\")<script>alert('x')</script>"
G2_COMMENT = "陆家嘴的意见只给本组看"


def local(*parts: int) -> datetime:
    """A moment of the server's local clock (the reports' days are local days)."""
    return datetime(*parts).astimezone()  # type: ignore[arg-type]


@dataclass
class Known:
    """What `populate` put in: the applications' ids by station."""

    ids: dict[str, list[str]]


def populate(db: Database) -> Known:
    """Three stations (PD0001 and PD0002 in g1, PD0003 in g2); applications received on
    10 November 2026 with first decisions 1, 2, 3 and 10 hours later (g1) and 100 hours
    later (g2); one undecided; ratings with comments; one application in December."""
    now = datetime.now(UTC)
    stations = {
        "PD0001": ("花木街道服务站", "g1"),
        "PD0002": ("塘桥服务站", "g1"),
        "PD0003": ("陆家嘴服务站", "g2"),
    }
    rows: dict[str, str] = {}
    ids: dict[str, list[str]] = {code: [] for code in stations}
    received = local(2026, 11, 10, 9, 0)
    with db.write() as connection:
        for code, (name, group) in stations.items():
            rows[code] = str(uuid.uuid4())
            connection.execute(Station.__table__.insert().values(
                id=rows[code], code=code, name=name, created_at=now, station_group=group,
            ))

        def application(code: str, item: str, at: datetime, state: str,
                        decided_after: list[float]) -> None:
            app_id = str(uuid.uuid4())
            ids[code].append(app_id)
            connection.execute(Application.__table__.insert().values(
                id=app_id, station_id=rows[code], reference=f"{code}-{len(ids[code])}",
                item_code=item, state=state, content_sha256="0" * 64, created_at=at,
                received_at=at, updated_at=at,
            ))
            for hours in decided_after:
                connection.execute(Decision.__table__.insert().values(
                    application_id=app_id, account="agent-g1", from_state="submitted",
                    to_state=state, at=at + timedelta(hours=hours),
                ))

        application("PD0001", "MI-001", received, "accepted", [1, 5])  # first decision: 1 h
        application("PD0001", "MI-001", received, "rejected", [2])
        application("PD0002", "MI-002", received, "accepted", [3])
        application("PD0002", "MI-002", received, "needs_more", [10])
        application("PD0002", "MI-002", received, "submitted", [])
        application("PD0003", "MI-001", received, "accepted", [100])
        application("PD0001", "MI-001", local(2026, 12, 1, 0, 30), "submitted", [])

        def rating(code: str, item: str | None, score: int, comment: str, at: datetime) -> None:
            connection.execute(Rating.__table__.insert().values(
                id=str(uuid.uuid4()), station_id=rows[code], item_code=item, score=score,
                comment=comment, rated_at=at, received_at=at,
            ))

        rating("PD0001", "MI-001", 5, "办得很快，谢谢", local(2026, 11, 10, 11, 0))
        rating("PD0001", "MI-001", 4, HOSTILE, local(2026, 11, 11, 11, 0))
        rating("PD0002", None, 2, "", local(2026, 11, 12, 11, 0))
        rating("PD0003", "MI-001", 1, G2_COMMENT, local(2026, 11, 13, 11, 0))
        rating("PD0001", "MI-001", 3, "", local(2026, 10, 2, 11, 0))  # October
    return Known(ids)


# -- the figures ------------------------------------------------------------------------


def test_the_figures_of_a_month(db: Database, catalog: dict[str, Any]) -> None:
    populate(db)
    report = reporting.build(db, true(), reporting.parse_period("month", None, MONTH))
    assert report.total == 6
    states = {entry.key: entry.count for entry in report.by_state}
    assert states == {"submitted": 1, "needs_more": 1, "accepted": 3, "ready_for_pickup": 0,
                      "completed": 0, "rejected": 1}
    assert [(e.key, e.count) for e in report.by_item] == [("MI-001", 3), ("MI-002", 3)]
    assert report.by_item[0].name  # the catalog's name
    assert [(e.key, e.name, e.count) for e in report.by_station] == [
        ("PD0002", "塘桥服务站", 3), ("PD0001", "花木街道服务站", 2), ("PD0003", "陆家嘴服务站", 1),
    ]
    # first decisions after 1, 2, 3, 10 and 100 hours (the second decision does not count)
    overall = report.decision_time
    assert overall.count == 5
    assert overall.median == pytest.approx(3 * 3600, abs=1)
    assert overall.p90 == pytest.approx((10 + 0.6 * 90) * 3600, abs=1)
    by_item = {entry.key: entry for entry in report.decision_time_by_item}
    assert by_item["MI-001"].count == 3
    assert by_item["MI-001"].median == pytest.approx(2 * 3600, abs=1)
    assert by_item["MI-002"].median == pytest.approx(6.5 * 3600, abs=1)
    assert by_item["MI-002"].p90 == pytest.approx((3 + 0.9 * 7) * 3600, abs=1)

    assert report.ratings.distribution == (1, 1, 0, 1, 1)
    assert report.ratings.average == pytest.approx(3.0)
    stations = {entry.key: entry for entry in report.ratings_by_station}
    assert stations["PD0001"].distribution == (0, 0, 0, 1, 1)
    assert stations["PD0001"].average == pytest.approx(4.5)
    assert {entry.key: entry.count for entry in report.ratings_by_item} == {"": 1, "MI-001": 3}
    months = {entry.key: entry.count for entry in report.ratings_by_month}
    assert len(report.ratings_by_month) == 12
    assert report.ratings_by_month[-1].key == MONTH
    assert months["2026-10"] == 1 and months[MONTH] == 4 and months["2026-01"] == 0
    assert [c.text for c in report.comments] == [G2_COMMENT, HOSTILE, "办得很快，谢谢"]
    assert report.comment_count == 3


def test_a_day_a_station_and_an_item(db: Database, catalog: dict[str, Any]) -> None:
    populate(db)
    day = reporting.build(db, true(), reporting.parse_period("day", "2026-11-10", None))
    assert day.total == 6
    assert reporting.build(
        db, true(), reporting.parse_period("day", "2026-11-11", None)
    ).total == 0
    one = reporting.build(db, true(), reporting.parse_period("month", None, MONTH),
                          station="PD0002", item="MI-002")
    assert one.total == 3
    assert one.decision_time.count == 2
    assert one.ratings.count == 0  # PD0002's rating names no item
    december = reporting.build(db, true(), reporting.parse_period("month", None, "2026-12"))
    assert december.total == 1 and december.decision_time.median is None


def test_a_supervisors_scope_leaves_out_other_groups(db: Database) -> None:
    populate(db)
    g1 = Station.station_group == "g1"
    report = reporting.build(db, g1, reporting.parse_period("month", None, MONTH))
    assert report.total == 5
    assert {e.key for e in report.by_station} == {"PD0001", "PD0002"}
    assert report.decision_time.p90 == pytest.approx((3 + 0.7 * 7) * 3600, abs=1)
    assert G2_COMMENT not in [c.text for c in report.comments]
    with pytest.raises(reporting.Refused):
        reporting.build(db, g1, reporting.parse_period("month", None, MONTH), station="PD0003")


def test_percentiles_interpolate_like_percentile_cont() -> None:
    assert reporting.percentile([], 0.9) is None
    assert reporting.percentile([7.0], 0.9) == 7.0
    assert reporting.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == pytest.approx(9.1)
    assert reporting.percentile([10, 1], 0.5) == pytest.approx(5.5)


@pytest.mark.parametrize(
    ("kind", "day", "month"),
    [("month", None, "2026-13"), ("month", None, "2026-00"), ("month", None, "26-11"),
     ("day", "2026-02-30", None), ("day", "2026-1-1", None), ("day", None, None),
     ("week", None, "2026-11"), ("month", None, "9999-01"), ("day", "0001-01-01", None),
     ("month", None, "２０２６-11")],
)
def test_bad_periods_are_refused(kind: str, day: str | None, month: str | None) -> None:
    with pytest.raises(reporting.Refused):
        reporting.parse_period(kind, day, month)


# -- the page, the CSV and the PDF ------------------------------------------------------


def test_the_admins_page(client: TestClient, db: Database, catalog: dict[str, Any]) -> None:
    populate(db)
    admin = sign_in(client, db, "admin")
    page = admin.get(f"/console/reports?kind=month&month={MONTH}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "2026-11 月报" in html
    assert "陆家嘴服务站" in html and "PD0003" in html
    assert "收到申请 6 件" in html
    assert html.count("<svg") >= 5 and html.count("<title id=") == html.count("<svg")
    assert 'style="' not in html  # the CSP allows no inline style
    # the hostile comment is text, not markup
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert G2_COMMENT in html
    admin.client.cookies.set("doorstep_lang", "en")
    english = admin.get(f"/console/reports?kind=month&month={MONTH}")
    assert "Month report, 2026-11" in english.text


def test_the_page_without_parameters_is_this_month(client: TestClient, db: Database) -> None:
    admin = sign_in(client, db, "admin")
    page = admin.get("/console/reports")
    assert page.status_code == 200
    assert reporting.this_month().label in page.text


def test_the_csv(client: TestClient, db: Database, catalog: dict[str, Any]) -> None:
    populate(db)
    admin = sign_in(client, db, "admin")
    answer = admin.get(f"/console/reports.csv?kind=month&month={MONTH}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="report-2026-11.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    tables = _csv_tables(answer.content.decode("utf-8-sig"))
    assert tables["申请按状态"][0] == ["state", "状态", "件数"]
    assert ["accepted", "已受理", "3"] in tables["申请按状态"]
    times = {row[0]: row for row in tables["从提交到首次处理的时间"][1:]}
    assert times[""][2:] == ["5", "3.00", "64.00"]
    assert times["MI-002"][3:] == ["6.50", "9.30"]
    comments = tables["评价留言"]
    assert comments[0][-1] == "留言"
    assert [row[-1] for row in comments if "script" in row[-1]] == ["'" + HOSTILE]


def _csv_tables(content: str) -> dict[str, list[list[str]]]:
    """The CSV's tables by title (a title row, a header row, rows, an empty row)."""
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(content)):
        if not row:
            current = None
        elif current is None:
            current = tables.setdefault(row[0], [])
        else:
            current.append(row)
    return tables


def test_the_pdf(client: TestClient, db: Database, catalog: dict[str, Any],
                 tmp_path: Path) -> None:
    populate(db)
    admin = sign_in(client, db, "admin")
    answer = admin.get("/console/reports.pdf?kind=day&day=2026-11-10")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(answer.content)
    assert_fonts_embedded(path)
    _pages, width, height = page_info(path)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    words = text_of(path)
    assert "2026-11-10 日报" in words
    assert "陆家嘴服务站" in words and "从提交到首次处理的时间" in words


def test_a_supervisor_sees_only_their_group(
    client: TestClient, db: Database, catalog: dict[str, Any], tmp_path: Path
) -> None:
    populate(db)
    supervisor = sign_in(client, db, "supervisor", station_group="g1")
    query = f"kind=month&month={MONTH}"
    page = supervisor.get(f"/console/reports?{query}").text
    csv_text = supervisor.get(f"/console/reports.csv?{query}").content.decode("utf-8-sig")
    path = tmp_path / "g1.pdf"
    path.write_bytes(supervisor.get(f"/console/reports.pdf?{query}").content)
    pdf_text = text_of(path)
    for shown in (page, csv_text, pdf_text):
        assert "塘桥服务站" in shown
        assert "PD0003" not in shown and "陆家嘴服务站" not in shown and G2_COMMENT not in shown
    assert "收到申请 5 件" in page
    # asking for the other group's station is refused like a station that does not exist
    for suffix in ("", ".csv", ".pdf"):
        other = supervisor.get(f"/console/reports{suffix}?{query}&station=PD0003")
        missing = supervisor.get(f"/console/reports{suffix}?{query}&station=PD9999")
        assert other.status_code == missing.status_code == 400
        assert "陆家嘴" not in other.text


@pytest.mark.parametrize("role", ["agent", "auditor"])
def test_other_roles_may_not_see_reports(client: TestClient, db: Database, role: str) -> None:
    person = sign_in(client, db, role)
    for suffix in ("", ".csv", ".pdf"):
        assert person.get(f"/console/reports{suffix}?kind=month&month={MONTH}").status_code == 403


def test_signed_out_goes_to_the_sign_in_page(client: TestClient) -> None:
    answer = client.get("/console/reports.csv", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


@pytest.mark.parametrize(
    "query",
    ["kind=month&month=2026-13", "kind=day&day=garbage", "kind=day&day=2026-02-30",
     "kind=year&month=2026", "month=99999-01", "kind=month&month=" + "9" * 500,
     "kind=month&month=2026-11&station=%3Cscript%3E", "kind=month&month=2026-11&item=" + "A" * 30,
     "kind=day&day=2026-11-10&station=PD9999", "kind=month&month=%00"],
)
def test_bad_parameters_get_a_400_page(client: TestClient, db: Database, query: str) -> None:
    admin = sign_in(client, db, "admin")
    for suffix in ("", ".csv", ".pdf"):
        answer = admin.get(f"/console/reports{suffix}?{query}")
        assert answer.status_code == 400, (suffix, query, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")


@pytest.fixture
def admin(client: TestClient, db: Database) -> Person:
    return sign_in(client, db, "admin")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.text(max_size=8), value=st.text(max_size=24), station=st.text(max_size=20))
def test_no_parameters_make_a_5xx(admin: Person, kind: str, value: str, station: str) -> None:
    answer = admin.client.get(
        "/console/reports.csv",
        params={"kind": kind, "day": value, "month": value, "station": station},
    )
    assert answer.status_code in (200, 400)
