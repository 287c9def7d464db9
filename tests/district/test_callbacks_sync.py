"""The kiosk's call-back requests against the real district server (a `district serve`
process behind the fault proxy, on SQLite and PostgreSQL; the fixtures of
test_sync_e2e.py), through the kiosk's own sync engine and client: a request left
offline reaches the district exactly once when the line comes back, even when answers
are lost or the line fails at random; the kiosk drops the number once the district holds
it; one the district refuses leaves the queue and stays on the kiosk; and the request
shows on the console's call-back page for the station's group, the number masked. The
number is never in the district's log."""

# The fixtures come from test_sync_e2e.py by name, and the tests take them by that name.
# ruff: noqa: F811

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from district.app import make_app
from district.callbacks import phone_context
from district.models import CallbackRequest, Station
from kiosk.core.callbacks import Callbacks
from kiosk.store.models import Callback, CallbackOutboxEntry, SyncInfo
from tests.district.browsing import sign_in
from tests.district.test_sync_e2e import (  # noqa: F401 - the fixtures
    FAULTS,
    DistrictServer,
    Kiosk,
    district,
    kiosk,
    proxy,
)
from tests.faultproxy import Fault, FaultProxy
from tests.personal import LANDLINE, PHONE

ITEM = "MI-001"
TITLE = "城乡居民医保参保登记"


def leave(kiosk: Kiosk, count: int, phone: str = "138-1234-5678", item: str = ITEM) -> list[str]:
    callbacks = Callbacks(kiosk.store)
    return [callbacks.request(phone, item, TITLE, "tomorrow_pm") for _ in range(count)]


def queued(kiosk: Kiosk) -> int:
    with kiosk.store.read() as session:
        return session.query(CallbackOutboxEntry).count()


def held(district: DistrictServer) -> dict[str, str]:
    """The district's requests: id → the number, unsealed."""
    db = district.database()
    with db.read() as connection:
        return {
            row.id: db.vault.open(row.phone_sealed, phone_context(row.id)).decode()
            for row in connection.execute(select(CallbackRequest.id, CallbackRequest.phone_sealed))
        }


def assert_exactly_once(district: DistrictServer, ids: list[str], phone: str = PHONE) -> None:
    found = held(district)
    assert sorted(found) == sorted(ids), "the district does not hold each request once"
    assert set(found.values()) <= {phone}


def assert_never_logged(district: DistrictServer) -> None:
    log = district.log.read_text(errors="replace")
    assert PHONE not in log and LANDLINE not in log


def test_a_request_left_offline_reaches_the_district_once(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    proxy.set(Fault.REFUSE)
    ids = leave(kiosk, 3)
    assert kiosk.try_sync() is None
    assert queued(kiosk) == 3
    proxy.heal()
    report = kiosk.sync()
    assert report.callbacks == 3 and queued(kiosk) == 0
    assert_exactly_once(district, ids)
    with kiosk.store.read() as session:
        station_id = session.get(SyncInfo, 1).station_id
        rows = session.scalars(select(Callback)).all()
    assert all(row.phone_sealed is None and row.uploaded_at is not None for row in rows)
    with district.database().read() as connection:
        stations = set(connection.scalars(select(CallbackRequest.station_id)))
    assert stations == {station_id}
    assert kiosk.sync().callbacks == 0
    assert_exactly_once(district, ids)
    assert_never_logged(district)


def test_the_answer_lost_after_the_district_committed(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    ids = leave(kiosk, 4)
    proxy.set(Fault.CUT_RESPONSE, cut_after=0)
    assert kiosk.try_sync() is None
    proxy.heal()
    kiosk.sync()
    assert queued(kiosk) == 0
    assert_exactly_once(district, ids)


def test_randomized_faults_never_lose_or_double_a_request(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy, db_url: str
) -> None:
    rng = random.Random(f"call-backs {db_url.split(':')[0]}")
    ids: list[str] = []
    for _trial in range(25):
        if rng.random() < 0.7:
            ids += leave(kiosk, rng.randint(1, 3))
        proxy.set(
            rng.choice(FAULTS),
            connections=rng.randint(1, 4),
            cut_after=rng.choice([0, 1, 50, 200, 1000]),
            delay_s=0.01,
        )
        kiosk.try_sync()
        if rng.random() < 0.5:
            proxy.heal()
    proxy.heal()
    for _ in range(20):
        if not queued(kiosk):
            break
        kiosk.sync()
    assert queued(kiosk) == 0
    assert_exactly_once(district, ids)
    assert proxy.stats.faulted > 5
    assert_never_logged(district)


def test_a_request_the_district_refuses_leaves_the_queue_and_stays_here(
    kiosk: Kiosk, district: DistrictServer, caplog: pytest.LogCaptureFixture
) -> None:
    [refused] = leave(kiosk, 1, item="ZZ-999")  # a code no catalog of the district holds
    [taken] = leave(kiosk, 1)
    report = kiosk.sync()
    assert report.callbacks == 1 and queued(kiosk) == 0
    assert list(held(district)) == [taken]
    view = Callbacks(kiosk.store).get(refused)
    assert view.phone_masked == "138****5678" and not view.uploaded and not view.queued
    assert "ZZ-999" in caplog.text and PHONE not in caplog.text


@pytest.fixture
def console(district: DistrictServer) -> Iterator[TestClient]:
    """The console of the same district database, in this process."""
    with TestClient(make_app(district.database())) as client:
        yield client


def test_the_request_shows_on_the_console_for_the_stations_group(
    kiosk: Kiosk, district: DistrictServer, console: TestClient
) -> None:
    [made] = leave(kiosk, 1, phone="0755 1234 5678")
    kiosk.sync()
    db = district.database()
    with kiosk.store.read() as session:
        station_id = session.get(SyncInfo, 1).station_id
    with db.write() as connection:
        connection.execute(
            update(Station).where(Station.id == station_id).values(station_group="g1")
        )
    agent = sign_in(console, db, "agent", name="sync-agent-g1", station_group="g1")
    page = agent.get("/console/callbacks").text
    assert f"cb-{made}" in page and "0755****5678" in page and "Test Street" in page
    assert LANDLINE not in page
    stranger = sign_in(console, db, "agent", name="sync-agent-g2", station_group="g2")
    assert made not in stranger.get("/console/callbacks").text
    assert (
        agent.post(f"/console/callbacks/{made}/reveal", {"reason": "callback"}).status_code == 303
    )
    assert f'href="tel:{LANDLINE}"' in agent.get("/console/callbacks").text
    assert agent.post(f"/console/callbacks/{made}/done").status_code == 303
    with db.read() as connection:
        assert (
            connection.scalar(select(CallbackRequest.state).where(CallbackRequest.id == made))
            == "done"
        )
    assert_never_logged(district)
