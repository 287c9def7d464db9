"""The kiosk's sync against the real district server, over a line that fails.

A real `district serve` process (on SQLite and on PostgreSQL, `db_url`) sits behind the
fault proxy of tests/faultproxy.py; the kiosk is the real sync engine on a real local
store, in this process or as `kiosk sync --once` processes that get SIGKILLed. After
every scenario the district must hold each queued application exactly once with all its
blobs intact, and the kiosk must know each one's state.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from district.applications import list_applications, set_state
from district.db import Database
from kiosk.config import Paths
from kiosk.core.applications import Applications, State
from kiosk.core.catalog_store import load_catalog
from kiosk.core.samples import sample_document_images
from kiosk.store.db import Store
from kiosk.store.models import Application, OutboxEntry, SyncInfo
from kiosk.sync.client import enroll
from kiosk.sync.engine import PassReport, SyncEngine
from kiosk.sync.errors import StationRevoked, SyncError
from kiosk.sync.service import SyncService, read_status
from tests.faultproxy import Fault, FaultProxy
from tests.personal import RESIDENT

ITEM = "MI-001"
DISTRICT = [str(Path(sys.executable).with_name("district"))]
TRIALS = 100  # randomized fault trials per database: 200 in all


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DistrictServer:
    """`district serve` as a process of its own, which a test may SIGKILL and restart."""

    def __init__(self, url: str, key_file: Path, log: Path) -> None:
        self.url, self.key_file, self.log = url, key_file, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._db: Database | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> object:
        result = subprocess.run(
            [*DISTRICT, "--db", self.url, "--key-file", str(self.key_file), *args],
            capture_output=True, text=True, timeout=120, input=stdin,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*DISTRICT, "--db", self.url, "--key-file", str(self.key_file),
                 "serve", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            try:
                if httpx.get(f"{self.base}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("district serve did not come up")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def database(self) -> Database:
        if self._db is None:
            self._db = Database.open(self.url, self.key_file)
        return self._db

    def applications(self) -> list[dict]:
        """What `district applications list --json` prints (asked in-process: fast)."""
        return list_applications(self.database())

    def decide(self, application_id: str, state: str, reason: str | None = None) -> None:
        """What `district applications set-state` does (in-process)."""
        set_state(self.database(), application_id, state, reason)


@pytest.fixture
def district(db_url: str, tmp_path: Path) -> Iterator[DistrictServer]:
    server = DistrictServer(db_url, tmp_path / "server.key", tmp_path / "district.log")
    server.cli("catalog", "import", str(Path("assets/catalog/sample-catalog.toml").resolve()))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(district: DistrictServer) -> Iterator[FaultProxy]:
    with FaultProxy(district.port) as running:
        yield running


class Kiosk:
    def __init__(self, data_dir: Path) -> None:
        self.paths = Paths(data_dir)
        self.store = Store.open(self.paths)
        self.engine = SyncEngine(self.paths, self.store, batch_size=50)

    def queue(self, count: int) -> list[str]:
        item = load_catalog(self.store).get(ITEM)
        made = Applications(self.store, "ST0001").queue_many(
            item, RESIDENT, count, sample_document_images
        )
        return [view.id for view in made]

    def sync(self) -> PassReport:
        return asyncio.run(self.engine.run_pass())

    def try_sync(self) -> PassReport | None:
        try:
            return self.sync()
        except SyncError:
            return None

    def states(self) -> dict[str, str]:
        with self.store.read() as session:
            return {a.id: a.state for a in session.query(Application)}

    def outbox(self) -> int:
        with self.store.read() as session:
            return session.query(OutboxEntry).count()

    def blobs_of(self, application_id: str) -> list[str]:
        with self.store.read() as session:
            return sorted(m.blob_sha256 for m in session.get(Application, application_id).materials)


@pytest.fixture
def kiosk(district: DistrictServer, proxy: FaultProxy, data_dir: Path) -> Kiosk:
    station = district.cli("station", "add", "Test Street", "--json")
    made = Kiosk(data_dir)
    enroll(made.paths, made.store, proxy.url, station["enrollment_code"])  # type: ignore[index]
    return made


def drain(kiosk: Kiosk, passes: int = 50) -> None:
    for _ in range(passes):
        kiosk.sync()
        if kiosk.outbox() == 0:
            kiosk.sync()  # and hear every decision
            return
    raise AssertionError(f"{kiosk.outbox()} still queued after {passes} passes")


def assert_exactly_once(kiosk: Kiosk, district: DistrictServer, ids: list[str]) -> None:
    held = district.applications()
    seen = [row["id"] for row in held]
    assert len(seen) == len(set(seen)), "an application is held twice"
    assert sorted(seen) == sorted(ids), "the district does not hold exactly what was queued"
    by_id = {row["id"]: row for row in held}
    for application_id in ids:
        assert sorted(by_id[application_id]["blobs"]) == kiosk.blobs_of(application_id)
    local = kiosk.states()
    for application_id in ids:
        remote = by_id[application_id]["state"]
        expected = State.SUBMITTED.value if remote == "submitted" else remote
        assert local[application_id] == expected, (application_id, local[application_id], remote)


# -- the plain path ---------------------------------------------------------------------


def test_queued_applications_reach_the_district_and_decisions_come_back(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    ids = kiosk.queue(5)
    report = kiosk.sync()
    assert report.accepted == 5 and report.blobs_sent == 10
    assert kiosk.outbox() == 0
    assert_exactly_once(kiosk, district, ids)
    district.cli("applications", "set-state", ids[0], "accepted")
    district.cli("applications", "set-state", ids[0], "ready_for_pickup")
    district.cli("applications", "set-state", ids[1], "rejected", "--reason", "photo unclear")
    report = kiosk.sync()
    assert report.changes == 3
    states = kiosk.states()
    assert states[ids[0]] == "ready_for_pickup" and states[ids[1]] == "rejected"
    again = kiosk.sync()
    assert again.changes == 0 and again.blobs_sent == 0 and again.accepted == 0
    assert_exactly_once(kiosk, district, ids)


def test_the_answer_lost_after_the_district_committed(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    ids = kiosk.queue(3)
    kiosk.sync()  # everything there
    more = kiosk.queue(4)
    # the blobs go (4 connections at most with keep-alive, fewer in practice), then the
    # batch: cut every answer for a while, after the request went through whole
    proxy.set(Fault.CUT_RESPONSE, cut_after=0)
    assert kiosk.try_sync() is None
    proxy.heal()
    drain(kiosk)
    assert_exactly_once(kiosk, district, ids + more)


def test_an_unknown_item_is_rejected_and_does_not_hold_the_queue(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    first = kiosk.queue(1)
    with kiosk.store.write() as session:
        session.get(Application, first[0]).item_code = "ZZ-999"
    later = kiosk.queue(2)
    report = kiosk.sync()
    assert report.rejected == 1 and report.accepted == 2
    states = kiosk.states()
    assert states[first[0]] == "rejected"
    with kiosk.store.read() as session:
        assert "unknown_item" in session.get(Application, first[0]).reason
    assert read_status(kiosk.store).rejected == 1
    assert sorted(r["id"] for r in district.applications()) == sorted(later)


def test_an_unknown_cursor_starts_over_instead_of_looping(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    ids = kiosk.queue(2)
    kiosk.sync()
    district.cli("applications", "set-state", ids[0], "accepted")
    with kiosk.store.write() as session:
        session.get(SyncInfo, 1).changes_cursor = "not-a-cursor-the-district-made"
    report = kiosk.sync()
    assert report.resets == 1
    assert kiosk.states()[ids[0]] == "accepted"
    assert kiosk.sync().resets == 0


def test_a_revoked_station_keeps_its_queue_and_says_why(
    kiosk: Kiosk, district: DistrictServer
) -> None:
    ids = kiosk.queue(2)
    with kiosk.store.read() as session:
        station_id = session.get(SyncInfo, 1).station_id
    district.cli("station", "revoke", station_id)
    with pytest.raises(StationRevoked) as refused:
        kiosk.sync()
    kiosk.engine.record_failure(refused.value)
    assert kiosk.outbox() == 2 and set(kiosk.states().values()) == {"queued"}
    status = read_status(kiosk.store)
    assert status.queued == 2 and "shut this station out" in (status.last_error or "")
    assert district.applications() == []
    del ids


# -- faults, randomized -----------------------------------------------------------------

FAULTS = [Fault.DROP, Fault.REFUSE, Fault.CUT_REQUEST, Fault.CUT_RESPONSE, Fault.DELAY]


def test_randomized_faults_never_lose_or_double_an_application(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy, db_url: str
) -> None:
    rng = random.Random(f"faults {db_url.split(':')[0]}")
    ids: list[str] = []
    decided = 0
    for _trial in range(TRIALS):
        if rng.random() < 0.6:
            ids += kiosk.queue(rng.randint(1, 3))
        fault = rng.choice(FAULTS)
        proxy.set(
            fault,
            connections=rng.randint(1, 4),
            cut_after=rng.choice([0, 1, 50, 200, 1000, 5000]),
            delay_s=0.01,
        )
        kiosk.try_sync()
        if rng.random() < 0.5:
            proxy.heal()
        if ids and rng.random() < 0.15:
            held = {row["id"] for row in district.applications()}
            if held:
                target = rng.choice(sorted(held))
                state = next(r["state"] for r in district.applications() if r["id"] == target)
                if state == "submitted":
                    district.decide(target, "accepted")
                    decided += 1
    proxy.heal()
    drain(kiosk)
    assert_exactly_once(kiosk, district, ids)
    assert proxy.stats.faulted > TRIALS // 2
    del decided


# -- processes killed -------------------------------------------------------------------


def test_the_district_killed_mid_sync_and_back(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    ids = kiosk.queue(120)
    proxy.set(Fault.DELAY, delay_s=0.02)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            kiosk.sync()
        except SyncError as error:
            failure.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.8)
    district.kill()
    worker.join(60)
    assert failure, "the pass should have failed with the district gone"
    assert kiosk.try_sync() is None  # still down
    district.start()
    proxy.heal()
    drain(kiosk)
    assert_exactly_once(kiosk, district, ids)


def test_the_kiosk_killed_at_random_points_during_sync(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy, data_dir: Path
) -> None:
    ids = kiosk.queue(150)
    proxy.set(Fault.DELAY, delay_s=0.005)
    rng = random.Random(7)
    env = {**os.environ, "KIOSK_DATA_DIR": str(data_dir)}
    for _ in range(8):
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "sync", "--once", "--json"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    proxy.heal()
    drain(kiosk)
    assert_exactly_once(kiosk, district, ids)


def test_days_of_backlog_drain_when_the_line_returns(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    ids = kiosk.queue(10_000)
    proxy.set(Fault.REFUSE)
    assert kiosk.try_sync() is None
    proxy.heal()
    kiosk.engine.batch_size = 500
    drain(kiosk, passes=5)
    assert_exactly_once(kiosk, district, ids)


# -- in the background ------------------------------------------------------------------


def test_the_sync_service_notices_the_line_come_and_go(
    kiosk: Kiosk, district: DistrictServer, proxy: FaultProxy
) -> None:
    proxy.set(Fault.REFUSE)
    passes: list[Exception | None] = []
    service = SyncService(
        kiosk.paths, kiosk.store, idle_s=0.2, retry_first_s=0.05, retry_cap_s=0.4,
        on_pass=lambda report, error: passes.append(error),
        engine=kiosk.engine,
    )
    service.start()
    try:
        ids = kiosk.queue(3)
        service.kick()
        deadline = time.monotonic() + 20
        while not passes and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.status().online is False and service.status().queued == 3
        time.sleep(1.0)
        offline_tries = len(passes)
        assert offline_tries < 40, "the service spins while the line is down"
        proxy.heal()
        service.kick()
        while time.monotonic() < deadline:
            status = service.status()
            if status.queued == 0 and status.online:
                break
            time.sleep(0.05)
        status = service.status()
        assert status.online is True and status.queued == 0 and status.last_success
    finally:
        service.stop()
    assert_exactly_once(kiosk, district, ids)


def test_the_districts_settings_reach_the_kiosk_and_the_station_file_wins(
    kiosk: Kiosk, district: DistrictServer, tmp_path: Path
) -> None:
    from kiosk.config import load_settings

    published = tmp_path / "settings.json"
    published.write_text(
        json.dumps({"station": {"phone": "021-58880000"}, "printer": {"paper": "roll80"}}),
        encoding="utf-8",
    )
    district.cli("settings", "publish", str(published))
    report = kiosk.sync()
    assert report.settings is not None
    local = kiosk.paths.data_dir / "kiosk.toml"
    local.write_text('[printer]\npaper = "a4"\n', encoding="utf-8")
    settings = load_settings(kiosk.paths.data_dir)
    assert settings.station.phone == "021-58880000"  # from the district
    assert settings.printer.paper == "a4"  # the station's own file wins
    assert kiosk.sync().settings is None  # nothing new


def test_settings_the_kiosk_cannot_use_are_refused_and_nothing_is_lost(
    kiosk: Kiosk, district: DistrictServer, tmp_path: Path
) -> None:
    ids = kiosk.queue(2)
    published = tmp_path / "settings.json"
    published.write_text(json.dumps({"ui": {"language": "fr"}}), encoding="utf-8")
    district.cli("settings", "publish", str(published))
    with pytest.raises(SyncError, match="settings"):
        kiosk.sync()
    assert not (kiosk.paths.data_dir / "district-settings.json").exists()
    assert_exactly_once(kiosk, district, ids)  # the upload before it went through
