"""Helpers for the signaling tests: a real `district serve` process, a station and an
agent on its sockets (the `websockets` client, as the kiosk and a browser connect), and
what the test sets up in the database beside it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from district import accounts
from district.console.deps import SESSION_COOKIE
from district.db import Database
from district.models import Station
from district.stations import add_station
from kiosk.remote import protocol
from kiosk.sync.keys import StationKey
from tests.district.browsing import PASSWORD, csrf_of

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0  # generous: these machines are shared


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CallServer:
    """`district serve` in a process of its own (run from this checkout)."""

    def __init__(self, url: str, key_file: Path, log: Path) -> None:
        self.url, self.key_file, self.log = url, key_file, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "district", "--db", self.url, "--key-file",
                   str(self.key_file), "serve", "--port", str(self.port)]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/v1/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError("district serve did not come up")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def tracebacks(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text if "Traceback" in text else ""


@dataclass
class EnrolledStation:
    station_id: str
    code: str
    key: StationKey


def add_enrolled_station(
    db: Database, server: CallServer, name: str, group: str
) -> EnrolledStation:
    added = add_station(db, name)
    with db.write() as connection:
        connection.execute(
            Station.__table__.update()
            .where(Station.id == added.station_id)
            .values(station_group=group)
        )
    key = StationKey(Ed25519PrivateKey.generate())
    answer = httpx.post(
        f"{server.base}/v1/enroll",
        json={"code": added.enrollment_code, "public_key": key.public_key()},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return EnrolledStation(added.station_id, added.station_code, key)


def add_account(db: Database, name: str, role: str, group: str = "") -> int:
    return accounts.add_user(db, name, role, PASSWORD, station_group=group).id


def session_cookie(base: str, name: str) -> str:
    """Sign in through the console's form, as a browser does; the session cookie."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        form = browser.get("/console/login")
        answer = browser.post(
            "/console/login",
            data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return answer.cookies[SESSION_COOKIE]


class Peer:
    """One side's socket: what it received, in order, and a heartbeat that can stop."""

    def __init__(self, connection: ClientConnection, parse: Callable[[str], Any]) -> None:
        self.connection = connection
        self.parse = parse
        self.received: list[Any] = []
        self.closed: int | None = None
        self._seen = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._pinger: asyncio.Task[None] | None = asyncio.create_task(self._ping())

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                self.received.append(self.parse(frame))
                self._changed.set()
        except ConnectionClosed:
            pass
        self.closed = self.connection.close_code or 1006
        self._changed.set()

    async def _ping(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.send(protocol.Ping())
                await asyncio.sleep(protocol.PING_S)

    def silence(self) -> None:
        """Stop the heartbeat (and everything else): the socket stays open but mute."""
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None

    async def send(self, message: Any) -> None:
        await self.connection.send(
            protocol.dump(message) if not isinstance(message, str) else message
        )

    async def expect(self, kind: type, where: Callable[[Any], bool] = lambda _m: True) -> Any:
        """The next message of `kind` (that `where` likes) after the last one expected;
        the messages before it are passed over (pings, queue updates)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for index in range(self._seen, len(self.received)):
                message = self.received[index]
                if isinstance(message, kind) and where(message):
                    self._seen = index + 1
                    return message
            if self.closed is not None:
                raise AssertionError(f"closed ({self.closed}) before a {kind.__name__} came")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} within {WAIT_S} s: {self.received[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_closed(self) -> int:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, WAIT_S)
        assert self.closed is not None, "the socket is still open"
        return self.closed

    async def close(self) -> None:
        self.silence()
        await self.connection.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, WAIT_S)


async def station_peer(
    server: CallServer, station: EnrolledStation, key: StationKey | None = None
) -> Peer:
    headers = (key or station.key).sign_request(
        station.station_id, "GET", protocol.STATION_PATH, b""
    )
    connection = await connect(
        f"{server.ws}{protocol.STATION_PATH}",
        additional_headers=headers,
        max_size=protocol.MAX_FRAME + 1024,
        ping_interval=None,
    )
    return Peer(connection, protocol.to_station)


async def agent_peer(server: CallServer, cookie: str | None, origin: str | None = None) -> Peer:
    headers = {"Origin": origin or server.base}
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    connection = await connect(
        f"{server.ws}{protocol.AGENT_PATH}",
        additional_headers=headers,
        max_size=protocol.MAX_FRAME + 1024,
        ping_interval=None,
    )
    return Peer(connection, protocol.to_agent)


async def refused_with(opening: Any) -> int:
    """The close code a socket that is refused ends with."""
    peer: Peer = await opening
    code = await peer.wait_closed()
    assert not [m for m in peer.received if not isinstance(m, protocol.Ping)], peer.received
    return code


def jpeg(text: str) -> bytes:
    """Bytes that stand for a captured JPEG (the district stores what it is sent)."""
    return b"\xff\xd8\xff\xe0" + json.dumps({"capture": text}).encode() + b"\xff\xd9"
