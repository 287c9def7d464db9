"""Call-back requests at the district: what stations upload when a resident could not
reach an agent (`POST /v1/callbacks:batch`), and what the console's call-back page
(`district.console.callbacks`) reads and marks.

Upload runs inside the signed request's one transaction (as ratings do,
`district.station_reports`), so a refused request stores nothing. A body that is not a
batch of readable call-backs (a number that is not one, a field too long, an unknown
preferred time, too many) is refused whole with 422 `malformed`, naming the field but
never its value. A request is keyed on the kiosk's permanent UUID: the same request again
changes nothing (and leaves an agent's "done" as it is) and is `accepted`, so the kiosk's
queue empties after a lost answer; the same id with another number, item, time or
preference, or from another station, is `conflict`. An item code the district never
published in any catalog is `unknown_item` (a kiosk only offers items of a catalog it
was sent; a code in an older catalog is still taken, so a catalog published while the
request waited in the kiosk's queue loses no resident's call). The kiosk keeps a
rejected request, out of its queue (`kiosk.sync.engine`).

The phone number is sealed with the server key (`district.vault`) as soon as it
arrives, bound to its row (`phone_context`), and opened only to show it masked, for an
agent whose reason was recorded in the audit log, or to compare a repeated upload. It is
never logged and never in a verdict's message.

A request is `open` until an agent marks it `done` (who and when are kept): the agent
phoned the resident, or called the station from the call desk (`district.calls.ring`:
the call's video connecting marks it done by that agent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Connection, Row, Select, select, update

from district.db import Database
from district.errors import Overtaken, ProblemError, field_summary
from district.models import CallbackRequest, CatalogItem, Station, User
from kiosk.core.phone import mask
from kiosk.store.crypto import Vault
from kiosk.sync.wire import (
    BatchAnswer,
    CallbackBatch,
    CallbackWire,
    ItemVerdict,
    RejectReason,
    Verdict,
)

OPEN, DONE = "open", "done"
STATES = (OPEN, DONE)
PREFERRED = ("today", "tomorrow_am", "tomorrow_pm")
MAX_LISTED = 200  # open requests on one page; the oldest come first
RECENT_DONE = 20  # requests marked done shown under the open ones

#: What makes a request the same request.
_IDENTITY = ("station_id", "item_code", "item_title", "preferred", "requested_at", "phone")


def phone_context(callback_id: str) -> bytes:
    """The associated data that binds a sealed number to its request."""
    return f"callback_requests.phone:{callback_id}".encode()


# -- upload -----------------------------------------------------------------------------


def upload_callbacks(
    db: Database, connection: Connection, station_id: str, body: bytes
) -> BatchAnswer:
    """POST /v1/callbacks:batch: one verdict per call-back request, in order."""
    try:
        batch = CallbackBatch.model_validate_json(body)
    except ValidationError as exc:
        raise ProblemError(422, "malformed", field_summary(exc)) from None
    ids = list(dict.fromkeys(callback.id for callback in batch.callbacks))
    held: dict[str, dict[str, Any]] = {}
    for row in connection.execute(
        select(
            CallbackRequest.id,
            CallbackRequest.station_id,
            CallbackRequest.item_code,
            CallbackRequest.item_title,
            CallbackRequest.preferred,
            CallbackRequest.requested_at,
            CallbackRequest.phone_sealed,
        ).where(CallbackRequest.id.in_(ids))
    ):
        fields = dict(row._mapping)
        fields["phone"] = db.vault.open(fields.pop("phone_sealed"), phone_context(row.id)).decode()
        held[row.id] = fields
    codes = {callback.item_code for callback in batch.callbacks if callback.id not in held}
    published = (
        set(
            connection.scalars(
                select(CatalogItem.code).where(CatalogItem.code.in_(codes)).distinct()
            )
        )
        if codes
        else set()
    )
    now = datetime.now(UTC)
    verdicts: list[ItemVerdict] = []
    new: dict[str, dict[str, Any]] = {}
    for callback in batch.callbacks:
        fields = _identity(callback, station_id)
        known = held.get(callback.id) or new.get(callback.id)
        if known is not None:
            if any(known[key] != fields[key] for key in _IDENTITY):
                verdicts.append(
                    _rejected(
                        callback.id,
                        RejectReason.CONFLICT,
                        "the district holds this call-back id with another request",
                    )
                )
            else:
                verdicts.append(ItemVerdict(id=callback.id, verdict=Verdict.ACCEPTED))
            continue
        if callback.item_code not in published:
            verdicts.append(
                _rejected(
                    callback.id,
                    RejectReason.UNKNOWN_ITEM,
                    f"item {callback.item_code} is in no catalog the district published",
                )
            )
            continue
        new[callback.id] = fields
        verdicts.append(ItemVerdict(id=callback.id, verdict=Verdict.ACCEPTED))
    if new:
        connection.execute(
            CallbackRequest.__table__.insert(),
            [_row(db.vault, fields, now) for fields in new.values()],
        )
    return BatchAnswer(results=verdicts)


def _rejected(callback_id: str, reason: RejectReason, message: str) -> ItemVerdict:
    return ItemVerdict(id=callback_id, verdict=Verdict.REJECTED, reason=reason, message=message)


def _identity(callback: CallbackWire, station_id: str) -> dict[str, Any]:
    requested = callback.requested_at
    requested = requested.replace(tzinfo=UTC) if requested.tzinfo is None else requested
    return {
        "id": callback.id,
        "station_id": station_id,
        "item_code": callback.item_code,
        "item_title": callback.item_title.strip(),
        "preferred": callback.preferred,
        "requested_at": requested.astimezone(UTC),
        "phone": callback.phone,
    }


def _row(vault: Vault, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {key: value for key, value in fields.items() if key != "phone"}
    return {
        **row,
        "phone_sealed": vault.seal(fields["phone"].encode("ascii"), phone_context(fields["id"])),
        "received_at": now,
        "state": OPEN,
        "done_by": None,
        "done_at": None,
    }


# -- the console ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackView:
    """A call-back request as the console lists it: the number masked."""

    id: str
    station_code: str
    station_name: str
    item_code: str
    item_title: str
    phone_masked: str
    preferred: str
    requested_at: datetime
    received_at: datetime
    state: str
    done_by: str | None  # the agent's account name
    done_at: datetime | None


def waiting(
    connection: Connection, vault: Vault, scope: ColumnElement[bool], *, limit: int = MAX_LISTED
) -> list[CallbackView]:
    """The open requests of the stations in `scope`, the longest waiting first (by the
    kiosk's clock: a request queued offline for a day is still the oldest)."""
    rows = connection.execute(
        _selected()
        .where(scope, CallbackRequest.state == OPEN)
        .order_by(CallbackRequest.requested_at, CallbackRequest.id)
        .limit(limit)
    ).all()
    return [_view(vault, row) for row in rows]


def recently_done(
    connection: Connection, vault: Vault, scope: ColumnElement[bool], *, limit: int = RECENT_DONE
) -> list[CallbackView]:
    """The requests of the stations in `scope` marked done, the newest mark first."""
    rows = connection.execute(
        _selected()
        .where(scope, CallbackRequest.state == DONE)
        .order_by(CallbackRequest.done_at.desc(), CallbackRequest.id)
        .limit(limit)
    ).all()
    return [_view(vault, row) for row in rows]


def one(
    connection: Connection, vault: Vault, scope: ColumnElement[bool], callback_id: str
) -> CallbackView | None:
    """The request if a station in `scope` made it, else None."""
    row = connection.execute(_selected().where(scope, CallbackRequest.id == callback_id)).first()
    return None if row is None else _view(vault, row)


def phone_of(connection: Connection, vault: Vault, callback_id: str) -> str | None:
    """The request's number in full (for an agent whose reason was recorded)."""
    sealed = connection.scalar(
        select(CallbackRequest.phone_sealed).where(CallbackRequest.id == callback_id)
    )
    return None if sealed is None else vault.open(sealed, phone_context(callback_id)).decode()


def mark_done(connection: Connection, callback_id: str, *, user_id: int) -> datetime:
    """Mark an open request done by `user_id`, now; Overtaken if it is not open (someone
    marked it meanwhile: their mark stands)."""
    now = datetime.now(UTC)
    done = connection.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == callback_id, CallbackRequest.state == OPEN)
        .values(state=DONE, done_by=user_id, done_at=now)
    )
    if done.rowcount != 1:
        raise Overtaken(f"call-back request {callback_id} is no longer open")
    return now


def _selected() -> Select[Any]:
    return (
        select(
            CallbackRequest.__table__,
            Station.code.label("station_code"),
            Station.name.label("station_name"),
            User.name.label("agent"),
        )
        .join(Station, Station.id == CallbackRequest.station_id)
        .outerjoin(User, User.id == CallbackRequest.done_by)
    )


def _view(vault: Vault, row: Row[Any]) -> CallbackView:
    number = vault.open(row.phone_sealed, phone_context(row.id)).decode()
    return CallbackView(
        id=row.id,
        station_code=row.station_code,
        station_name=row.station_name,
        item_code=row.item_code,
        item_title=row.item_title,
        phone_masked=mask(number),
        preferred=row.preferred,
        requested_at=row.requested_at,
        received_at=row.received_at,
        state=row.state,
        done_by=row.agent,
        done_at=row.done_at,
    )
