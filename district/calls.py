"""The call queue of remote assistance, kept in the database so that any number of
`district serve` processes serve one queue: plain functions on a SQLAlchemy Connection,
each run inside the caller's transaction (`Database.write()`), like
`district.applications`. `district.signaling` holds the sockets and calls these.

A call (`calls.state`):

    (request) ──► waiting ──take──► active ──end──► ended
                     │                               ▲
                     └──── end, gone, replaced, ─────┘
                           unavailable

- `request_call` is idempotent by the kiosk's call id: repeated for an open call it only
  refreshes the station's heartbeat (and hands an active call's `Assigned` again, so the
  kiosk offers afresh); for an ended call it says `Ended` again. A station's new call
  ends its old one with reason `replaced`.
- A station whose group has no agent serving it now (none available, busy or in
  after-call work: on a break or offline does not serve) is told `Unavailable` and its
  call is ended with reason `unavailable`; so is a waiting call whose last serving agent
  leaves. A station with no group (`""`, the admins' ungrouped stations) has nobody to
  take its calls: agents and supervisors only ever serve their own group's stations, and
  admins take no calls, so such a station is always `Unavailable`.
- `take` is one conditional UPDATE (`... WHERE state = 'waiting'`): of two agents taking
  the same call at once, one wins and the other gets `CallRefused("taken")`.
- `end_call` ends a call once (a second end changes nothing); both sides get `Ended`.
- `sweep` ends every call a side has been silent on for SILENT_S (reason `gone`), puts
  agents without a heartbeat offline (and ends their call), moves after-call work back
  to available after AFTER_CALL_S, and drops signals nobody collected. Every process runs
  it every second, so nothing is left active without both sides alive, whichever process
  died.

An agent (`agent_presence.state`):

    offline ──socket──► available ◄──► break (with a reason)
                          │   ▲  ▲
                        take  │  └── after_call ◄── end
                          ▼   │
                         busy ┘ (only through the end of the call)

An agent's socket connecting makes them available (an agent who had a call when their
socket went is taken off it first: their page has already left it); the socket closing
ends their call (reason `gone`) and puts them offline.

Routing: an agent's next call is the oldest waiting call of their station group whose
category is in their skills, else the oldest waiting call of their group; they may also
take a chosen waiting call of their group. The estimated wait is the place in the queue
times the median handle time (assigned to ended) of the group's last 20 answered calls
(180 s before there are any), divided by the group's available agents (at least one).

Messages: every message of a call's events for one side (assigned, the offer, the
answer, chat, capture requests and arrivals, decisions, ended) is a row of `call_signals`
written in the same transaction as the change, and a wake-up (`notify`): on PostgreSQL a
`NOTIFY doorstep_calls, '<key>'` (keys only, never a payload; delivered at commit), on
SQLite a call to this process's listeners after the commit. Whichever process holds that
side's socket takes the rows (DELETE ... RETURNING) and sends them. The views (a station's
`Queued`, an agent's `QueueView`) are not stored: the process holding a socket computes
them from the tables whenever the group's queue wakes, and again every second.

Wake-up keys: `station:<station id>`, `agent:<user id>`, `group:<station group>`.

A supervisor on a call (`calls.supervisor_id`; the protocol's module docstring has the
messages): the call's agent asks for help (`help_at`); the group's supervisors see the
call in their queue view; one joins (a conditional UPDATE: of two joining at once, one
wins) and is busy on it, the station offers them a second stream; chat and captures
reach the agent, the supervisor and the station alike. Taking over makes the supervisor
the call's agent (the agent hears `Ended` with reason `takeover` and goes to after-call
work; the station closes the second stream and offers afresh to the supervisor, under
the same call). A supervisor who leaves (their `End`), whose socket closes, or who goes
silent only leaves: the call goes on. A call that ends ends for its supervisor too.
Joining and taking over are audited (the supervisor sees the resident).
Only calls whose agent asked for help can be joined: a supervisor does not watch calls
unasked, and the station always shows who is watching.

An agent calling a station back (`ring`): an open call-back request of a station of the
agent's group, a station with no open call, an agent free to take a call. The call is
made active and the agent's at once (they are busy on it while it rings); the station
hears `Incoming` on its standby socket and answers with a `request` under that call id,
which hands it `Assigned` like any active call. Ending it before it connected (the
resident declined, it rang out, the station is busy or offline) leaves the request open;
the call's media connecting marks the request done by that agent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import statistics
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, event, func, or_, select, text, update

from district import audit
from district import callbacks as callback_requests
from district.db import Database
from district.errors import NotFound, Overtaken, Refused
from district.models import (
    AgentPresence,
    Blob,
    Call,
    CallbackRequest,
    CallCapture,
    CallSignal,
    Station,
    User,
)
from district.turn import TurnSettings, ice_for_call
from district.uploads import blob_context
from kiosk.core.catalog import Category
from kiosk.remote import protocol

WAITING, ACTIVE, ENDED = "waiting", "active", "ended"
OPEN = (WAITING, ACTIVE)
STATION, AGENT = "station", "agent"
CALL_ROLES = ("agent", "supervisor")
#: Agent states in which an agent serves their group (a station's call can be queued).
SERVING = ("available", "busy", "after_call")

CHANNEL = "doorstep_calls"
SILENT_S = protocol.SILENT_S
AFTER_CALL_S = 30.0
DEFAULT_HANDLE_S = 180.0
HANDLE_SAMPLE = 20
#: Why a station may end a call (anything else it says is taken as the resident's end).
STATION_END_REASONS = ("resident", "media", "declined", "no_answer", "busy")
SIGNAL_KEEP_S = 120.0  # a signal nobody collected in this long is for a side that is gone


class CallRefused(Exception):
    """What an agent or station asked for cannot be done; `code` is the ErrorMessage's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Agent:
    """An account on the agents' socket."""

    id: int
    name: str
    role: str
    station_group: str


