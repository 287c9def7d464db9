"""The district database: migrations match the models on both backends, run once,
refuse a database from a newer district, and the server key must be the database's own."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text

import district.uploads
from district.db import Database, head_revision, parse_url
from district.errors import DatabaseError, KeyFileError
from district.models import Base
from tests.district.conftest import Kiosk, snapshot
from tests.personal import RESIDENT


def test_the_migrations_make_the_models_schema(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, Base.metadata) == []


def test_opening_again_changes_nothing(db: Database, db_url: str, key_file: Path) -> None:
    before = snapshot(db)
    again = Database.open(db_url, key_file)
    assert again.epoch == db.epoch
    again.close()
    assert snapshot(db) == before


def test_a_database_from_a_newer_district_is_refused(
    db: Database, db_url: str, key_file: Path
) -> None:
    with db.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = snapshot(db)
    with pytest.raises(DatabaseError, match="newer"):
        Database.open(db_url, key_file)
    assert snapshot(db) == before


def test_another_key_is_refused(db: Database, db_url: str, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        Database.open(db_url, tmp_path / "another.key")


def test_a_damaged_key_file_is_refused(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "short.key"
    key.write_bytes(b"too short")
    with pytest.raises(KeyFileError, match="damaged"):
        Database.open(db_url, key)


def test_the_key_file_is_private(db: Database, key_file: Path) -> None:
    assert key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://user@host/name", "postgresql+psycopg"),
        ("postgres://user@host/name", "postgresql+psycopg"),
        ("postgresql+psycopg://user@host/name", "postgresql+psycopg"),
        ("sqlite:///district.sqlite3", "sqlite"),
    ],
)
def test_database_urls(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "sqlite:///:memory:", "nonsense"])
def test_unusable_database_urls(url: str) -> None:
    with pytest.raises(DatabaseError):
        parse_url(url)


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = client.delete("/v1/blobs/" + "0" * 64)
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"]


def test_health(client: TestClient) -> None:
    answer = client.get("/v1/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_an_unexpected_failure_is_a_500_that_logs_no_personal_data(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError(f"failed on {RESIDENT['name']} {RESIDENT['ssn']}")

    monkeypatch.setattr(district.uploads, "check_blobs", broken)
    with caplog.at_level(logging.ERROR):
        answer = kiosk.request("POST", "/v1/blobs:check", json={"sha256": ["0" * 64]})
    assert answer.status_code == 500
    assert answer.json()["code"] == "server_error"
    assert RESIDENT["name"] not in answer.text
    assert "RuntimeError" in caplog.text
    assert RESIDENT["name"] not in caplog.text and RESIDENT["ssn"] not in caplog.text
