"""The signaling of remote assistance: the two WebSockets of `kiosk.remote.protocol`, and
the hub that holds this process's sockets and delivers the call queue's messages to them.

    GET /v1/calls/ws        a station, signed like every sync request (`district.auth`:
                            `read_headers`, then `verify` over GET, the path and query,
                            and an empty body; the nonce is spent)
    GET /console/calls/ws   an agent or supervisor: their console session cookie, from
                            the console's own origin (the Origin header must be this
                            server's: no other site's page may open it with the agent's
                            cookie)

Refusals accept the socket and then close it with the protocol's code, so the client
sees the reason (closing before accepting would be an HTTP 403 that hides the code):
CLOSE_UNSIGNED (4401) for a missing, stale, replayed or bad signature and for an agent
with no live session; CLOSE_REFUSED (4403) for an unenrolled or revoked station, a
foreign Origin, and any role but agent and supervisor. Nothing is read from a refused
socket.

The queue and its messages are in the database (`district.calls`): a message to a side
is a `call_signals` row, written in the transaction of the change, and a wake-up. Each
process's `Hub` holds its sockets by station id and by agent user id; woken for a key
(PostgreSQL: LISTEN on one dedicated psycopg connection, reconnected with backoff, the
tables re-read after every connect; SQLite, one process: the commit wakes the hub
itself), it takes that side's rows and sends them in order. Every PING_S the hub also
runs the sweep (`calls.sweep`), sends every socket a ping, delivers whatever is waiting,
refreshes the views (a station's place in the queue, an agent's queue) and closes a
socket silent for SILENT_S; so a lost wake-up costs a second, never a message.

A second socket of the same station or agent replaces the first (closed with
CLOSE_REPLACED, in whichever process holds it: the key `replace:<side>:<id>:<socket>`).
An agent's socket closing ends their call (their page has left it) and puts them offline;
a station's socket closing ends nothing at once: the kiosk reconnects and repeats its
request under the same call id, and if it does not come back within SILENT_S the sweep
ends its call with reason `gone`. A station with no call keeps its socket open too (its
standby: pings only), which is how an agent's call to it (`Incoming`) reaches it.

Logs name stations, accounts and calls by id, never what a message says.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import FastAPI, WebSocket
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from district import calls
from district.accounts import load_session
from district.auth import read_headers, verify
from district.console.deps import SESSION_COOKIE
from district.db import Database
from district.errors import ProblemError
from district.turn import TurnSettings
from kiosk.remote import protocol

log = logging.getLogger(__name__)

T = TypeVar("T")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
VIEW_EVERY_S = 5.0  # an unchanged queue is sent again this often (its waits grow)
CLOSE_SILENT = 4408  # the socket was silent for SILENT_S (not the protocol's: ours)


def mount(app: FastAPI) -> None:
    """Add the two sockets to the district's app (the hub starts with the app)."""
    app.add_api_websocket_route(protocol.STATION_PATH, _station_socket)
    app.add_api_websocket_route(protocol.AGENT_PATH, _agent_socket)


async def start(app: FastAPI, db: Database) -> None:
    hub = Hub(db, TurnSettings.from_env())
    await hub.start()
    app.state.calls_hub = hub


async def stop(app: FastAPI) -> None:
    hub: Hub | None = getattr(app.state, "calls_hub", None)
    if hub is not None:
        await hub.stop()


def now() -> datetime:
    return datetime.now(UTC)


# -- the sockets ------------------------------------------------------------------------


@dataclass(eq=False)
class Side:
    """One socket this process holds: a station's or an agent's."""

    websocket: WebSocket
    side: str  # calls.STATION or calls.AGENT
    recipient: str  # the station id, or the agent's user id
    group: str
    agent: calls.Agent | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    heard: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    view: Any = None
    view_sent: float = 0.0
    replaced: bool = False

    @property
    def key(self) -> str:
        return f"{self.side}:{self.recipient}"

    async def send(self, frame: str) -> None:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.send_text(frame)  # if it fails, the receive loop sees it go

    async def close(self, code: int, reason: str = "") -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.close(code, reason)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason[:100])


