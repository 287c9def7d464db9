"""A private PostgreSQL cluster for the district tests.

``PostgresCluster`` runs Debian's PostgreSQL binaries (``/usr/lib/postgresql/*/bin``, the
``postgresql`` package) on a cluster of its own: `initdb` into a fresh folder under /tmp,
then `pg_ctl start` listening only on a Unix socket in that folder, so it neither needs nor
disturbs the machine's PostgreSQL, and two runs never meet. initdb refuses to run as root:
as root, the cluster belongs to the ``postgres`` user and its commands run through
`runuser`; as anyone else they run as that user. Durability is switched off (fsync,
synchronous_commit): the tests check behaviour, not crash safety.

Databases are made from a template (``create_database(name, template=...)``), which is
how each test gets a fresh, already migrated database in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

PACKAGE_HINT = "install the Debian package postgresql (installer/system-packages.sh test)"
PORT = 5432  # only names the socket file: the cluster listens on no TCP port


class PostgresError(RuntimeError):
    """The private cluster could not be made or started."""


def find_bindir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresError(f"no PostgreSQL server binaries in /usr/lib/postgresql: {PACKAGE_HINT}")


class PostgresCluster:
    def __init__(self) -> None:
        self.root: Path | None = None
        self.running = False

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def start(self) -> None:
        bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="doorstep-pg-"))
        self.root.chmod(0o755)
        data = self.root / "data"
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
        self._run(
            [
                str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-locale", "--no-sync",
            ]
        )
        options = " ".join(
            [
                f"-k {self.socket_dir}",
                "-c listen_addresses=''",
                f"-p {PORT}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            [
                str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"),
                "-o", options, "-w", "-t", "60", "start",
            ]
        )
        self.running = True

    def stop(self) -> None:
        if self.root is None:
            return
        if self.running:
            bindir = find_bindir()
            with contextlib.suppress(PostgresError):
                self._run(
                    [str(bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                     "-w", "stop"]
                )
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def log_tail(self, lines: int = 20) -> str:
        if self.root is None:
            return ""
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def execute(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as postgres."""
        with psycopg.connect(
            host=str(self.socket_dir), port=PORT, user="postgres", dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd="/", check=False
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{' '.join(command)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{self.log_tail()}"
            )
