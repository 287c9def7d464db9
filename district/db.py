"""Opening the district database: SQLite for one office, PostgreSQL given a URL.

`Database.open(url, key_file)` makes the engine, runs the Alembic migrations (each
process does at start; on PostgreSQL under an advisory lock, so several starting at once
take turns), loads the server key and checks it is the one this database's sealed data
needs. A database written by a newer district is refused, untouched.

Work goes through `write()` (one transaction, committed when the block ends without an
error; on SQLite it takes the write lock when it begins, `BEGIN IMMEDIATE`, so writers
queue instead of failing half-way) and `read()`. SQLAlchemy is told to keep statement
parameters out of its error messages: parameters can hold personal data, even sealed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, select, text
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from district.errors import DatabaseError, KeyFileError
from district.models import Meta
from district.vault import default_key_file, key_id, load_key, open_vault
from kiosk.store.crypto import Vault

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///district.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_DISTRICT_NAME = "Doorstep district"

# Connections each server process keeps open to PostgreSQL, and so the number of threads
# it runs database work on (`district.app` sets its thread limiter to this): a request
# never waits for a connection that a busier thread holds, and none is opened and closed
# per request (a pool smaller than the threads opened one for nearly every request).
POOL_SIZE = 16

# Keys of PostgreSQL advisory locks (any two constants of ours).
_MIGRATION_LOCK = 0x444F4F52_0001
_CHANGES_LOCK = 0x444F4F52_0002
_AUDIT_LOCK = 0x444F4F52_0003


def parse_url(url: str) -> URL:
    """A database URL the district can use: `sqlite:///FILE` or `postgresql://…` (which
    means psycopg 3, the driver installed)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseError("the district needs a SQLite database file, not :memory:")
        return parsed
    raise DatabaseError(f"unsupported database {backend!r}: use sqlite:///FILE or postgresql://")


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return create_engine(
            url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=0, pool_pre_ping=True
        )
    except NoSuchModuleError as exc:
        raise DatabaseError(f"no driver for {url.drivername}: {exc}") from None


def _sqlite_engine(url: URL) -> Engine:
    assert url.database
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below begins
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (refusing one from a newer district)."""
    config = _alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        if current is not None:
            try:
                script.get_revision(current)
            except CommandError:
                raise DatabaseError(
                    f"the database was written by a newer district server (schema {current}); "
                    "run that version or newer, the data is untouched"
                ) from None
        log.info("migrating the district database from schema %s to %s", current, head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The district database and the server key, shared by the API and the CLI."""

    def __init__(self, url: URL, engine: Engine, vault: Vault, epoch: str) -> None:
        self.url = url
        self.engine = engine
        self.vault = vault
        self.epoch = epoch
        self.dialect = engine.dialect.name
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        # PostgreSQL reads at READ COMMITTED, where every statement takes its own snapshot
        # inside a transaction as outside one: for a few short reads a transaction adds
        # nothing but its BEGIN and ROLLBACK round trips (see `lookup`).
        self._looker = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine
        )

    @classmethod
    def open(
        cls, url: str, key_file: Path | None = None, *, run_migrations: bool = True
    ) -> Database:
        parsed = parse_url(url)
        engine = make_engine(parsed)
        try:
            if run_migrations:
                migrate(engine)
            key = load_key(key_file or default_key_file(parsed))
            epoch = _check_key_and_epoch(engine, key)
        except DBAPIError as exc:
            engine.dispose()
            raise DatabaseError(
                f"cannot use the database {parsed.render_as_string(hide_password=True)}: "
                f"{type(exc.orig).__name__}: {str(exc.orig).strip().splitlines()[0]}"
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(parsed, engine, open_vault(key), epoch)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends without an error."""
        with self._writer.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def lookup(self) -> Iterator[Connection]:
        """A connection for a few short reads, as every console request makes (its session,
        an application's page): on PostgreSQL outside a transaction, which spares the
        BEGIN and ROLLBACK round trips and changes nothing a statement sees at READ
        COMMITTED; so no server-side cursor (`stream_results`), which needs a
        transaction: use `read` for those. On SQLite it is `read` (one snapshot; its
        BEGIN costs no round trip). Never for writes."""
        with self._looker.connect() as connection:
            yield connection

    def insert(self, table: Any) -> Any:
        """An INSERT that knows `on_conflict_do_nothing()` on either database."""
        if self.dialect == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    def lock_changes(self, connection: Connection) -> None:
        """Take the lock every writer of `changes` holds until it commits, so the order of
        `changes.seq` is the order of commits and a cursor never skips a late commit."""
        if self.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGES_LOCK})
        # SQLite: the write transaction already holds the database's only write lock.

    def lock_audit(self, connection: Connection) -> None:
        """Take the lock every writer of the audit log holds until it commits, so each
        entry links to the one committed before it. Taken after `lock_changes` where a
        transaction needs both."""
        if self.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})

    def meta(self, connection: Connection, key: str) -> str | None:
        return connection.scalar(_META, {"key": key})

    def set_meta(self, connection: Connection, key: str, value: str) -> None:
        statement = self.insert(Meta).values(key=key, value=value)
        connection.execute(
            statement.on_conflict_do_update(index_elements=["key"], set_={"value": value})
        )


# Built once: every console page reads the district's name through `Database.meta`.
_META = select(Meta.value).where(Meta.key == bindparam("key"))


def _check_key_and_epoch(engine: Engine, key: bytes) -> str:
    """Record the key's id on first use; refuse another key later. Returns the epoch."""
    expected = key_id(key)
    with engine.connect() as connection:
        rows = dict(connection.execute(select(Meta.key, Meta.value)).all())
    if "epoch" not in rows:
        raise DatabaseError("the database has no epoch: it was not made by `district`")
    recorded = rows.get("key_id")
    if recorded is None:
        with engine.begin() as connection:
            insert = (
                pg_dialect.insert(Meta)
                if engine.dialect.name == "postgresql"
                else sqlite_dialect.insert(Meta)
            )
            connection.execute(
                insert.values(key="key_id", value=expected).on_conflict_do_nothing()
            )
            recorded = connection.scalar(select(Meta.value).where(Meta.key == "key_id"))
    if recorded != expected:
        raise KeyFileError(
            "the server key file is not the key this database's data was sealed with; "
            "use the database's own key file (--key-file or DISTRICT_KEY_FILE)"
        )
    return rows["epoch"]