def _hub(websocket: WebSocket) -> Hub:
    hub: Hub | None = getattr(websocket.app.state, "calls_hub", None)
    if hub is None:
        raise RuntimeError("the app's call hub has not started")
    return hub


async def _station_socket(websocket: WebSocket) -> None:
    hub = _hub(websocket)
    raw_path = websocket.scope.get("raw_path") or websocket.scope["path"].encode("utf-8")
    query = websocket.scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    try:
        signed = read_headers(websocket.headers)

        def check() -> tuple[str, str]:
            with hub.db.write() as connection:
                station_id = verify(hub.db, connection, signed, "GET", target, EMPTY_SHA256)
                return station_id, calls.group_of_station(connection, station_id)

        station_id, group = await run_in_threadpool(check)
    except ProblemError as refusal:
        code = protocol.CLOSE_UNSIGNED if refusal.status == 401 else protocol.CLOSE_REFUSED
        log.info("call socket refused for a station: %s", refusal.code)
        await _refuse(websocket, code, refusal.code)
        return
    await websocket.accept()
    side = Side(websocket, calls.STATION, station_id, group)
    await hub.serve(side)


async def _agent_socket(websocket: WebSocket) -> None:
    hub = _hub(websocket)
    host = websocket.headers.get("host", "")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    if not host or websocket.headers.get("origin") != f"{scheme}://{host}":
        log.info("agent call socket refused: not from the console's own origin")
        await _refuse(websocket, protocol.CLOSE_REFUSED, "origin")
        return
    session = await run_in_threadpool(load_session, hub.db, websocket.cookies.get(SESSION_COOKIE))
    if session is None or session.pending:
        await _refuse(websocket, protocol.CLOSE_UNSIGNED, "session")
        return
    account = session.account
    if (
        account.role not in calls.CALL_ROLES
        or account.must_change_password
        or not account.station_group
    ):
        log.info("agent call socket refused for account %s (role %s)", account.id, account.role)
        await _refuse(websocket, protocol.CLOSE_REFUSED, "role")
        return
    await websocket.accept()
    agent = calls.Agent(account.id, account.name, account.role, account.station_group)
    side = Side(websocket, calls.AGENT, str(agent.id), agent.station_group, agent)
    await hub.serve(side)


# -- the hub ----------------------------------------------------------------------------


