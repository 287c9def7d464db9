"""A TCP proxy for the sync tests that breaks the line between kiosk and district on purpose.

`FaultProxy(target_port)` listens on a loopback port of its own (`listen_host` another
address of this machine's, e.g. a veth's toward a network namespace) and forwards every
connection to the target, unless its current fault says otherwise:

- `Fault.PASS`: forward as is;
- `Fault.DELAY`: hold each chunk `delay_s` before forwarding it;
- `Fault.DROP`: accept the connection and close it without a word;
- `Fault.REFUSE`: stop listening, so connecting fails (the line is down);
- `Fault.CUT_REQUEST`: forward `cut_after` bytes of the request, then cut both sides (the
  server never sees a whole request);
- `Fault.CUT_RESPONSE`: forward the whole request, then only `cut_after` bytes of the
  answer before cutting: the server did the work and committed it, the kiosk never hears
  the answer — the case that makes "exactly once" hard.

Faults can be set for the next N connections only (`set(fault, connections=N)`), after which
the proxy passes again. It runs its own asyncio loop on a thread, so synchronous tests and
other threads can drive it; `stats` counts connections and faults applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    PASS = "pass"
    DELAY = "delay"
    DROP = "drop"
    REFUSE = "refuse"
    CUT_REQUEST = "cut_request"
    CUT_RESPONSE = "cut_response"


@dataclass
class ProxyStats:
    connections: int = 0
    faulted: int = 0


class FaultProxy:
    def __init__(
        self, target_port: int, target_host: str = "127.0.0.1", listen_host: str = "127.0.0.1"
    ) -> None:
        self.target = (target_host, target_port)
        self.host = listen_host
        self.port = 0
        self.stats = ProxyStats()
        self._fault = Fault.PASS
        self._remaining: int | None = None
        self.delay_s = 0.2
        self.cut_after = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="faultproxy", daemon=True
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control (any thread) -----------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set(
        self,
        fault: Fault,
        *,
        connections: int | None = None,
        cut_after: int | None = None,
        delay_s: float | None = None,
    ) -> None:
        """Apply `fault` to new connections (the next `connections` only, if given)."""
        with self._lock:
            self._fault = fault
            self._remaining = connections
            if cut_after is not None:
                self.cut_after = cut_after
            if delay_s is not None:
                self.delay_s = delay_s
        if fault is Fault.REFUSE:
            self._call(self._close_listener())
        else:
            self._call(self._listen())

    def heal(self) -> None:
        self.set(Fault.PASS)

    def cut_all(self) -> None:
        """Cut every connection open now (the line drops under them)."""
        self._call(self._cancel_all())

    # -- inside (the proxy's loop) ------------------------------------------------------

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._handle, self.host, self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _close(self) -> None:
        await self._close_listener()
        await self._cancel_all()

    async def _cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _take_fault(self) -> Fault:
        with self._lock:
            self.stats.connections += 1
            fault = self._fault
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault, self._remaining = Fault.PASS, None
            if fault is not Fault.PASS:
                self.stats.faulted += 1
            return fault

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._serve(self._take_fault(), client_reader, client_writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            client_writer.close()
            with contextlib.suppress(Exception):
                await client_writer.wait_closed()

    async def _serve(
        self,
        fault: Fault,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
    ) -> None:
        if fault is Fault.DROP:
            return
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        try:
            if fault is Fault.CUT_REQUEST:
                await _pipe(client_reader, server_writer, limit=self.cut_after)
                return
            upstream = asyncio.create_task(
                _pipe(client_reader, server_writer, delay=self._delay(fault))
            )
            limit = self.cut_after if fault is Fault.CUT_RESPONSE else None
            await _pipe(server_reader, client_writer, limit=limit, delay=self._delay(fault))
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upstream
        finally:
            server_writer.close()
            with contextlib.suppress(Exception):
                await server_writer.wait_closed()

    def _delay(self, fault: Fault) -> float:
        return self.delay_s if fault is Fault.DELAY else 0.0


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    limit: int | None = None,
    delay: float = 0.0,
) -> None:
    """Copy until EOF, or until `limit` bytes have gone (then stop: the caller cuts)."""
    sent = 0
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            with contextlib.suppress(Exception):
                writer.write_eof()
            return
        if limit is not None and sent + len(chunk) >= limit:
            writer.write(chunk[: max(0, limit - sent)])
            await writer.drain()
            return
        if delay:
            await asyncio.sleep(delay)
        writer.write(chunk)
        await writer.drain()
        sent += len(chunk)
