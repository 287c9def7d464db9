"""Sync in the background: the network thread's asyncio loop running sync passes.

The kiosk starts one `SyncService`. Its thread runs an asyncio loop (the one the remote
assistance will share) and a pass (`SyncEngine.run_pass`) whenever there is a reason to:

- right away at start, and when `kick()` is called (an application was just queued);
- every `idle_s` when everything is sent (to fetch the district's decisions and catalog);
- after a failure, with capped exponential backoff and full jitter (`retry_first_s` up
  to `retry_cap_s`, a random delay in [0, cap]), so a thousand stations that lost the
  same line do not come back in step; a pass that succeeds resets it.

It never spins: between passes it only waits. "Online" is what the last pass found: a
pass that reached the district means online; one that could not connect means offline,
and the next try waits the backoff. A revoked or unenrolled station keeps its queue and
retries slowly (`refused_s`), so that re-enrolling is all it takes.

`status()` may be called from any thread: online, queued, in flight, rejected, the last
success and the last error (for staff screens and `kiosk sync status`).

`submit(coro)` runs other network work on the same loop (the video call's client,
kiosk.remote.client), from any thread, and returns a `concurrent.futures.Future`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select

from kiosk.config import Paths
from kiosk.core.applications import State
from kiosk.store.db import Store
from kiosk.store.models import Application, OutboxEntry, SyncInfo
from kiosk.sync.engine import PassReport, SyncEngine
from kiosk.sync.errors import DistrictUnreachable, NotEnrolled, StationRevoked

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool
    server: str | None
    online: bool | None  # None: not tried yet
    queued: int
    in_flight: int
    rejected: int
    last_success: str | None  # ISO time
    last_error: str | None
    last_error_at: str | None

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def read_status(store: Store, *, online: bool | None = None, in_flight: int = 0) -> SyncStatus:
    """The sync state as the local store knows it."""
    with store.read() as session:
        info = session.get(SyncInfo, 1)
        queued = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
        rejected = (
            session.scalar(
                select(func.count())
                .select_from(Application)
                .where(Application.state == State.REJECTED.value)
            )
            or 0
        )
        return SyncStatus(
            enrolled=bool(info and info.station_id),
            server=info.server_url if info else None,
            online=online,
            queued=queued,
            in_flight=in_flight,
            rejected=rejected,
            last_success=_iso(info.last_success_at) if info else None,
            last_error=info.last_error if info else None,
            last_error_at=_iso(info.last_error_at) if info else None,
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


class SyncService:
    def __init__(
        self,
        paths: Paths,
        store: Store,
        *,
        idle_s: float = 30.0,
        retry_first_s: float = 1.0,
        retry_cap_s: float = 300.0,
        refused_s: float = 300.0,
        on_pass: Callable[[PassReport | None, Exception | None], None] | None = None,
        engine: SyncEngine | None = None,
    ) -> None:
        self.store = store
        self.engine = engine or SyncEngine(paths, store)
        self._idle_s = idle_s
        self._retry_first_s = retry_first_s
        self._retry_cap_s = retry_cap_s
        self._refused_s = refused_s
        self._on_pass = on_pass
        self._failures = 0
        self._online: bool | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_thread, name="network", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self.kick()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def kick(self) -> None:
        """Sync now (from any thread): an application was queued, or staff asked."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the network loop (from any thread); its future at once.
        Before `start()` or after `stop()` there is no loop: RuntimeError (the coroutine
        is closed, never run)."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._stopping:
            work.close()
            raise RuntimeError("the network loop is not running")
        return asyncio.run_coroutine_threadsafe(work, loop)

    def status(self) -> SyncStatus:
        return read_status(self.store, online=self._online, in_flight=self.engine.in_flight)

    def _run_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._ready.set()
        while not self._stopping:
            delay = await self._one_pass()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def _one_pass(self) -> float:
        """Run a pass; return how long to wait before the next one."""
        try:
            report = await self.engine.run_pass()
        except Exception as error:  # every failure waits; none ends the loop
            self._failures += 1
            self._online = not isinstance(error, DistrictUnreachable)
            if isinstance(error, (StationRevoked, NotEnrolled)):
                delay = self._refused_s
            else:
                # full jitter: anywhere up to the capped exponential delay
                cap = min(self._retry_cap_s, self._retry_first_s * 2 ** (self._failures - 1))
                delay = random.uniform(0, cap)  # noqa: S311 - jitter, not a secret
            if isinstance(error, Exception) and not isinstance(
                error, (DistrictUnreachable, NotEnrolled)
            ):
                log.warning("sync pass failed: %s", error, exc_info=not _named(error))
            else:
                log.info("sync pass failed: %s", error)
            await asyncio.to_thread(self.engine.record_failure, error)
            self._notify(None, error)
            return delay
        self._failures = 0
        self._online = True
        self._notify(report, None)
        return self._idle_s

    def _notify(self, report: PassReport | None, error: Exception | None) -> None:
        if self._on_pass is None:
            return
        try:
            self._on_pass(report, error)
        except Exception:
            log.exception("a sync listener failed")


def _named(error: Exception) -> bool:
    from kiosk.errors import DoorstepError

    return isinstance(error, DoorstepError)
