"""The card-reader service with a PC/SC context double, for what cannot happen here: a USB
reader pulled out (before or during a read), readers that come and go without pcscd
restarting, and a context that fails in ways pcscd rarely shows. The double has the same
interface as `PcscContext`; the real stack is in `test_card_reader.py`."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from kiosk.devices.card import pcsc
from kiosk.devices.card.errors import (
    CardMute,
    CardRemoved,
    NoCard,
    PcscdNotRunning,
    ReaderBusy,
    ReaderUnplugged,
)
from kiosk.devices.card.pcsc import ReaderState, Slot
from kiosk.devices.card.service import Backoff, CardEvent, CardReaderService, EventKind
from tests.cardsim.card import GEN2, EmulatedCard


class World:
    """Readers and the cards in them, changed by the test, seen by FakeContext."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.readers: dict[str, EmulatedCard | None] = {}
        self.service_up = True
        self.unplug_at: int | None = None  # the reader vanishes at this APDU
        self.version = 0

    def change(self, **kwargs: Any) -> None:
        with self.lock:
            for key, value in kwargs.items():
                setattr(self, key, value)
            self.version += 1
            self.lock.notify_all()

    def plug(self, name: str, card: EmulatedCard | None = None) -> None:
        with self.lock:
            self.readers[name] = card
            self.version += 1
            self.lock.notify_all()

    def unplug(self, name: str) -> None:
        with self.lock:
            self.readers.pop(name, None)
            self.version += 1
            self.lock.notify_all()


class FakeLink:
    def __init__(self, world: World, reader: str, card: EmulatedCard) -> None:
        self.world, self.reader, self.card = world, reader, card

    def transmit(self, apdu: bytes) -> bytes:
        world = self.world
        if world.unplug_at is not None and self.card.apdu_count + 1 >= world.unplug_at:
            world.unplug(self.reader)
            raise ReaderUnplugged("sending a command to the card: SCARD_E_READER_UNAVAILABLE")
        return self.card.respond(apdu)

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeContext:
    def __init__(self, world: World) -> None:
        self.world = world
        self.open = False
        self._seen = -1

    def establish(self) -> None:
        if not self.world.service_up:
            raise PcscdNotRunning("establishing a PC/SC context: SCARD_E_NO_SERVICE")
        self.open = True

    def release(self) -> None:
        self.open = False

    def cancel(self) -> None:
        with self.world.lock:
            self.world.version += 1
            self.world.lock.notify_all()

    def _check(self) -> None:
        if not self.world.service_up:
            raise PcscdNotRunning("SCARD_E_NO_SERVICE")

    def list_readers(self) -> list[str]:
        self._check()
        return sorted(self.world.readers)

    def wait_for_change(
        self, known: dict[str, ReaderState], timeout_s: float, *, pnp: int | None = None
    ) -> tuple[dict[str, ReaderState], int | None]:
        with self.world.lock:
            if self.world.version == self._seen:
                self.world.lock.wait(timeout_s)
            self._seen = self.world.version
            self._check()
            states = {}
            for name in known:
                if name not in self.world.readers:
                    states[name] = ReaderState(name, Slot.UNAVAILABLE)
                    continue
                card = self.world.readers[name]
                slot = Slot.EMPTY if card is None else Slot.CARD
                states[name] = ReaderState(name, slot, card.atr if card else b"", 0x20)
            return states, pnp

    def connect(self, reader: str) -> FakeLink:
        self._check()
        card = self.world.readers.get(reader)
        if card is None:
            raise NoCard("connecting to the card: SCARD_E_NO_SMARTCARD")
        return FakeLink(self.world, reader, card)


@pytest.fixture
def world() -> Any:
    built = World()
    events: queue.Queue[CardEvent] = queue.Queue()
    service = CardReaderService(
        events.put,
        poll_interval=0.05,
        backoff=Backoff(0.01, 0.05),
        context_factory=lambda: FakeContext(built),  # type: ignore[arg-type, return-value]
    )
    service.start()
    yield built, events, service
    service.stop()


def wait(events: queue.Queue[CardEvent], kind: EventKind, reader: str | None = None) -> CardEvent:
    seen = []
    while True:
        try:
            event = events.get(timeout=10)
        except queue.Empty:
            raise AssertionError(f"no {kind}; saw {seen}") from None
        seen.append(event.kind)
        if event.kind is kind and (reader is None or event.reader == reader):
            return event


