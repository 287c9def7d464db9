"""Opening the local store: the SQLite database (WAL, synchronous=FULL, foreign keys),
its Alembic migrations, the station key and the blob store.

`Store.open(paths)` is what every entry point calls. It upgrades an older database in
place (after copying it to `backups/`), never wipes one, and refuses a database written
by a newer Doorstep. Write transactions take SQLite's write lock when they begin
(`BEGIN IMMEDIATE`), so two processes (the kiosk and a `kiosk` command run by staff)
queue for it instead of failing half-way.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from kiosk.config import Paths
from kiosk.errors import StoreError
from kiosk.store.blobs import BlobStore
from kiosk.store.crypto import Vault

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(database: Path) -> Engine:
    """A SQLAlchemy engine on `database` with the pragmas the kiosk relies on."""
    engine = create_engine(f"sqlite:///{database}")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own is lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _alembic_config(migrations: Path = MIGRATIONS) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class Store:
    """The kiosk's local store: database sessions, the vault and the blob store."""

    def __init__(self, paths: Paths, engine: Engine) -> None:
        self.paths = paths
        self.engine = engine
        self.vault = Vault.from_key_file(paths.station_key)
        self.blobs = BlobStore(paths.blobs, self.vault)
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    @classmethod
    def open(cls, paths: Paths) -> Store:
        """Open (creating or upgrading as needed) the store in `paths.data_dir`."""
        try:
            paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            paths.blobs.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {paths.data_dir}: {exc}") from None
        engine = make_engine(paths.database)
        try:
            migrate(engine, paths)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the database {paths.database}: {exc.orig}") from None
        except BaseException:
            engine.dispose()
            raise
        return cls(paths, engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading. Closing it ends its transaction (anything written is
        rolled back) and leaves the objects it loaded readable, detached."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session holding the write lock, committed when the block ends without error."""
        with self._writer() as session, session.begin():
            yield session

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, paths: Paths, migrations: Path = MIGRATIONS) -> None:
    """Bring the database to the newest schema, backing up an older one first."""
    config = _alembic_config(migrations)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise StoreError(
                f"the database {paths.database} was written by a newer Doorstep "
                f"(schema {current}); install that version or newer, the data is untouched"
            ) from None
        backup = _backup(paths, current)
        log.info(
            "upgrading the local store from schema %s to %s (backup: %s)", current, head, backup
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _backup(paths: Paths, revision: str) -> Path:
    paths.backups.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = paths.backups / f"kiosk-{revision}-{stamp}.sqlite3"
    source = sqlite3.connect(paths.database)
    try:
        destination = sqlite3.connect(target)
        with destination:
            source.backup(destination)
        destination.close()
    finally:
        source.close()
    return target
