"""The district's call sockets (`district.signaling`) served by real `district serve`
processes: on PostgreSQL the station talks to one process and the agent to another (the
processes wake each other with LISTEN/NOTIFY), on SQLite one process serves both. What is
checked is what each side receives and what the queue holds afterwards: a whole call
(request, queue, take, offer and answer, chat, a capture fetched by the agent, end), the
refusals (unsigned, replayed, unenrolled, revoked; no session, a foreign page, a role that
takes no calls), a side that falls silent, a socket replaced by a newer one, and garbage
on the socket."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from district import calls
from district.console.deps import SESSION_COOKIE
from district.db import Database
from district.models import Call
from district.stations import revoke
from kiosk.remote import protocol
from kiosk.sync.keys import StationKey
from tests.district.call_world import queue_problems
from tests.district.signaling_peers import (
    CallServer,
    EnrolledStation,
    Peer,
    add_account,
    add_enrolled_station,
    agent_peer,
    jpeg,
    refused_with,
    session_cookie,
    station_peer,
)

GROUP = "north"


@dataclass
class World:
    db: Database
    station_server: CallServer  # where the kiosk connects
    agent_server: CallServer  # where the agent's page connects (another process on PG)
    station: EnrolledStation


@pytest.fixture
def world(db_url: str, key_file: Path, tmp_path: Path) -> Iterator[World]:
    db = Database.open(db_url, key_file)
    first = CallServer(db_url, key_file, tmp_path / "first.log")
    servers = [first]
    if db.dialect == "postgresql":
        servers.append(CallServer(db_url, key_file, tmp_path / "second.log"))
    try:
        for server in servers:
            server.start()
        station = add_enrolled_station(db, first, "北站", GROUP)
        add_account(db, "agent-wu", "agent", GROUP)
        yield World(db, first, servers[-1], station)
    finally:
        for server in servers:
            server.stop()
        db.close()
    for server in servers:
        assert not server.tracebacks(), server.tracebacks()[-3000:]


def request(**fields: object) -> protocol.CallRequest:
    values: dict[str, object] = {
        "call": str(uuid.uuid4()),
        "item_code": "MI-001",
        "item_title": "医保参保登记",
        "category": "medical",
        "identity": "张*三 310***********1234",
    }
    values.update(fields)
    return protocol.CallRequest.model_validate(values)


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


def open_calls(db: Database) -> list[str]:
    with db.read() as connection:
        return list(connection.execute(select(Call.id).where(Call.state.in_(calls.OPEN))).scalars())


async def wait_until(condition: object, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.1)


def test_a_whole_call_across_the_processes(world: World) -> None:
    cookie = session_cookie(world.agent_server.base, "agent-wu")

    async def scenario() -> None:
        agent = await agent_peer(world.agent_server, cookie)
        await agent.expect(protocol.QueueView)
        await agent.send(protocol.Presence(state="available"))
        await agent.expect(protocol.QueueView, lambda view: view.state == "available")

        kiosk = await station_peer(world.station_server, world.station)
        asked = request()
        await kiosk.send(asked)
        queued = await kiosk.expect(protocol.Queued)
        assert (queued.call, queued.position, queued.agents) == (asked.call, 1, 1)
        view = await agent.expect(protocol.QueueView, lambda view: bool(view.waiting))
        assert [w.call for w in view.waiting] == [asked.call]
        assert view.waiting[0].station == "北站"

        await agent.send(protocol.Take(call=asked.call))
        info = await agent.expect(protocol.CallInfo)
        assert (info.call, info.item_code, info.identity) == (
            asked.call,
            "MI-001",
            "张*三 310***********1234",
        )
        assigned = await kiosk.expect(protocol.Assigned)
        assert assigned.call == asked.call
        assert assigned.ice_servers == []  # no TURN configured: a flat LAN, no STUN either

        await kiosk.send(protocol.Offer(call=asked.call, sdp="v=0 offer"))
        offer = await agent.expect(protocol.Offer)
        assert offer.sdp == "v=0 offer"
        await agent.send(protocol.Answer(call=asked.call, sdp="v=0 answer"))
        assert (await kiosk.expect(protocol.Answer)).sdp == "v=0 answer"
        await kiosk.send(protocol.MediaState(call=asked.call, state="connected"))

        await agent.send(protocol.Chat(call=asked.call, text="请把医保卡对准镜头"))
        heard = await kiosk.expect(protocol.Chat)
        assert (heard.text, heard.sender) == ("请把医保卡对准镜头", "agent")
        await kiosk.send(protocol.Chat(call=asked.call, text="好的", sender="agent"))
        said = await agent.expect(protocol.Chat)
        assert (said.text, said.sender) == ("好的", "resident")  # the district names the side

        await agent.send(
            protocol.CaptureRequest(call=asked.call, request="r1", kind="card", words="请插卡")
        )
        wanted = await kiosk.expect(protocol.CaptureRequest)
        assert (wanted.request, wanted.kind, wanted.words) == ("r1", "card", "请插卡")
        image = jpeg("the card")
        await kiosk.send(
            protocol.Capture(
                call=asked.call,
                request="r1",
                kind="card",
                label="医保卡",
                data=base64.b64encode(image).decode(),
            )
        )
        arrived = await agent.expect(protocol.CaptureArrived)
        assert arrived.request == "r1"
        async with httpx.AsyncClient(
            base_url=world.agent_server.base, cookies={SESSION_COOKIE: cookie}
        ) as browser:
            fetched = await browser.get(arrived.url)
        assert fetched.status_code == 200
        assert fetched.content == image
        assert fetched.headers["cache-control"] == "no-store"

        await kiosk.send(protocol.End(call=asked.call, reason="resident"))
        ended = await agent.expect(protocol.Ended)
        assert (ended.call, ended.reason) == (asked.call, "resident")
        await kiosk.close()
        await agent.close()

    run(scenario())
    assert open_calls(world.db) == []
    assert queue_problems(world.db, datetime.now(UTC)) == []


def test_a_station_is_refused_without_a_good_signature(world: World) -> None:
    server, station = world.station_server, world.station

    async def scenario() -> None:
        unsigned = await connect(f"{server.ws}{protocol.STATION_PATH}", ping_interval=None)
        assert await refused_with(_wrap(unsigned)) == protocol.CLOSE_UNSIGNED

        headers = station.key.sign_request(station.station_id, "GET", protocol.STATION_PATH, b"")
        first = await connect(
            f"{server.ws}{protocol.STATION_PATH}", additional_headers=headers, ping_interval=None
        )
        replayed = await connect(
            f"{server.ws}{protocol.STATION_PATH}", additional_headers=headers, ping_interval=None
        )
        assert await refused_with(_wrap(replayed)) == protocol.CLOSE_UNSIGNED
        await first.close()

        stranger = StationKey(Ed25519PrivateKey.generate())  # not the station's enrolled key
        assert await refused_with(station_peer(server, station, stranger)) == (
            protocol.CLOSE_UNSIGNED
        )
        unknown = EnrolledStation(str(uuid.uuid4()), "XX9999", stranger)
        assert await refused_with(station_peer(server, unknown)) in (
            protocol.CLOSE_UNSIGNED,
            protocol.CLOSE_REFUSED,
        )

    run(scenario())
    revoke(world.db, station.code)

    async def revoked() -> None:
        assert await refused_with(station_peer(server, station)) == protocol.CLOSE_REFUSED

    run(revoked())


async def _wrap(connection: object) -> Peer:
    return Peer(connection, protocol.to_station)  # type: ignore[arg-type]


def test_an_account_is_refused_unless_it_takes_calls(world: World) -> None:
    server = world.agent_server
    add_account(world.db, "admin-qian", "admin")
    add_account(world.db, "auditor-sun", "auditor")
    cookies = {
        name: session_cookie(server.base, name)
        for name in ("admin-qian", "auditor-sun", "agent-wu")
    }

    async def scenario() -> None:
        assert await refused_with(agent_peer(server, None)) == protocol.CLOSE_UNSIGNED
        assert await refused_with(agent_peer(server, "not-a-session")) == protocol.CLOSE_UNSIGNED
        for name in ("admin-qian", "auditor-sun"):
            assert await refused_with(agent_peer(server, cookies[name])) == (
                protocol.CLOSE_REFUSED
            ), name
        foreign = agent_peer(server, cookies["agent-wu"], origin="http://evil.example")
        assert await refused_with(foreign) == protocol.CLOSE_REFUSED
        with pytest.raises(InvalidStatus):  # not a socket path at all
            await connect(f"{server.ws}/console/calls/other", ping_interval=None)

    run(scenario())


def test_a_silent_agent_is_gone_and_their_call_ends(world: World) -> None:
    cookie = session_cookie(world.agent_server.base, "agent-wu")

    async def scenario() -> None:
        agent = await agent_peer(world.agent_server, cookie)
        await agent.send(protocol.Presence(state="available"))
        await agent.expect(protocol.QueueView, lambda view: view.state == "available")
        kiosk = await station_peer(world.station_server, world.station)
        asked = request()
        await kiosk.send(asked)
        await kiosk.expect(protocol.Queued)
        await agent.send(protocol.Take())  # the next call
        await kiosk.expect(protocol.Assigned)
        agent.silence()  # the agent's machine froze: the socket is open but says nothing
        ended = await kiosk.expect(protocol.Ended)
        assert (ended.call, ended.reason) == (asked.call, "gone")
        assert await agent.wait_closed() != protocol.CLOSE_REPLACED
        await kiosk.close()

    run(scenario())
    assert open_calls(world.db) == []
    assert queue_problems(world.db, datetime.now(UTC)) == []


def test_a_station_that_does_not_come_back_has_its_call_ended(world: World) -> None:
    cookie = session_cookie(world.agent_server.base, "agent-wu")

    async def scenario() -> None:
        agent = await agent_peer(world.agent_server, cookie)
        await agent.send(protocol.Presence(state="available"))
        await agent.expect(protocol.QueueView, lambda view: view.state == "available")
        kiosk = await station_peer(world.station_server, world.station)
        asked = request()
        await kiosk.send(asked)
        await kiosk.expect(protocol.Queued)
        await agent.send(protocol.Take(call=asked.call))
        await agent.expect(protocol.CallInfo)
        await kiosk.close()  # the kiosk's line dropped and it never reconnects
        ended = await agent.expect(protocol.Ended)
        assert (ended.call, ended.reason) == (asked.call, "gone")
        await agent.close()

    run(scenario())
    assert open_calls(world.db) == []


def test_a_station_reconnecting_keeps_its_call(world: World) -> None:
    """A kiosk's new socket replaces its old one (the old is closed with CLOSE_REPLACED),
    and its request repeated under the same call id is the same call, still first."""

    cookie = session_cookie(world.agent_server.base, "agent-wu")

    async def scenario() -> None:
        agent = await agent_peer(world.agent_server, cookie)  # someone serves the station
        await agent.send(protocol.Presence(state="available"))
        await agent.expect(protocol.QueueView, lambda view: view.state == "available")
        old = await station_peer(world.station_server, world.station)
        asked = request()
        await old.send(asked)
        await old.expect(protocol.Queued)
        new = await station_peer(world.agent_server, world.station)  # even another process
        assert await old.wait_closed() == protocol.CLOSE_REPLACED
        await new.send(asked)
        queued = await new.expect(protocol.Queued)
        assert (queued.call, queued.position) == (asked.call, 1)
        await new.send(protocol.End(call=asked.call))
        await new.expect(protocol.Ended)
        await new.close()
        await agent.close()

    run(scenario())
    assert open_calls(world.db) == []


def test_garbage_on_a_socket_is_answered_and_the_socket_lives(world: World) -> None:
    async def scenario() -> None:
        kiosk = await station_peer(world.station_server, world.station)
        for frame in (
            "",
            "{",
            "[]",
            '{"type":"take"}',
            '{"type":"request","call":"x"}',
            "\x00" * 9,
        ):
            await kiosk.send(frame)
            error = await kiosk.expect(protocol.ErrorMessage)
            assert error.code == "bad_message"
        elsewhere = request()
        await kiosk.send(protocol.End(call=elsewhere.call))  # a call that is not its own
        await kiosk.send(request())
        await kiosk.expect(protocol.Unavailable)  # it still works: nobody serves it now
        await kiosk.close()

    run(scenario())