def station_key(station_id: str) -> str:
    return f"{STATION}:{station_id}"


def agent_key(user_id: int) -> str:
    return f"{AGENT}:{user_id}"


def group_key(group: str) -> str:
    return f"group:{group}"


# -- wake-ups ---------------------------------------------------------------------------

#: This process's listeners for wake-ups on SQLite (`district.signaling`'s hub).
LOCAL_LISTENERS: list[Callable[[str], None]] = []
_pending: weakref.WeakKeyDictionary[Connection, set[str]] = weakref.WeakKeyDictionary()


def notify(connection: Connection, key: str) -> None:
    """Wake whoever holds `key`'s socket once this transaction commits."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": key}
        )
        return
    keys = _pending.get(connection)
    if keys is None:
        keys = _pending[connection] = set()

        def committed(_connection: Connection) -> None:
            for key in sorted(_pending.pop(connection, ())):
                for listener in list(LOCAL_LISTENERS):
                    listener(key)

        event.listen(connection, "commit", committed, once=True)
    keys.add(key)


def _signal(
    connection: Connection,
    call_id: str,
    side: str,
    recipient: str | int,
    message: Any,
    now: datetime,
) -> None:
    connection.execute(
        CallSignal.__table__.insert().values(
            call_id=call_id,
            to_side=side,
            recipient=str(recipient),
            body=protocol.dump(message),
            created_at=now,
        )
    )
    notify(connection, f"{side}:{recipient}")


def to_station(connection: Connection, call: Any, message: Any, now: datetime) -> None:
    _signal(connection, call.id, STATION, call.station_id, message, now)


def to_agent(connection: Connection, call: Any, message: Any, now: datetime) -> None:
    if call.agent_id is not None:
        _signal(connection, call.id, AGENT, call.agent_id, message, now)


def to_supervisor(connection: Connection, call: Any, message: Any, now: datetime) -> None:
    if call.supervisor_id is not None:
        _signal(connection, call.id, AGENT, call.supervisor_id, message, now)


def to_console(connection: Connection, call: Any, message: Any, now: datetime) -> None:
    """To everyone on the call in the console: its agent and a supervisor who joined."""
    to_agent(connection, call, message, now)
    to_supervisor(connection, call, message, now)


def take_signals(connection: Connection, side: str, recipient: str | int) -> list[str]:
    """The messages waiting for one side, oldest first, taken (deleted) as they are read."""
    rows = connection.execute(
        delete(CallSignal)
        .where(CallSignal.to_side == side, CallSignal.recipient == str(recipient))
        .returning(CallSignal.id, CallSignal.body)
    ).all()
    return [row.body for row in sorted(rows, key=lambda row: row.id)]


# -- reading ----------------------------------------------------------------------------


def get_call(connection: Connection, call_id: str) -> Any:
    return connection.execute(select(Call).where(Call.id == call_id)).first()


def group_of_station(connection: Connection, station_id: str) -> str:
    return connection.scalar(select(Station.station_group).where(Station.id == station_id)) or ""


def _group_calls(group: str) -> Any:
    return (
        select(Call)
        .join(Station, Station.id == Call.station_id)
        .where(Station.station_group == group)
    )


def waiting_calls(connection: Connection, group: str) -> list[Any]:
    """The group's waiting calls in queue order."""
    if not group:
        return []
    return list(
        connection.execute(
            _group_calls(group).where(Call.state == WAITING).order_by(Call.created_at, Call.id)
        ).all()
    )


def _group_agents(connection: Connection, group: str, states: Iterable[str]) -> list[Any]:
    return list(
        connection.execute(
            select(AgentPresence.user_id, AgentPresence.state, AgentPresence.skills)
            .join(User, User.id == AgentPresence.user_id)
            .where(
                User.station_group == group,
                User.role.in_(CALL_ROLES),
                User.disabled_at.is_(None),
                AgentPresence.state.in_(tuple(states)),
            )
        ).all()
    )


def handle_time_s(connection: Connection, group: str) -> float:
    """The median handle time of the group's last HANDLE_SAMPLE answered calls."""
    rows = connection.execute(
        _group_calls(group)
        .with_only_columns(Call.assigned_at, Call.ended_at)
        .where(Call.state == ENDED, Call.assigned_at.is_not(None), Call.ended_at.is_not(None))
        .order_by(Call.ended_at.desc())
        .limit(HANDLE_SAMPLE)
    ).all()
    if not rows:
        return DEFAULT_HANDLE_S
    return statistics.median((row.ended_at - row.assigned_at).total_seconds() for row in rows)


