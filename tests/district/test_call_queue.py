"""The call queue (`district.calls`) on SQLite and PostgreSQL: requests, places and waits,
routing by skills, taking (once, even at the same moment), ending (once, both sides
told), the sweep of silent sides, decisions heard in the call, and 50 seeded randomized
trials with the queue consistent after every step."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from district import applications, audit, calls
from district.db import Database
from district.models import (
    AgentPresence,
    AuditEntry,
    Call,
    CallbackRequest,
    CallSignal,
    Station,
)
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


def presence_of(db: Database, agent: calls.Agent) -> tuple[str, str | None]:
    with db.read() as connection:
        row = connection.execute(
            select(AgentPresence.state, AgentPresence.call_id).where(
                AgentPresence.user_id == agent.id
            )
        ).one()
    return row.state, row.call_id


def alive(db: Database, station: str, agents: list[calls.Agent], seconds: float) -> None:
    """Both sides' heartbeats at `seconds`, as their sockets send them."""
    with db.write() as connection:
        calls.station_heartbeat(connection, station, at(seconds))
        for agent in agents:
            calls.agent_heartbeat(connection, agent, at(seconds))


def test_a_supervisor_joins_on_request_takes_over_and_the_first_agent_leaves(
    db: Database,
) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    boss = add_agent(db, "boss", "north", "supervisor")
    stranger = add_agent(db, "boss-south", "south", "supervisor")
    for someone in (agent, boss, stranger):
        connect(db, someone)
    message = request()
    ask(db, station, message)
    take(db, agent, message.call, 1)
    for side, who in (("station", station), ("agent", agent.id), ("agent", boss.id)):
        signals(db, side, who)
    with db.write() as connection, pytest.raises(calls.CallRefused) as unasked:
        calls.join(db, connection, boss, message.call, at(2), NO_TURN)
    assert unasked.value.code == "not_asked"  # a supervisor never watches unasked
    with db.write() as connection:
        calls.ask_help(connection, agent, message.call, at(2))
        calls.ask_help(connection, agent, message.call, at(2.5))  # once is enough
    assert signals(db, "agent", agent.id) == [
        protocol.SupervisorState(call=message.call, state="asked")
    ]
    with db.read() as connection:
        seen = calls.queue_view_for_agent(connection, boss, at(4)).help
        assert calls.queue_view_for_agent(connection, agent, at(4)).help == []
        assert calls.queue_view_for_agent(connection, stranger, at(4)).help == []
    assert [(h.call, h.station, h.agent, h.asked_s) for h in seen] == [
        (message.call, "站", "agent1", 2)
    ]
    for outsider, code in ((stranger, "no_call"), (agent, "forbidden")):
        with db.write() as connection, pytest.raises(calls.CallRefused) as refused:
            calls.join(db, connection, outsider, message.call, at(4), NO_TURN)
        assert refused.value.code == code
    with db.write() as connection:
        calls.join(db, connection, boss, message.call, at(4), TURN, address="10.0.0.9")
    watch = signals(db, "station", station)
    assert [type(m) for m in watch] == [protocol.Watch]
    assert watch[0].supervisor == "boss" and watch[0].ice_servers  # minted for the call
    info = signals(db, "agent", boss.id)
    assert [(type(m), m.watching, m.agent) for m in info if isinstance(m, protocol.CallInfo)] == [
        (protocol.CallInfo, True, "agent1")
    ]
    assert signals(db, "agent", agent.id) == [
        protocol.SupervisorState(call=message.call, state="joined", name="boss")
    ]
    assert presence_of(db, boss) == ("busy", message.call)
    alive(db, station, [agent, boss], 4)
    assert queue_problems(db, at(4)) == []

    # the second stream goes to the supervisor; chat reaches everyone
    with db.write() as connection:
        calls.station_offer(
            connection,
            station,
            protocol.Offer(call=message.call, sdp="v=0 w", leg="supervisor"),
            at(5),
        )
        calls.agent_answer(
            connection, boss, protocol.Answer(call=message.call, sdp="v=0 wa"), at(5)
        )
        calls.station_chat(connection, station, protocol.Chat(call=message.call, text="在"), at(5))
        calls.agent_chat(connection, boss, protocol.Chat(call=message.call, text="我来看看"), at(5))
    assert signals(db, "agent", boss.id) == [
        protocol.Offer(call=message.call, sdp="v=0 w", leg="supervisor"),
        protocol.Chat(call=message.call, text="在", sender="resident"),
    ]
    assert signals(db, "agent", agent.id) == [
        protocol.Chat(call=message.call, text="在", sender="resident"),
        protocol.Chat(call=message.call, text="我来看看", sender="supervisor"),
    ]
    assert signals(db, "station", station) == [
        protocol.Answer(call=message.call, sdp="v=0 wa", leg="supervisor"),
        protocol.Chat(call=message.call, text="我来看看", sender="supervisor"),
    ]

    with db.write() as connection:
        calls.take_over(db, connection, boss, message.call, at(6), NO_TURN, address="10.0.0.9")
    assert signals(db, "agent", agent.id) == [protocol.Ended(call=message.call, reason="takeover")]
    assert presence_of(db, agent) == ("after_call", None)
    assert presence_of(db, boss) == ("busy", message.call)
    station_hears = signals(db, "station", station)
    assert [type(m) for m in station_hears] == [protocol.WatchEnded, protocol.Assigned]
    assert station_hears[1].agent == "boss" and station_hears[1].attempt == 1
    taken = signals(db, "agent", boss.id)
    assert [(m.watching, m.agent) for m in taken if isinstance(m, protocol.CallInfo)] == [
        (False, "boss")
    ]
    with db.write() as connection, pytest.raises(calls.CallRefused):  # no longer on the call
        calls.agent_chat(connection, agent, protocol.Chat(call=message.call, text="x"), at(6))
    alive(db, station, [agent, boss], 6)
    assert queue_problems(db, at(6)) == []
    with db.read() as connection:
        actions = connection.execute(
            select(AuditEntry.action, AuditEntry.account, AuditEntry.record).order_by(
                AuditEntry.seq
            )
        ).all()
    assert [tuple(a) for a in actions if a.action.startswith("call_")] == [
        (audit.CALL_JOINED, "boss", message.call),
        (audit.CALL_TAKEN_OVER, "boss", message.call),
    ]

    with db.write() as connection:  # the supervisor, now its agent, ends it
        calls.agent_end(connection, boss, protocol.End(call=message.call, reason="agent"), at(7))
    assert presence_of(db, boss) == ("after_call", None)
    alive(db, station, [agent, boss], 7)
    assert queue_problems(db, at(7)) == []


