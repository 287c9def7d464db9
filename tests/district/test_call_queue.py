"""The call queue (`district.calls`) on SQLite and PostgreSQL: requests, places and waits,
routing by skills, taking (once, even at the same moment), ending (once, both sides
told), the sweep of silent sides, decisions heard in the call, and 50 seeded randomized
trials with the queue consistent after every step."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest

from district import applications, calls
from district.db import Database
from district.models import CallSignal, Station
from district.turn import TurnSettings
from kiosk.remote import protocol
from tests.district.call_world import (
    T0,
    add_agent,
    add_station_in,
    queue_problems,
    request,
    signals,
)
from tests.district.conftest import MakeStation

NO_TURN = TurnSettings()
TURN = TurnSettings(urls=("turn:turn.example:3478",), secret=b"s3cret", ttl_s=600)


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


def connect(db: Database, agent: calls.Agent, seconds: float = 0) -> None:
    with db.write() as connection:
        calls.agent_connected(connection, agent, at(seconds))


def ask(db: Database, station: str, message: protocol.CallRequest, seconds: float = 0) -> Any:
    with db.write() as connection:
        return calls.request_call(connection, station, message, at(seconds), NO_TURN)


def take(
    db: Database,
    agent: calls.Agent,
    call_id: str | None,
    seconds: float = 0,
    turn: TurnSettings = NO_TURN,
) -> Any:
    with db.write() as connection:
        return calls.take(connection, agent, call_id, at(seconds), turn)


def view(db: Database, call_id: str) -> protocol.Queued | None:
    with db.read() as connection:
        return calls.queue_view_for_station(connection, call_id)


def place(db: Database, call_id: str) -> int:
    queued = view(db, call_id)
    assert queued is not None
    return queued.position


def test_a_request_waits_in_order_with_its_place_and_wait(db: Database) -> None:
    stations = [add_station_in(db, f"站{n}", "north") for n in range(3)]
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    asked = [request() for _ in stations]
    for n, (station, message) in enumerate(zip(stations, asked, strict=True)):
        assert ask(db, station, message, n).state == calls.WAITING
    places = [view(db, message.call) for message in asked]
    assert [p.position for p in places if p] == [1, 2, 3]
    assert [p.wait_s for p in places if p] == [180, 360, 540]  # nothing answered yet
    assert {p.agents for p in places if p} == {1}
    again = ask(db, stations[0], asked[0], 4)  # the same call after a dropped socket
    assert again.state == calls.WAITING
    assert place(db, asked[0].call) == 1
    assert queue_problems(db, at(4)) == []


def test_a_stations_new_call_replaces_its_old_one(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    connect(db, add_agent(db, "agent1", "north"))
    first, second = request(), request()
    ask(db, station, first)
    ask(db, station, second, 1)
    with db.read() as connection:
        old = calls.get_call(connection, first.call)
    assert (old.state, old.end_reason) == (calls.ENDED, "replaced")
    assert protocol.Ended(call=first.call, reason="replaced") in signals(db, "station", station)
    assert place(db, second.call) == 1


def test_nobody_serving_is_unavailable(db: Database) -> None:
    grouped = add_station_in(db, "站", "north")
    ungrouped = add_station_in(db, "无组站", "")
    agent = add_agent(db, "agent1", "north")
    for station in (grouped, ungrouped):
        message = request()
        assert ask(db, station, message).state == calls.ENDED
        assert signals(db, "station", station) == [
            protocol.Unavailable(call=message.call, reason="no_agents")
        ]
    connect(db, agent)
    with db.write() as connection:
        calls.set_presence(connection, agent, "break", "用餐", at(1))
    message = request()
    assert ask(db, grouped, message, 2).state == calls.ENDED  # a break does not serve
    with db.write() as connection:
        calls.set_presence(connection, agent, "available", "", at(3))
    waiting = request()
    assert ask(db, grouped, waiting, 4).state == calls.WAITING
    signals(db, "station", grouped)
    with db.write() as connection:  # the last serving agent leaves: the caller is told
        calls.agent_disconnected(connection, agent, at(5))
    assert signals(db, "station", grouped) == [
        protocol.Unavailable(call=waiting.call, reason="no_agents")
    ]


def test_routing_prefers_the_agents_skills_then_the_oldest(db: Database) -> None:
    north = add_station_in(db, "北站", "north")
    north2 = add_station_in(db, "北二站", "north")
    south = add_station_in(db, "南站", "south")
    agent = add_agent(db, "agent1", "north")
    add_agent(db, "agent2", "south")
    with db.write() as connection:
        calls.set_skills(db, connection, agent.id, ["社保", "医保"], at(0))
    connect(db, agent)
    connect(db, calls.Agent(agent.id + 1, "agent2", "agent", "south"))
    oldest = request("民政")
    skilled = request("医保")
    other_group = request("医保")
    ask(db, north, oldest, 1)
    ask(db, north2, skilled, 2)
    ask(db, south, other_group, 0)
    with db.read() as connection:
        assert calls.next_call_for(connection, agent) == skilled.call
        queue = calls.queue_view_for_agent(connection, agent, at(3))
    assert [(w.call, w.mine, w.station) for w in queue.waiting] == [
        (oldest.call, False, "北站"),
        (skilled.call, True, "北二站"),
    ]
    with pytest.raises(calls.CallRefused) as refused:
        take(db, agent, other_group.call, 3)
    assert refused.value.code == "no_call"
    taken = take(db, agent, None, 3, TURN)
    assert taken.id == skilled.call
    assigned = signals(db, "station", north2)
    assert [type(m) for m in assigned] == [protocol.Assigned]
    assert assigned[0].agent == "agent1" and assigned[0].ice_servers[0].username
    info = signals(db, "agent", agent.id)
    assert isinstance(info[0], protocol.CallInfo)
    assert info[0].station == "北二站" and info[0].ice_servers == assigned[0].ice_servers
    with pytest.raises(calls.CallRefused) as refused:
        take(db, agent, oldest.call, 4)
    assert refused.value.code == "busy"
    assert queue_problems(db, at(4)) == []


def test_an_admin_or_auditor_takes_no_call(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    connect(db, add_agent(db, "agent1", "north"))
    message = request()
    ask(db, station, message)
    for role in ("admin", "auditor"):
        account = calls.Agent(999, role, role, "")
        with pytest.raises(calls.CallRefused) as refused:
            take(db, account, message.call)
        assert refused.value.code == "forbidden"


def race(db: Database, agents: list[calls.Agent], call_id: str, seconds: float) -> list[str]:
    """Each agent takes the call on a thread of their own, all at the same moment."""
    barrier = threading.Barrier(len(agents))
    outcomes: list[str] = []

    def attempt(agent: calls.Agent) -> None:
        barrier.wait()
        try:
            take(db, agent, call_id, seconds)
            outcomes.append("won")
        except calls.CallRefused as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=attempt, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_agents_taking_one_call_at_once_one_wins(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    agents = [add_agent(db, f"agent{n}", "north") for n in range(2)]
    for agent in agents:
        connect(db, agent)
    for trial in range(5):
        base = trial * 100
        for agent in agents:
            connect(db, agent, base)
        message = request()
        ask(db, station, message, base)
        outcomes = race(db, agents, message.call, base + 1)
        assert sorted(outcomes) == ["taken", "won"]
        assert queue_problems(db, at(base + 1)) == []
        with db.write() as connection:
            winner = calls.get_call(connection, message.call).agent_id
            calls.end_call(connection, message.call, "agent", at(base + 2))
        assert winner in {a.id for a in agents}


def test_a_call_ends_once_and_both_sides_hear_it(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    message = request()
    ask(db, station, message)
    take(db, agent, message.call, 1)
    signals(db, "station", station), signals(db, "agent", agent.id)
    with db.write() as connection:
        assert calls.end_call(connection, message.call, "resident", at(60))
        assert not calls.end_call(connection, message.call, "agent", at(61))
    ended = protocol.Ended(call=message.call, reason="resident")
    assert signals(db, "station", station) == [ended]
    assert signals(db, "agent", agent.id) == [ended]
    with db.read() as connection:
        assert calls.queue_view_for_agent(connection, agent, at(62)).state == "after_call"
        assert calls.handle_time_s(connection, "north") == 59
    with db.write() as connection:
        calls.agent_heartbeat(connection, agent, at(60 + calls.AFTER_CALL_S))
        calls.sweep(connection, at(61 + calls.AFTER_CALL_S))
    with db.read() as connection:
        assert calls.queue_view_for_agent(connection, agent, at(62)).state == "available"
    again = ask(db, station, message, 90)  # asking again for an ended call: it is ended
    assert again.state == calls.ENDED
    assert signals(db, "station", station) == [ended]


@pytest.mark.parametrize("silent", ["station", "agent"])
def test_a_silent_side_ends_its_call(db: Database, silent: str) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    message = request()
    ask(db, station, message)
    take(db, agent, message.call, 1)
    with db.write() as connection:
        for second in range(2, 10):
            if silent != "station":
                calls.station_heartbeat(connection, station, at(second))
            if silent != "agent":
                calls.agent_heartbeat(connection, agent, at(second))
            calls.sweep(connection, at(second))
    with db.read() as connection:
        call = calls.get_call(connection, message.call)
        state = calls.queue_view_for_agent(connection, agent, at(10)).state
    assert (call.state, call.end_reason) == (calls.ENDED, "gone")
    assert state == ("offline" if silent == "agent" else "after_call")
    assert queue_problems(db, at(10)) == []


def test_the_call_relays_offer_answer_chat_and_media(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    message = request()
    ask(db, station, message)
    with db.write() as connection, pytest.raises(calls.CallRefused):
        calls.station_offer(
            connection, station, protocol.Offer(call=message.call, sdp="v=0"), at(1)
        )
    take(db, agent, message.call, 1)
    signals(db, "station", station), signals(db, "agent", agent.id)
    with db.write() as connection:
        calls.station_offer(
            connection, station, protocol.Offer(call=message.call, attempt=1, sdp="v=0 o"), at(2)
        )
        calls.agent_answer(
            connection, agent, protocol.Answer(call=message.call, attempt=1, sdp="v=0 a"), at(2)
        )
        calls.station_chat(
            connection,
            station,
            protocol.Chat(call=message.call, text="你好", sender="agent"),
            at(3),
        )
        calls.agent_chat(connection, agent, protocol.Chat(call=message.call, text="您好"), at(3))
        calls.station_media(
            connection, station, protocol.MediaState(call=message.call, state="connected"), at(4)
        )
    assert signals(db, "agent", agent.id) == [
        protocol.Offer(call=message.call, attempt=1, sdp="v=0 o"),
        protocol.Chat(call=message.call, text="你好", sender="resident"),
        protocol.MediaState(call=message.call, state="connected"),
    ]
    assert signals(db, "station", station) == [
        protocol.Answer(call=message.call, attempt=1, sdp="v=0 a"),
        protocol.Chat(call=message.call, text="您好", sender="agent"),
    ]
    with db.read() as connection:
        call = calls.get_call(connection, message.call)
    assert call.attempt == 1 and call.connected_at == at(4)


def test_a_decision_on_the_calls_application_reaches_the_station(
    db: Database, make_station: MakeStation, catalog: dict[str, Any]
) -> None:
    kiosk = make_station()
    with db.write() as connection:
        connection.execute(
            Station.__table__.update()
            .where(Station.id == kiosk.station_id)
            .values(station_group="north")
        )
    application = kiosk.application()
    assert kiosk.upload(application).status_code == 200
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    message = request(application=application["id"])
    ask(db, kiosk.station_id, message)
    take(db, agent, message.call, 1)
    signals(db, "station", kiosk.station_id)
    applications.decide(
        db, application["id"], "needs_more", "请补充户口簿", account="agent1", address=""
    )
    assert signals(db, "station", kiosk.station_id) == [
        protocol.Decision(
            call=message.call,
            application=application["id"],
            state="needs_more",
            reason="请补充户口簿",
        )
    ]


def test_randomized_trials_keep_the_queue_consistent(db: Database) -> None:
    stations = [add_station_in(db, f"站{n}", "north" if n < 4 else "south") for n in range(6)]
    agents = [
        add_agent(
            db, f"agent{n}", "north" if n < 2 else "south", "supervisor" if n == 3 else "agent"
        )
        for n in range(4)
    ]
    with db.write() as connection:
        calls.set_skills(db, connection, agents[0].id, ["医保"], T0)
    categories = ["", "医保", "民政"]
    for trial in range(50):
        rng = random.Random(trial)
        clock = trial * 1000.0
        connected: set[int] = set()
        alive_stations: set[str] = set()
        for _step in range(30):
            clock += rng.choice((0.1, 0.5, 1.0, 2.0, 6.0))
            now = at(clock)
            action = rng.choice(
                (
                    "request",
                    "request",
                    "take",
                    "take_next",
                    "end_station",
                    "end_agent",
                    "connect",
                    "disconnect",
                    "presence",
                    "ping",
                    "ping",
                    "silence",
                )
            )
            station = rng.choice(stations)
            agent = rng.choice(agents)
            try:
                with db.write() as connection:
                    if action == "request":
                        message = request(rng.choice(categories))
                        calls.request_call(connection, station, message, now, NO_TURN)
                        alive_stations.add(station)
                    elif action in ("take", "take_next"):
                        waiting = calls.waiting_calls(connection, agent.station_group)
                        chosen = rng.choice(waiting).id if waiting and action == "take" else None
                        calls.take(connection, agent, chosen, now, NO_TURN)
                    elif action == "end_station":
                        call = calls.active_call_of_station(connection, station)
                        if call is not None:
                            calls.station_end(connection, station, protocol.End(call=call.id), now)
                    elif action == "end_agent":
                        call = calls.active_call_of_agent(connection, agent.id)
                        if call is not None:
                            calls.agent_end(
                                connection, agent, protocol.End(call=call.id, reason="agent"), now
                            )
                    elif action == "connect":
                        calls.agent_connected(connection, agent, now)
                        connected.add(agent.id)
                    elif action == "disconnect":
                        calls.agent_disconnected(connection, agent, now)
                        connected.discard(agent.id)
                    elif action == "presence":
                        state = rng.choice(("available", "break", "after_call"))
                        calls.set_presence(connection, agent, state, "休息", now)
                    elif action == "ping":
                        for user_id in connected:
                            calls.agent_heartbeat(
                                connection, next(a for a in agents if a.id == user_id), now
                            )
                        for alive in alive_stations:
                            calls.station_heartbeat(connection, alive, now)
                    elif action == "silence":  # a side stops: its heartbeats stop
                        if rng.random() < 0.5:
                            alive_stations.discard(station)
                        else:
                            connected.discard(agent.id)
                    calls.sweep(connection, now)
            except calls.CallRefused:
                with db.write() as connection:
                    calls.sweep(connection, now)
            problems = queue_problems(db, now)
            assert problems == [], f"trial {trial}, after {action}: {problems}"
        with db.write() as connection:  # the trial's leftovers go, as after a long silence
            calls.sweep(connection, at(clock + 100))
            for state_agent in agents:
                calls.agent_disconnected(connection, state_agent, at(clock + 100))
            connection.execute(CallSignal.__table__.delete())
