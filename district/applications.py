"""Applications on the district side: an agent's decisions and the changes stations
download.

States: `submitted` on receipt, then as agents decide:

    submitted ──► accepted ──► ready_for_pickup ──► completed
        │  ▲         │  └─────────────────────────────▲
        │  │         └──► rejected (with a reason the station shows)
        ├──┴─► needs_more (补正: what is missing, in words for the resident) ──► rejected
        └──────► rejected

A decision (`decide`) names the application's version it was made on: if another agent
decided in between, nothing changes and the second agent is told (`Overtaken`). It is
recorded with who, when and why (`decisions`) and in the audit log, in the same
transaction as the state and the change row.

Every decision appends a row to `changes` in the same transaction. The rows' global
sequence is what a station's cursor counts in; each writer of `changes` holds a lock until
it commits (`Database.lock_changes`), so sequence order is commit order and a reader that
has seen row N will never later find a row below N appear.

A cursor is `<epoch>.<seq>`: the database's epoch (a UUID made when the database was
created; `district cursors reset` makes a new one after a restore from backup) and the last
sequence the station has. A cursor with another epoch, past the newest sequence, or
garbage gets `reset: true`: the station starts again with no cursor, and since states are
set, not stepped, applying changes twice is harmless.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from district import audit, calls
from district.db import Database
from district.errors import NotFound, Overtaken, Refused
from district.models import Application, Change, Decision, Material, Meta, Station
from district.stations import find_station
from kiosk.sync.wire import MAX_CHANGES, ChangesAnswer
from kiosk.sync.wire import Change as ChangeWire

SUBMITTED = "submitted"
NEEDS_MORE = "needs_more"
STATES = ("submitted", "needs_more", "accepted", "ready_for_pickup", "completed", "rejected")
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"accepted", "needs_more", "rejected"}),
    "needs_more": frozenset({"accepted", "rejected"}),
    "accepted": frozenset({"ready_for_pickup", "completed", "rejected"}),
    "ready_for_pickup": frozenset({"completed"}),
    "completed": frozenset(),
    "rejected": frozenset(),
}
DEFAULT_CHANGES = 100


#: States whose decision needs words for the resident: why it was rejected, what is missing.
NEEDS_REASON = frozenset({"rejected", "needs_more"})


def set_state(
    db: Database, application_id: str, state: str, reason: str | None = None
) -> dict[str, Any]:
    """A decision from the command line (`district applications set-state`)."""
    return decide(db, application_id, state, reason, account=audit.COMMAND_LINE, address="")


def decide(
    db: Database,
    application_id: str,
    state: str,
    reason: str | None = None,
    *,
    account: str,
    address: str,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """An agent's decision: move an application on and tell its station. With
    `expected_version`, refuse (Overtaken) if the application changed since it was read."""
    if state not in STATES[1:]:
        raise Refused(f"unknown state {state!r}; one of {', '.join(STATES[1:])}")
    reason = (reason or "").strip() or None
    if state in NEEDS_REASON and reason is None:
        what = "what is missing" if state == NEEDS_MORE else "a reason"
        raise Refused(f"this decision needs {what}, in words the resident understands")
    if reason is not None and len(reason) > 500:
        raise Refused("a reason is at most 500 characters")
    now = datetime.now(UTC)
    with db.write() as connection:
        db.lock_changes(connection)
        row = connection.execute(
            select(Application.station_id, Application.state, Application.version).where(
                Application.id == application_id
            )
        ).first()
        if row is None:
            raise NotFound(f"no application {application_id!r}")
        if expected_version is not None and row.version != expected_version:
            raise Overtaken("someone else decided this application meanwhile")
        if state not in TRANSITIONS[row.state]:
            raise Refused(f"an application cannot go from {row.state} to {state}")
        changed = connection.execute(
            update(Application)
            .where(Application.id == application_id, Application.version == row.version)
            .values(state=state, reason=reason, updated_at=now, version=row.version + 1)
        )
        if changed.rowcount != 1:
            raise Overtaken("someone else decided this application meanwhile")
        seq = connection.execute(
            Change.__table__.insert().values(
                application_id=application_id,
                station_id=row.station_id,
                state=state,
                reason=reason,
                at=now,
            )
        ).inserted_primary_key[0]
        connection.execute(
            Decision.__table__.insert().values(
                application_id=application_id,
                account=account,
                from_state=row.state,
                to_state=state,
                reason=reason,
                at=now,
            )
        )
        audit.append(
            db, connection, account=account, address=address, action=audit.DECISION,
            record=f"application:{application_id}", detail=f"{row.state}->{state}",
        )
        calls.decision_made(connection, application_id, state, reason, now)
    return {
        "id": application_id,
        "state": state,
        "reason": reason,
        "change": seq,
        "version": row.version + 1,
    }


def changes_for(
    db: Database, connection: Connection, station_id: str, cursor: str | None, limit: int
) -> ChangesAnswer:
    """GET /v1/changes: this station's changes after `cursor`."""
    limit = max(1, min(limit, MAX_CHANGES))
    after = 0
    if cursor:
        known = _parse_cursor(cursor, db.epoch)
        newest = connection.scalar(select(func.max(Change.seq))) or 0
        if known is None or known > newest:
            return ChangesAnswer(changes=[], cursor=None, reset=True)
        after = known
    rows = connection.execute(
        select(Change.seq, Change.application_id, Change.state, Change.reason, Change.at)
        .where(Change.station_id == station_id, Change.seq > after)
        .order_by(Change.seq)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].seq if rows else after
    return ChangesAnswer(
        changes=[
            ChangeWire(application_id=r.application_id, state=r.state, reason=r.reason, at=r.at)
            for r in rows
        ],
        cursor=f"{db.epoch}.{last}",
        more=more,
    )


