"""A whole call through the real district: the kiosk's CallClient on a station enrolled
with a real `district serve` (SQLite), and the agent played by the test over the console's
call WebSocket (signed in like a browser, session cookie and the console's origin) with an
aiortc answerer: request → queued → taken → media both ways (checked by the stamps in the
frames) → chat both ways → a capture asked for and fetched by the agent → the decision
heard → end, with nothing left open in the queue."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from kiosk.config import Paths, RemoteSettings
from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import protocol, stamp
from kiosk.remote.client import CallClient
from kiosk.remote.events import (
    CallEvent,
    CallRequestInfo,
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    StateChanged,
)
from kiosk.store.db import Store
from kiosk.sync.client import enroll
from tests.district.test_sync_e2e import DistrictServer
from tests.remote.agent import AGENT_BASE, KIOSK_SIZE, Answerer, feed, wait_for

GROUP = "north"
AGENT = "agent-li"
PASSWORD = "correct horse battery staple 7"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def district(tmp_path: Path) -> Iterator[DistrictServer]:
    server = DistrictServer(
        f"sqlite:///{tmp_path / 'district.sqlite3'}",
        tmp_path / "server.key",
        tmp_path / "district.log",
    )
    server.cli("catalog", "import", str(Path("assets/catalog/sample-catalog.toml").resolve()))
    server.cli(
        "user",
        "add",
        AGENT,
        "--role",
        "agent",
        "--station-group",
        GROUP,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    server.start()
    yield server
    server.stop()


def agent_cookie(base: str) -> str:
    """Sign in as the agent like a browser; the session cookie."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
        form = http.get("/console/login")
        answer = http.post(
            "/console/login",
            data={"name": AGENT, "password": PASSWORD, "csrf": CSRF.search(form.text).group(1)},
        )
        assert answer.status_code == 303, answer.text
        token = answer.cookies.get("doorstep_session") or http.cookies.get("doorstep_session")
        assert token, "no session cookie"
        return f"doorstep_session={token}"


