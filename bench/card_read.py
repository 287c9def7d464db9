"""Card reading speed over the real stack: pyscard → pcscd → vpcd → an emulated card.

Two figures, each the median of RUNS cards inserted one after another, ours and the floor
taking turns in blocks of ten so both see the same machine:

- `card_read`: from the moment PC/SC reports the card to the identity in hand. Ours is the
  card-reader service (the kiosk's own path: its event, connect, transaction, the SSSE
  protocol with checks, the identity, the expiry check, the event). The floor is a bare
  pyscard loop that waits for the same report, connects and sends the very APDUs our read
  sent, with no checks.
- `card_insert_to_identity`: from the card touching the reader (the virtual card's socket
  connecting) to the identity. It includes pcscd's own presence poll (up to ~400 ms for
  vpcd), which neither side controls, so the ratio mostly shows that we add nothing.

Needs root (it starts a private pcscd, stopping any other) and Debian's pcscd and
vsmartcard-vpcd.
"""

from __future__ import annotations

import queue
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smartcard import scard

from bench.common import report
from kiosk.devices.card.service import CardEvent, CardReaderService, EventKind
from tests.cardsim.card import GEN2
from tests.cardsim.pcscd import PcscDaemon
from tests.cardsim.vpcd import VirtualCard

RUNS = 60


def ours_once(
    slot: VirtualCard, events: queue.Queue[tuple[float, CardEvent]]
) -> tuple[float, float, list[bytes]]:
    inserted = time.monotonic()
    slot.insert(wait=False)
    seen_at = read_at = None
    while read_at is None:
        at, event = events.get(timeout=30)
        if event.kind is EventKind.CARD_INSERTED:
            seen_at = event.at
        elif event.kind is EventKind.CARD_READ:
            read_at = at
        elif event.kind is EventKind.READ_FAILED:
            raise RuntimeError(f"the read failed: {event.error!r}")
    assert seen_at is not None and slot.card is not None
    commands = list(slot.card.commands)
    slot.remove(wait=True)
    while events.get(timeout=30)[1].kind is not EventKind.CARD_REMOVED:
        pass
    return read_at - seen_at, read_at - inserted, commands


def floor_once(slot: VirtualCard, reader: str, apdus: list[bytes]) -> tuple[float, float]:
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        _, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        state = states[0][1] & ~scard.SCARD_STATE_CHANGED
        inserted = time.monotonic()
        slot.insert(wait=False)
        while not state & scard.SCARD_STATE_PRESENT:
            _, states = scard.SCardGetStatusChange(context, 30_000, [(reader, state)])
            state = states[0][1] & ~scard.SCARD_STATE_CHANGED
        seen_at = time.monotonic()
        _, card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )  # fmt: skip
        for apdu in apdus:
            code, _response = scard.SCardTransmit(card, protocol, list(apdu))
            if code:
                raise RuntimeError(f"the floor's APDU failed: {code:#x}")
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        done = time.monotonic()
    finally:
        scard.SCardReleaseContext(context)
    slot.remove(wait=True)
    return done - seen_at, done - inserted


BLOCK = 10


def ours_block(slot: VirtualCard, runs: int, read: list[float], total: list[float]) -> list[bytes]:
    """Start the service, time `runs` cards, stop it (so the floor has the reader alone)."""
    events: queue.Queue[tuple[float, CardEvent]] = queue.Queue()
    service = CardReaderService(lambda e: events.put((time.monotonic(), e)), poll_interval=5)
    service.start()
    try:
        while events.get(timeout=30)[1].kind is not EventKind.READER_ADDED:
            pass
        commands: list[bytes] = []
        for _ in range(runs):
            one_read, one_total, commands = ours_once(slot, events)
            read.append(one_read)
            total.append(one_total)
        return commands
    finally:
        service.stop()


def main() -> None:
    daemon = PcscDaemon()
    daemon.start()
    try:
        reader = daemon.reader(0)
        slot = VirtualCard(GEN2, port=daemon.port(0), reader=reader)
        apdus = ours_block(slot, 1, [], [])  # warm up, and learn the APDUs to replay
        floor_once(slot, reader, apdus)
        ours_read: list[float] = []
        ours_total: list[float] = []
        floor_read: list[float] = []
        floor_total: list[float] = []
        for _ in range(RUNS // BLOCK):  # in turns, so both see the same machine
            ours_block(slot, BLOCK, ours_read, ours_total)
            for _ in range(BLOCK):
                one_read, one_total = floor_once(slot, reader, apdus)
                floor_read.append(one_read)
                floor_total.append(one_total)
    finally:
        daemon.stop()
    ms = 1000
    report(
        "card_read",
        statistics.median(ours_read) * ms,
        statistics.median(floor_read) * ms,
        "ms",
        f"within 1.3x the bare pyscard loop ({len(apdus)} APDUs, median of {RUNS})",
    )
    report(
        "card_insert_to_identity",
        statistics.median(ours_total) * ms,
        statistics.median(floor_total) * ms,
        "ms",
        f"within 1.3x; includes pcscd's presence poll (median of {RUNS})",
    )


if __name__ == "__main__":
    main()
