"""The kiosk's ratings, its health report and the needs_more decision against the real
district server (a `district serve` process behind the fault proxy, on SQLite and
PostgreSQL; the fixtures of test_sync_e2e.py): a rating queued offline is uploaded exactly
once when the line comes back, a lost answer or a killed kiosk loses and doubles none,
a staff comment made after the upload follows it, the report arrives with each pass and
its failure fails nothing, and a decision to a state the kiosk does not know is skipped
without holding up the feed."""

# The fixtures come from test_sync_e2e.py by name, and the tests take them by that name.
# ruff: noqa: F811

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from district.models import Change, Rating, Station
from kiosk.core.applications import State
from kiosk.core.ratings import Ratings
from kiosk.store.models import Application, RatingOutboxEntry, SyncInfo
from kiosk.sync.engine import SyncEngine
from kiosk.sync.wire import DeviceHealth, DeviceState
from tests.district.test_sync_e2e import (  # noqa: F401 - the fixtures
    DistrictServer,
    Kiosk,
    district,
    drain,
    kiosk,
    proxy,
)
from tests.faultproxy import Fault, FaultProxy

ITEM = "MI-001"


def rate(kiosk: Kiosk, count: int, application_id: str | None = None) -> list[str]:
    ratings = Ratings(kiosk.store)
    return [
        ratings.add(1 + n % 5, application_id=application_id, item_code=ITEM).id
        for n in range(count)
    ]


def held(district: DistrictServer) -> list[tuple[str, int, str]]:
    with district.database().read() as connection:
        return [
            (row.id, row.score, row.comment)
            for row in connection.execute(select(Rating.id, Rating.score, Rating.comment))
        ]


def ratings_queued(kiosk: Kiosk) -> int:
    with kiosk.store.read() as session:
        return session.query(RatingOutboxEntry).count()


def assert_exactly_once(district: DistrictServer, ids: list[str]) -> None:
    seen = [rating_id for rating_id, _, _ in held(district)]
    assert sorted(seen) == sorted(ids), "the district does not hold each rating once"


def test_a_rating_queued_offline_is_uploaded_once_when_the_line_returns(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    [application] = kiosk.queue(1)
    proxy.set(Fault.REFUSE)
    ids = rate(kiosk, 3, application)
    assert kiosk.try_sync() is None
    assert ratings_queued(kiosk) == 3
    proxy.heal()
    report = kiosk.sync()
    assert report.ratings == 3 and ratings_queued(kiosk) == 0
    assert_exactly_once(district, ids)
    again = kiosk.sync()
    assert again.ratings == 0
    assert_exactly_once(district, ids)
    assert all(view.uploaded for view in Ratings(kiosk.store).on_day(datetime.now().astimezone()))


def test_the_answer_lost_after_the_district_committed(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    ids = rate(kiosk, 5)
    proxy.set(Fault.CUT_RESPONSE, cut_after=0)
    assert kiosk.try_sync() is None
    proxy.heal()
    kiosk.sync()
    assert ratings_queued(kiosk) == 0
    assert_exactly_once(district, ids)


def test_a_comment_follows_the_rating_before_and_after_the_upload(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    ratings = Ratings(kiosk.store)
    before, after = rate(kiosk, 2)
    ratings.comment(before, "老人家说等了很久")
    kiosk.sync()
    assert {rating_id: comment for rating_id, _, comment in held(district)} == {
        before: "老人家说等了很久", after: ""
    }
    ratings.comment(after, "窗口很耐心")
    assert ratings_queued(kiosk) == 1
    assert kiosk.sync().ratings == 1
    assert dict((rating_id, comment) for rating_id, _, comment in held(district))[after] == (
        "窗口很耐心"
    )
    assert_exactly_once(district, [before, after])


def test_the_kiosk_killed_at_random_points_loses_and_doubles_no_rating(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy, data_dir: Path
) -> None:
    kiosk.queue(20)
    ids = rate(kiosk, 1500)
    proxy.set(Fault.DELAY, delay_s=0.005)
    rng = random.Random(11)
    env = {**os.environ, "KIOSK_DATA_DIR": str(data_dir)}
    for _ in range(5):
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "sync", "--once", "--json"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    proxy.heal()
    drain(kiosk)
    while ratings_queued(kiosk):
        kiosk.sync()
    assert_exactly_once(district, ids)


def test_the_health_report_comes_with_each_pass(kiosk: Kiosk, district: DistrictServer) -> None:
    kiosk.queue(2)
    rate(kiosk, 1)
    devices = [DeviceHealth(family="printer", state=DeviceState.FAILING, error="paper_out")]
    kiosk.engine = SyncEngine(kiosk.paths, kiosk.store, health=lambda: devices)
    kiosk.sync()
    with kiosk.store.read() as session:
        station_id = session.get(SyncInfo, 1).station_id
    with district.database().read() as connection:
        row = connection.execute(
            select(Station.report, Station.report_at).where(Station.id == station_id)
        ).one()
    assert row.report["queued"] == 0 and row.report["ratings_queued"] == 0
    assert row.report["devices"] == [
        {"family": "printer", "state": "failing", "error": "paper_out"}
    ]
    assert row.report["catalog_version"]
    assert row.report_at is not None


def test_a_report_that_fails_does_not_fail_the_pass(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    def broken() -> list[DeviceHealth]:
        raise OSError("CUPS is away")

    ids = kiosk.queue(2)
    kiosk.engine = SyncEngine(kiosk.paths, kiosk.store, health=broken)
    rated = rate(kiosk, 2)
    report = kiosk.sync()
    assert report.accepted == 2 and report.ratings == 2
    assert sorted(row["id"] for row in district.applications()) == sorted(ids)
    assert_exactly_once(district, rated)


def test_needs_more_reaches_the_kiosk_and_a_state_it_does_not_know_is_skipped(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    first, second = kiosk.queue(2)
    kiosk.sync()
    district.decide(first, "needs_more", "请补交户口簿复印件")
    report = kiosk.sync()
    assert report.changes == 1
    with kiosk.store.read() as session:
        station_id = session.get(SyncInfo, 1).station_id
    assert kiosk.states()[first] == State.NEEDS_MORE.value
    with kiosk.store.read() as session:
        assert session.get(Application, first).reason == "请补交户口簿复印件"
    # a newer district's state, then a decision this kiosk knows
    with district.database().write() as connection:
        connection.execute(
            insert(Change).values(
                application_id=second, station_id=station_id, state="on_hold",
                reason=None, at=datetime.now(UTC),
            )
        )
    district.decide(first, "accepted")
    report = kiosk.sync()
    assert report.skipped == 1 and report.changes == 1
    states = kiosk.states()
    assert states[first] == "accepted" and states[second] == "submitted"
    assert kiosk.sync().changes == 0  # the cursor moved past the unknown one
