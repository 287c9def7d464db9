"""The district's audit log: every sign-in and failed sign-in, identity reveal, material
opened, decision, user and station change, as an append-only, hash-chained list.

Each entry holds the time, the account, the address it came from, the action, the record
it concerns (an id such as `application:<uuid>` or `user:<name>`, never a resident's
data), the result and a short detail from a fixed vocabulary (a reason code, a state).
Its `hash` is the sha256 of the previous entry's hash and its own fields, so an entry
changed, removed or moved breaks the chain at that point. The chain's head is
checkpointed (`checkpoint`: a row in `audit_checkpoints` and, when
`DISTRICT_AUDIT_CHECKPOINTS` names a file, a line appended to it, which can sit where the
database's writer cannot rewrite it), so that removing the newest entries is caught too.

`append` runs inside the caller's transaction (the entry commits with the change it
records, or not at all) under `Database.lock_audit`. `verify` walks the whole chain and
names the first entry that is wrong. Entries are never deleted by the district: the
graded-protection rules ask for 180 days at least, and an auditor may need older ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from district.db import Database
from district.models import AuditCheckpoint, AuditEntry

GENESIS = "0" * 64
ENV_CHECKPOINT_FILE = "DISTRICT_AUDIT_CHECKPOINTS"

# What the log records. Results are "ok", "refused" or "failed".
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
SECOND_FACTOR = "second_factor"
IDENTITY_REVEALED = "identity_revealed"
MATERIALS_OPENED = "materials_opened"
DECISION = "decision"
USER_ADDED = "user_added"
USER_DISABLED = "user_disabled"
USER_CHANGED = "user_changed"
PASSWORD_RESET = "password_reset"  # noqa: S105 (an action's name)
TOTP_SET = "totp_set"
STATION_ADDED = "station_added"
STATION_REVOKED = "station_revoked"
STATION_CHANGED = "station_changed"
STATION_CODE = "station_code"
CATALOG_PUBLISHED = "catalog_published"
SETTINGS_CHANGED = "settings_changed"
CALL_JOINED = "call_joined"  # a supervisor joined a call (they see the resident)
CALL_TAKEN_OVER = "call_taken_over"

#: Who did it when no console account did: the `district` command on the server.
COMMAND_LINE = "(command line)"


@dataclass(frozen=True)
class Problem:
    """The first place the chain is wrong."""

    seq: int
    what: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.what}"


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash an entry must carry: sha256 over the previous hash and its fields."""
    canonical = json.dumps(
        [
            prev_hash,
            fields["seq"],
            _time(fields["at"]),
            fields["account"],
            fields["address"],
            fields["action"],
            fields["record"],
            fields["result"],
            fields["detail"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    db: Database,
    connection: Connection,
    *,
    account: str,
    address: str,
    action: str,
    record: str = "",
    result: str = "ok",
    detail: str = "",
) -> int:
    """Add one entry inside the caller's transaction; returns its sequence number."""
    db.lock_audit(connection)
    last = connection.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    prev_hash = last.hash if last else GENESIS
    seq = (last.seq if last else 0) + 1
    fields = {
        "seq": seq,
        "at": datetime.now(UTC),
        "account": account[:64],
        "address": address[:64],
        "action": action[:40],
        "record": record[:80],
        "result": result[:20],
        "detail": detail[:200],
    }
    connection.execute(
        AuditEntry.__table__.insert().values(
            **fields, prev_hash=prev_hash, hash=entry_hash(prev_hash, fields)
        )
    )
    return seq


def record(db: Database, **entry: str) -> int:
    """`append` in a transaction of its own (a failed sign-in: nothing else commits)."""
    with db.write() as connection:
        return append(db, connection, **entry)


def head(connection: Connection) -> tuple[int, str]:
    last = connection.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def checkpoint(db: Database, file: Path | None = None) -> tuple[int, str] | None:
    """Record the chain's head (if it moved since the last checkpoint); returns it."""
    target = file or _checkpoint_file()
    with db.write() as connection:
        db.lock_audit(connection)
        seq, digest = head(connection)
        newest = connection.scalar(select(func.max(AuditCheckpoint.seq)))
        if seq == 0 or newest == seq:
            return None
        now = datetime.now(UTC)
        connection.execute(
            AuditCheckpoint.__table__.insert().values(seq=seq, hash=digest, at=now)
        )
    if target is not None:
        with target.open("a", encoding="utf-8") as out:
            out.write(f"{seq} {digest} {_time(now)}\n")
            out.flush()
            os.fsync(out.fileno())
    return seq, digest


def verify(db: Database, file: Path | None = None) -> Problem | None:
    """Walk the whole chain; the first entry changed, removed or moved, or None."""
    target = file or _checkpoint_file()
    with db.read() as connection:
        hashes: dict[int, str] = {}
        prev_hash = GENESIS
        previous_seq = 0
        for row in _entries(connection):
            if row.seq != previous_seq + 1:
                return Problem(previous_seq + 1, "removed")
            if row.prev_hash != prev_hash:
                if entry_hash(row.prev_hash, row._asdict()) == row.hash:
                    # this entry is as written: the one before was rewritten with a hash
                    # of its own making
                    return Problem(max(previous_seq, 1), "changed")
                return Problem(row.seq, "changed")
            if entry_hash(row.prev_hash, row._asdict()) != row.hash:
                return Problem(row.seq, "changed or moved")
            hashes[row.seq] = row.hash
            prev_hash = row.hash
            previous_seq = row.seq
        checkpoints = [
            (cp.seq, cp.hash)
            for cp in connection.execute(
                select(AuditCheckpoint.seq, AuditCheckpoint.hash).order_by(AuditCheckpoint.id)
            )
        ]
    if target is not None and target.exists():
        checkpoints += _read_checkpoint_file(target)
    for seq, digest in checkpoints:
        if seq not in hashes:
            # the newest entries are gone: name the first of them
            return Problem(previous_seq + 1, f"removed (entry {seq} was checkpointed)")
        if hashes[seq] != digest:
            return Problem(seq, "changed (it differs from its checkpoint)")
    return None


def entries(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
    action: str | None = None,
    record: str | None = None,
    before: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Entries oldest first (newest first if asked), as `district audit list --json` and
    the audit page show them: at or after `since`, before `until`, of one `account` and
    `action`, whose record starts with `record`, numbered below `before`."""
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    query = select(AuditEntry).order_by(order)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if account is not None:
        query = query.where(AuditEntry.account == account)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if record is not None:
        query = query.where(AuditEntry.record.startswith(record, autoescape=True))
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    with db.read() as connection:
        rows = connection.execute(query).all()
    return [
        {
            "seq": row.seq,
            "at": _time(row.at),
            "account": row.account,
            "address": row.address,
            "action": row.action,
            "record": row.record,
            "result": row.result,
            "detail": row.detail,
            "hash": row.hash,
        }
        for row in rows
    ]


def _entries(connection: Connection) -> Iterator[Any]:
    result = connection.execution_options(yield_per=2000).execute(
        select(AuditEntry).order_by(AuditEntry.seq)
    )
    yield from result


def _read_checkpoint_file(path: Path) -> list[tuple[int, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            found.append((int(parts[0]), parts[1]))
    return found


def _checkpoint_file() -> Path | None:
    name = os.environ.get(ENV_CHECKPOINT_FILE)
    return Path(name) if name else None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