def queue_view_for_station(connection: Connection, call_id: str) -> protocol.Queued | None:
    """A waiting call's place in its group's queue and the estimated wait."""
    call = get_call(connection, call_id)
    if call is None or call.state != WAITING:
        return None
    group = group_of_station(connection, call.station_id)
    waiting = [row.id for row in waiting_calls(connection, group)]
    if call_id not in waiting:
        return None
    position = waiting.index(call_id) + 1
    available = len(_group_agents(connection, group, ("available",)))
    wait = position * handle_time_s(connection, group) / max(1, available)
    return protocol.Queued(call=call_id, position=position, wait_s=round(wait), agents=available)


def help_calls(connection: Connection, group: str) -> list[Any]:
    """The group's active calls whose agent asked for a supervisor nobody has answered."""
    if not group:
        return []
    return list(
        connection.execute(
            _group_calls(group)
            .where(Call.state == ACTIVE, Call.help_at.is_not(None), Call.supervisor_id.is_(None))
            .order_by(Call.help_at, Call.id)
        ).all()
    )


def _user_name(connection: Connection, user_id: int | None) -> str:
    if user_id is None:
        return ""
    return (connection.scalar(select(User.name).where(User.id == user_id)) or "")[:64]


def queue_view_for_agent(connection: Connection, agent: Agent, now: datetime) -> protocol.QueueView:
    presence = _presence(connection, agent.id)
    state = presence.state if presence is not None else "offline"
    skills = set(presence.skills or ()) if presence is not None else set()
    names = dict(
        connection.execute(
            select(Station.id, Station.name).where(Station.station_group == agent.station_group)
        ).all()
    )
    return protocol.QueueView(
        state=state,
        waiting=[
            protocol.WaitingCall(
                call=row.id,
                station=names.get(row.station_id, ""),
                item_title=row.item_title,
                category=row.category,
                waited_s=max(0, int((now - row.created_at).total_seconds())),
                mine=bool(row.category) and row.category in skills,
            )
            for row in waiting_calls(connection, agent.station_group)
        ],
        help=[
            protocol.HelpCall(
                call=row.id,
                station=names.get(row.station_id, ""),
                item_title=row.item_title,
                agent=_user_name(connection, row.agent_id),
                asked_s=max(0, int((now - row.help_at).total_seconds())),
            )
            for row in (
                help_calls(connection, agent.station_group) if agent.role == "supervisor" else []
            )
        ],
    )


def station_name(connection: Connection, station_id: str) -> str:
    return connection.scalar(select(Station.name).where(Station.id == station_id)) or ""


def _presence(connection: Connection, user_id: int) -> Any:
    return connection.execute(select(AgentPresence).where(AgentPresence.user_id == user_id)).first()


def active_call_of_station(connection: Connection, station_id: str) -> Any:
    return connection.execute(
        select(Call).where(Call.station_id == station_id, Call.state.in_(OPEN))
    ).first()


def active_call_of_agent(connection: Connection, user_id: int) -> Any:
    return connection.execute(
        select(Call).where(Call.agent_id == user_id, Call.state == ACTIVE)
    ).first()


# -- the station's side -----------------------------------------------------------------


def request_call(
    connection: Connection,
    station_id: str,
    request: protocol.CallRequest,
    now: datetime,
    turn: TurnSettings,
) -> Any:
    """A station asks for an agent (idempotent by the call's id); returns the call row."""
    existing = get_call(connection, request.call)
    if existing is not None:
        if existing.station_id != station_id:
            raise CallRefused("not_yours", "this call id belongs to another station")
        if existing.state == ENDED:
            reason = existing.end_reason or "server"
            to_station(connection, existing, protocol.Ended(call=existing.id, reason=reason), now)
            return existing
        connection.execute(update(Call).where(Call.id == existing.id).values(kiosk_seen_at=now))
        if existing.state == ACTIVE:
            _assigned(connection, existing, now, turn)
        notify(connection, group_key(group_of_station(connection, station_id)))
        return get_call(connection, existing.id)
    for old in connection.execute(
        select(Call.id).where(Call.station_id == station_id, Call.state.in_(OPEN))
    ).all():
        end_call(connection, old.id, "replaced", now)
    group = group_of_station(connection, station_id)
    serving = _group_agents(connection, group, SERVING) if group else []
    connection.execute(
        Call.__table__.insert().values(
            id=request.call,
            station_id=station_id,
            state=WAITING if serving else ENDED,
            item_code=request.item_code,
            item_title=request.item_title,
            category=request.category,
            application_id=request.application,
            identity=request.identity,
            source=request.source,
            audio=request.audio,
            created_at=now,
            kiosk_seen_at=now,
            ended_at=None if serving else now,
            end_reason=None if serving else "unavailable",
            attempt=0,
        )
    )
    call = get_call(connection, request.call)
    if not serving:
        to_station(connection, call, protocol.Unavailable(call=call.id, reason="no_agents"), now)
    else:
        notify(connection, group_key(group))
    return call


def _assigned(connection: Connection, call: Any, now: datetime, turn: TurnSettings) -> None:
    ice, policy = ice_for_call(turn, call.id)
    name = _user_name(connection, call.agent_id)
    to_station(
        connection,
        call,
        protocol.Assigned(
            call=call.id, agent=name, ice_servers=ice, ice_policy=policy, attempt=call.attempt
        ),
        now,
    )
    if call.supervisor_id is not None:
        _watch(connection, call, now, turn)