def test_a_supervisor_who_leaves_or_goes_away_leaves_the_call_going(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    boss = add_agent(db, "boss", "north", "supervisor")
    connect(db, agent), connect(db, boss)
    message = request()
    ask(db, station, message)
    take(db, agent, message.call, 1)

    def joined(seconds: float) -> None:
        with db.write() as connection:
            calls.ask_help(connection, agent, message.call, at(seconds))
            calls.join(db, connection, boss, message.call, at(seconds), NO_TURN)
        for side, who in (("station", station), ("agent", agent.id), ("agent", boss.id)):
            signals(db, side, who)

    joined(2)
    with db.write() as connection:  # leaving is the supervisor's End
        calls.agent_end(connection, boss, protocol.End(call=message.call, reason="agent"), at(3))
    assert signals(db, "agent", boss.id) == [protocol.Ended(call=message.call, reason="left")]
    assert signals(db, "station", station) == [protocol.WatchEnded(call=message.call)]
    assert signals(db, "agent", agent.id) == [
        protocol.SupervisorState(call=message.call, state="left")
    ]
    assert presence_of(db, boss) == ("available", None)
    with db.read() as connection:
        call = calls.get_call(connection, message.call)
    assert (call.state, call.supervisor_id, call.help_at) == (calls.ACTIVE, None, None)

    joined(4)  # asked again, joined again; then the supervisor's page goes
    with db.write() as connection:
        calls.agent_disconnected(connection, boss, at(5))
    assert signals(db, "station", station) == [protocol.WatchEnded(call=message.call)]
    with db.read() as connection:
        assert calls.get_call(connection, message.call).state == calls.ACTIVE
    alive(db, station, [agent, boss], 5)
    assert queue_problems(db, at(5)) == []

    connect(db, boss, 6)
    joined(6)  # the call ends: for the supervisor too
    with db.write() as connection:
        calls.station_end(connection, station, protocol.End(call=message.call), at(7))
    assert signals(db, "agent", boss.id) == [protocol.Ended(call=message.call, reason="resident")]
    assert presence_of(db, boss) == ("after_call", None)
    alive(db, station, [agent, boss], 7)
    assert queue_problems(db, at(7)) == []


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
    ] + [add_agent(db, "boss-north", "north", "supervisor")]
    supervisors = [a for a in agents if a.role == "supervisor"]
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
                    "help",
                    "join",
                    "take_over",
                    "leave",
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
                    elif action == "help":  # the agent of any active call asks
                        on_calls = connection.execute(
                            select(Call.id, Call.agent_id).where(Call.state == calls.ACTIVE)
                        ).all()
                        if on_calls:
                            call_id, agent_id = rng.choice(on_calls)
                            asker = next(a for a in agents if a.id == agent_id)
                            calls.ask_help(connection, asker, call_id, now)
                    elif action == "join":
                        agent = rng.choice(supervisors)
                        asking = calls.help_calls(connection, agent.station_group)
                        if asking:
                            calls.join(db, connection, agent, rng.choice(asking).id, now, NO_TURN)
                    elif action in ("take_over", "leave"):
                        agent = rng.choice(supervisors)
                        watched = connection.execute(
                            select(Call).where(
                                Call.supervisor_id == agent.id, Call.state == calls.ACTIVE
                            )
                        ).first()
                        if watched is not None and action == "take_over":
                            calls.take_over(db, connection, agent, watched.id, now, NO_TURN)
                        elif watched is not None:
                            calls.agent_end(connection, agent, protocol.End(call=watched.id), now)
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


