"""The audit chain under tampering, on SQLite and PostgreSQL: a log of about thirty entries
made by real actions (accounts added, sign-ins through the console, failed sign-ins,
stations, decisions), checkpointed, then changed behind the district's back in the
database. The real `district audit verify` command, run as a subprocess, exits 1 naming
the first bad entry; an intact log exits 0. `district audit list --json` filters by time
and account, and no entry holds the test resident's personal data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from district import audit
from district.accounts import add_user
from district.applications import decide
from district.db import Database
from district.models import AuditCheckpoint, AuditEntry
from tests.district.browsing import PASSWORD, login, sign_in
from tests.district.conftest import MakeStation
from tests.personal import NEVER_LOGGED, RESIDENT

COLUMNS = [column.name for column in AuditEntry.__table__.columns]
SEQ_SHIFT = 10_000  # an edited entry number: far past the newest


@dataclass
class Chain:
    db: Database
    db_url: str
    key_file: Path
    checkpoints: Path  # the file kept outside the database

    def district(self, *args: str, checkpoints: bool = False) -> subprocess.CompletedProcess[str]:
        """The real `district` command on this database."""
        env = {k: v for k, v in os.environ.items() if k != audit.ENV_CHECKPOINT_FILE}
        if checkpoints:
            env[audit.ENV_CHECKPOINT_FILE] = str(self.checkpoints)
        return subprocess.run(
            [sys.executable, "-m", "district", "--db", self.db_url, "--key-file",
             str(self.key_file), *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )

    def rows(self) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            return [dict(row._mapping) for row in
                    connection.execute(select(AuditEntry).order_by(AuditEntry.seq))]

    def put_back(self, *rows: dict[str, Any]) -> None:
        """Restore rows exactly as they were (also when their number was edited)."""
        with self.db.write() as connection:
            for row in rows:
                connection.execute(delete(AuditEntry).where(
                    AuditEntry.seq.in_([row["seq"], row["seq"] + SEQ_SHIFT])))
            for row in rows:
                connection.execute(AuditEntry.__table__.insert().values(**row))

    def edit(self, number: int, **values: Any) -> None:
        with self.db.write() as connection:
            connection.execute(
                update(AuditEntry).where(AuditEntry.seq == number).values(**values)
            )

    def remove(self, *seqs: int) -> None:
        with self.db.write() as connection:
            connection.execute(delete(AuditEntry).where(AuditEntry.seq.in_(seqs)))


@pytest.fixture
def chain(
    db: Database, db_url: str, key_file: Path, client: TestClient, make_station: MakeStation,
    catalog: dict[str, Any], tmp_path: Path,
) -> Chain:
    """About thirty entries from real actions, checkpointed in the table and a file."""
    agent = sign_in(client, db, "agent", station_group="g1")
    sign_in(client, db, "supervisor", station_group="g1")
    sign_in(client, db, "auditor")
    add_user(db, "admin-two", "admin", PASSWORD)
    for name, wrong in (("agent-g1", "not the password"), ("agent-g1", "another guess"),
                        ("nobody", "a guess"), ("admin", "admin")):
        assert login(TestClient(client.app), name, wrong).status_code == 401
    kiosk = make_station("花木街道服务站")
    applications = [kiosk.application(number=n) for n in range(1, 9)]
    answer = kiosk.upload(*applications)
    assert all(r["verdict"] == "accepted" for r in answer.json()["results"]), answer.text
    decisions = ["accepted", "rejected", "needs_more", "accepted", "accepted", "accepted",
                 "rejected", "accepted"]
    for application, state in zip(applications, decisions, strict=True):
        reason = "缺少户口簿首页" if state in ("needs_more", "rejected") else None
        decide(db, application["id"], state, reason, account="agent-g1", address="10.1.1.5")
    for application in applications[3:6]:
        for state in ("ready_for_pickup", "completed"):
            decide(db, application["id"], state, account="agent-g1", address="10.1.1.5")
    assert agent.post("/console/logout").status_code == 303
    file = tmp_path / "checkpoints.txt"
    assert audit.checkpoint(db, file) is not None
    made = Chain(db, db_url, key_file, file)
    assert len(made.rows()) >= 25
    return made


def assert_broken_at(chain: Chain, seq: int, *, checkpoints: bool = False) -> None:
    result = chain.district("audit", "verify", checkpoints=checkpoints)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"audit entry {seq}:" in result.stderr, result.stderr


def assert_intact(chain: Chain) -> None:
    result = chain.district("audit", "verify", checkpoints=True)
    assert result.returncode == 0, result.stderr
    assert "audit log intact" in result.stdout


def changed(column: str, value: Any) -> Any:
    """Another value of the same kind."""
    if column == "seq":
        return value + SEQ_SHIFT
    if column == "at":
        return value + timedelta(seconds=1)
    if column in ("hash", "prev_hash"):
        return ("1" if value[0] != "1" else "2") + value[1:]
    return value + "x"


def test_an_intact_log_passes(chain: Chain) -> None:
    assert_intact(chain)


def test_editing_any_column_of_any_row_is_caught(chain: Chain) -> None:
    """Every column of every row, through `audit.verify`; then each column once (on the
    first, a middle and the newest row in turn) through the real command."""
    rows = chain.rows()
    for row in rows:
        for column in COLUMNS:
            chain.edit(row["seq"], **{column: changed(column, row[column])})
            problem = audit.verify(chain.db, chain.checkpoints)
            assert problem is not None and problem.seq == row["seq"], (row["seq"], column)
            chain.put_back(row)
    assert audit.verify(chain.db, chain.checkpoints) is None
    picks = [rows[0], rows[len(rows) // 2], rows[-1]]
    for number, column in enumerate(COLUMNS):
        row = picks[number % len(picks)]
        chain.edit(row["seq"], **{column: changed(column, row[column])})
        assert_broken_at(chain, row["seq"])
        chain.put_back(row)
    assert_intact(chain)


def test_deleting_a_row_in_the_middle(chain: Chain) -> None:
    middle = len(chain.rows()) // 2
    chain.remove(middle)
    assert_broken_at(chain, middle)


def test_deleting_the_first_row(chain: Chain) -> None:
    chain.remove(1)
    assert_broken_at(chain, 1)


def test_deleting_the_newest_rows_is_caught_by_the_checkpoint(chain: Chain) -> None:
    newest = chain.rows()[-1]["seq"]
    chain.remove(newest, newest - 1, newest - 2)
    assert_broken_at(chain, newest - 2)


def test_swapping_two_rows(chain: Chain) -> None:
    rows = chain.rows()
    first, second = rows[5], rows[12]
    fields = [column for column in COLUMNS if column != "seq"]
    chain.edit(first["seq"], **{column: second[column] for column in fields})
    chain.edit(second["seq"], **{column: first[column] for column in fields})
    assert_broken_at(chain, first["seq"])


def test_a_rewritten_row_with_its_own_hash_recomputed(chain: Chain) -> None:
    row = chain.rows()[10]
    forged = {**row, "result": "ok", "detail": "submitted->completed", "account": "someone"}
    forged["hash"] = audit.entry_hash(row["prev_hash"], forged)
    chain.edit(row["seq"], **{k: forged[k] for k in ("result", "detail", "account", "hash")})
    assert_broken_at(chain, row["seq"])  # the next entry's link names it


def test_deleting_the_checkpoints_and_the_newest_rows(chain: Chain) -> None:
    newest = chain.rows()[-1]["seq"]
    chain.remove(newest, newest - 1)
    with chain.db.write() as connection:
        connection.execute(delete(AuditCheckpoint))
    result = chain.district("audit", "verify")
    assert result.returncode == 0  # without the file, nothing remembers the head
    assert_broken_at(chain, newest - 1, checkpoints=True)


def test_audit_list_filters_by_time_and_account(chain: Chain) -> None:
    rows = chain.rows()
    every = json.loads(chain.district("audit", "list", "--json").stdout)
    assert [entry["seq"] for entry in every] == [row["seq"] for row in rows]
    agent = json.loads(chain.district("audit", "list", "--json", "--account", "agent-g1").stdout)
    assert agent and {entry["account"] for entry in agent} == {"agent-g1"}
    assert len(agent) == sum(1 for row in rows if row["account"] == "agent-g1")
    middle = rows[len(rows) // 2]
    since = middle["at"].replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    later = json.loads(chain.district("audit", "list", "--json", "--since", since).stdout)
    cut = middle["at"].replace(microsecond=0)
    assert [entry["seq"] for entry in later] == [row["seq"] for row in rows if row["at"] >= cut]
    both = json.loads(chain.district(
        "audit", "list", "--json", "--since", since, "--account", "agent-g1").stdout)
    assert [entry["seq"] for entry in both] == [
        row["seq"] for row in rows if row["at"] >= cut and row["account"] == "agent-g1"
    ]
    assert json.loads(chain.district(
        "audit", "list", "--json", "--account", "no-such-account").stdout) == []


def test_no_entry_holds_personal_data(chain: Chain) -> None:
    secrets = {*NEVER_LOGGED, *RESIDENT.values(), "13800000000", "请尽快办理", "缺少户口簿首页"}

    def contains(text: str) -> bool:
        return any(secret in text for secret in secrets)

    for row in chain.rows():
        for column in COLUMNS:
            assert not contains(str(row[column])), (row["seq"], column)
    listed = chain.district("audit", "list", "--json").stdout
    assert not contains(listed)