def _watch(connection: Connection, call: Any, now: datetime, turn: TurnSettings) -> None:
    ice, policy = ice_for_call(turn, call.id)
    to_station(
        connection,
        call,
        protocol.Watch(
            call=call.id,
            supervisor=_user_name(connection, call.supervisor_id),
            ice_servers=ice,
            ice_policy=policy,
            attempt=call.attempt,
        ),
        now,
    )


def station_heartbeat(connection: Connection, station_id: str, now: datetime) -> None:
    connection.execute(
        update(Call)
        .where(Call.station_id == station_id, Call.state.in_(OPEN))
        .values(kiosk_seen_at=now)
    )


def _station_call(connection: Connection, station_id: str, call_id: str) -> Any:
    call = get_call(connection, call_id)
    if call is None or call.station_id != station_id or call.state not in OPEN:
        raise CallRefused("no_call", "this station has no such open call")
    return call


def station_offer(
    connection: Connection, station_id: str, offer: protocol.Offer, now: datetime
) -> None:
    call = _station_call(connection, station_id, offer.call)
    if call.state != ACTIVE:
        raise CallRefused("not_assigned", "no agent has taken this call yet")
    if offer.leg == "supervisor":
        if call.supervisor_id is None:
            raise CallRefused("no_supervisor", "no supervisor is on this call")
        to_supervisor(connection, call, offer, now)
        return
    if offer.attempt > call.attempt:
        connection.execute(update(Call).where(Call.id == call.id).values(attempt=offer.attempt))
    to_agent(connection, call, offer, now)


def station_chat(
    connection: Connection, station_id: str, chat: protocol.Chat, now: datetime
) -> None:
    call = _station_call(connection, station_id, chat.call)
    if call.state != ACTIVE:
        raise CallRefused("not_assigned", "no agent has taken this call yet")
    to_console(connection, call, chat.model_copy(update={"sender": "resident"}), now)


def station_media(
    connection: Connection, station_id: str, media: protocol.MediaState, now: datetime
) -> None:
    call = _station_call(connection, station_id, media.call)
    if media.leg == "supervisor":
        to_supervisor(connection, call, media, now)
        return
    _media(connection, call, media, now)
    to_agent(connection, call, media, now)


def _media(connection: Connection, call: Any, media: protocol.MediaState, now: datetime) -> None:
    if media.state == "connected" and call.connected_at is None:
        connection.execute(update(Call).where(Call.id == call.id).values(connected_at=now))
        if call.callback_id is not None and call.agent_id is not None:
            with contextlib.suppress(Overtaken):  # someone marked it meanwhile: theirs stands
                callback_requests.mark_done(connection, call.callback_id, user_id=call.agent_id)


def station_capture(
    db: Database, connection: Connection, station_id: str, capture: protocol.Capture, now: datetime
) -> int:
    """Keep a station's capture as a sealed blob and tell the agent; returns its position."""
    call = _station_call(connection, station_id, capture.call)
    try:
        content = base64.b64decode(capture.data, validate=True)
    except (binascii.Error, ValueError):
        raise CallRefused("bad_capture", "the capture is not base64") from None
    if not content:
        raise CallRefused("bad_capture", "the capture is empty")
    sha256 = hashlib.sha256(content).hexdigest()
    connection.execute(
        db.insert(Blob)
        .values(
            sha256=sha256,
            size=len(content),
            sealed=db.vault.seal(content, blob_context(sha256)),
            received_at=now,
        )
        .on_conflict_do_nothing()
    )
    position = (
        connection.scalar(
            select(func.max(CallCapture.position)).where(CallCapture.call_id == call.id)
        )
        or 0
    ) + 1
    connection.execute(
        CallCapture.__table__.insert().values(
            call_id=call.id,
            position=position,
            sha256=sha256,
            request=capture.request,
            kind=capture.kind,
            label=capture.label,
            media_type=capture.media_type,
            size=len(content),
            created_at=now,
        )
    )
    to_console(
        connection,
        call,
        protocol.CaptureArrived(
            call=call.id,
            request=capture.request,
            kind=capture.kind,
            label=capture.label,
            url=capture_url(call.id, position),
        ),
        now,
    )
    return position


def capture_url(call_id: str, position: int) -> str:
    return f"/console/calls/{call_id}/captures/{position}"


def read_capture(db: Database, connection: Connection, call_id: str, position: int) -> Any:
    """A capture's row and plain bytes (`.content`), or None."""
    row = connection.execute(
        select(CallCapture, Blob.sealed)
        .join(Blob, Blob.sha256 == CallCapture.sha256)
        .where(CallCapture.call_id == call_id, CallCapture.position == position)
    ).first()
    if row is None:
        return None
    content = db.vault.open(row.sealed, blob_context(row.sha256))
    return _Capture(row.media_type, row.kind, content)


@dataclass(frozen=True)
class _Capture:
    media_type: str
    kind: str
    content: bytes


def station_end(connection: Connection, station_id: str, end: protocol.End, now: datetime) -> None:
    call = get_call(connection, end.call)
    if call is None or call.station_id != station_id:
        raise CallRefused("no_call", "this station has no such call")
    reason = end.reason if end.reason in STATION_END_REASONS else "resident"
    end_call(connection, call.id, reason, now)


# -- the agent's side -------------------------------------------------------------------


