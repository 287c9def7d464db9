"""A district's signaling end played by the test, for the kiosk's call client: a real
WebSocket server (websockets) that records what the station sends and sends what the
test says, answering pings unless told to go silent."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from kiosk.remote import protocol
from kiosk.sync.wire import HEADER_SIGNATURE, HEADER_STATION


class FakeDistrict:
    def __init__(self) -> None:
        self.received: asyncio.Queue[Any] = asyncio.Queue()
        self.connections = 0
        self.refuse = False  # answer the upgrade with 403
        self.silent = False  # stop answering pings
        self.close_with: int | None = None  # accept the upgrade, then close with this code
        self.replace = False  # a new socket closes the one before (CLOSE_REPLACED), as a
        # real district does for a station's second socket
        self.ws: ServerConnection | None = None
        self.signed: list[str] = []  # the station id each upgrade was signed for
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> FakeDistrict:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, max_size=protocol.MAX_FRAME
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            return connection.respond(403, "refused\n")
        if request.path != protocol.STATION_PATH or HEADER_SIGNATURE not in request.headers:
            return Response(400, "Bad Request", Headers(), b"unsigned\n")
        self.signed.append(request.headers[HEADER_STATION])
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        before, self.ws = self.ws, ws
        if self.replace and before is not None:
            with contextlib.suppress(Exception):
                await before.close(protocol.CLOSE_REPLACED, "replaced")
        if self.close_with is not None:
            await ws.close(self.close_with, "refused")
            return
        pinger = asyncio.ensure_future(self._ping(ws))
        try:
            async for frame in ws:
                message = protocol.from_station(frame)
                if not isinstance(message, protocol.Ping):
                    await self.received.put(message)
        except Exception:  # a dropped socket: the test looks at what arrived
            pass
        finally:
            pinger.cancel()

    async def _ping(self, ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            while True:
                if not self.silent:
                    await ws.send(protocol.dump(protocol.Ping()))
                await asyncio.sleep(protocol.PING_S)

    async def send(self, message: Any) -> None:
        assert self.ws is not None
        await self.ws.send(protocol.dump(message))

    async def expect(self, kind: type, timeout: float = 30.0) -> Any:
        """The next message of this type (others before it are dropped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {kind.__name__} from the station")
            message = await asyncio.wait_for(self.received.get(), remaining)
            if isinstance(message, kind):
                return message