def test_randomized_supervisor_trials_keep_the_queue_consistent(db: Database) -> None:
    """50 trials of a busy group: calls taken, help asked, supervisors joining, taking over,
    leaving, their pages going; every side alive unless the trial silences it."""
    stations = [add_station_in(db, f"北{n}", "north") for n in range(3)]
    agents = [add_agent(db, f"north{n}", "north") for n in range(2)]
    supervisors = [add_agent(db, f"boss{n}", "north", "supervisor") for n in range(2)]
    everyone = agents + supervisors
    done: Counter[str] = Counter()
    for trial in range(50):
        rng = random.Random(1000 + trial)
        clock = 100_000.0 + trial * 1000.0
        connected = {a.id for a in everyone}
        with db.write() as connection:
            for someone in everyone:
                calls.agent_connected(connection, someone, at(clock))
        for _step in range(25):
            clock += rng.choice((0.1, 0.5, 1.0))
            now = at(clock)
            action = rng.choice(
                (
                    "request",
                    "take",
                    "help",
                    "join",
                    "join",
                    "take_over",
                    "leave",
                    "chat",
                    "end_station",
                    "end_agent",
                    "reconnect",
                    "silence",
                )
            )
            station = rng.choice(stations)
            try:
                with db.write() as connection:
                    active = connection.execute(
                        select(Call).where(Call.state == calls.ACTIVE)
                    ).all()
                    chosen = rng.choice(active) if active else None
                    by_id = {a.id: a for a in everyone}
                    if action == "request":
                        calls.request_call(connection, station, request(), now, NO_TURN)
                    elif action == "take":
                        calls.take(connection, rng.choice(agents), None, now, NO_TURN)
                    elif action == "help" and chosen is not None:
                        calls.ask_help(connection, by_id[chosen.agent_id], chosen.id, now)
                    elif action == "join" and chosen is not None:
                        calls.join(db, connection, rng.choice(supervisors), chosen.id, now, NO_TURN)
                        done["join"] += 1
                    elif action in ("take_over", "leave") and chosen is not None:
                        if chosen.supervisor_id is not None:
                            boss = by_id[chosen.supervisor_id]
                            if action == "take_over":
                                calls.take_over(db, connection, boss, chosen.id, now, NO_TURN)
                            else:
                                calls.agent_end(connection, boss, protocol.End(call=chosen.id), now)
                            done[action] += 1
                    elif action == "chat" and chosen is not None:
                        line = protocol.Chat(call=chosen.id, text="您好")
                        calls.station_chat(connection, chosen.station_id, line, now)
                        if chosen.supervisor_id is not None:
                            calls.agent_chat(connection, by_id[chosen.supervisor_id], line, now)
                    elif action == "end_station" and chosen is not None:
                        end = protocol.End(call=chosen.id)
                        calls.station_end(connection, chosen.station_id, end, now)
                    elif action == "end_agent" and chosen is not None:
                        end = protocol.End(call=chosen.id, reason="agent")
                        calls.agent_end(connection, by_id[chosen.agent_id], end, now)
                    elif action == "reconnect":  # a page reloads: its socket closes and opens
                        someone = rng.choice(everyone)
                        calls.agent_disconnected(connection, someone, now)
                        calls.agent_connected(connection, someone, now)
                        connected.add(someone.id)
                        done["reconnect"] += 1
                    elif action == "silence":
                        connected.discard(rng.choice(everyone).id)
                    for alive_station in stations:
                        calls.station_heartbeat(connection, alive_station, now)
                    for user_id in connected:
                        calls.agent_heartbeat(connection, by_id[user_id], now)
                    calls.sweep(connection, now)
            except calls.CallRefused:
                with db.write() as connection:
                    calls.sweep(connection, now)
            problems = queue_problems(db, now)
            assert problems == [], f"trial {trial}, after {action}: {problems}"
        with db.write() as connection:
            calls.sweep(connection, at(clock + 100))
            for someone in everyone:
                calls.agent_disconnected(connection, someone, at(clock + 100))
            connection.execute(CallSignal.__table__.delete())
    assert min(done[step] for step in ("join", "take_over", "leave")) > 0, done