def agent_connected(connection: Connection, agent: Agent, now: datetime) -> None:
    """An agent's socket opened: they are available (off any call their page has left)."""
    call = active_call_of_agent(connection, agent.id)
    if call is not None:
        end_call(connection, call.id, "gone", now)
    leave_watched(connection, agent.id, now)
    presence = _presence(connection, agent.id)
    if presence is None:
        connection.execute(
            AgentPresence.__table__.insert().values(
                user_id=agent.id, state="available", reason="", skills=[], since=now, seen_at=now
            )
        )
    else:
        values: dict[str, Any] = {"seen_at": now, "call_id": None}
        if presence.state in ("offline", "busy"):
            values |= {"state": "available", "reason": "", "since": now}
        connection.execute(
            update(AgentPresence).where(AgentPresence.user_id == agent.id).values(**values)
        )
    notify(connection, group_key(agent.station_group))


def agent_disconnected(connection: Connection, agent: Agent, now: datetime) -> None:
    """An agent's socket closed: their call ends (reason gone), and they are offline."""
    call = active_call_of_agent(connection, agent.id)
    if call is not None:
        end_call(connection, call.id, "gone", now)
    leave_watched(connection, agent.id, now)
    _go_offline(connection, agent.id, now)
    notify(connection, group_key(agent.station_group))
    _maybe_unavailable(connection, agent.station_group, now)


def _go_offline(connection: Connection, user_id: int, now: datetime) -> None:
    connection.execute(
        update(AgentPresence)
        .where(AgentPresence.user_id == user_id)
        .values(state="offline", reason="", since=now, call_id=None)
    )


def agent_heartbeat(connection: Connection, agent: Agent, now: datetime) -> None:
    connection.execute(
        update(AgentPresence).where(AgentPresence.user_id == agent.id).values(seen_at=now)
    )
    connection.execute(
        update(Call)
        .where(Call.agent_id == agent.id, Call.state == ACTIVE)
        .values(agent_seen_at=now)
    )


def set_presence(
    connection: Connection, agent: Agent, state: str, reason: str, now: datetime
) -> None:
    """The agent says what they are doing: available, on a break (a reason), after-call."""
    if state not in ("available", "break", "after_call"):
        raise CallRefused("bad_state", "an agent can be available, on a break or after-call")
    if state == "break" and not reason.strip():
        raise CallRefused("reason_needed", "a break needs a reason")
    changed = connection.execute(
        update(AgentPresence)
        .where(AgentPresence.user_id == agent.id, AgentPresence.state.not_in(("busy", "offline")))
        .values(
            state=state, reason=reason.strip() if state == "break" else "", since=now, seen_at=now
        )
    )
    if changed.rowcount != 1:
        raise CallRefused("busy", "end the call first")
    notify(connection, group_key(agent.station_group))
    _maybe_unavailable(connection, agent.station_group, now)


def set_skills(
    db: Database, connection: Connection, user_id: int, skills: list[str], now: datetime
) -> None:
    """The catalog categories routed to an agent first (`district user skills`)."""
    clean = sorted({skill.strip() for skill in skills if skill.strip()})
    if any(len(skill) > 60 for skill in clean):
        raise CallRefused("bad_skill", "a category is at most 60 characters")
    statement = db.insert(AgentPresence).values(
        user_id=user_id, state="offline", reason="", skills=clean, since=now
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=["user_id"], set_={"skills": clean})
    )


def skills_of(connection: Connection) -> dict[int, list[str]]:
    return {
        row.user_id: list(row.skills or ())
        for row in connection.execute(select(AgentPresence.user_id, AgentPresence.skills))
    }


def set_agent_skills(
    db: Database, name: str, categories: list[str], *, by: str = audit.COMMAND_LINE
) -> list[str]:
    """Give the agent or supervisor `name` these skills (`district user skills --set`):
    each a category of the catalog (`kiosk.core.catalog.Category`); audited as a change of
    the account."""
    with db.write() as connection:
        user = connection.execute(select(User).where(User.name == name)).first()
        if user is None:
            raise NotFound(f"no account {name!r}")
        if user.role not in CALL_ROLES:
            raise Refused(f"{name} is an {user.role}: only agents and supervisors take calls")
        known = {category.value for category in Category}
        unknown = sorted({c.strip() for c in categories} - known - {""})
        if unknown:
            raise Refused(
                f"not a category of the catalog: {', '.join(unknown)}"
                f" (the categories: {', '.join(c.value for c in Category)})"
            )
        try:
            set_skills(db, connection, user.id, categories, datetime.now(UTC))
        except CallRefused as refused:
            raise Refused(refused.message) from None
        audit.append(
            db, connection, account=by, address="", action=audit.USER_CHANGED,
            record=f"user:{name}", detail="skills",
        )  # fmt: skip
        return skills_of(connection).get(user.id, [])


def agent_skills(db: Database, name: str) -> list[str]:
    with db.read() as connection:
        user = connection.execute(select(User.id).where(User.name == name)).first()
        if user is None:
            raise NotFound(f"no account {name!r}")
        return skills_of(connection).get(user.id, [])


def all_skills(db: Database) -> dict[int, list[str]]:
    with db.read() as connection:
        return skills_of(connection)


def next_call_for(connection: Connection, agent: Agent) -> str | None:
    """Routing: the oldest waiting call of the agent's group in their skills, else the
    group's oldest waiting call."""
    waiting = waiting_calls(connection, agent.station_group)
    if not waiting:
        return None
    presence = _presence(connection, agent.id)
    skills = set(presence.skills or ()) if presence is not None else set()
    for call in waiting:
        if call.category and call.category in skills:
            return call.id
    return waiting[0].id


