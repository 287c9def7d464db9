"""Fixtures for the district server's tests: every test that takes `db` runs twice, on
SQLite and on PostgreSQL (a private cluster, tests/district/postgres.py), each time on a
fresh database copied from a template migrated once per session.

- ``db``: the opened `district.db.Database`; ``client``: FastAPI's TestClient on it;
- ``make_station(name)``: adds a station, enrolls it through the API with a key pair
  made here, and returns a ``Kiosk`` that signs its requests like a real kiosk;
- ``catalog``: the sample catalog, published;
- ``snapshot(db)``: every stored row but the nonces and audit checkpoints, to show a
  request changed nothing.

PostgreSQL is skipped only when we are not root, not under CI, and the cluster cannot be
started; as root or under CI=true a failure to start is an error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select

from district.app import make_app
from district.catalogs import import_catalog
from district.db import Database, make_engine, migrate, parse_url
from district.models import Base
from district.stations import add_station
from kiosk.sync.wire import sign_request
from tests.district.postgres import PostgresCluster, PostgresError
from tests.personal import RESIDENT

BACKENDS = ["sqlite", "postgresql"]
SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "assets" / "catalog" / "sample-catalog.toml"
ITEM = "MI-001"  # an item of the sample catalog
TEMPLATE = "district_template"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.create_database(TEMPLATE)
        engine = make_engine(parse_url(cluster.url(TEMPLATE)))
        migrate(engine)
        engine.dispose()
    except PostgresError as exc:
        cluster.stop()
        # A developer without root may skip; CI runs as root and must never skip.
        if os.geteuid() != 0 and not os.environ.get("CI"):
            pytest.skip(f"cannot start a private PostgreSQL: {exc}")
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("district-template") / "district.sqlite3"
    engine = make_engine(parse_url(f"sqlite:///{path}"))
    migrate(engine)
    engine.dispose()  # checkpoints the WAL: the file alone is the database
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "district.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = cluster.create_database(name, template=TEMPLATE)
    yield url
    cluster.drop_database(name)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "server.key"


@pytest.fixture
def db(db_url: str, key_file: Path) -> Iterator[Database]:
    database = Database.open(db_url, key_file)
    yield database
    database.close()


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(make_app(db)) as test_client:
        yield test_client


@pytest.fixture
def catalog(db: Database) -> dict[str, Any]:
    return import_catalog(db, SAMPLE_CATALOG)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@dataclass
class Kiosk:
    """A station as the district sees it: its id, code and key, signing every request."""

    client: TestClient
    station_id: str
    station_code: str
    key: Ed25519PrivateKey

    def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes = b"",
        params: dict[str, Any] | None = None,
        json: Any = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        station_id: str | None = None,
        key: Ed25519PrivateKey | None = None,
        sign_path: str | None = None,
    ) -> httpx.Response:
        if json is not None:
            import json as json_module

            content = json_module.dumps(json, ensure_ascii=False).encode("utf-8")
        request = self.client.build_request(method, path, content=content, params=params)
        target = sign_path or request.url.raw_path.decode("ascii")
        request.headers.update(
            sign_request(
                key or self.key,
                station_id or self.station_id,
                method,
                target,
                content,
                timestamp=timestamp,
                nonce=nonce,
            )
        )
        if content:
            request.headers["Content-Type"] = "application/json"
        return self.client.send(request)

    def put_blob(self, content: bytes, sha256: str | None = None) -> httpx.Response:
        name = sha256 or hashlib.sha256(content).hexdigest()
        return self.request("PUT", f"/v1/blobs/{name}", content=content)

    def upload(self, *applications: dict[str, Any]) -> httpx.Response:
        return self.request("POST", "/v1/applications:batch", json={"applications": applications})

    def application(
        self,
        item_code: str = ITEM,
        materials: Sequence[bytes] = (),
        *,
        number: int = 1,
        application_id: str | None = None,
    ) -> dict[str, Any]:
        """A well-formed application of this station (the blobs are not uploaded here)."""
        return {
            "id": application_id or str(uuid.uuid4()),
            "reference": f"{self.station_code}-20261124-{number:04d}",
            "item_code": item_code,
            "created_at": datetime(2026, 11, 24, 9, 30, tzinfo=UTC).isoformat(),
            "resident": dict(RESIDENT),
            "form": {"phone": "13800000000", "note": "请尽快办理"},
            "materials": [
                {
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "kind": "page",
                    "label": f"page {n}",
                    "media_type": "image/jpeg",
                    "size": len(content),
                }
                for n, content in enumerate(materials, 1)
            ],
        }


MakeStation = Callable[..., Kiosk]


@pytest.fixture
def make_station(db: Database, client: TestClient) -> MakeStation:
    def make(name: str = "测试服务站", code: str | None = None) -> Kiosk:
        added = add_station(db, name, code=code)
        key = Ed25519PrivateKey.generate()
        answer = client.post(
            "/v1/enroll",
            json={"code": added.enrollment_code, "public_key": public_key_b64(key)},
        )
        assert answer.status_code == 200, answer.text
        return Kiosk(client, added.station_id, added.station_code, key)

    return make


@pytest.fixture
def kiosk(make_station: MakeStation) -> Kiosk:
    return make_station()


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the nonces (which only a served request spends) and
    the audit checkpoints (which the server's background task writes when it likes)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in ("nonces", "audit_checkpoints"):
                continue
            result = connection.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows
