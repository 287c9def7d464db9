"""The kiosk's side of a video call: the signaling client and the call's life, on the
network thread's asyncio loop.

`CallClient` is what the screens hold. Its methods (`start`, `end`, `send_chat`,
`send_capture`) may be called from any thread and return at once: they schedule the work
on the loop through `runner` (`SyncService.submit`, so sync and calls share the network
thread; without one the client runs a loop thread of its own, for `kiosk call` and
tests). Every change is reported through `on_event` (kiosk.remote.events), called on the
loop's thread; `remote_frames` is the latest-frame slot of the agent's video.

A call:

- `start` names the call (a UUID) and asks at once; a station that is not enrolled, or
  whose district cannot be reached, gets `UNAVAILABLE` reason `offline` right away, one
  the district refuses (revoked: close code 4403/4401) `disabled`: the screen offers a
  call-back request.
- The WebSocket (`protocol.STATION_PATH` on the enrolled server, http→ws, https→wss) is
  signed like every sync request (`StationKey.sign_request` over `GET` + the path + an
  empty body). It sends `CallRequest`, and maps what comes back to events.
- Liveness: a `ping` every `PING_S`; a district silent for `SILENT_S` is gone and the call
  ends (`ENDED`, reason `gone`). A socket that drops sooner is connected again within that
  window and the same `CallRequest` sent again (the same call id: the district resumes the
  call, not a second one); the media, which never crosses the district, goes on meanwhile.
- Media: on `Assigned` the client makes a `kiosk.remote.media.Peer` with the ICE servers
  it names (exactly those: never a public STUN server) and sends its `Offer`. The first
  frame from the agent reports `MediaState connected` and `CONNECTED`. The district hands
  `Assigned` again when the request is repeated on a new socket: the client then offers
  afresh (attempt + 1), as the district expects.
- A lost media path (decided here): the peer connection reports `failed`; or, once frames
  came, none for `MEDIA_SILENT_S` (the agent's browser sends frames even with its camera
  switched off, so a gap that long means the path is gone); or no first frame within
  `MEDIA_SETUP_S` of the answer. An answer that sends no video is watched by the
  connection state alone. The client then sends `MediaState lost`, closes the peer and
  offers again under the same call id with `attempt` + 1, back in `CONNECTING`, up to
  `RemoteSettings.reoffers` times; then it ends the call with reason `media`. A new
  `Assigned` starts the media afresh without counting as a loss (but no offer goes past
  the protocol's attempt 20).
- A supervisor who joins (`Watch`): a second peer connection (leg `supervisor`) with the
  same camera slot and no audio (the station's microphone is opened once, by the agent's
  leg) and nothing received; the screen is told who watches (`SupervisorWatching`). That
  leg is not offered again when its path is lost (it reports `MediaState lost` on its leg
  and closes; the supervisor may join again); `WatchEnded`, a takeover (`WatchEnded`
  then `Assigned`: a fresh offer to the new agent) and the call's end close it.
- Standby (`listen()`, decided here): with no call on, the client keeps the station's
  signed socket open (pings only, reconnecting with a capped backoff; 60 s after a
  refusal) so that an agent can call the station back. An `Incoming` call is reported as
  `IncomingCall` and rings for `RING_S`; `answer()` starts the call under its id (source
  `callback`: the district hands `Assigned` at once), `decline()` ends it (`declined`),
  and one that rings out ends with `no_answer` (`RingEnded`). An incoming call while a
  call is on, or while another rings, is answered `busy`. The call opens its own socket
  (which replaces the standby one at the district); standby comes back after it.
- Chat lines the resident typed are not reported back (the screen shows them as sent);
  a district that echoes them is ignored.

Logs hold call ids, states, reasons and attempts: never chat text, the identity, a
capture or the agent's name.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from kiosk.config import Paths, RemoteSettings
from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import protocol
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
    SupervisorWatching,
)

if TYPE_CHECKING:  # aiortc is imported when the first call makes its peer
    from websockets.asyncio.client import ClientConnection

    from kiosk.remote.media import Peer
    from kiosk.store.db import Store

log = logging.getLogger(__name__)

Runner = Callable[[Coroutine[Any, Any, Any]], Future[Any]]

CONNECT_S = 5.0  # to open the WebSocket (a district further away is "offline")
MEDIA_SILENT_S = 5.0  # no agent frame this long, once frames came: the path is lost
MEDIA_SETUP_S = 20.0  # no first frame this long after the answer: the path is lost
WATCH_S = 0.25  # how often the watchdog looks
END_WAIT_S = 3.0  # stop(): how long the last End may take
MAX_ATTEMPT = protocol.MAX_ATTEMPT
RING_S = 45.0  # an agent's call rings this long at the station
STANDBY_BACKOFF_S = (1.0, 30.0)  # the standby socket's reconnect backoff: first, cap
STANDBY_REFUSED_S = 60.0  # and after the district refused the station

ACTIVE = (CallState.ASKING, CallState.WAITING, CallState.CONNECTING, CallState.CONNECTED)


class _Refused(Exception):
    """The district refused this station (not enrolled there, revoked, bad signature)."""


@dataclass(eq=False)
class _Call:
    id: str
    info: CallRequestInfo
    state: CallState = CallState.ASKING
    agent: str = ""
    ice_servers: list[protocol.IceServer] = field(default_factory=list)
    ice_policy: str = "all"
    attempt: int = 0
    losses: int = 0
    peer: Peer | None = None
    watch: Peer | None = None  # the supervisor's leg
    answered_at: float | None = None
    sends_video: bool = True  # whether the agent's answer sends video
    ws: ClientConnection | None = None
    heard_at: float = field(default_factory=time.monotonic)
    pending: list[protocol.StationSends] = field(default_factory=list)  # while reconnecting
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    over: bool = False


class _LoopThread:
    """A loop on a thread of its own, for a client given no runner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, work: Coroutine[Any, Any, Any]) -> Future[Any]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="network-call", daemon=True
                )
                self._thread.start()
            return asyncio.run_coroutine_threadsafe(work, self._loop)

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:  # what is still running (aiortc's own tasks among them) ends before the loop
            asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result(5)
        except Exception:
            log.debug("the call loop's last tasks did not end in time", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def websocket_url(server_url: str, path: str = protocol.STATION_PATH) -> str:
    """The signaling URL of an enrolled server (http → ws, https → wss)."""
    parts = urlsplit(server_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError("the district's address is not http or https")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


class CallClient:
    """One station's calls, one at a time (a new `start` ends the call before it)."""

    def __init__(
        self,
        settings: RemoteSettings,
        *,
        paths: Paths,
        store: Store,
        camera: LatestFrame | None,
        on_event: Callable[[CallEvent], None],
        runner: Runner | None = None,
        max_fps: float = 30.0,
    ) -> None:
        self._settings = settings
        self._paths = paths
        self._store = store
        self._camera = camera
        self._on_event = on_event
        self._own_loop = _LoopThread() if runner is None else None
        self._runner: Runner = runner or self._own_loop.submit  # type: ignore[union-attr]
        self._max_fps = max_fps
        self._remote = LatestFrame()
        self._call: _Call | None = None  # touched on the loop only
        self._state: CallState | None = None
        self._standby: asyncio.Task[None] | None = None  # on the loop only
        self._standby_ws: ClientConnection | None = None
        self._ringing: tuple[protocol.Incoming, float] | None = None  # and its deadline
        self._opening = asyncio.Lock()  # one socket opened at a time (standby or a call's)

    # -- the screens' side (any thread) ------------------------------------------------

    @property
    def remote_frames(self) -> LatestFrame:
        """The agent's video, decoded: the newest frame (BGR), as from a camera."""
        return self._remote

    @property
    def state(self) -> CallState | None:
        """The state last reported (None before the first call)."""
        return self._state

    def start(self, info: CallRequestInfo) -> str:
        """Ask for an agent; the new call's id at once (the rest comes as events)."""
        call_id = str(uuid.uuid4())
        self._state = CallState.ASKING
        self._submit(self._start(_Call(call_id, info)))
        return call_id

    def listen(self) -> None:
        """Keep the standby socket open while no call is on (safe to repeat)."""
        self._submit(self._listen())

    def answer(self, call_id: str, info: CallRequestInfo) -> str:
        """Take the agent's ringing call `call_id` (from `IncomingCall`)."""
        self._state = CallState.ASKING
        answered = CallRequestInfo(
            item_code=info.item_code,
            item_title=info.item_title,
            category=info.category,
            application=info.application,
            identity=info.identity,
            source="callback",
        )
        self._submit(self._answer(call_id, answered))
        return call_id

    def decline(self, call_id: str, reason: str = "declined") -> None:
        """The agent's ringing call is not taken: the resident said no (`declined`), or the
        station is serving someone (`busy`)."""
        self._submit(self._end_ringing(call_id, reason))

    def end(self) -> None:
        """The resident ends the call (nothing happens when there is none)."""
        self._submit(self._end_current("resident"))

    def send_chat(self, text: str) -> None:
        text = text.strip()[: protocol.MAX_TEXT]
        if text:
            self._submit(self._send_to_current(lambda call: protocol.Chat(call=call, text=text)))

    def send_capture(self, request: str, kind: str, jpeg_bytes: bytes, label: str = "") -> None:
        """Send a capture the agent asked for (`request`), or one of the visit's materials
        (kind `material`, request ''): JPEG, or PNG by its signature."""
        media_type = "image/png" if jpeg_bytes.startswith(b"\x89PNG") else "image/jpeg"
        data = base64.b64encode(jpeg_bytes).decode("ascii")
        self._submit(
            self._send_to_current(
                lambda call: protocol.Capture(
                    call=call,
                    request=request[:40],
                    kind=kind,
                    label=label[:200],
                    media_type=media_type,
                    data=data,
                )
            )
        )

    def stats(self) -> Future[Any]:
        """The current peer's `PeerStats` (a future; its result None without media)."""
        return self._submit(self._stats())

    def stop(self) -> None:
        """End any call and stop the client's own loop (the kit's shutdown)."""
        try:
            self._submit(self._stop_standby()).result(END_WAIT_S + 2)
        except Exception:
            log.debug("no standby to stop", exc_info=True)
        try:
            self._submit(self._end_current("gone")).result(END_WAIT_S + 2)
        except Exception:  # a loop that is gone already: nothing left to end
            log.debug("no call to end at stop", exc_info=True)
        if self._own_loop is not None:
            self._own_loop.stop()

    # -- on the loop ----------------------------------------------------------------------

    def _submit(self, work: Coroutine[Any, Any, Any]) -> Future[Any]:
        future = self._runner(work)
        future.add_done_callback(_log_failure)
        return future

    def _emit(self, call: _Call, event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            call.state = event.state
            if self._call is call or call.over:
                self._state = event.state
            log.info(
                "call %s: %s%s",
                call.id,
                event.state.value,
                f" ({event.reason})" if event.reason else "",
            )
        try:
            self._on_event(event)
        except Exception:
            log.exception("a call listener failed")

    async def _start(self, call: _Call) -> None:
        if self._call is not None:
            await self._finish(self._call, CallState.ENDED, "replaced", tell="replaced")
        self._call = call
        self._emit(call, StateChanged(call.id, CallState.ASKING))
        try:
            await self._connect(call)
        except _Refused:
            await self._finish(call, CallState.UNAVAILABLE, "disabled")
            return
        except _Unreachable as error:
            log.info("call %s: the district cannot be reached (%s)", call.id, error)
            await self._finish(call, CallState.UNAVAILABLE, "offline")
            return
        except Exception:  # whatever it was, the screen must not wait for ever
            log.exception("call %s: the call could not be asked for", call.id)
            await self._finish(call, CallState.UNAVAILABLE, "offline")
            return
        if call.over:  # ended while the socket opened: the request went, so does the end
            with contextlib.suppress(Exception):
                await call.ws.send(protocol.dump(protocol.End(call=call.id)))  # type: ignore[union-attr]
                await call.ws.close()  # type: ignore[union-attr]
            return
        call.tasks.add(asyncio.ensure_future(self._pinger(call)))
        call.tasks.add(asyncio.ensure_future(self._watchdog(call)))
        call.tasks.add(asyncio.ensure_future(self._reader(call)))

    async def _open_socket(self) -> ClientConnection:
        """A signed socket to the district (_Refused, _Unreachable)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        from kiosk.sync.client import enrollment
        from kiosk.sync.keys import StationKey

        enrolled = await asyncio.to_thread(enrollment, self._store)
        if enrolled is None:
            raise _Unreachable("the station is not enrolled")
        try:
            key = await asyncio.to_thread(StationKey.load, self._paths)
            url = websocket_url(enrolled.server_url)
        except Exception as error:
            raise _Unreachable(f"no station key or address: {type(error).__name__}") from None
        headers = key.sign_request(enrolled.station_id, "GET", urlsplit(url).path, b"")
        try:
            return await connect(
                url,
                additional_headers=headers,
                max_size=protocol.MAX_FRAME,
                open_timeout=CONNECT_S,
                ping_interval=None,
                close_timeout=2,
            )
        except InvalidStatus as error:
            if error.response.status_code in (401, 403):
                raise _Refused from None
            raise _Unreachable(f"HTTP {error.response.status_code}") from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as error:
            raise _Unreachable(type(error).__name__) from None

    async def _connect(self, call: _Call) -> None:
        """Open a signed socket to the district and send (again) the call's request."""
        async with self._opening:
            call.ws = await self._open_socket()
        call.heard_at = time.monotonic()
        info = call.info
        await self._send(
            call,
            protocol.CallRequest(
                call=call.id,
                item_code=info.item_code[:16],
                item_title=info.item_title[:200],
                category=info.category[:60],
                application=info.application,
                identity=info.identity[:80],
                source=info.source,  # type: ignore[arg-type]
                audio=bool(self._settings.microphone or self._settings.speaker),
            ),
        )
        waiting, call.pending = call.pending, []
        for message in waiting:
            await self._send(call, message)

    # -- standby, and an agent's call to the station ---------------------------------------

    async def _listen(self) -> None:
        if self._standby is None or self._standby.done():
            self._standby = asyncio.ensure_future(self._standby_forever())

    async def _stop_standby(self) -> None:
        task, self._standby = self._standby, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _standby_forever(self) -> None:
        first, cap = STANDBY_BACKOFF_S
        backoff = first
        while True:
            if self._call is not None:
                await asyncio.sleep(0.25)
                continue
            try:
                # never while a call opens its own: the district keeps the newer socket,
                # and a standby socket newer than the call's would end the call (replaced)
                async with self._opening:
                    if self._call is not None:
                        continue
                    ws = await self._open_socket()
            except _Refused:
                log.info("standby: the district refused the station")
                await asyncio.sleep(STANDBY_REFUSED_S)
                continue
            except _Unreachable as error:
                log.debug("standby: the district is unreachable (%s)", error)
                await asyncio.sleep(random.uniform(0, backoff))  # noqa: S311 (jitter)
                backoff = min(backoff * 2, cap)
                continue
            backoff = first
            self._standby_ws = ws
            try:
                await self._standby_serve(ws)
            except Exception:
                log.exception("standby: the socket failed")
            finally:
                self._standby_ws = None
                with contextlib.suppress(Exception):
                    await ws.close()
            await self._ring_over("gone")  # no socket: nobody can answer a ringing call now

    async def _standby_serve(self, ws: ClientConnection) -> None:
        """Ping, read and ring until a call starts, the socket closes or goes silent."""
        from websockets.exceptions import ConnectionClosed

        heard = pinged = time.monotonic()
        while self._call is None:
            now = time.monotonic()
            if now - heard > protocol.SILENT_S:
                log.info("standby: the district is silent")
                return
            if now - pinged >= protocol.PING_S:
                pinged = now
                try:
                    await ws.send(protocol.dump(protocol.Ping()))
                except ConnectionClosed:
                    return
            if self._ringing is not None and now > self._ringing[1]:
                await self._end_ringing(self._ringing[0].call, "no_answer")
            try:
                frame = await asyncio.wait_for(ws.recv(), WATCH_S)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            heard = time.monotonic()
            try:
                message = protocol.to_station(frame)
            except protocol.BadMessage as error:
                log.warning("standby: the district sent a bad frame: %s", error)
                continue
            match message:
                case protocol.Incoming():
                    await self._incoming(ws, message)
                case protocol.Ended(call=call_id, reason=reason):
                    if self._ringing is not None and self._ringing[0].call == call_id:
                        await self._ring_over(reason)

    async def _incoming(self, ws: ClientConnection, message: protocol.Incoming) -> None:
        if self._call is not None or self._ringing is not None:
            log.info("call %s from an agent: busy", message.call)
            end = protocol.End(call=message.call, reason="busy")
            with contextlib.suppress(Exception):
                await ws.send(protocol.dump(end))
            return
        log.info("call %s from an agent: ringing", message.call)
        self._ringing = (message, time.monotonic() + RING_S)
        self._on_event_safely(
            IncomingCall(
                message.call,
                message.agent,
                message.item_code,
                message.item_title,
                message.callback,
            )
        )

    async def _ring_over(self, reason: str) -> None:
        ringing, self._ringing = self._ringing, None
        if ringing is not None:
            log.info(
                "call %s from an agent: over before it was answered (%s)", ringing[0].call, reason
            )
            self._on_event_safely(RingEnded(ringing[0].call, reason))

    async def _end_ringing(self, call_id: str, reason: str) -> None:
        if self._ringing is None or self._ringing[0].call != call_id:
            return
        ws = self._standby_ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send(protocol.dump(protocol.End(call=call_id, reason=reason)))  # type: ignore[arg-type]
        await self._ring_over(reason)

    async def _answer(self, call_id: str, info: CallRequestInfo) -> None:
        if self._ringing is None or self._ringing[0].call != call_id:
            log.info("call %s: answered too late, it is over", call_id)
            self._emit(
                _Call(call_id, info, over=True),
                StateChanged(call_id, CallState.ENDED, reason="gone"),
            )
            return
        self._ringing = None
        await self._start(_Call(call_id, info))

    def _on_event_safely(self, event: CallEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("a call event's handler failed")

    async def _send(self, call: _Call, message: protocol.StationSends) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = call.ws
        if ws is None:
            call.pending.append(message)
            return
        try:
            await ws.send(protocol.dump(message))
        except ConnectionClosed:
            call.pending.append(message)  # sent again once the socket is back

    async def _send_to_current(self, make: Callable[[str], protocol.StationSends]) -> None:
        call = self._call
        if call is None or call.over:
            log.info("nothing sent: no call is on")
            return
        await self._send(call, make(call.id))

    async def _end_current(self, reason: str) -> None:
        call = self._call
        if call is not None and not call.over:
            await self._finish(call, CallState.ENDED, reason, tell=reason)

    async def _stats(self) -> Any:
        call = self._call
        if call is None or call.peer is None or call.peer.closed:
            return None
        return await call.peer.stats()

    async def _pinger(self, call: _Call) -> None:
        while not call.over:
            if call.ws is not None:
                await self._send(call, protocol.Ping())
                call.pending = [m for m in call.pending if not isinstance(m, protocol.Ping)]
            await asyncio.sleep(protocol.PING_S)

    async def _reader(self, call: _Call) -> None:
        """Read the district's messages; on a dropped socket, connect again while the
        district is not yet counted gone."""
        from websockets.exceptions import ConnectionClosed

        while not call.over:
            ws = call.ws
            if ws is None:
                try:
                    await self._connect(call)
                except _Refused:
                    await self._finish(call, *self._gone(call, "disabled"))
                    return
                except _Unreachable:
                    await asyncio.sleep(0.5)  # the watchdog ends the call after SILENT_S
                continue
            try:
                async for frame in ws:
                    call.heard_at = time.monotonic()
                    try:
                        message = protocol.to_station(frame)
                    except protocol.BadMessage as error:
                        log.warning("call %s: the district sent a bad frame: %s", call.id, error)
                        continue
                    try:
                        await self._handle(call, message)
                    except Exception:  # one message's trouble is not the end of the call
                        log.exception("call %s: a %s message failed", call.id, message.type)
                    if call.over:
                        return
            except ConnectionClosed:
                pass
            code = ws.close_code
            call.ws = None
            if call.over:
                return
            if code in (protocol.CLOSE_REFUSED, protocol.CLOSE_UNSIGNED):
                await self._finish(call, *self._gone(call, "disabled"))
                return
            if code == protocol.CLOSE_REPLACED:
                await self._finish(call, CallState.ENDED, "replaced")
                return
            log.info("call %s: the signaling socket closed (%s): connecting again", call.id, code)

    async def _handle(self, call: _Call, message: Any) -> None:
        if getattr(message, "call", call.id) != call.id:
            return  # another (an older) call's message
        match message:
            case protocol.Queued(position=position, wait_s=wait_s):
                if call.state in (CallState.ASKING, CallState.WAITING):
                    self._emit(
                        call,
                        StateChanged(call.id, CallState.WAITING, position=position, wait_s=wait_s),
                    )
            case protocol.Unavailable(reason=reason):
                await self._finish(call, CallState.UNAVAILABLE, reason)
            case protocol.Assigned():
                await self._assigned(call, message)
            case protocol.Watch():
                await self._watch(call, message)
            case protocol.WatchEnded():
                await self._unwatch(call)
            case protocol.Answer(leg="supervisor", sdp=sdp):
                watch = call.watch
                if watch is not None and not watch.closed:
                    try:
                        await watch.accept_answer(sdp)
                    except Exception as error:
                        log.warning(
                            "call %s: the supervisor's answer was refused: %s",
                            call.id,
                            type(error).__name__,
                        )
                        await self._watch_lost(call, watch)
            case protocol.Answer(attempt=attempt, sdp=sdp):
                if call.peer is not None and attempt == call.attempt and call.answered_at is None:
                    call.sends_video = _answer_sends_video(sdp)
                    try:
                        await call.peer.accept_answer(sdp)
                    except Exception as error:  # a bad SDP is a lost path, never a crash
                        log.warning(
                            "call %s: the answer was refused: %s", call.id, type(error).__name__
                        )
                        await self._media_lost(call)
                        return
                    call.answered_at = time.monotonic()
            case protocol.Chat(text=text, sender=sender):
                if sender != "resident":
                    self._emit(call, ChatLine(call.id, text, sender or "agent"))
            case protocol.CaptureRequest(request=request, kind=kind, words=words):
                self._emit(call, CaptureAsked(call.id, request, kind, words))
            case protocol.Decision(application=application, state=state, reason=reason):
                self._emit(call, DecisionMade(call.id, application, state, reason))
            case protocol.Ended(reason=reason):
                await self._finish(call, CallState.ENDED, reason)
            case protocol.ErrorMessage(code=code):
                log.warning("call %s: the district answered error %s", call.id, code)

    async def _assigned(self, call: _Call, message: protocol.Assigned) -> None:
        """An agent took the call, or the district hands the assignment again (after the
        socket came back, another agent, a takeover): a fresh offer each time, as the
        district expects (it does not count as a lost path)."""
        call.agent = message.agent
        call.ice_servers = list(message.ice_servers)
        call.ice_policy = message.ice_policy
        attempt = message.attempt if call.peer is None else max(message.attempt, call.attempt + 1)
        await self._offer(call, attempt)

    async def _offer(self, call: _Call, attempt: int) -> None:
        """A fresh peer connection and its offer (the one before closed)."""
        from kiosk.remote.media import Peer

        if call.peer is not None:
            await call.peer.close()
        if attempt > MAX_ATTEMPT:
            await self._finish(call, CallState.ENDED, "media", tell="media")
            return
        call.attempt = attempt
        call.answered_at = None
        call.sends_video = True
        self._emit(call, StateChanged(call.id, CallState.CONNECTING, agent=call.agent))
        peer = call.peer = Peer(
            self._camera,
            self._remote,
            self._settings,
            max_fps=self._max_fps,
            on_state=lambda state: self._peer_state(call, peer, state),
            on_first_frame=lambda: self._first_frame(call, peer),
        )
        try:
            sdp = await peer.create_offer(call.ice_servers, call.ice_policy)
        except Exception:
            log.exception("call %s: no offer could be made", call.id)
            await self._finish(call, CallState.ENDED, "media", tell="media")
            return
        if call.over or call.peer is not peer:
            await peer.close()
            return
        await self._send(call, protocol.Offer(call=call.id, attempt=attempt, sdp=sdp))

    async def _watch(self, call: _Call, message: protocol.Watch) -> None:
        """A supervisor joined: offer them a second stream (a fresh one each time)."""
        from kiosk.remote.media import Peer

        if call.watch is not None:
            await call.watch.close()
        settings = msgspec.structs.replace(self._settings, microphone="", speaker="")
        watch = call.watch = Peer(
            self._camera,
            LatestFrame(),  # nothing comes back on this leg
            settings,
            max_fps=self._max_fps,
            on_state=lambda state: self._watch_state(call, watch, state),
        )
        self._emit(call, SupervisorWatching(call.id, message.supervisor, True))
        try:
            sdp = await watch.create_offer(message.ice_servers, message.ice_policy)
        except Exception:
            log.exception("call %s: no offer could be made for the supervisor", call.id)
            await self._watch_lost(call, watch)
            return
        if call.over or call.watch is not watch:
            await watch.close()
            return
        offer = protocol.Offer(call=call.id, attempt=message.attempt, sdp=sdp, leg="supervisor")
        await self._send(call, offer)

    async def _unwatch(self, call: _Call) -> None:
        watch, call.watch = call.watch, None
        if watch is not None:
            await watch.close()
            self._emit(call, SupervisorWatching(call.id, "", False))

    def _watch_state(self, call: _Call, watch: Peer, state: str) -> None:
        if state in ("failed", "closed") and call.watch is watch and not watch.closed:
            self._spawn(call, self._watch_lost(call, watch))

    async def _watch_lost(self, call: _Call, watch: Peer) -> None:
        if call.watch is not watch:
            return
        log.info("call %s: the supervisor's stream is lost", call.id)
        lost = protocol.MediaState(call=call.id, state="lost", leg="supervisor")
        await self._send(call, lost)
        await self._unwatch(call)

    def _first_frame(self, call: _Call, peer: Peer) -> None:
        if call.over or call.peer is not peer:
            return
        self._emit(call, StateChanged(call.id, CallState.CONNECTED, agent=call.agent))
        self._spawn(
            call,
            self._send(
                call, protocol.MediaState(call=call.id, attempt=call.attempt, state="connected")
            ),
        )

    def _peer_state(self, call: _Call, peer: Peer, state: str) -> None:
        # "closed" without our closing it: the far end shut the connection
        if (
            state in ("failed", "closed")
            and not call.over
            and call.peer is peer
            and not peer.closed
        ):
            self._spawn(call, self._media_lost(call))

    def _spawn(self, call: _Call, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    async def _media_lost(self, call: _Call) -> None:
        peer = call.peer
        if call.over or peer is None or peer.closed:
            return
        log.info("call %s: media lost on attempt %d", call.id, call.attempt)
        await self._send(
            call, protocol.MediaState(call=call.id, attempt=call.attempt, state="lost")
        )
        await peer.close()
        call.losses += 1
        if call.losses > self._settings.reoffers:
            await self._finish(call, CallState.ENDED, "media", tell="media")
            return
        await self._offer(call, call.attempt + 1)

    async def _watchdog(self, call: _Call) -> None:
        while not call.over:
            await asyncio.sleep(WATCH_S)
            now = time.monotonic()
            if now - call.heard_at > protocol.SILENT_S:
                log.info("call %s: the district is silent", call.id)
                await self._finish(call, *self._gone(call, "offline"))
                return
            peer = call.peer
            if peer is None or peer.closed or call.answered_at is None or not call.sends_video:
                continue
            if peer.last_frame_at is not None:
                lost = now - peer.last_frame_at > MEDIA_SILENT_S
            else:
                lost = now - call.answered_at > MEDIA_SETUP_S
            if lost:
                await self._media_lost(call)

    @staticmethod
    def _gone(call: _Call, unavailable: str) -> tuple[CallState, str]:
        """How a call the district dropped ends: before the district said anything of it
        the station could not call at all (UNAVAILABLE `unavailable`); after, it is gone."""
        if call.state is CallState.ASKING:
            return CallState.UNAVAILABLE, unavailable
        return CallState.ENDED, "gone"

    async def _finish(
        self, call: _Call, state: CallState, reason: str, *, tell: str | None = None
    ) -> None:
        """End a call once: tell the district (`tell`: an End reason), close its peer, its
        socket and its tasks, report the last state."""
        if call.over:
            return
        call.over = True
        if tell is not None and call.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    call.ws.send(protocol.dump(protocol.End(call=call.id, reason=tell))),
                    END_WAIT_S,
                )
        current = asyncio.current_task()
        for task in list(call.tasks):
            if task is not current:
                task.cancel()
        for peer in (call.peer, call.watch):
            if peer is not None:
                with contextlib.suppress(Exception):
                    await peer.close()
        if call.ws is not None:
            with contextlib.suppress(Exception):
                await call.ws.close()
        if self._call is call:
            self._call = None
        self._emit(call, StateChanged(call.id, state, agent=call.agent, reason=reason))


async def _cancel_the_rest() -> None:
    current = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not current]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


class _Unreachable(Exception):
    """The district could not be reached (or the station is not enrolled)."""


def _answer_sends_video(sdp: str) -> bool:
    """Whether the answer's video section sends (sendrecv or sendonly)."""
    in_video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        elif in_video and line.strip() in ("a=recvonly", "a=inactive"):
            return False
    return True


def _log_failure(future: Future[Any]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.error("a call task failed", exc_info=error)