def take(
    connection: Connection,
    agent: Agent,
    call_id: str | None,
    now: datetime,
    turn: TurnSettings,
) -> Any:
    """The agent takes their next call or a chosen one; returns the call row. Atomic: of
    two agents taking one call at once, the second gets CallRefused("taken"), and its
    transaction must then roll back (as `Database.write()` does when the error leaves
    it): this agent was already marked busy in it."""
    if agent.role not in CALL_ROLES or not agent.station_group:
        raise CallRefused("forbidden", "only agents and supervisors of a group take calls")
    if call_id is None:
        call_id = next_call_for(connection, agent)
        if call_id is None:
            raise CallRefused("no_call", "no call is waiting")
    call = get_call(connection, call_id)
    if call is None or group_of_station(connection, call.station_id) != agent.station_group:
        raise CallRefused("no_call", "no such call in this group's queue")
    if call.state != WAITING:
        raise CallRefused("taken", "someone else took this call")
    _make_busy(connection, agent, call_id, now)
    won = connection.execute(
        update(Call)
        .where(Call.id == call_id, Call.state == WAITING)
        .values(state=ACTIVE, agent_id=agent.id, assigned_at=now, agent_seen_at=now)
    )
    if won.rowcount != 1:
        raise CallRefused("taken", "someone else took this call")
    call = get_call(connection, call_id)
    _assigned(connection, call, now, turn)
    to_agent(connection, call, _call_info(connection, call, turn), now)
    notify(connection, group_key(agent.station_group))
    return call


def _make_busy(connection: Connection, agent: Agent, call_id: str, now: datetime) -> None:
    """Mark the agent busy on `call_id` (CallRefused "busy" when they are on a call or
    offline): the first step of taking, joining or placing a call."""
    busy = connection.execute(
        update(AgentPresence)
        .where(AgentPresence.user_id == agent.id, AgentPresence.state.not_in(("busy", "offline")))
        .values(state="busy", reason="", since=now, seen_at=now, call_id=call_id)
    )
    if busy.rowcount != 1:
        raise CallRefused("busy", "you are on a call already")


def _agent_call(connection: Connection, agent: Agent, call_id: str) -> Any:
    call = get_call(connection, call_id)
    if call is None or call.agent_id != agent.id or call.state != ACTIVE:
        raise CallRefused("no_call", "you are not on this call")
    return call


def _party_call(connection: Connection, agent: Agent, call_id: str) -> tuple[Any, protocol.Leg]:
    """The active call this account is on, as its agent or as the supervisor who joined."""
    call = get_call(connection, call_id)
    if call is not None and call.state == ACTIVE:
        if call.agent_id == agent.id:
            return call, "agent"
        if call.supervisor_id == agent.id:
            return call, "supervisor"
    raise CallRefused("no_call", "you are not on this call")


def agent_answer(
    connection: Connection, agent: Agent, answer: protocol.Answer, now: datetime
) -> None:
    call, leg = _party_call(connection, agent, answer.call)
    to_station(connection, call, answer.model_copy(update={"leg": leg}), now)


def agent_chat(connection: Connection, agent: Agent, chat: protocol.Chat, now: datetime) -> None:
    call, leg = _party_call(connection, agent, chat.call)
    sender = "supervisor" if agent.role == "supervisor" else "agent"
    line = chat.model_copy(update={"sender": sender})
    to_station(connection, call, line, now)
    if leg == "agent":
        to_supervisor(connection, call, line, now)
    else:
        to_agent(connection, call, line, now)


def agent_capture_request(
    connection: Connection, agent: Agent, request: protocol.CaptureRequest, now: datetime
) -> None:
    call, _leg = _party_call(connection, agent, request.call)
    to_station(connection, call, request, now)


def agent_media(
    connection: Connection, agent: Agent, media: protocol.MediaState, now: datetime
) -> None:
    call, leg = _party_call(connection, agent, media.call)
    if leg == "agent":
        _media(connection, call, media, now)


def agent_end(connection: Connection, agent: Agent, end: protocol.End, now: datetime) -> None:
    call = get_call(connection, end.call)
    if call is not None and call.supervisor_id == agent.id and call.state == ACTIVE:
        leave_call(connection, call, now)
        return
    if call is None or call.agent_id != agent.id:
        raise CallRefused("no_call", "you are not on this call")
    end_call(connection, call.id, "agent", now)


# -- calling a station back -------------------------------------------------------------


