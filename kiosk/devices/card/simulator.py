"""The simulated card reader for the demo and the interface tests
(`devices.card_reader = "simulator"`).

A card being pushed into a slot cannot happen on a machine without one, so this stands
in for the reader *and* the card: it reports the same `CardEvent`s as
`CardReaderService` (kiosk.devices.card.service), from a thread of its own, when told to
`insert` a card (one that reads as an identity, or one that fails with any `CardError`:
upside down, not a social security card, expired, taken out too early) and `remove` it.
The card protocol itself is tested against an emulated card over real pcscd; this only
plays the events.

The sample cardholder is made up (a valid check digit, nobody's number).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from kiosk.core.identity import Identity, Sex
from kiosk.devices.card.errors import CardError, CardExpired, NoCard
from kiosk.devices.card.service import CardEvent, EventKind

log = logging.getLogger(__name__)

READER = "Simulated card reader 00 00"


def sample_identity() -> Identity:
    """The demo's cardholder: 张三丰, born 1950 (made up)."""
    return Identity(
        card_number="B00000001",
        card_id="310100D15600000500A1B2C3D4E5F601",
        spec_version="3.00",
        issue_date=dt.date(2021, 3, 1),
        expiry_date=dt.date(2031, 3, 1),
        ssn="310101195001011236",
        name="张三丰",
        sex=Sex.from_code("1"),
        ethnicity="01",
        birthplace="310101",
        birth_date=dt.date(1950, 1, 1),
    )


class SimulatedCardReader:
    """Plays card events on its own thread, like the real service."""

    def __init__(
        self,
        on_event: Callable[[CardEvent], None],
        *,
        read_delay_s: float = 0.4,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._on_event = on_event
        self._read_delay_s = read_delay_s
        self._today = today
        self._commands: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._card: Identity | CardError | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the simulated card reader is already running")
        self._thread = threading.Thread(target=self._run, name="card-reader-sim", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._commands.put(("stop", None))
        if self._thread is not None:
            self._thread.join(timeout)

    def insert(self, card: Identity | CardError | None = None) -> None:
        """Put a card in: the sample identity by default, or one that fails with `card`."""
        self._commands.put(("insert", card if card is not None else sample_identity()))

    def remove(self) -> None:
        self._commands.put(("remove", None))

    def request_read(self, reader: str | None = None) -> Future[Identity]:
        """Read the card in the reader again (as the real service does on request)."""
        future: Future[Identity] = Future()
        self._commands.put(("read", future))
        return future

    def _emit(self, kind: EventKind, **details: object) -> None:
        try:
            self._on_event(CardEvent(kind, READER, **details))  # type: ignore[arg-type]
        except Exception:
            log.exception("a card event listener failed")

    def _read(self) -> Identity:
        card = self._card
        if card is None:
            raise NoCard("the simulated reader is empty")
        if isinstance(card, CardError):
            raise card
        if card.expired(self._today()):
            raise CardExpired("the simulated card has expired")
        return card

    def _run(self) -> None:
        self._emit(EventKind.SERVICE_UP)
        self._emit(EventKind.READER_ADDED)
        while True:
            command, argument = self._commands.get()
            if command == "stop":
                return
            if command == "insert":
                if self._card is not None:
                    self._emit(EventKind.CARD_REMOVED)
                self._card = argument  # type: ignore[assignment]
                self._emit(EventKind.CARD_INSERTED, atr=bytes.fromhex("3B6800000073C84013009000"))
                threading.Event().wait(self._read_delay_s)
                try:
                    self._emit(EventKind.CARD_READ, identity=self._read())
                except CardError as error:
                    self._emit(EventKind.READ_FAILED, error=error)
            elif command == "remove":
                if self._card is not None:
                    self._card = None
                    self._emit(EventKind.CARD_REMOVED)
            elif command == "read":
                future = argument
                assert isinstance(future, Future)
                try:
                    future.set_result(self._read())
                except CardError as error:
                    future.set_exception(error)