def test_readers_plugged_in_and_out_are_reported(world: Any) -> None:
    built, events, service = world
    wait(events, EventKind.SERVICE_UP)
    built.plug("USB Reader A")
    wait(events, EventKind.READER_ADDED, "USB Reader A")
    built.plug("USB Reader B", EmulatedCard(GEN2))
    wait(events, EventKind.READER_ADDED, "USB Reader B")
    wait(events, EventKind.CARD_INSERTED, "USB Reader B")
    assert wait(events, EventKind.CARD_READ, "USB Reader B").identity.ssn == GEN2.ssn
    built.unplug("USB Reader B")
    wait(events, EventKind.CARD_REMOVED, "USB Reader B")
    wait(events, EventKind.READER_REMOVED, "USB Reader B")
    assert list(service.readers) == ["USB Reader A"]


def test_a_reader_unplugged_mid_read_is_reported_and_forgotten(world: Any) -> None:
    built, events, _ = world
    built.change(unplug_at=5)
    built.plug("USB Reader A", EmulatedCard(GEN2))
    failed = wait(events, EventKind.READ_FAILED, "USB Reader A")
    assert isinstance(failed.error, ReaderUnplugged)
    wait(events, EventKind.READER_REMOVED, "USB Reader A")
    built.change(unplug_at=None)
    built.plug("USB Reader A", EmulatedCard(GEN2))
    wait(events, EventKind.CARD_READ, "USB Reader A")


def test_the_service_outlives_pcscd_and_a_failing_listener(world: Any) -> None:
    built, events, _ = world
    built.plug("USB Reader A")
    wait(events, EventKind.READER_ADDED, "USB Reader A")
    built.change(service_up=False)
    down = wait(events, EventKind.SERVICE_DOWN)
    assert isinstance(down.error, PcscdNotRunning)
    wait(events, EventKind.READER_REMOVED, "USB Reader A")
    built.change(service_up=True)
    wait(events, EventKind.SERVICE_UP)
    wait(events, EventKind.READER_ADDED, "USB Reader A")


def test_an_event_listener_that_raises_does_not_stop_the_service() -> None:
    built = World()
    calls: list[EventKind] = []
    got_up = threading.Event()

    def listener(event: CardEvent) -> None:
        calls.append(event.kind)
        if event.kind is EventKind.CARD_READ:
            got_up.set()
        raise RuntimeError("a broken listener")

    service = CardReaderService(
        listener,
        poll_interval=0.05,
        context_factory=lambda: FakeContext(built),  # type: ignore[arg-type, return-value]
    )
    service.start()
    try:
        built.plug("USB Reader A", EmulatedCard(GEN2))
        assert got_up.wait(10)
    finally:
        service.stop()
    assert EventKind.READER_ADDED in calls


@pytest.mark.parametrize(
    ("code", "slot", "error"),
    [
        (pcsc.scard.SCARD_E_NOT_TRANSACTED, Slot.EMPTY, CardRemoved),
        (pcsc.scard.SCARD_F_COMM_ERROR, Slot.CARD, CardMute),
        (pcsc.scard.SCARD_W_REMOVED_CARD, Slot.CARD, CardRemoved),
        (pcsc.scard.SCARD_E_SHARING_VIOLATION, Slot.CARD, ReaderBusy),
        (pcsc.scard.SCARD_E_READER_UNAVAILABLE, None, ReaderUnplugged),
        (pcsc.scard.SCARD_F_COMM_ERROR, Slot.UNAVAILABLE, ReaderUnplugged),
    ],
)
def test_a_failed_transmit_is_named_by_the_readers_state_afterwards(
    monkeypatch: pytest.MonkeyPatch, code: int, slot: Slot | None, error: type[Exception]
) -> None:
    context = pcsc.PcscContext()
    state = None if slot is None else ReaderState("R", slot)
    monkeypatch.setattr(context, "state_of", lambda reader: state)
    monkeypatch.setattr(context, "wait_for_change", lambda known, timeout_s: (known, None))
    monkeypatch.setattr(pcsc.scard, "SCardTransmit", lambda *a: (code, [0x90, 0x00]))
    link = pcsc.CardLink(context, "R", card=1, protocol=2)
    with pytest.raises(error):
        link.transmit(b"\x00\xa4\x00\x00\x02\x3f\x00")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (pcsc.scard.SCARD_E_NO_SERVICE, PcscdNotRunning),
        (pcsc.scard.SCARD_W_UNRESPONSIVE_CARD, CardMute),
        (pcsc.scard.SCARD_E_NO_SMARTCARD, NoCard),
    ],
)
def test_pcsc_codes_become_named_errors(code: int, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        pcsc.raise_for(code, "doing something", reader="R")
    assert "0x" in str(raised.value)