def add_callback(db: Database, station: str) -> str:
    """An open call-back request of `station` (the number's seal is not read here)."""
    callback_id = str(uuid.uuid4())
    with db.write() as connection:
        connection.execute(
            CallbackRequest.__table__.insert().values(
                id=callback_id,
                station_id=station,
                item_code="MI-001",
                item_title="医保参保登记",
                phone_sealed=b"sealed",
                preferred="today",
                requested_at=T0,
                received_at=T0,
            )
        )
    return callback_id


def callback_state(db: Database, callback_id: str) -> tuple[str, int | None]:
    with db.read() as connection:
        row = connection.execute(
            select(CallbackRequest.state, CallbackRequest.done_by).where(
                CallbackRequest.id == callback_id
            )
        ).one()
    return row.state, row.done_by


def test_an_agent_calls_a_station_back_and_the_resident_answers(db: Database) -> None:
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    stranger = add_agent(db, "agent-south", "south")
    connect(db, agent), connect(db, stranger)
    callback = add_callback(db, station)
    with db.write() as connection, pytest.raises(calls.CallRefused) as refused:
        calls.ring(connection, stranger, callback, at(1), NO_TURN)
    assert refused.value.code == "no_callback"  # another group's station
    with db.write() as connection:
        call = calls.ring(connection, agent, callback, at(1), NO_TURN)
    (incoming,) = signals(db, "station", station)
    assert incoming == protocol.Incoming(
        call=call.id, agent="agent1", item_code="MI-001", item_title="医保参保登记",
        callback=callback,
    )  # fmt: skip
    (info,) = signals(db, "agent", agent.id)
    assert isinstance(info, protocol.CallInfo) and info.call == call.id
    assert presence_of(db, agent) == ("busy", call.id)
    with db.write() as connection, pytest.raises(calls.CallRefused) as twice:
        calls.ring(connection, agent, callback, at(1), NO_TURN)
    assert twice.value.code == "station_busy"
    assert queue_problems(db, at(1)) == []

    # the resident answers: the same call id, and it goes on like any other
    ask(db, station, request(call_id=call.id, source="callback"), 3)
    assigned = signals(db, "station", station)
    assert [(type(m), m.agent) for m in assigned] == [(protocol.Assigned, "agent1")]
    with db.write() as connection:
        calls.station_media(
            connection, station, protocol.MediaState(call=call.id, state="connected"), at(4)
        )
    assert callback_state(db, callback) == ("done", agent.id)  # answered by that agent
    alive(db, station, [agent], 4)
    assert queue_problems(db, at(4)) == []


def ringing_station(db: Database) -> tuple[str, calls.Agent, str, Any]:
    """A station an agent called back (at 1 s), the call ringing; the agent's signals read."""
    station = add_station_in(db, "站", "north")
    agent = add_agent(db, "agent1", "north")
    connect(db, agent)
    callback = add_callback(db, station)
    with db.write() as connection:
        call = calls.ring(connection, agent, callback, at(1), NO_TURN)
    signals(db, "agent", agent.id)
    return station, agent, callback, call


@pytest.mark.parametrize("reason", ["declined", "no_answer", "busy"])
def test_a_call_to_the_station_not_taken_leaves_the_request_open(db: Database, reason: str) -> None:
    station, agent, callback, call = ringing_station(db)
    with db.write() as connection:
        calls.station_end(connection, station, protocol.End(call=call.id, reason=reason), at(2))
    assert signals(db, "agent", agent.id) == [protocol.Ended(call=call.id, reason=reason)]
    assert callback_state(db, callback) == ("open", None)
    assert presence_of(db, agent) == ("after_call", None)
    assert queue_problems(db, at(2)) == []


def test_a_call_to_a_station_that_is_offline_ends_by_itself(db: Database) -> None:
    _station, agent, callback, call = ringing_station(db)
    with db.write() as connection:  # the agent's page lives; the station never answers
        calls.agent_heartbeat(connection, agent, at(7))
        calls.sweep(connection, at(7))
    assert signals(db, "agent", agent.id) == [protocol.Ended(call=call.id, reason="gone")]
    assert callback_state(db, callback) == ("open", None)
    assert queue_problems(db, at(7)) == []