def ring(
    connection: Connection, agent: Agent, callback_id: str, now: datetime, turn: TurnSettings
) -> Any:
    """The agent calls the station an open call-back request came from; returns the call."""
    if agent.role not in CALL_ROLES or not agent.station_group:
        raise CallRefused("forbidden", "only agents and supervisors of a group call stations")
    request = connection.execute(
        select(CallbackRequest.station_id, CallbackRequest.item_code, CallbackRequest.item_title)
        .join(Station, Station.id == CallbackRequest.station_id)
        .where(
            CallbackRequest.id == callback_id,
            CallbackRequest.state == callback_requests.OPEN,
            Station.station_group == agent.station_group,
            Station.revoked_at.is_(None),
        )
    ).first()
    if request is None:
        raise CallRefused("no_callback", "no such open call-back request in this group")
    if active_call_of_station(connection, request.station_id) is not None:
        raise CallRefused("station_busy", "the station is on a call now")
    call_id = str(uuid.uuid4())
    _make_busy(connection, agent, call_id, now)
    connection.execute(
        Call.__table__.insert().values(
            id=call_id,
            station_id=request.station_id,
            state=ACTIVE,
            item_code=request.item_code,
            item_title=request.item_title,
            source="callback",
            agent_id=agent.id,
            callback_id=callback_id,
            created_at=now,
            assigned_at=now,
            kiosk_seen_at=now,
            agent_seen_at=now,
            attempt=0,
        )
    )
    call = get_call(connection, call_id)
    to_station(
        connection,
        call,
        protocol.Incoming(
            call=call_id,
            agent=agent.name[:64],
            item_code=request.item_code,
            item_title=request.item_title,
            callback=callback_id,
        ),
        now,
    )
    to_agent(connection, call, _call_info(connection, call, turn), now)
    notify(connection, group_key(agent.station_group))
    return call


# -- a supervisor -----------------------------------------------------------------------


def ask_help(connection: Connection, agent: Agent, call_id: str, now: datetime) -> None:
    """The call's agent asks their group's supervisors for help (once: asking again while
    the request is out, or with a supervisor on the call, changes nothing)."""
    call = _agent_call(connection, agent, call_id)
    if call.supervisor_id is not None or call.help_at is not None:
        return
    connection.execute(update(Call).where(Call.id == call.id).values(help_at=now))
    to_agent(connection, call, protocol.SupervisorState(call=call.id, state="asked"), now)
    notify(connection, group_key(agent.station_group))


def join(
    db: Database,
    connection: Connection,
    agent: Agent,
    call_id: str,
    now: datetime,
    turn: TurnSettings,
    address: str = "",
) -> None:
    """A supervisor joins a call of their group whose agent asked for help."""
    if agent.role != "supervisor":
        raise CallRefused("forbidden", "only supervisors join calls")
    call = get_call(connection, call_id)
    if (
        call is None
        or call.state != ACTIVE
        or group_of_station(connection, call.station_id) != agent.station_group
    ):
        raise CallRefused("no_call", "no such call in this group")
    if call.help_at is None or call.agent_id == agent.id:
        raise CallRefused("not_asked", "this call's agent has not asked for help")
    _make_busy(connection, agent, call_id, now)
    won = connection.execute(
        update(Call)
        .where(Call.id == call_id, Call.state == ACTIVE, Call.supervisor_id.is_(None))
        .values(supervisor_id=agent.id)
    )
    if won.rowcount != 1:
        raise CallRefused("taken", "another supervisor joined this call")
    call = get_call(connection, call_id)
    _watch(connection, call, now, turn)
    to_supervisor(connection, call, _call_info(connection, call, turn, watching=True), now)
    to_agent(
        connection,
        call,
        protocol.SupervisorState(call=call.id, state="joined", name=agent.name[:64]),
        now,
    )
    audit.append(
        db,
        connection,
        account=agent.name,
        address=address,
        action=audit.CALL_JOINED,
        record=call.id,
    )
    notify(connection, group_key(agent.station_group))


def take_over(
    db: Database,
    connection: Connection,
    agent: Agent,
    call_id: str,
    now: datetime,
    turn: TurnSettings,
    address: str = "",
) -> None:
    """The supervisor on a call becomes its agent; the agent before them leaves it."""
    call = get_call(connection, call_id)
    if call is None or call.state != ACTIVE or call.supervisor_id != agent.id:
        raise CallRefused("no_call", "you have not joined this call")
    former = call.agent_id
    connection.execute(
        update(Call)
        .where(Call.id == call.id)
        .values(
            agent_id=agent.id,
            supervisor_id=None,
            help_at=None,
            attempt=min(call.attempt + 1, protocol.MAX_ATTEMPT),
            agent_seen_at=now,
        )
    )
    if former is not None:
        _signal(
            connection, call.id, AGENT, former, protocol.Ended(call=call.id, reason="takeover"), now
        )
        _after_call(connection, former, call.id, now)
    call = get_call(connection, call.id)
    to_station(connection, call, protocol.WatchEnded(call=call.id), now)
    to_agent(connection, call, _call_info(connection, call, turn), now)
    _assigned(connection, call, now, turn)
    audit.append(
        db,
        connection,
        account=agent.name,
        address=address,
        action=audit.CALL_TAKEN_OVER,
        record=call.id,
    )
    notify(connection, group_key(agent.station_group))


def leave_call(connection: Connection, call: Any, now: datetime) -> None:
    """The supervisor on a call leaves it; the call goes on (its agent may ask again)."""
    supervisor = call.supervisor_id
    if supervisor is None:
        return
    connection.execute(
        update(Call).where(Call.id == call.id).values(supervisor_id=None, help_at=None)
    )
    _signal(
        connection, call.id, AGENT, supervisor, protocol.Ended(call=call.id, reason="left"), now
    )
    connection.execute(
        update(AgentPresence)
        .where(AgentPresence.user_id == supervisor, AgentPresence.call_id == call.id)
        .values(state="available", reason="", since=now, call_id=None)
    )
    if call.state == ACTIVE:
        to_station(connection, call, protocol.WatchEnded(call=call.id), now)
        to_agent(connection, call, protocol.SupervisorState(call=call.id, state="left"), now)
    notify(connection, group_key(group_of_station(connection, call.station_id)))


