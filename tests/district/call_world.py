"""Helpers for the call queue's tests: stations and agents in groups, and the queue's
invariants (what must hold after any sequence of joins, drops, takes and ends)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from district import accounts, calls
from district.db import Database
from district.models import AgentPresence, Call, CallSignal, Station, User
from district.stations import add_station
from kiosk.remote import protocol

PASSWORD = "correct horse battery staple 7"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def add_station_in(db: Database, name: str, group: str) -> str:
    station_id = add_station(db, name).station_id
    with db.write() as connection:
        connection.execute(
            Station.__table__.update()
            .where(Station.id == station_id)
            .values(station_group=group, public_key=b"k" * 32)
        )
    return station_id


def add_agent(db: Database, name: str, group: str, role: str = "agent") -> calls.Agent:
    account = accounts.add_user(db, name, role, PASSWORD, station_group=group)
    return calls.Agent(account.id, account.name, account.role, account.station_group)


def request(category: str = "", call_id: str | None = None, **fields: Any) -> protocol.CallRequest:
    return protocol.CallRequest(
        call=call_id or str(uuid.uuid4()), item_title="医保参保登记", category=category, **fields
    )


def signals(db: Database, side: str, recipient: str | int) -> list[Any]:
    """The messages waiting for a side, taken (as the process holding it would)."""
    with db.write() as connection:
        bodies = calls.take_signals(connection, side, recipient)
    parse = protocol.to_station if side == calls.STATION else protocol.to_agent
    return [parse(body) for body in bodies]


def queue_problems(db: Database, now: datetime) -> list[str]:
    """What is wrong with the queue now (empty when it is consistent), after a sweep."""
    problems = []
    silent = now - timedelta(seconds=calls.SILENT_S)
    with db.read() as connection:
        all_calls = connection.execute(select(Call)).all()
        presence = {row.user_id: row for row in connection.execute(select(AgentPresence)).all()}
        users = {row.id: row for row in connection.execute(select(User)).all()}
        groups = dict(connection.execute(select(Station.id, Station.station_group)).all())
        for call in all_calls:
            if call.state not in (calls.WAITING, calls.ACTIVE, calls.ENDED):
                problems.append(f"call {call.id} in state {call.state}")
            if call.state in calls.OPEN and (
                call.kiosk_seen_at is None or call.kiosk_seen_at < silent
            ):
                problems.append(f"open call {call.id} without a live station")
            if call.state == calls.ENDED and (call.ended_at is None or not call.end_reason):
                problems.append(f"ended call {call.id} without a time or reason")
            if call.state == calls.ACTIVE:
                agent = presence.get(call.agent_id)
                if agent is None or agent.state != "busy" or agent.call_id != call.id:
                    problems.append(f"active call {call.id} without its busy agent")
                if call.agent_seen_at is None or call.agent_seen_at < silent:
                    problems.append(f"active call {call.id} without a live agent")
                if agent is not None and (agent.seen_at is None or agent.seen_at < silent):
                    problems.append(f"active call {call.id}'s agent is not alive")
                user = users[call.agent_id]
                if user.station_group != groups[call.station_id] or not user.station_group:
                    problems.append(f"active call {call.id} taken outside its group")
            if call.supervisor_id is not None:  # (an ended call keeps who supervised it)
                supervisor = presence.get(call.supervisor_id)
                if call.state == calls.WAITING:
                    problems.append(f"waiting call {call.id} has a supervisor")
                elif call.state == calls.ACTIVE and (
                    supervisor is None
                    or (supervisor.state, supervisor.call_id) != ("busy", call.id)
                ):
                    problems.append(f"call {call.id}'s supervisor is not busy on it")
                if call.supervisor_id == call.agent_id:
                    problems.append(f"call {call.id}'s agent supervises it")
                if users[call.supervisor_id].role != "supervisor":
                    problems.append(
                        f"call {call.id} supervised by a {users[call.supervisor_id].role}"
                    )
        active = {call.id: call for call in all_calls if call.state == calls.ACTIVE}
        for user_id, row in presence.items():
            if row.state == "busy":
                call = active.get(row.call_id)
                if call is None or user_id not in (call.agent_id, call.supervisor_id):
                    problems.append(f"agent {user_id} busy without an active call")
            elif row.call_id is not None:
                problems.append(f"agent {user_id} is {row.state} but names a call")
        per_station: dict[str, int] = {}
        for call in all_calls:
            if call.state in calls.OPEN:
                per_station[call.station_id] = per_station.get(call.station_id, 0) + 1
        problems += [f"station {s} has {n} open calls" for s, n in per_station.items() if n > 1]
        for group in {g for g in groups.values() if g}:
            waiting = calls.waiting_calls(connection, group)
            positions = [calls.queue_view_for_station(connection, c.id) for c in waiting]
            if [p.position if p else None for p in positions] != list(range(1, len(waiting) + 1)):
                problems.append(f"group {group}'s positions are not 1..{len(waiting)}")
        stray = connection.execute(
            select(CallSignal.id).where(CallSignal.call_id.not_in([c.id for c in all_calls]))
        ).all()
        if stray:
            problems.append("signals for calls that do not exist")
    return problems