class Hub:
    """This process's sockets, and the delivery of the queue's messages to them."""

    def __init__(self, db: Database, turn: TurnSettings) -> None:
        self.db = db
        self.turn = turn
        self.sides: dict[str, Side] = {}  # by key: station:<id>, agent:<id>
        self._wakes: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._database_lost = False  # the last tick could not reach the database

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.db.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen()))
        else:
            calls.LOCAL_LISTENERS.append(self._wake_threadsafe)
        self._tasks.append(asyncio.create_task(self._wake_forever()))
        self._tasks.append(asyncio.create_task(self._tick_forever()))

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            calls.LOCAL_LISTENERS.remove(self._wake_threadsafe)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for side in list(self.sides.values()):
            await side.close(1012, "server restart")  # the sweep, or its next process, ends calls

    # -- wake-ups --

    def _wake_threadsafe(self, key: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wakes.put_nowait, key)

    async def _listen(self) -> None:
        import psycopg

        conninfo = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 0.5
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {calls.CHANNEL}")
                    backoff = 0.5
                    await self.refresh()  # what was missed while not listening
                    async for note in connection.notifies():
                        self._wakes.put_nowait(note.payload)
            except (psycopg.Error, OSError) as error:
                log.warning("call wake-ups: lost the LISTEN connection (%s)", type(error).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _wake_forever(self) -> None:
        while True:
            keys = {await self._wakes.get()}
            while not self._wakes.empty():
                keys.add(self._wakes.get_nowait())
            try:
                await self._woken(keys)
            except Exception:
                log.exception("call wake-up failed")

    async def _woken(self, keys: set[str]) -> None:
        work = []
        groups = set()
        for key in keys:
            kind, _, rest = key.partition(":")
            if kind == "group":
                groups.add(rest)
            elif kind == "replace":
                side_key, _, token = rest.rpartition(":")
                held = self.sides.get(side_key)
                if held is not None and held.token != token:
                    await self._replace(held)
            elif key in self.sides:
                work.append(self.deliver(self.sides[key]))
        for side in self.sides.values():
            if side.group in groups:
                work.append(self.show_view(side, force=side.side == calls.AGENT))
        await asyncio.gather(*work)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(protocol.PING_S)
            try:
                await self.tick()
                if self._database_lost:
                    self._database_lost = False
                    log.info("call queue: the database answers again")
            except OperationalError as error:
                # the database is down or restarting: said once, not every second
                if not self._database_lost:
                    self._database_lost = True
                    log.warning(
                        "call queue: the database is unreachable (%s)", type(error).__name__
                    )
            except Exception:
                log.exception("call queue tick failed")

    async def tick(self) -> None:
        await self.run(lambda connection: calls.sweep(connection, now()))
        ping = protocol.dump(protocol.Ping())
        silent = time.monotonic() - protocol.SILENT_S
        for side in list(self.sides.values()):
            if side.heard < silent:
                log.info("call socket %s silent: closed", side.key)
                await side.close(CLOSE_SILENT, "silent")
            else:
                await side.send(ping)
        await self.refresh()

    async def refresh(self) -> None:
        """Deliver what waits for every socket here, and show their views."""
        sides = list(self.sides.values())
        await asyncio.gather(*(self.deliver(side) for side in sides))
        await asyncio.gather(*(self.show_view(side) for side in sides))

    # -- database work --

    async def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` in one write transaction, off the event loop (again once if
        it met a row another process inserted at the same moment)."""

        def transaction() -> T:
            for attempt in range(2):
                try:
                    with self.db.write() as connection:
                        return work(connection)
                except IntegrityError:
                    if attempt == 1:
                        raise
            raise AssertionError("unreachable")

        return await run_in_threadpool(transaction)

    async def deliver(self, side: Side) -> None:
        async with side.lock:
            bodies = await self.run(
                lambda connection: calls.take_signals(connection, side.side, side.recipient)
            )
            for body in bodies:
                await side.send(body)

    async def show_view(self, side: Side, *, force: bool = False) -> None:
        """A station's place in the queue, or an agent's queue, when it changed."""

        def read() -> Any:
            with self.db.read() as connection:
                if side.agent is not None:
                    return calls.queue_view_for_agent(connection, side.agent, now())
                call = calls.active_call_of_station(connection, side.recipient)
                if call is None or call.state != calls.WAITING:
                    return None
                return calls.queue_view_for_station(connection, call.id)

        view = await run_in_threadpool(read)
        async with side.lock:
            if view is None:
                side.view = None
                return
            same = _comparable(view) == _comparable(side.view)
            stale = time.monotonic() - side.view_sent > VIEW_EVERY_S
            if force or not same or (side.agent is not None and stale and view.waiting):
                side.view, side.view_sent = view, time.monotonic()
                await side.send(protocol.dump(view))

    # -- one socket --

    async def serve(self, side: Side) -> None:
        """Hold one accepted socket until it closes."""
        held = self.sides.get(side.key)
        self.sides[side.key] = side
        if held is not None:
            await self._replace(held)
        log.info("call socket %s open", side.key)
        try:
            await self.run(lambda connection: self._opened(connection, side))
            await self.deliver(side)
            await self.show_view(side, force=True)
            await self._receive(side)
        finally:
            if self.sides.get(side.key) is side:
                del self.sides[side.key]
            if not side.replaced and side.agent is not None:
                agent = side.agent
                with contextlib.suppress(Exception):
                    await self.run(lambda c: calls.agent_disconnected(c, agent, now()))
            log.info("call socket %s closed", side.key)

    def _opened(self, connection: Any, side: Side) -> None:
        calls.notify(connection, f"replace:{side.key}:{side.token}")
        if side.agent is not None:
            calls.take_signals(connection, calls.AGENT, side.recipient)  # for a page now gone
            calls.agent_connected(connection, side.agent, now())

    async def _replace(self, held: Side) -> None:
        held.replaced = True
        if self.sides.get(held.key) is held:
            del self.sides[held.key]
        log.info("call socket %s replaced by a newer one", held.key)
        await held.close(protocol.CLOSE_REPLACED, "replaced")

    async def _receive(self, side: Side) -> None:
        parse = protocol.from_station if side.agent is None else protocol.from_agent
        while True:
            message = await side.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            side.heard = time.monotonic()
            try:
                parsed = parse(frame)
            except protocol.BadMessage as error:
                await side.send(
                    protocol.dump(protocol.ErrorMessage(code="bad_message", message=str(error)))
                )
                continue
            try:
                await self._handle(side, parsed)
            except calls.CallRefused as refused:
                await side.send(
                    protocol.dump(protocol.ErrorMessage(code=refused.code, message=refused.message))
                )

    async def _handle(self, side: Side, message: Any) -> None:
        if side.agent is None:
            work = _station_work(side.recipient, message, self)
        else:
            client = side.websocket.client
            work = _agent_work(side.agent, message, self, client.host if client else "")
        if work is None:
            return
        await self.run(work)
        if isinstance(message, protocol.CallRequest):
            await self.show_view(side, force=True)


def _station_work(station_id: str, message: Any, hub: Hub) -> Callable[[Any], Any] | None:
    at = now()
    db = hub.db
    match message:
        case protocol.Ping():
            return lambda c: calls.station_heartbeat(c, station_id, at)
        case protocol.CallRequest():
            return lambda c: calls.request_call(c, station_id, message, at, hub.turn)
        case protocol.Offer():
            return lambda c: calls.station_offer(c, station_id, message, at)
        case protocol.Capture():
            return lambda c: calls.station_capture(db, c, station_id, message, at)
        case protocol.Chat():
            return lambda c: calls.station_chat(c, station_id, message, at)
        case protocol.MediaState():
            return lambda c: calls.station_media(c, station_id, message, at)
        case protocol.End():
            return lambda c: calls.station_end(c, station_id, message, at)
    return None


def _agent_work(
    agent: calls.Agent, message: Any, hub: Hub, address: str
) -> Callable[[Any], Any] | None:
    at = now()
    db = hub.db
    match message:
        case protocol.Ping():
            return lambda c: calls.agent_heartbeat(c, agent, at)
        case protocol.Presence():
            return lambda c: calls.set_presence(c, agent, message.state, message.reason, at)
        case protocol.Take():
            return lambda c: calls.take(c, agent, message.call, at, hub.turn)
        case protocol.Answer():
            return lambda c: calls.agent_answer(c, agent, message, at)
        case protocol.CaptureRequest():
            return lambda c: calls.agent_capture_request(c, agent, message, at)
        case protocol.Chat():
            return lambda c: calls.agent_chat(c, agent, message, at)
        case protocol.MediaState():
            return lambda c: calls.agent_media(c, agent, message, at)
        case protocol.End():
            return lambda c: calls.agent_end(c, agent, message, at)
        case protocol.Help():
            return lambda c: calls.ask_help(c, agent, message.call, at)
        case protocol.Join():
            return lambda c: calls.join(db, c, agent, message.call, at, hub.turn, address)
        case protocol.Ring():
            return lambda c: calls.ring(c, agent, message.callback, at, hub.turn)
        case protocol.TakeOver():
            return lambda c: calls.take_over(db, c, agent, message.call, at, hub.turn, address)
    return None


def _comparable(view: Any) -> Any:
    """A view without what changes every second by itself (how long calls have waited)."""
    if isinstance(view, protocol.QueueView):
        return (
            view.state,
            [w.model_copy(update={"waited_s": 0}) for w in view.waiting],
            [h.model_copy(update={"asked_s": 0}) for h in view.help],
        )
    return view
