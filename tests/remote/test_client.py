"""The kiosk's call client (kiosk.remote.client) against a district played by the test
(tests/remote/fake_district.py) and an aiortc agent (tests/remote/agent.py): the call's
states, media both ways by content, chat, captures, the decision, a lost media path
offered again under the same call id, a silent district, a dropped socket, and a
station that cannot call."""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Paths, RemoteSettings
from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import protocol, stamp
from kiosk.remote.client import CallClient, websocket_url
from kiosk.remote.events import (
    CallEvent,
    CallRequestInfo,
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    IncomingCall,
    RingEnded,
    StateChanged,
)
from kiosk.store.db import Store
from kiosk.store.models import SyncInfo
from kiosk.sync.keys import StationKey
from kiosk.sync.service import SyncService
from tests.remote.agent import AGENT_BASE, KIOSK_SIZE, Answerer, feed, wait_for
from tests.remote.fake_district import FakeDistrict

INFO = CallRequestInfo(item_code="MI-001", item_title="Medical insurance", category="medical")
STATION = str(uuid.uuid4())


class Events:
    """What the client reported (on its network thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: list[CallEvent] = []

    def __call__(self, event: CallEvent) -> None:
        with self._lock:
            self.all.append(event)

    def states(self) -> list[StateChanged]:
        with self._lock:
            return [e for e in self.all if isinstance(e, StateChanged)]

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.all if isinstance(e, kind)]

    def reached(self, state: CallState, **fields: Any) -> Callable[[], bool]:
        return lambda: any(
            e.state is state and all(getattr(e, k) == v for k, v in fields.items())
            for e in self.states()
        )


class Station:
    def __init__(self, folder: Path, server_url: str | None) -> None:
        self.paths = Paths(folder)
        self.store = Store.open(self.paths)
        StationKey.load_or_create(self.paths)
        if server_url is not None:
            with self.store.write() as session:
                session.add(SyncInfo(id=1, server_url=server_url, station_id=STATION))
        self.camera = LatestFrame()
        self.events = Events()

    def client(self, settings: RemoteSettings | None = None, **extra: Any) -> CallClient:
        return CallClient(
            settings or RemoteSettings(),
            paths=self.paths,
            store=self.store,
            camera=self.camera,
            on_event=self.events,
            **extra,
        )


def kiosk_sees_agent(client: CallClient) -> Callable[[], bool]:
    def check() -> bool:
        frame = client.remote_frames.latest()
        return frame is not None and (stamp.read(frame.image) or 0) > AGENT_BASE

    return check


async def connect_media(
    district: FakeDistrict, client: CallClient, station: Station, attempt: int, call: str
) -> Answerer:
    offer = await district.expect(protocol.Offer)
    assert (offer.call, offer.attempt) == (call, attempt)
    assert "typ host" in offer.sdp and "typ srflx" not in offer.sdp
    agent = Answerer()
    await district.send(
        protocol.Answer(call=call, attempt=attempt, sdp=await agent.answer(offer.sdp))
    )
    media = await district.expect(protocol.MediaState)
    assert (media.state, media.attempt) == ("connected", attempt)
    await wait_for(lambda: any(n < AGENT_BASE for n in agent.seen), what="kiosk frames")
    await wait_for(kiosk_sees_agent(client), what="agent frames")
    return agent


def test_websocket_url() -> None:
    assert websocket_url("http://d.example:8000") == "ws://d.example:8000/v1/calls/ws"
    assert websocket_url("https://d.example/district/") == "wss://d.example/district/v1/calls/ws"
    with pytest.raises(ValueError):
        websocket_url("ftp://d.example")


def test_a_whole_call(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            feeding = asyncio.ensure_future(feed(station.camera, KIOSK_SIZE))
            client = station.client()
            events = station.events
            agents: list[Answerer] = []
            try:
                call = client.start(INFO)
                request = await district.expect(protocol.CallRequest)
                assert request.call == call and request.item_code == "MI-001"
                assert request.audio is False and district.signed == [STATION]
                await district.send(protocol.Queued(call=call, position=2, wait_s=90, agents=0))
                await wait_for(events.reached(CallState.WAITING, position=2, wait_s=90))
                await district.send(protocol.Queued(call=call, position=1, wait_s=30, agents=1))
                await wait_for(events.reached(CallState.WAITING, position=1))
                await district.send(protocol.Assigned(call=call, agent="Agent Li"))
                await wait_for(events.reached(CallState.CONNECTING, agent="Agent Li"))
                agents.append(await connect_media(district, client, station, 0, call))
                await wait_for(events.reached(CallState.CONNECTED, agent="Agent Li"))
                assert client.state is CallState.CONNECTED

                await district.send(protocol.Chat(call=call, text="请出示医保卡", sender="agent"))
                await district.send(protocol.Chat(call=call, text="echo", sender="resident"))
                await wait_for(lambda: events.of(ChatLine), what="a chat line")
                client.send_chat("  我听不清  ")
                chat = await district.expect(protocol.Chat)
                assert chat.text == "我听不清"
                assert [(c.text, c.sender) for c in events.of(ChatLine)] == [
                    ("请出示医保卡", "agent")
                ]

                await district.send(
                    protocol.CaptureRequest(
                        call=call, request="r1", kind="card", words="请把卡对准镜头"
                    )
                )
                await wait_for(lambda: events.of(CaptureAsked), what="the capture request")
                asked = events.of(CaptureAsked)[0]
                assert (asked.request, asked.kind, asked.words) == ("r1", "card", "请把卡对准镜头")
                client.send_capture("r1", "card", b"\xff\xd8\xff\xe0 a jpeg")
                capture = await district.expect(protocol.Capture)
                assert (capture.request, capture.kind, capture.media_type) == (
                    "r1",
                    "card",
                    "image/jpeg",
                )
                assert base64.b64decode(capture.data) == b"\xff\xd8\xff\xe0 a jpeg"

                application = str(uuid.uuid4())
                await district.send(
                    protocol.Decision(call=call, application=application, state="accepted")
                )
                await wait_for(lambda: events.of(DecisionMade), what="the decision")
                assert events.of(DecisionMade)[0].application == application

                client.end()
                end = await district.expect(protocol.End)
                assert (end.call, end.reason) == (call, "resident")
                await wait_for(events.reached(CallState.ENDED, reason="resident"))
                assert client.state is CallState.ENDED
                order = [e.state for e in events.states()]
                assert order == [
                    CallState.ASKING,
                    CallState.WAITING,
                    CallState.WAITING,
                    CallState.CONNECTING,
                    CallState.CONNECTED,
                    CallState.ENDED,
                ]
            finally:
                feeding.cancel()
                for agent in agents:
                    await agent.close()
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_a_lost_path_is_offered_again_under_the_same_call(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            feeding = asyncio.ensure_future(feed(station.camera, KIOSK_SIZE))
            client = station.client(RemoteSettings(reoffers=1))
            events = station.events
            agents: list[Answerer] = []
            try:
                call = client.start(INFO)
                await district.expect(protocol.CallRequest)
                await district.send(protocol.Assigned(call=call, agent="Agent Li"))
                agents.append(await connect_media(district, client, station, 0, call))
                await agents[-1].close()  # the agent's side of the path goes away
                lost = await district.expect(protocol.MediaState)
                assert (lost.state, lost.attempt) == ("lost", 0)
                agents.append(await connect_media(district, client, station, 1, call))
                connected = [e for e in events.states() if e.state is CallState.CONNECTED]
                assert len(connected) == 2 and {e.call for e in connected} == {call}
                # a second loss is one more than reoffers=1 allows: the call ends
                await agents[-1].close()
                lost = await district.expect(protocol.MediaState)
                assert (lost.state, lost.attempt) == ("lost", 1)
                end = await district.expect(protocol.End)
                assert end.reason == "media"
                await wait_for(events.reached(CallState.ENDED, reason="media"))
            finally:
                feeding.cancel()
                for agent in agents:
                    await agent.close()
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_a_silent_district_is_gone(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            client = station.client()
            try:
                call = client.start(INFO)
                await district.expect(protocol.CallRequest)
                await district.send(protocol.Queued(call=call, position=1, wait_s=0, agents=1))
                await wait_for(station.events.reached(CallState.WAITING))
                district.silent = True
                await wait_for(station.events.reached(CallState.ENDED, reason="gone"))
            finally:
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_a_dropped_socket_asks_again_for_the_same_call(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            client = station.client()
            try:
                call = client.start(INFO)
                await district.expect(protocol.CallRequest)
                assert district.ws is not None
                await district.ws.close()
                again = await district.expect(protocol.CallRequest)
                assert again.call == call and district.connections == 2
                await district.send(protocol.Ended(call=call, reason="agent"))
                await wait_for(station.events.reached(CallState.ENDED, reason="agent"))
                assert not station.events.reached(CallState.ENDED, reason="gone")()
            finally:
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_assigned_again_after_a_dropped_socket_offers_afresh(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            feeding = asyncio.ensure_future(feed(station.camera, KIOSK_SIZE))
            client = station.client()
            agents: list[Answerer] = []
            try:
                call = client.start(INFO)
                await district.expect(protocol.CallRequest)
                await district.send(protocol.Assigned(call=call, agent="Agent Li"))
                agents.append(await connect_media(district, client, station, 0, call))
                assert district.ws is not None
                await district.ws.close()
                again = await district.expect(protocol.CallRequest)
                assert again.call == call
                # the district hands the assignment again, as it stands (attempt 0)
                await district.send(protocol.Assigned(call=call, agent="Agent Li"))
                agents.append(await connect_media(district, client, station, 1, call))
                assert station.events.states()[-1].state is CallState.CONNECTED
            finally:
                feeding.cancel()
                for agent in agents:
                    await agent.close()
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_no_agent_is_unavailable(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            client = station.client()
            try:
                call = client.start(INFO)
                await district.expect(protocol.CallRequest)
                await district.send(protocol.Unavailable(call=call, reason="no_agents"))
                await wait_for(station.events.reached(CallState.UNAVAILABLE, reason="no_agents"))
            finally:
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_a_station_that_cannot_call(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            district.refuse = True
            refused = Station(tmp_path / "refused", district.url)
            alone = Station(tmp_path / "alone", None)
            closed_port = Station(tmp_path / "unreachable", "http://127.0.0.1:9")
            clients = [s.client() for s in (refused, alone, closed_port)]
            try:
                for client in clients:
                    client.start(INFO)
                await wait_for(refused.events.reached(CallState.UNAVAILABLE, reason="disabled"))
                await wait_for(alone.events.reached(CallState.UNAVAILABLE, reason="offline"))
                await wait_for(closed_port.events.reached(CallState.UNAVAILABLE, reason="offline"))
            finally:
                for client in clients:
                    await asyncio.to_thread(client.stop)

    asyncio.run(run())


class _IdleEngine:
    in_flight = 0

    async def run_pass(self) -> None:
        return None


def test_a_socket_closed_as_refused_is_unavailable(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            district.close_with = protocol.CLOSE_REFUSED
            station = Station(tmp_path, district.url)
            client = station.client()
            try:
                client.start(INFO)
                await wait_for(station.events.reached(CallState.UNAVAILABLE, reason="disabled"))
            finally:
                await asyncio.to_thread(client.stop)

    asyncio.run(run())


def test_the_client_runs_on_the_sync_services_loop(tmp_path: Path) -> None:
    async def run() -> None:
        async with FakeDistrict() as district:
            station = Station(tmp_path, district.url)
            service = SyncService(station.paths, station.store, idle_s=3600, engine=_IdleEngine())  # type: ignore[arg-type]
            service.start()
            threads: list[str] = []

            def on_event(event: CallEvent) -> None:
                threads.append(threading.current_thread().name)
                station.events(event)

            client = CallClient(
                RemoteSettings(),
                paths=station.paths,
                store=station.store,
                camera=None,
                on_event=on_event,
                runner=service.submit,
            )
            try:
                client.start(INFO)
                await district.expect(protocol.CallRequest)
                client.end()
                await district.expect(protocol.End)
                await wait_for(station.events.reached(CallState.ENDED))
                assert set(threads) == {"network"}
            finally:
                await asyncio.to_thread(client.stop)
                await asyncio.to_thread(service.stop)
            with pytest.raises(RuntimeError):
                service.submit(asyncio.sleep(0))

    asyncio.run(run())


def test_standby_rings_answers_and_says_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The standby socket (no call on): an agent's call rings; a second one while it rings
    is answered busy; the answer starts the call under the ringing call's id on a socket
    of its own; after the call, standby comes back; a call that rings out ends no_answer,
    and one the agent gives up on is over at the kiosk too."""
    monkeypatch.setattr("kiosk.remote.client.RING_S", 1.5)

    def incoming(call: str) -> protocol.Incoming:
        return protocol.Incoming(
            call=call, agent="王坐席", item_code="MI-001", callback=str(uuid.uuid4())
        )

    async def run() -> None:
        async with FakeDistrict() as district:
            district.replace = True
            station = Station(tmp_path, district.url)
            client = station.client()
            try:
                client.listen()
                client.listen()  # once is enough
                await wait_for(lambda: district.connections == 1, what="the standby socket")
                first, second = str(uuid.uuid4()), str(uuid.uuid4())
                await district.send(incoming(first))
                await wait_for(lambda: station.events.of(IncomingCall), what="ringing")
                await district.send(incoming(second))
                busy = await district.expect(protocol.End)
                assert (busy.call, busy.reason) == (second, "busy")
                client.answer(first, INFO)
                request = await district.expect(protocol.CallRequest)
                assert (request.call, request.source) == (first, "callback")
                assert district.connections == 2  # the call's own socket
                await district.send(protocol.Ended(call=first, reason="agent"))
                await wait_for(station.events.reached(CallState.ENDED, reason="agent"))
                await wait_for(lambda: district.connections == 3, what="standby again")

                rung_out, given_up = str(uuid.uuid4()), str(uuid.uuid4())
                await district.send(incoming(rung_out))
                end = await district.expect(protocol.End)
                assert (end.call, end.reason) == (rung_out, "no_answer")
                await district.send(incoming(given_up))
                await wait_for(lambda: len(station.events.of(IncomingCall)) == 3, what="ring")
                await district.send(protocol.Ended(call=given_up, reason="agent"))
                await wait_for(
                    lambda: [(e.call, e.reason) for e in station.events.of(RingEnded)]
                    == [(rung_out, "no_answer"), (given_up, "agent")],
                    what="the rings over",
                )
                client.answer(given_up, INFO)  # too late: over, and no request is made
                await wait_for(station.events.reached(CallState.ENDED, reason="gone"))
                assert district.received.empty()
            finally:
                await asyncio.to_thread(client.stop)

    asyncio.run(run())
