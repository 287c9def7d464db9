"""Sync speed: queued applications drained from kiosks to the district on PostgreSQL.

Everything runs on this machine: a private PostgreSQL cluster (tests/district/postgres.py:
initdb into /tmp, fsync off, reached over its Unix socket), a real `district serve`
process (uvicorn; HTTP over TCP loopback) and the clients in this process. Nothing is
pinned to a CPU: the server, PostgreSQL and the clients share the machine's cores, as
they would on a small district box, and the breakdown on stderr says who used them.

`sync_drain_rate` (applications per second): one real kiosk data folder (its SQLite
store, sealed blob files and signing key), enrolled with `kiosk.sync.client.enroll`, with
10,000 applications queued by `Applications.queue_many` (two unique ~20 KB PNGs each,
`kiosk.core.samples.sample_document_images`), drained by the kiosk's own
`SyncEngine(batch_size=B).run_pass()` from the start of the first pass to an empty
outbox: blobs in bundles (`POST /v1/blobs:bundle`), then each batch
(`POST /v1/applications:batch`), verdicts applied locally, then the changes and catalog
download. Afterwards the district must hold every application exactly once with its
blobs (ids, sha256s and sizes compared, a sample of blobs unsealed and compared byte for
byte), or the benchmark fails. The floor is the same rows — applications (the resident
sealed), materials and blobs (sealed under the server key, named by their sha256) — put
straight into the district's own tables (`district.models`) with SQLAlchemy Core, one
transaction per batch of B applications and their blobs, in this one process, on the
same cluster: what storing them costs with no HTTP, signing, checking or kiosk store.

`sync_stations_drain` (seconds) and `sync_stations_p99` (milliseconds): 1,300 simulated
stations of 100 queued applications each, at most 64 at a time. A simulated station is a
light client, not a kiosk store: added in this process (`district.stations.add_station`),
enrolled with a fresh Ed25519 key (`POST /v1/enroll`, all stations first, 64 at a time:
not part of the drain), then, timed, each station makes its 200 images when its turn
comes (memory stays at 64 stations' worth), sends them in bundles of at most 64 blobs
and 1 MiB (the kiosk's own limits) and then its 100 applications as one batch, every
request signed with `kiosk.sync.wire.sign_request`. Each of the 64 slots has its own
httpx.AsyncClient and keep-alive connection, as each kiosk has its own (one client with
a pool of 64 would spend more CPU in httpcore's pool than in the requests). The drain
time is from the first upload to the last verdict; every upload request's latency is
taken on the client, from sending it (signed) to having read the answer; a request whose
connection broke is signed anew and sent again, as a kiosk would (uploads are
idempotent), and counted. The floors, measured in the same run: for the drain time, the
floor method above for the same 130,000 applications (batches of 100, one per station);
for p99, the p99 of a trivial signed request (`GET /v1/changes`, nothing to return)
from the same 1,300 stations at the same concurrency, as many requests per station as
the upload made: what the server's request path costs with no work in it.

Targets: the issue's — at least 2,000 applications per second with their images
(published sync engines replicate 2,000 to 6,000 row changes per second) and at least a
tenth of the floor. For the stations: the same rate, so 130,000 applications within
65 s and within ten times the floor; a p99 under 5 s, a quarter of the kiosk's 20 s
request timeout, so that a loaded district never pushes a kiosk into timeouts and
retries that would resend the same megabytes.

Only the `bench:` lines go to stdout; stderr has the breakdown: CPU seconds of the
clients, the server (all its processes) and PostgreSQL (all its backends) over each
phase, from /proc; the wall time of each step of the kiosk's pass (its methods wrapped
in this process); latency percentiles per request kind. About 5 minutes on 2 cores.

Options: --workers (server processes, default 2: on 2 cores 2 drained the stations
~10% faster than 1 and the kiosk no slower; a comma list measures each on the 10,000
drain, each on a fresh copy of the same database and kiosk folder, and keeps the faster
for the rest), --batch-size (default the kiosk's), --applications, --stations,
--per-station, --concurrency, --skip-stations. Needs Debian's postgresql package; as
root (initdb refuses root) the cluster runs as the postgres user through runuser.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from bench.common import report
from district import stations as district_stations
from district.db import Database
from district.models import Application as DistrictApplication
from district.models import Blob as DistrictBlob
from district.models import Material as DistrictMaterial
from district.models import Station as DistrictStation
from district.uploads import blob_context, sealed_context
from kiosk.config import Paths
from kiosk.core.applications import Applications
from kiosk.core.catalog_store import load_catalog
from kiosk.core.samples import sample_document_images
from kiosk.store.db import Store
from kiosk.store.models import Application as KioskApplication
from kiosk.store.models import Blob as KioskBlob
from kiosk.store.models import OutboxEntry
from kiosk.sync import client as client_module
from kiosk.sync import engine as engine_module
from kiosk.sync.client import DistrictClient, enroll
from kiosk.sync.engine import SyncEngine
from kiosk.sync.keys import StationKey
from kiosk.sync.wire import (
    API,
    ApplicationWire,
    BatchAnswer,
    BundleAnswer,
    ChangesAnswer,
    EnrollAnswer,
    EnrollRequest,
    MaterialWire,
    UploadBatch,
    Verdict,
    b64,
    bundle_frames,
    sign_request,
)
from tests.district.postgres import PostgresCluster, PostgresError

ROOT = Path(__file__).resolve().parent.parent
ITEM = "MI-001"
CATALOG = ROOT / "assets" / "catalog" / "sample-catalog.toml"
KIOSK_STATION = "PD0101"
DAY = date(2026, 11, 24)
# Made-up personal data of the same shape as a card's (the district seals it).
RESIDENT = {
    "name": "测试居民",
    "ssn": "310101195001011236",
    "card_number": "B00000001",
    "birth_date": "1950-01-01",
}
TARGET_RATE = 2000.0  # applications per second
TARGET_P99_MS = 5000.0
HTTP_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # the bench measures, the kiosk gives up at 20 s
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STREAM_CHUNK = 256 * 1024


class BenchFailure(RuntimeError):
    """Something the benchmark cannot go on from: said plainly, and the run fails."""


# -- processes --------------------------------------------------------------------------


def district_command() -> list[str]:
    script = Path(sys.executable).with_name("district")
    return [str(script)] if script.exists() else [sys.executable, "-m", "district"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def district_cli(url: str, key_file: Path, *args: str) -> str:
    result = subprocess.run(
        [*district_command(), "--db", url, "--key-file", str(key_file), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0:
        raise BenchFailure(f"district {' '.join(args)} failed: {result.stderr}{result.stdout}")
    return result.stdout


class DistrictServer:
    """`district serve` in a process group of its own, stopped (and killed if need be)
    when the benchmark ends."""

    def __init__(self, url: str, key_file: Path, workers: int, log: Path) -> None:
        self.url, self.key_file, self.workers, self.log = url, key_file, workers, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*district_command(), "--db", self.url, "--key-file", str(self.key_file),
                 "serve", "--port", str(self.port), "--workers", str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(f"district serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base}{API}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchFailure(f"district serve did not come up in 90 s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group this server started
            process.wait(10)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid) if self.process else 0.0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, living or
    reaped, from /proc."""
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), ticks / CLOCK_TICKS)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][1]
        stack.extend(children.get(pid, ()))
    return total


