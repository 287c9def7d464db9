"""The card-reader service: one thread that owns PC/SC and reports what happens as events.

It lists the readers, notices a reader plugged in or pulled out and a card inserted or
removed, reads each inserted card (when `auto_read`), and serves read requests from other
threads. Events go to a plain callback on the service's own thread; the Qt side turns them
into signals (ui/bridge), the command line prints them.

It never dies. When pcscd stops or restarts, or the context goes stale, the service
reports `SERVICE_DOWN` once, drops the context and tries again with capped exponential
backoff, and reports `SERVICE_UP` and the readers again when pcscd is back. An exception
nobody expected is logged (without card data) and handled the same way.

Detection is poll-and-diff: each turn lists the readers, then blocks in
`SCardGetStatusChange` until a reader or card changes, the reader list changes (PnP
notification, where pcscd has it), a read is requested, or `poll_interval` passes, and
compares what it sees with what it saw.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from kiosk.core.identity import Identity
from kiosk.devices.backoff import Backoff
from kiosk.devices.card.errors import (
    CardError,
    CardExpired,
    NoCard,
    NoReader,
    PcscdNotRunning,
)
from kiosk.devices.card.events import CardEvent, EventKind
from kiosk.devices.card.pcsc import PcscContext, ReaderState, Slot
from kiosk.devices.card.ssse import read_card

__all__ = ["CardEvent", "CardReaderService", "EventKind", "read_identity", "wait_for_card"]

log = logging.getLogger(__name__)

_HOLDING = (Slot.CARD, Slot.MUTE)


def read_identity(context: PcscContext, reader: str, *, today: dt.date) -> Identity:
    """Connect to the card in `reader`, read it and check it is still valid."""
    started = time.perf_counter()
    with context.connect(reader) as link:
        identity = read_card(link.transmit)
    log.info(
        "card read in %s: %.0f ms, complete=%s",
        reader,
        (time.perf_counter() - started) * 1000,
        identity.complete,
    )
    if identity.expired(today):
        raise CardExpired(f"the card's validity ended on {identity.expiry_date}")
    return identity


def wait_for_card(context: PcscContext, reader: str | None, *, timeout_s: float) -> str:
    """The reader to read: `reader`, or the first reader holding a card, waiting up to
    `timeout_s` for a card to arrive."""
    readers = context.list_readers()
    if not readers:
        raise NoReader("no card reader is connected")
    if reader is not None and reader not in readers:
        raise NoReader(f"no reader named {reader!r}; connected: {', '.join(readers)}")
    candidates = [reader] if reader is not None else readers
    states = {name: ReaderState(name, Slot.EMPTY) for name in candidates}
    deadline = time.monotonic() + timeout_s
    while True:
        states, _ = context.wait_for_change(states, max(0.0, deadline - time.monotonic()))
        holding = [name for name in candidates if states[name].slot in _HOLDING]
        if holding:
            return holding[0]
        if time.monotonic() >= deadline:
            raise NoCard(f"no card in {reader or 'any reader'}")


class CardReaderService:
    """Owns PC/SC on its own thread and reports `CardEvent`s to `on_event`."""

    def __init__(
        self,
        on_event: Callable[[CardEvent], None],
        *,
        auto_read: bool = True,
        poll_interval: float = 0.5,
        backoff: Backoff | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        context_factory: Callable[[], PcscContext] = PcscContext,
    ) -> None:
        self._on_event = on_event
        self._auto_read = auto_read
        self._poll_interval = poll_interval
        self._backoff = backoff or Backoff()
        self._today = today
        self._context = context_factory()
        self._readers: dict[str, ReaderState] = {}
        self._pnp: int | None = 0
        self._up: bool | None = None
        self._requests: queue.SimpleQueue[tuple[str | None, Future[Identity]]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- from any thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the card-reader service is already running")
        self._thread = threading.Thread(target=self._run, name="card-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._context.cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def readers(self) -> dict[str, ReaderState]:
        """The readers as last seen (a copy)."""
        return dict(self._readers)

    def request_read(self, reader: str | None = None) -> Future[Identity]:
        """Read the card in `reader` (or the first reader holding one) on the service
        thread. The future fails with a `CardError` when that cannot be done."""
        future: Future[Identity] = Future()
        self._requests.put((reader, future))
        self._wake.set()
        self._context.cancel()
        return future

    # -- on the service thread -----------------------------------------------------------

    def _emit(self, kind: EventKind, reader: str | None = None, **details: Any) -> None:
        event = CardEvent(kind, reader, **details)
        log.info("card reader: %s", event.describe() if event.identity is None else kind.value)
        try:
            self._on_event(event)
        except Exception:
            log.exception("a card event listener failed")

    def _run(self) -> None:
        log.info("card-reader service started")
        while not self._stopping.is_set():
            try:
                if not self._context.open:
                    self._context.establish()
                self._turn()
                self._backoff.reset()
            except CardError as exc:
                self._lost(exc)
            except Exception as exc:  # never die: log, start over with a fresh context
                log.exception("card-reader service: unexpected failure")
                self._lost(CardError(f"unexpected failure: {type(exc).__name__}"))
        self._context.release()
        self._fail_requests(PcscdNotRunning("the card-reader service has stopped"))
        log.info("card-reader service stopped")

    def _lost(self, exc: CardError) -> None:
        """pcscd is gone or the context went stale: forget it all and try again later."""
        self._context.release()
        if self._up is not False:
            self._up = False
            self._emit(EventKind.SERVICE_DOWN, error=exc)
        for name in sorted(self._readers):
            self._forget(name)
        self._pnp = 0
        self._fail_requests(exc)
        self._wake.clear()
        self._wake.wait(self._backoff.next())

    def _forget(self, name: str) -> None:
        state = self._readers.pop(name)
        if state.slot in _HOLDING:
            self._emit(EventKind.CARD_REMOVED, name)
        self._emit(EventKind.READER_REMOVED, name)

    def _turn(self) -> None:
        names = self._context.list_readers()
        if self._up is not True:
            self._up = True
            self._emit(EventKind.SERVICE_UP)
        for name in sorted(set(self._readers) - set(names)):
            self._forget(name)
        for name in names:
            if name not in self._readers:
                self._readers[name] = ReaderState(name, Slot.EMPTY)  # raw 0: "unaware"
                self._emit(EventKind.READER_ADDED, name)
        if self._requests.empty():
            self._wake.clear()
            states, self._pnp = self._context.wait_for_change(
                self._readers, self._poll_interval, pnp=self._pnp
            )
        else:
            states, self._pnp = self._context.wait_for_change(self._readers, 0, pnp=self._pnp)
        for name, new in states.items():
            if name not in self._readers:
                continue
            old = self._readers[name]
            self._readers[name] = new
            # The high half of PC/SC's event state counts card events: a card swapped
            # for another between two looks shows up there.
            if (old.slot, old.atr, old.raw >> 16) == (new.slot, new.atr, new.raw >> 16):
                continue
            if old.slot in _HOLDING:
                self._emit(EventKind.CARD_REMOVED, name)
            if new.slot in _HOLDING:
                self._emit(EventKind.CARD_INSERTED, name, atr=new.atr)
                if self._auto_read:
                    self._read_and_report(name)
        self._serve_requests()

    def _read(self, reader: str | None) -> Identity:
        if reader is None:
            holding = [n for n, s in sorted(self._readers.items()) if s.slot in _HOLDING]
            if not holding:
                if not self._readers:
                    raise NoReader("no card reader is connected")
                raise NoCard("no reader holds a card")
            reader = holding[0]
        elif reader not in self._readers:
            raise NoReader(f"no reader named {reader!r}")
        return read_identity(self._context, reader, today=self._today())

    def _read_and_report(self, reader: str) -> None:
        try:
            identity = self._read(reader)
        except PcscdNotRunning:
            raise
        except CardError as exc:
            self._emit(EventKind.READ_FAILED, reader, error=exc)
        else:
            self._emit(EventKind.CARD_READ, reader, identity=identity)

    def _serve_requests(self) -> None:
        while True:
            try:
                reader, future = self._requests.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._read(reader))
            except PcscdNotRunning as exc:
                future.set_exception(exc)
                raise
            except CardError as exc:
                future.set_exception(exc)

    def _fail_requests(self, exc: CardError) -> None:
        while True:
            try:
                _, future = self._requests.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