def _parse_cursor(cursor: str, epoch: str) -> int | None:
    head, _, tail = cursor.rpartition(".")
    if head != epoch or not tail.isdigit() or len(tail) > 18:
        return None
    return int(tail)


def reset_cursors(db: Database) -> str:
    """A new epoch: every station's cursor becomes unknown, so each starts over."""
    epoch = str(uuid.uuid4())
    with db.write() as connection:
        connection.execute(update(Meta).where(Meta.key == "epoch").values(value=epoch))
    db.epoch = epoch
    return epoch


def list_applications(
    db: Database, station: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """What staff, tests and demos see of applications: no personal data."""
    query = (
        select(
            Application.id,
            Application.station_id,
            Station.code.label("station_code"),
            Application.reference,
            Application.item_code,
            Application.state,
            Application.reason,
            Application.created_at,
            Application.received_at,
        )
        .join(Station, Station.id == Application.station_id)
        .order_by(Application.received_at, Application.reference, Application.id)
    )
    with db.read() as connection:
        if station is not None:
            query = query.where(Application.station_id == find_station(connection, station).id)
        if state is not None:
            if state not in STATES:
                raise Refused(f"unknown state {state!r}; one of {', '.join(STATES)}")
            query = query.where(Application.state == state)
        rows = connection.execute(query).all()
        blobs: dict[str, list[str]] = defaultdict(list)
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):
            for material in connection.execute(
                select(Material.application_id, Material.sha256)
                .where(Material.application_id.in_(ids[start : start + 500]))
                .order_by(Material.application_id, Material.position)
            ):
                blobs[material.application_id].append(material.sha256)
    return [
        {
            "id": row.id,
            "station_id": row.station_id,
            "station_code": row.station_code,
            "reference": row.reference,
            "item_code": row.item_code,
            "state": row.state,
            "reason": row.reason,
            "blobs": blobs.get(row.id, []),
            "created_at": row.created_at.isoformat(),
            "received_at": row.received_at.isoformat(),
        }
        for row in rows
    ]