def postmaster_pid(cluster: PostgresCluster) -> int:
    assert cluster.root is not None
    return int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])


@dataclass
class CpuMeter:
    """CPU used by the clients (this process), the server and PostgreSQL over a phase."""

    server: DistrictServer
    postgres_pid: int
    started: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float, float]:
        return (
            time.perf_counter(),
            time.process_time(),
            self.server.cpu_seconds(),
            tree_cpu_seconds(self.postgres_pid),
        )

    def start(self) -> None:
        self.started = self._now()

    def stop(self) -> str:
        now = self._now()
        wall, client, server, postgres = (b - a for a, b in zip(self.started, now, strict=True))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        used = client + server + postgres
        return (
            f"CPU over {wall:.1f} s wall ({cores} cores, {cores * wall:.1f} CPU-s): "
            f"client {client:.1f} s, server {server:.1f} s, PostgreSQL {postgres:.1f} s "
            f"= {used:.1f} CPU-s ({100 * used / (cores * wall):.0f}% of the machine)"
        )


def say(text: str) -> None:
    print(f"  sync: {text}", file=sys.stderr, flush=True)


# -- timing the kiosk's sync pass -------------------------------------------------------


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.seconds[name] += seconds
            self.counts[name] += 1

    def sync(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed

    def coroutine(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed

    def line(self, name: str, note: str = "") -> str:
        count = self.counts.get(name, 0)
        return f"{name:<34} {self.seconds.get(name, 0.0):7.2f} s  ×{count:<6} {note}"


@contextlib.contextmanager
def instrumented(engine: SyncEngine, store: Store, timings: Timings) -> Iterator[None]:
    """Time the sync pass's steps. The engine's own steps are wrapped on the instance;
    the client's and the signing key's on their classes, put back afterwards."""
    for name in ("_next_batch", "_apply_verdicts", "_mark_sent", "_bundles"):
        setattr(engine, name, timings.sync(f"engine.{name}", getattr(engine, name)))
    for name in ("_send_blobs", "_download"):
        setattr(engine, name, timings.coroutine(f"engine.{name}", getattr(engine, name)))
    store.blobs.get = timings.sync("store.blobs.get (read+unseal+hash)", store.blobs.get)
    saved: list[tuple[Any, str, Any]] = [
        (DistrictClient, "put_bundle", DistrictClient.put_bundle),
        (DistrictClient, "upload", DistrictClient.upload),
        (DistrictClient, "_send", DistrictClient._send),
        (StationKey, "sign_request", StationKey.sign_request),
        (client_module, "bundle_frames", client_module.bundle_frames),
        (UploadBatch, "model_dump_json", UploadBatch.model_dump_json),
    ]
    try:
        DistrictClient.put_bundle = timings.coroutine(  # type: ignore[method-assign]
            "client.put_bundle", DistrictClient.put_bundle
        )
        DistrictClient.upload = timings.coroutine(  # type: ignore[method-assign]
            "client.upload", DistrictClient.upload
        )
        DistrictClient._send = timings.coroutine(  # type: ignore[method-assign]
            "client._send (sign+HTTP+server)", DistrictClient._send
        )
        StationKey.sign_request = timings.sync(  # type: ignore[method-assign]
            "key.sign_request (sha256+Ed25519)", StationKey.sign_request
        )
        client_module.bundle_frames = timings.sync("wire.bundle_frames", bundle_frames)
        UploadBatch.model_dump_json = timings.sync(  # type: ignore[method-assign]
            "UploadBatch.model_dump_json", UploadBatch.model_dump_json
        )
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def outbox_size(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0


# -- the 10,000-application kiosk -------------------------------------------------------


@dataclass
class KioskSetup:
    """A migrated district database (catalog published, the kiosk's station enrolled)
    to copy as a template, and a kiosk folder with its queue, to copy for each run."""

    template: str
    folder: Path
    station_id: str
    enrollment_code: str
    queued: int


def prepare_kiosk(
    cluster: PostgresCluster, key_file: Path, work: Path, count: int, log: Path
) -> KioskSetup:
    template = "sync_template"
    url = cluster.create_database(template)
    district_cli(url, key_file, "catalog", "import", str(CATALOG))
    db = Database.open(url, key_file)
    try:
        new = district_stations.add_station(db, "Bench Street", code=KIOSK_STATION)
    finally:
        db.close()
    server = DistrictServer(url, key_file, 1, log)
    folder = work / "kiosk-pristine"
    paths = Paths(folder)
    store = Store.open(paths)
    try:
        server.start()
        enroll(paths, store, server.base, new.enrollment_code)
    finally:
        server.stop()
    try:
        item = load_catalog(store).get(ITEM)
        started = time.perf_counter()
        Applications(store, KIOSK_STATION).queue_many(
            item, RESIDENT, count, sample_document_images, today=DAY
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        say(f"queued {count:,} applications in {time.perf_counter() - started:.1f} s "
            f"(not timed; peak memory so far {peak:,.0f} MB)")
        queued = outbox_size(store)
    finally:
        store.close()
    if queued != count:
        raise BenchFailure(f"{queued} applications queued, not {count}")
    return KioskSetup(template, folder, new.station_id, new.enrollment_code, queued)


@dataclass
class DrainResult:
    workers: int
    seconds: float
    passes: int
    timings: Timings
    cpu: str


def drain_kiosk(
    cluster: PostgresCluster,
    key_file: Path,
    setup: KioskSetup,
    work: Path,
    workers: int,
    batch_size: int,
) -> tuple[DrainResult, DistrictServer, str]:
    """Drain a fresh copy of the kiosk into a fresh copy of the district database with a
    server of `workers` processes; returns the result and the still-running server."""
    name = f"sync_w{workers}"
    url = cluster.create_database(name, template=setup.template)
    folder = work / f"kiosk-w{workers}"
    shutil.copytree(setup.folder, folder)
    server = DistrictServer(url, key_file, workers, work / f"district-w{workers}.log")
    server.start()
    paths = Paths(folder)
    store = Store.open(paths)
    try:
        # the same code and key again: the district answers the same (the kiosk may have
        # missed the first answer), and the kiosk learns the new server's address
        enroll(paths, store, server.base, setup.enrollment_code)
        engine = SyncEngine(paths, store, batch_size=batch_size)
        timings = Timings()
        meter = CpuMeter(server, postmaster_pid(cluster))
        passes = 0
        with instrumented(engine, store, timings):
            meter.start()
            started = time.perf_counter()
            while outbox_size(store) and passes < 10:
                result = asyncio.run(engine.run_pass())
                passes += 1
                if result.rejected:
                    raise BenchFailure(
                        f"the district rejected {result.rejected} application(s), e.g. "
                        f"{result.rejected_ids[:3]}"
                    )
            seconds = time.perf_counter() - started
            cpu = meter.stop()
        left = outbox_size(store)
        if left:
            raise BenchFailure(f"{left} applications still queued after {passes} passes")
        verify_kiosk(store, url, key_file, setup.station_id)
    except BaseException:
        server.stop()
        raise
    finally:
        store.close()
    return DrainResult(workers, seconds, passes, timings, cpu), server, url


def verify_kiosk(store: Store, url: str, key_file: Path, station_id: str) -> None:
    """The district holds each queued application once, with the same blobs."""
    with store.read() as session:
        local: dict[str, list[tuple[str, int]]] = {}
        sizes = dict(session.execute(select(KioskBlob.sha256, KioskBlob.size)).all())
        for application in session.scalars(select(KioskApplication)):
            local[application.id] = sorted(
                (m.blob_sha256, sizes[m.blob_sha256]) for m in application.materials
            )
    db = Database.open(url, key_file)
    try:
        with db.read() as connection:
            ids = connection.scalars(
                select(DistrictApplication.id).where(DistrictApplication.station_id == station_id)
            ).all()
            remote: dict[str, list[tuple[str, int]]] = defaultdict(list)
            for row in connection.execute(
                select(DistrictMaterial.application_id, DistrictMaterial.sha256,
                       DistrictBlob.size)
                .join(DistrictBlob, DistrictBlob.sha256 == DistrictMaterial.sha256)
                .join(DistrictApplication,
                      DistrictApplication.id == DistrictMaterial.application_id)
                .where(DistrictApplication.station_id == station_id)
            ):
                remote[row.application_id].append((row.sha256, row.size))
            if len(ids) != len(set(ids)) or sorted(ids) != sorted(local):
                raise BenchFailure(
                    f"DATA LOST OR DOUBLED: the kiosk queued {len(local)} applications, the "
                    f"district holds {len(ids)} ({len(set(ids) & set(local))} of the kiosk's)"
                )
            wrong = [i for i in local if sorted(remote.get(i, [])) != local[i]]
            if wrong:
                raise BenchFailure(
                    f"DATA LOST: {len(wrong)} applications' materials differ at the district"
                )
            sample = random.Random(1).sample(sorted(sizes), min(40, len(sizes)))
            for sha256 in sample:
                sealed = connection.scalar(
                    select(DistrictBlob.sealed).where(DistrictBlob.sha256 == sha256)
                )
                if db.vault.open(sealed, blob_context(sha256)) != store.blobs.get(sha256):
                    raise BenchFailure(f"DATA DAMAGED: blob {sha256} differs at the district")
    finally:
        db.close()
    say(f"verified: the district holds all {len(local):,} applications once, with their "
        f"{sum(len(v) for v in local.values()):,} materials (blobs unsealed: {len(sample)})")


# -- the floor: the same rows straight into the district's tables -----------------------


def floor_rows(
    db: Database, station_id: str, station_code: str, first: int, count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Blob, application and material rows for `count` applications of a station, sealed
    as the server seals them."""
    now = datetime.now(UTC)
    blobs: list[dict[str, Any]] = []
    applications: list[dict[str, Any]] = []
    materials: list[dict[str, Any]] = []
    for number in range(first, first + count):
        reference = f"{station_code}-{DAY:%Y%m%d}-{number + 1:04d}"
        application_id = str(uuid.uuid4())
        described = []
        for position, (label, content) in enumerate(sample_document_images(reference, number)):
            sha256 = hashlib.sha256(content).hexdigest()
            blobs.append({
                "sha256": sha256,
                "size": len(content),
                "sealed": db.vault.seal(content, blob_context(sha256)),
                "received_at": now,
            })
            materials.append({
                "application_id": application_id,
                "position": position,
                "sha256": sha256,
                "kind": "page",
                "label": label,
                "media_type": "image/png",
                "size": len(content),
            })
            described.append([sha256, label, len(content)])
        applications.append({
            "id": application_id,
            "station_id": station_id,
            "reference": reference,
            "item_code": ITEM,
            "state": "submitted",
            "reason": None,
            "content_sha256": hashlib.sha256(
                json.dumps([application_id, reference, ITEM, described]).encode()
            ).hexdigest(),
            "resident_sealed": db.vault.seal_json(
                RESIDENT, sealed_context("resident", application_id)
            ),
            "form_sealed": None,
            "created_at": now,
            "received_at": now,
            "updated_at": now,
        })
    return blobs, applications, materials


def floor_insert(db: Database, stations: list[tuple[str, str]], per_station: int,
                 batch_size: int) -> float:
    """Seconds to make and insert every station's rows, one transaction per batch."""
    blob_insert = DistrictBlob.__table__.insert()
    application_insert = DistrictApplication.__table__.insert()
    material_insert = DistrictMaterial.__table__.insert()
    started = time.perf_counter()
    for station_id, code in stations:
        for first in range(0, per_station, batch_size):
            count = min(batch_size, per_station - first)
            blobs, applications, materials = floor_rows(db, station_id, code, first, count)
            with db.engine.begin() as connection:
                connection.execute(blob_insert, blobs)
                connection.execute(application_insert, applications)
                connection.execute(material_insert, materials)
    return time.perf_counter() - started


def add_plain_stations(db: Database, codes: list[str]) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    rows = [{"id": str(uuid.uuid4()), "code": code, "name": f"Floor {code}", "software": "",
             "created_at": now} for code in codes]
    with db.engine.begin() as connection:
        connection.execute(DistrictStation.__table__.insert(), rows)
    return [(row["id"], row["code"]) for row in rows]


# -- 1,300 simulated stations -----------------------------------------------------------


@dataclass
class SimStation:
    code: str
    enrollment_code: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    station_id: str = ""


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    retries: int = 0  # requests sent again after the connection broke

    def all(self, *kinds: str) -> list[float]:
        return [s for kind in (kinds or tuple(self.samples)) for s in self.samples[kind]]


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


async def in_slots(
    base: str,
    stations: list[SimStation],
    concurrency: int,
    work: Callable[[httpx.AsyncClient, SimStation], Any],
) -> float:
    """`work(http, station)` for every station, at most `concurrency` at a time; returns
    the seconds it took. Each of the `concurrency` slots has a client and a connection
    of its own, as each kiosk has: one client shared by all would cost more CPU than
    the requests (httpx's pool looks at every connection for every request)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT, limits=limits)
        for _ in range(min(concurrency, len(stations)))
    ]
    pending = iter(stations)

    async def slot(http: httpx.AsyncClient) -> None:
        for station in pending:
            await work(http, station)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(slot(http) for http in clients))
        return time.perf_counter() - started
    finally:
        for http in clients:
            await http.aclose()


async def signed(
    http: httpx.AsyncClient,
    station: SimStation,
    method: str,
    path: str,
    latencies: Latencies,
    kind: str,
    *,
    body: bytes = b"",
    params: dict[str, Any] | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    """One signed request, its latency recorded; sent again (signed anew: a new nonce)
    if the connection broke, as the kiosk would (every upload is idempotent)."""
    headers = {"Content-Type": content_type} if content_type else {}
    for attempt in range(3):
        if len(body) > STREAM_CHUNK:
            # megabytes go out a piece at a time: sent whole, httpx, h11 and asyncio would
            # each keep a copy of the body for every request waiting on a busy server
            request = http.build_request(
                method, path, content=_pieces(body), params=params,
                headers={**headers, "Content-Length": str(len(body))},
            )
        else:
            request = http.build_request(method, path, content=body or None, params=params,
                                         headers=headers)
        target = request.url.raw_path.decode("ascii")
        if len(body) > 256 * 1024:  # hashing megabytes: off the event loop
            signature = await asyncio.to_thread(
                sign_request, station.key, station.station_id, method, target, body
            )
        else:
            signature = sign_request(station.key, station.station_id, method, target, body)
        request.headers.update(signature)
        started = time.perf_counter()
        try:
            response = await http.send(request)
        except httpx.TransportError:
            if attempt == 2:
                raise
            latencies.retries += 1
            continue
        latencies.samples[kind].append(time.perf_counter() - started)
        if response.status_code != 200:
            raise BenchFailure(
                f"{method} {path} for station {station.code}: {response.status_code} "
                f"{response.text[:300]}"
            )
        return response
    raise AssertionError("unreachable")


async def _pieces(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), STREAM_CHUNK):
        yield body[start : start + STREAM_CHUNK]


@dataclass
class StationUpload:
    bundles: list[tuple[bytes, set[str]]]
    batch: bytes
    ids: list[str]


def station_upload(code: str, count: int) -> StationUpload:
    """A station's queue, made when its turn comes: `count` applications with their two
    images each, bundled as the kiosk bundles them."""
    blobs: list[tuple[str, bytes]] = []
    applications: list[ApplicationWire] = []
    now = datetime.now(UTC)
    for number in range(count):
        reference = f"{code}-{DAY:%Y%m%d}-{number + 1:04d}"
        materials = []
        for label, content in sample_document_images(reference, number):
            sha256 = hashlib.sha256(content).hexdigest()
            blobs.append((sha256, content))
            materials.append(MaterialWire(sha256=sha256, kind="page", label=label,
                                          media_type="image/png", size=len(content)))
        applications.append(ApplicationWire(
            id=str(uuid.uuid4()), reference=reference, item_code=ITEM, created_at=now,
            resident=RESIDENT, materials=materials,
        ))
    bundles: list[tuple[bytes, set[str]]] = []
    group: list[tuple[str, bytes]] = []
    size = 0
    for sha256, content in blobs:
        if group and (len(group) >= engine_module.BUNDLE_BLOBS
                      or size + len(content) > engine_module.BUNDLE_BYTES):
            bundles.append((bundle_frames(group), {s for s, _ in group}))
            group, size = [], 0
        group.append((sha256, content))
        size += len(content)
    if group:
        bundles.append((bundle_frames(group), {s for s, _ in group}))
    batch = UploadBatch(applications=applications).model_dump_json().encode()
    return StationUpload(bundles, batch, [a.id for a in applications])


async def enroll_one(http: httpx.AsyncClient, station: SimStation, latencies: Latencies) -> None:
    public = station.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = EnrollRequest(code=station.enrollment_code, public_key=b64(public),
                         software="bench").model_dump_json().encode()
    started = time.perf_counter()
    response = await http.post(f"{API}/enroll", content=body,
                               headers={"Content-Type": "application/json"})
    latencies.samples["enroll"].append(time.perf_counter() - started)
    if response.status_code != 200:
        raise BenchFailure(f"enrolling {station.code}: {response.status_code} "
                           f"{response.text[:300]}")
    station.station_id = EnrollAnswer.model_validate_json(response.content).station_id


async def upload_one(http: httpx.AsyncClient, station: SimStation, per_station: int,
                     latencies: Latencies) -> None:
    """A station's drain: its blobs in bundles, then its applications in one batch."""
    upload = await asyncio.to_thread(station_upload, station.code, per_station)
    for body, names in upload.bundles:
        response = await signed(
            http, station, "POST", f"{API}/blobs:bundle", latencies, "bundle",
            body=body, content_type="application/octet-stream",
        )
        answer = BundleAnswer.model_validate_json(response.content)
        if set(answer.stored) | set(answer.present) != names:
            raise BenchFailure(f"a bundle of {station.code} was not stored whole")
    response = await signed(
        http, station, "POST", f"{API}/applications:batch", latencies, "batch",
        body=upload.batch, content_type="application/json",
    )
    verdicts = BatchAnswer.model_validate_json(response.content).results
    refused = [v for v in verdicts if v.verdict is not Verdict.ACCEPTED]
    if [v.id for v in verdicts] != upload.ids or refused:
        raise BenchFailure(
            f"station {station.code}: {len(refused)} application(s) refused, e.g. {refused[:1]}"
        )


async def probe_one(http: httpx.AsyncClient, station: SimStation, requests: int,
                    latencies: Latencies) -> None:
    """The p99 floor: trivial signed requests (GET /v1/changes, nothing to return)."""
    for _ in range(requests):
        response = await signed(http, station, "GET", f"{API}/changes", latencies, "changes",
                                params={"limit": 100})
        if ChangesAnswer.model_validate_json(response.content).changes:
            raise BenchFailure("a station without decisions was sent changes")


def count_rows(url: str, key_file: Path) -> tuple[int, int, int]:
    db = Database.open(url, key_file)
    try:
        with db.read() as connection:
            return tuple(  # type: ignore[return-value]
                connection.scalar(select(func.count()).select_from(table)) or 0
                for table in (DistrictApplication, DistrictMaterial, DistrictBlob)
            )
    finally:
        db.close()


def per_station_counts(url: str, key_file: Path) -> dict[str, int]:
    db = Database.open(url, key_file)
    try:
        with db.read() as connection:
            return dict(connection.execute(
                select(DistrictApplication.station_id, func.count())
                .group_by(DistrictApplication.station_id)
            ).all())
    finally:
        db.close()


def run_stations(args: argparse.Namespace, cluster: PostgresCluster, server: DistrictServer,
                 url: str, floor_db: Database, key_file: Path) -> None:
    total = args.stations * args.per_station
    before = count_rows(url, key_file)
    db = Database.open(url, key_file)
    try:
        started = time.perf_counter()
        stations = [
            SimStation(code=new.station_code, enrollment_code=new.enrollment_code)
            for new in (
                district_stations.add_station(db, f"Bench station {n}", code=f"BS{n:04d}",
                                              expires_minutes=600)
                for n in range(1, args.stations + 1)
            )
        ]
    finally:
        db.close()
    say(f"added {len(stations):,} stations in-process in {time.perf_counter() - started:.1f} s")
    latencies = Latencies()
    enrolling = asyncio.run(in_slots(
        server.base, stations, args.concurrency,
        lambda http, station: enroll_one(http, station, latencies),
    ))
    say(f"enrolled {len(stations):,} stations in {enrolling:.1f} s "
        f"(not part of the drain; enroll p99 {1000 * p99(latencies.all('enroll')):.0f} ms)")

    meter = CpuMeter(server, postmaster_pid(cluster))
    meter.start()
    drain = asyncio.run(in_slots(
        server.base, stations, args.concurrency,
        lambda http, station: upload_one(http, station, args.per_station, latencies),
    ))
    cpu = meter.stop()
    requests = len(latencies.all("bundle", "batch"))
    after = count_rows(url, key_file)
    grown = tuple(b - a for a, b in zip(before, after, strict=True))
    if grown != (total, 2 * total, 2 * total):
        raise BenchFailure(
            f"DATA LOST OR DOUBLED: the district gained {grown} applications/materials/blobs, "
            f"not {(total, 2 * total, 2 * total)}"
        )
    held = per_station_counts(url, key_file)
    short = [s.code for s in stations if held.get(s.station_id) != args.per_station]
    if short:
        raise BenchFailure(f"DATA LOST: {len(short)} stations do not have exactly "
                           f"{args.per_station} applications at the district, e.g. {short[:3]}")
    say(f"verified: the district gained {total:,} applications, {2 * total:,} materials "
        f"and blobs, {args.per_station} for each station")
    uploads = latencies.all("bundle", "batch")

    per_station_requests = max(1, round(requests / len(stations)))
    probe_meter = CpuMeter(server, postmaster_pid(cluster))
    probe_meter.start()
    probe_seconds = asyncio.run(in_slots(
        server.base, stations, args.concurrency,
        lambda http, station: probe_one(http, station, per_station_requests, latencies),
    ))
    probe_cpu = probe_meter.stop()

    floor_stations = add_plain_stations(floor_db, [s.code for s in stations])
    floor_drain = floor_insert(floor_db, floor_stations, args.per_station, args.per_station)

    say(f"{args.stations:,} stations × {args.per_station} applications, "
        f"{args.concurrency} at a time: {drain:.1f} s, {total / drain:,.0f} applications/s, "
        f"{requests:,} upload requests; floor insert {floor_drain:.1f} s "
        f"({total / floor_drain:,.0f} applications/s)")
    say(cpu)
    for kind in ("bundle", "batch"):
        samples = latencies.all(kind)
        say(f"{kind:<7} requests {len(samples):>6,}: p50 {1000 * statistics.median(samples):7.0f}"
            f" ms  p99 {1000 * p99(samples):7.0f} ms  max {1000 * max(samples):7.0f} ms")
    probes = latencies.all("changes")
    say(f"GET /v1/changes ×{len(probes):,} ({per_station_requests} a station, "
        f"{probe_seconds:.1f} s): p50 {1000 * statistics.median(probes):.0f} ms  "
        f"p99 {1000 * p99(probes):.0f} ms; {probe_cpu}")
    if latencies.retries:
        say(f"{latencies.retries} request(s) sent again after a broken connection")
    report("sync_stations_drain", drain, floor_drain, "s",
           f"≤ {total / TARGET_RATE:.0f} s ({TARGET_RATE:,.0f} applications/s) and ratio ≤ 10")
    report("sync_stations_p99", 1000 * p99(uploads), 1000 * p99(probes), "ms",
           f"≤ {TARGET_P99_MS:.0f} ms")


# -- main -------------------------------------------------------------------------------


def print_breakdown(result: DrainResult, count: int) -> None:
    t = result.timings
    say(f"workers={result.workers}: {count:,} applications in {result.seconds:.2f} s "
        f"= {count / result.seconds:,.0f}/s ({result.passes} pass(es))")
    say(result.cpu)
    say(f"kiosk-side wall time of each step (bundles overlap: "
        f"{engine_module.BUNDLE_CONCURRENCY} in flight):")
    for name, note in (
        ("engine._next_batch", "read the outbox, unseal residents, build the wire batch"),
        ("engine._send_blobs", "all bundles of a batch, wall"),
        ("engine._bundles", "group blobs into bundles"),
        ("store.blobs.get (read+unseal+hash)", "in threads"),
        ("wire.bundle_frames", ""),
        ("client.put_bundle", "per bundle, overlapping"),
        ("engine._mark_sent", "in threads"),
        ("client.upload", "the batch: serialize, sign, HTTP, server, parse"),
        ("UploadBatch.model_dump_json", ""),
        ("key.sign_request (sha256+Ed25519)", "every request"),
        ("client._send (sign+HTTP+server)", "every request"),
        ("engine._apply_verdicts", "local transaction per batch"),
        ("engine._download", "changes + catalog"),
    ):
        say("  " + t.line(name, note))
    accounted = sum(
        t.seconds.get(name, 0.0)
        for name in ("engine._next_batch", "engine._send_blobs", "client.upload",
                     "engine._apply_verdicts", "engine._download")
    )
    say(f"  {'(sum of the sequential steps)':<34} {accounted:7.2f} s of {result.seconds:.2f} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="2",
                        help="server processes; a comma list (1,2) measures each (default 2)")
    parser.add_argument("--batch-size", type=int, default=engine_module.BATCH_SIZE,
                        help="applications per upload batch (default: the kiosk's, %(default)s)")
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--stations", type=int, default=1300)
    parser.add_argument("--per-station", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-stations", action="store_true")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the cleanup runs
    work = Path(tempfile.mkdtemp(prefix="doorstep-bench-sync-"))
    cluster = PostgresCluster()
    servers: list[DistrictServer] = []
    try:
        try:
            cluster.start()
        except (PostgresError, OSError, KeyError, subprocess.SubprocessError) as exc:
            raise BenchFailure(
                "cannot start a private PostgreSQL cluster (it needs Debian's postgresql "
                "package, and as root initdb runs as the postgres user through "
                f"`runuser -u postgres`): {exc}"
            ) from None
        key_file = work / "district.key"
        say(f"server workers {args.workers}, batches of {args.batch_size}, bundles of at most "
            f"{engine_module.BUNDLE_BLOBS} blobs and {engine_module.BUNDLE_BYTES >> 20} MiB, "
            f"{engine_module.BUNDLE_CONCURRENCY} in flight; PostgreSQL in {cluster.root}")
        setup = prepare_kiosk(cluster, key_file, work, args.applications,
                              work / "district-setup.log")

        results: list[tuple[DrainResult, DistrictServer, str]] = []
        for count in workers:
            result, server, url = drain_kiosk(cluster, key_file, setup, work, count,
                                              args.batch_size)
            servers.append(server)
            print_breakdown(result, setup.queued)
            results.append((result, server, url))
            if len(workers) > 1:
                server.stop()
        best, server, url = min(results, key=lambda r: r[0].seconds)

        floor_db = Database.open(cluster.create_database("sync_floor", template=setup.template),
                                 key_file)
        try:
            floor_seconds = floor_insert(floor_db, [(setup.station_id, KIOSK_STATION)],
                                         setup.queued, args.batch_size)
            rate, floor_rate = setup.queued / best.seconds, setup.queued / floor_seconds
            say(f"floor: the same rows straight into the tables, batches of "
                f"{args.batch_size}: {floor_seconds:.2f} s = {floor_rate:,.0f}/s")
            report("sync_drain_rate", rate, floor_rate, "applications/s",
                   f"≥ {TARGET_RATE:,.0f} applications/s and ratio ≥ 0.1")
            if not args.skip_stations:
                if server.process is None:
                    server.start()
                run_stations(args, cluster, server, url, floor_db, key_file)
        finally:
            floor_db.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        say(f"peak memory of this process: {peak:,.0f} MB")
        return 0
    except BenchFailure as failure:
        print(f"bench/sync.py: FAILED: {failure}", file=sys.stderr, flush=True)
        for server in servers:
            if server.process is not None and server.process.poll() is not None:
                print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