def leave_watched(connection: Connection, user_id: int, now: datetime) -> None:
    """A supervisor whose socket went leaves the call they had joined."""
    call = connection.execute(
        select(Call).where(Call.supervisor_id == user_id, Call.state == ACTIVE)
    ).first()
    if call is not None:
        leave_call(connection, call, now)


def _call_info(
    connection: Connection, call: Any, turn: TurnSettings, *, watching: bool = False
) -> protocol.CallInfo:
    ice, policy = ice_for_call(turn, call.id)
    return protocol.CallInfo(
        call=call.id,
        station=station_name(connection, call.station_id),
        item_code=call.item_code,
        item_title=call.item_title,
        category=call.category,
        identity=call.identity,
        application=call.application_id,
        audio=call.audio,
        ice_servers=ice,
        ice_policy=policy,
        watching=watching,
        agent=_user_name(connection, call.agent_id),
    )


def _after_call(connection: Connection, user_id: int, call_id: str, now: datetime) -> None:
    connection.execute(
        update(AgentPresence)
        .where(AgentPresence.user_id == user_id, AgentPresence.call_id == call_id)
        .values(state="after_call", reason="", since=now, call_id=None)
    )


# -- ending -----------------------------------------------------------------------------


def end_call(
    connection: Connection,
    call_id: str,
    reason: str,
    now: datetime,
    station_hears: Any = None,
) -> bool:
    """End a call once: both sides are told (the station `station_hears` instead of
    `Ended` when given), its agent goes to after-call work. False if it had ended
    already."""
    changed = connection.execute(
        update(Call)
        .where(Call.id == call_id, Call.state.in_(OPEN))
        .values(state=ENDED, ended_at=now, end_reason=reason)
    )
    if changed.rowcount != 1:
        return False
    call = get_call(connection, call_id)
    ended = protocol.Ended(call=call_id, reason=reason)
    to_station(connection, call, station_hears or ended, now)
    for user_id in (call.agent_id, call.supervisor_id):
        if user_id is not None:
            _signal(connection, call_id, AGENT, user_id, ended, now)
            _after_call(connection, user_id, call_id, now)
    notify(connection, group_key(group_of_station(connection, call.station_id)))
    return True


def _maybe_unavailable(connection: Connection, group: str, now: datetime) -> None:
    """Waiting calls of a group nobody serves any more are told so and end."""
    if not group or _group_agents(connection, group, SERVING):
        return
    for call in waiting_calls(connection, group):
        unavailable = protocol.Unavailable(call=call.id, reason="no_agents")
        end_call(connection, call.id, "unavailable", now, station_hears=unavailable)


def sweep(connection: Connection, now: datetime) -> int:
    """End what is no longer alive (see the module's docstring); returns the calls ended."""
    silent = now - timedelta(seconds=SILENT_S)
    ended = 0
    for call in connection.execute(
        select(Call.id).where(
            Call.state.in_(OPEN),
            or_(
                Call.kiosk_seen_at.is_(None),
                Call.kiosk_seen_at < silent,
                and_(
                    Call.state == ACTIVE,
                    or_(Call.agent_seen_at.is_(None), Call.agent_seen_at < silent),
                ),
            ),
        )
    ).all():
        ended += end_call(connection, call.id, "gone", now)
    groups: set[str] = set()
    for presence in connection.execute(
        select(AgentPresence.user_id, User.station_group)
        .join(User, User.id == AgentPresence.user_id)
        .where(
            AgentPresence.state != "offline",
            or_(AgentPresence.seen_at.is_(None), AgentPresence.seen_at < silent),
        )
    ).all():
        call = active_call_of_agent(connection, presence.user_id)
        if call is not None:
            ended += end_call(connection, call.id, "gone", now)
        leave_watched(connection, presence.user_id, now)
        _go_offline(connection, presence.user_id, now)
        groups.add(presence.station_group)
    rested = connection.execute(
        update(AgentPresence)
        .where(
            AgentPresence.state == "after_call",
            AgentPresence.since < now - timedelta(seconds=AFTER_CALL_S),
        )
        .values(state="available", since=now)
        .returning(AgentPresence.user_id)
    ).all()
    if rested:
        groups |= set(
            connection.scalars(
                select(User.station_group).where(User.id.in_([row.user_id for row in rested]))
            ).all()
        )
    for group in groups:
        notify(connection, group_key(group))
        _maybe_unavailable(connection, group, now)
    connection.execute(
        delete(CallSignal).where(CallSignal.created_at < now - timedelta(seconds=SIGNAL_KEEP_S))
    )
    return ended


# -- decisions --------------------------------------------------------------------------


def decision_made(
    connection: Connection, application_id: str, state: str, reason: str | None, now: datetime
) -> None:
    """An agent decided an application an active call names: its station hears it in the
    call (inside the decision's own transaction)."""
    for call in connection.execute(
        select(Call).where(Call.application_id == application_id, Call.state == ACTIVE)
    ).all():
        to_station(
            connection,
            call,
            protocol.Decision(
                call=call.id, application=application_id, state=state, reason=reason or ""
            ),
            now,
        )