class Agent:
    """The agent's socket: records what the district sends, pings, sends what it's told."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._ping())]

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                message = protocol.to_agent(frame)
                if not isinstance(message, protocol.Ping):
                    await self.received.put(message)

    async def _ping(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.send(protocol.Ping())
                await asyncio.sleep(protocol.PING_S)

    async def send(self, message: Any) -> None:
        await self.ws.send(protocol.dump(message))

    async def expect(self, kind: type, timeout: float = 30.0, **fields: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {kind.__name__} {fields} for the agent")
            message = await asyncio.wait_for(self.received.get(), remaining)
            if isinstance(message, kind) and all(
                getattr(message, k) == v for k, v in fields.items()
            ):
                return message

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.ws.close()


class Events:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: list[CallEvent] = []

    def __call__(self, event: CallEvent) -> None:
        with self._lock:
            self.all.append(event)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.all if isinstance(e, kind)]

    def reached(self, state: CallState, reason: str | None = None) -> Any:
        return lambda: any(
            e.state is state and (reason is None or e.reason == reason)
            for e in self.of(StateChanged)
        )


def test_a_call_through_the_district(district: DistrictServer, tmp_path: Path) -> None:
    station = district.cli("station", "add", "Test Street", "--group", GROUP, "--json")
    paths = Paths(tmp_path / "kiosk")
    store = Store.open(paths)
    enroll(paths, store, district.base, station["enrollment_code"])  # type: ignore[index]
    cookie = agent_cookie(district.base)
    ws_base = district.base.replace("http://", "ws://")

    async def run() -> None:
        camera = LatestFrame()
        feeding = asyncio.ensure_future(feed(camera, KIOSK_SIZE))
        events = Events()
        client = CallClient(
            RemoteSettings(), paths=paths, store=store, camera=camera, on_event=events
        )
        agent = Agent(
            await connect(
                ws_base + protocol.AGENT_PATH,
                additional_headers={"Cookie": cookie, "Origin": district.base},
            )
        )
        answerer = Answerer()
        try:
            await agent.expect(protocol.QueueView, state="available")
            call = client.start(
                CallRequestInfo(
                    item_code="MI-001", item_title="医保参保登记", category="medical_insurance"
                )
            )
            await wait_for(events.reached(CallState.WAITING), what="queued")
            waiting = await agent.expect(protocol.QueueView)
            while not any(w.call == call for w in waiting.waiting):
                waiting = await agent.expect(protocol.QueueView)

            await agent.send(protocol.Take(call=call))
            info = await agent.expect(protocol.CallInfo, call=call)
            assert info.item_code == "MI-001" and info.audio is False
            offer = await agent.expect(protocol.Offer, call=call)
            await agent.send(
                protocol.Answer(
                    call=call, attempt=offer.attempt, sdp=await answerer.answer(offer.sdp)
                )
            )
            await agent.expect(protocol.MediaState, call=call, state="connected")
            await wait_for(events.reached(CallState.CONNECTED), what="connected")
            await wait_for(
                lambda: len({n for n in answerer.seen if n < AGENT_BASE}) >= 5,
                what="the kiosk's frames at the agent",
            )

            def kiosk_sees_agent() -> bool:
                frame = client.remote_frames.latest()
                return frame is not None and (stamp.read(frame.image) or 0) > AGENT_BASE

            await wait_for(kiosk_sees_agent, what="the agent's frames at the kiosk")

            await agent.send(protocol.Chat(call=call, text="请出示医保卡"))
            await wait_for(lambda: events.of(ChatLine), what="the agent's chat")
            assert [(c.text, c.sender) for c in events.of(ChatLine)] == [("请出示医保卡", "agent")]
            client.send_chat("好的")
            heard = await agent.expect(protocol.Chat, call=call)
            assert (heard.text, heard.sender) == ("好的", "resident")

            await agent.send(
                protocol.CaptureRequest(
                    call=call, request="r1", kind="card", words="请把卡对准镜头"
                )
            )
            await wait_for(lambda: events.of(CaptureAsked), what="the capture request")
            client.send_capture("r1", "card", JPEG)
            arrived = await agent.expect(protocol.CaptureArrived, call=call)
            assert (arrived.request, arrived.kind) == ("r1", "card")
            async with httpx.AsyncClient(base_url=district.base, timeout=30) as http:
                picture = await http.get(arrived.url, headers={"Cookie": cookie})
            assert picture.status_code == 200 and picture.content == JPEG

            client.end()
            ended = await agent.expect(protocol.Ended, call=call)
            assert ended.reason == "resident"
            await wait_for(events.reached(CallState.ENDED, "resident"), what="ended")
            assert not events.of(DecisionMade)
        finally:
            feeding.cancel()
            await answerer.close()
            await agent.close()
            await asyncio.to_thread(client.stop)

    asyncio.run(run())
    with district.database().read() as connection:
        from sqlalchemy import select

        from district.models import Call

        rows = connection.execute(select(Call.state, Call.end_reason)).all()
    assert [tuple(row) for row in rows] == [("ended", "resident")]
    store.close()


def test_a_station_the_district_does_not_know_is_refused(
    district: DistrictServer, tmp_path: Path
) -> None:
    """Enrolled once, then revoked: the call is unavailable at once ('disabled')."""
    station = district.cli("station", "add", "Test Street", "--group", GROUP, "--json")
    paths = Paths(tmp_path / "kiosk")
    store = Store.open(paths)
    enroll(paths, store, district.base, station["enrollment_code"])  # type: ignore[index]
    district.cli("station", "revoke", station["station_id"])  # type: ignore[index]
    events = Events()
    client = CallClient(RemoteSettings(), paths=paths, store=store, camera=None, on_event=events)

    async def run() -> None:
        try:
            client.start(CallRequestInfo(item_code="MI-001"))
            await wait_for(events.reached(CallState.UNAVAILABLE, "disabled"), what="refused")
        finally:
            await asyncio.to_thread(client.stop)

    asyncio.run(run())
    store.close()
