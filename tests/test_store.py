"""The local store: SQLite settings, migrations, encryption at rest and the blob store."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk.config import Paths
from kiosk.errors import StoreError
from kiosk.store.blobs import BlobCorrupt, BlobMissing
from kiosk.store.crypto import SealBroken, Vault
from kiosk.store.db import Store, head_revision


def test_the_database_runs_in_wal_with_full_sync_and_foreign_keys(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_migrations_run_at_start_and_reopening_keeps_the_data(data_dir: Path) -> None:
    paths = Paths(data_dir)
    first = Store.open(paths)
    assert first.schema_revision() == head_revision()
    with first.write() as session:
        session.execute(
            text("INSERT INTO reference_counters VALUES ('ST01', '20261123', 41)")
        )
    first.close()
    again = Store.open(paths)
    with again.read() as session:
        assert session.execute(text("SELECT last_sequence FROM reference_counters")).scalar() == 41
    again.close()


def database_from_a_newer_doorstep(paths: Paths) -> None:
    """Make the database at `paths` one that a newer Doorstep wrote (schema 9999)."""
    Store.open(paths).close()
    connection = sqlite3.connect(paths.database)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()


def test_a_database_from_a_newer_doorstep_is_refused_and_left_intact(data_dir: Path) -> None:
    paths = Paths(data_dir)
    database_from_a_newer_doorstep(paths)
    connection = sqlite3.connect(paths.database)
    with connection:
        connection.execute("INSERT INTO reference_counters VALUES ('ST01', '20261123', 7)")
    connection.close()
    with pytest.raises(StoreError, match="newer Doorstep"):
        Store.open(paths)
    connection = sqlite3.connect(paths.database)
    assert connection.execute("SELECT last_sequence FROM reference_counters").fetchone() == (7,)
    connection.close()


def test_a_file_that_is_not_a_database_gives_a_store_error(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    Paths(data_dir).database.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(Paths(data_dir))


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as session:
        session.execute(text("INSERT INTO reference_counters VALUES ('ST01', '20261123', 1)"))
        raise RuntimeError("power cut, in effect")
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM reference_counters")).scalar() == 0


def test_the_station_key_lives_apart_and_only_its_owner_can_read_it(store: Store) -> None:
    key = store.paths.station_key
    assert key.parent != store.paths.database.parent
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert len(key.read_bytes()) == 32


def test_sealed_values_open_only_in_their_place_and_with_their_key(tmp_path: Path) -> None:
    vault = Vault.from_key_file(tmp_path / "a" / "key")
    sealed = vault.seal_json({"name": "张三"}, b"applications.resident_sealed:1")
    assert "张三".encode() not in sealed
    assert vault.open_json(sealed, b"applications.resident_sealed:1") == {"name": "张三"}
    with pytest.raises(SealBroken):
        vault.open(sealed, b"applications.resident_sealed:2")
    with pytest.raises(SealBroken):
        Vault.from_key_file(tmp_path / "b" / "key").open(sealed, b"applications.resident_sealed:1")
    with pytest.raises(SealBroken):
        vault.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"applications.resident_sealed:1")
    with pytest.raises(SealBroken):
        vault.open(b"\x02" + sealed[1:], b"applications.resident_sealed:1")


def test_blobs_are_content_addressed_sealed_and_checked(store: Store) -> None:
    content = "身份证复印件 310101199001011234".encode() * 50
    sha = store.blobs.put(content)
    assert store.blobs.put(content) == sha
    path = store.blobs.path(sha)
    assert path.name == sha and path.parent.name == sha[:2]
    assert content[:20] not in path.read_bytes()
    assert store.blobs.get(sha) == content
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises((BlobCorrupt, SealBroken)):
        store.blobs.get(sha)
    with pytest.raises(BlobMissing):
        store.blobs.get("0" * 64)
    with pytest.raises(StoreError):
        store.blobs.path("../../etc/passwd")


def test_an_older_database_is_backed_up_and_upgraded_in_place(
    data_dir: Path, tmp_path: Path
) -> None:
    """A schema newer than the database's: a copy of today's migrations plus one more."""
    import shutil

    from kiosk.store.db import MIGRATIONS, make_engine, migrate

    paths = Paths(data_dir)
    store = Store.open(paths)
    with store.write() as session:
        session.execute(text("INSERT INTO reference_counters VALUES ('ST01', '20261123', 12)"))
    store.close()

    newer = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "9000_test_column.py").write_text(
        f'revision = "9000"\ndown_revision = "{head_revision()}"\n'
        "branch_labels = None\ndepends_on = None\n"
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('reference_counters') as batch:\n"
        "        batch.add_column(sa.Column('note', sa.Text(), nullable=True))\n",
        encoding="utf-8",
    )
    engine = make_engine(paths.database)
    migrate(engine, paths, newer)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        row = connection.execute(text("SELECT last_sequence, note FROM reference_counters")).one()
    engine.dispose()
    assert version == "9000"
    assert tuple(row) == (12, None)
    [backup] = paths.backups.glob(f"kiosk-{head_revision()}-*.sqlite3")
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT last_sequence FROM reference_counters").fetchone() == (12,)
    copy.close()


def test_the_data_folder_is_private(store: Store) -> None:
    assert stat.S_IMODE(store.paths.data_dir.stat().st_mode) == 0o700


def test_rows_read_in_a_session_stay_readable_after_it(store: Store) -> None:
    with store.write() as session:
        session.execute(text("INSERT INTO reference_counters VALUES ('ST01', '20261123', 3)"))
    from kiosk.store.models import ReferenceCounter

    with store.read() as session:
        counter = session.get(ReferenceCounter, ("ST01", "20261123"))
    assert counter is not None and counter.last_sequence == 3


def test_the_migrations_build_exactly_the_models_schema(store: Store) -> None:
    """Every model change comes with its migration: the migrated database and the models
    agree, column for column."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kiosk.store.models import Base

    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
