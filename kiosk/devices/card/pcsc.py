"""The real card-reader backend: PC/SC through pyscard's thin `smartcard.scard` layer.

`PcscContext` wraps one PC/SC context and is owned by one thread (the card-reader service
or a one-shot command); only `cancel()` may be called from elsewhere. Every PC/SC failure
becomes one of the named errors in `errors.py`; a failure that could mean several things
(a transmit that fails when the card is pulled, the reader unplugged, or the card falls
silent) is settled by looking at the reader's state afterwards.

pyscard's own `CardMonitor`/`ReaderMonitor` threads are not used: they die silently when
pcscd restarts. The service polls and diffs with `wait_for_change` instead, and treats a
stale context as normal (see `service.py`).

Responses are never trusted when PC/SC reports a failure: pyscard then hands back
whatever was in its buffer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from smartcard import scard

from kiosk.devices.card.errors import (
    CardError,
    CardMute,
    CardRemoved,
    NoCard,
    NoReader,
    PcscdNotRunning,
    ReaderBusy,
    ReaderUnplugged,
)

log = logging.getLogger(__name__)

PNP_READER = "\\\\?PnP?\\Notification"
#: How long a failed command waits for the reader to report the card gone.
REMOVAL_GRACE_S = 1.0


def _u32(code: int) -> int:
    return code & 0xFFFFFFFF


_SERVICE_GONE = {_u32(c) for c in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED,
                                   scard.SCARD_E_INVALID_HANDLE)}  # fmt: skip
_READER_GONE = {_u32(c) for c in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE)}
_NO_CARD = {_u32(c) for c in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD)}
_MUTE = {_u32(c) for c in (scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_W_UNPOWERED_CARD,
                           scard.SCARD_E_PROTO_MISMATCH, scard.SCARD_W_UNSUPPORTED_CARD)}
_TIMEOUT = _u32(scard.SCARD_E_TIMEOUT)
_CANCELLED = _u32(scard.SCARD_E_CANCELLED)
_NO_READERS = _u32(scard.SCARD_E_NO_READERS_AVAILABLE)
_SHARING = _u32(scard.SCARD_E_SHARING_VIOLATION)


class Slot(StrEnum):
    """What a reader's slot holds, as PC/SC sees it."""

    EMPTY = "empty"
    CARD = "card"  # a card that answered the reset (it has an ATR)
    MUTE = "mute"  # a card that did not: upside down, dirty or broken
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ReaderState:
    name: str
    slot: Slot
    atr: bytes = b""
    #: PC/SC's event state word, handed back on the next wait to learn only of changes.
    raw: int = 0


_RESULT_PREFIXES = ("SCARD_E_", "SCARD_W_", "SCARD_F_")


def describe(code: int) -> str:
    """PC/SC's name for a result code, for staff messages and logs."""
    code = _u32(code)
    for name in dir(scard):
        if name.startswith(_RESULT_PREFIXES) and _u32(getattr(scard, name)) == code:
            return f"{name} (0x{code:08X})"
    return f"0x{code:08X}"


def raise_for(code: int, doing: str, *, reader: str | None = None) -> None:
    """Raise the named error for a failed PC/SC call; return on success."""
    code = _u32(code)
    if code == 0:
        return
    what = f"{doing}: {describe(code)}"
    if code in _SERVICE_GONE:
        raise PcscdNotRunning(what)
    if code == _NO_READERS:
        raise NoReader(what)
    if code in _READER_GONE:
        raise ReaderUnplugged(what) if reader else NoReader(what)
    if code in _NO_CARD:
        raise NoCard(what)
    if code in _MUTE:
        raise CardMute(what)
    if code == _SHARING:
        raise ReaderBusy(what)
    raise CardError(what)


def _slot(event_state: int) -> Slot:
    if event_state & (scard.SCARD_STATE_UNAVAILABLE | scard.SCARD_STATE_UNKNOWN):
        return Slot.UNAVAILABLE
    if event_state & scard.SCARD_STATE_MUTE:
        return Slot.MUTE
    if event_state & scard.SCARD_STATE_PRESENT:
        return Slot.CARD
    return Slot.EMPTY


class PcscContext:
    """One PC/SC context. Not thread-safe, except for `cancel()`."""

    def __init__(self) -> None:
        self._handle: int | None = None
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self._handle is not None

    def establish(self) -> None:
        try:
            code, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        except SystemError as exc:  # pyscard reports some failures this way
            raise PcscdNotRunning(f"establishing a PC/SC context: {exc}") from None
        raise_for(code, "establishing a PC/SC context")
        with self._lock:
            self._handle = handle

    def release(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(SystemError):  # a context pcscd already forgot
                scard.SCardReleaseContext(handle)

    def cancel(self) -> None:
        """Wake a `wait_for_change` blocked in another thread."""
        with self._lock:
            if self._handle is not None:
                with contextlib.suppress(SystemError):
                    scard.SCardCancel(self._handle)

    def _context(self) -> int:
        if self._handle is None:
            raise PcscdNotRunning("no PC/SC context is open")
        return self._handle

    def list_readers(self) -> list[str]:
        try:
            code, readers = scard.SCardListReaders(self._context(), [])
        except SystemError as exc:
            raise PcscdNotRunning(f"listing readers: {exc}") from None
        if _u32(code) == _NO_READERS:
            return []
        raise_for(code, "listing readers")
        return list(readers)

    def wait_for_change(
        self, known: dict[str, ReaderState], timeout_s: float, *, pnp: int | None = None
    ) -> tuple[dict[str, ReaderState], int | None]:
        """Block until a reader in `known` changes, the list of readers changes (when
        `pnp` is given: the last PnP state, 0 at first), `cancel()` is called, or
        `timeout_s` passes. Returns the readers' states and the new PnP state."""
        query = [(name, state.raw & ~scard.SCARD_STATE_CHANGED) for name, state in known.items()]
        if pnp is not None:
            query.append((PNP_READER, pnp))
        code, results = scard.SCardGetStatusChange(
            self._context(), max(0, int(timeout_s * 1000)), query
        )
        code = _u32(code)
        if code in (_TIMEOUT, _CANCELLED):
            return dict(known), pnp
        if code in _READER_GONE and pnp is not None:
            # This pcscd lacks PnP notification: poll without it.
            return self.wait_for_change(known, timeout_s, pnp=None)
        raise_for(code, "waiting for reader changes", reader="")
        states = dict(known)
        new_pnp = pnp
        for name, event_state, atr in results:
            if name == PNP_READER:
                new_pnp = event_state & ~scard.SCARD_STATE_CHANGED
                continue
            states[name] = ReaderState(name, _slot(event_state), bytes(atr), event_state)
        return states, new_pnp

    def state_of(self, reader: str) -> ReaderState | None:
        """The reader's state now, or None when it is gone."""
        try:
            code, results = scard.SCardGetStatusChange(
                self._context(), 0, [(reader, scard.SCARD_STATE_UNAWARE)]
            )
        except SystemError:
            return None
        code = _u32(code)
        if code in _READER_GONE:
            return None
        raise_for(code, "reading a reader's state", reader=reader)
        _, event_state, atr = results[0]
        return ReaderState(reader, _slot(event_state), bytes(atr), event_state)

    def connect(self, reader: str) -> CardLink:
        try:
            code, card, protocol = scard.SCardConnect(
                self._context(),
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
        except SystemError as exc:
            raise CardMute(f"connecting to the card: {exc}") from None
        raise_for(code, "connecting to the card", reader=reader)
        link = CardLink(self, reader, card, protocol)
        link.begin()
        return link


class CardLink:
    """A connection to the card in one reader, inside a PC/SC transaction."""

    def __init__(self, context: PcscContext, reader: str, card: int, protocol: int) -> None:
        self._context = context
        self.reader = reader
        self._card = card
        self._protocol = protocol
        self._closed = False

    def begin(self) -> None:
        code = scard.SCardBeginTransaction(self._card)
        if _u32(code):
            self._fail(code, "starting a transaction")

    def transmit(self, apdu: bytes) -> bytes:
        try:
            code, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        except SystemError:
            code, response = scard.SCARD_F_COMM_ERROR, []
        if _u32(code):
            self._fail(code, "sending a command to the card")
        return bytes(response)

    def _fail(self, code: int, doing: str) -> None:
        """Raise what a failed call on the card means, judged by the reader's state now."""
        what = f"{doing}: {describe(code)}"
        state = self._context.state_of(self.reader)
        if state is not None and state.slot in (Slot.CARD, Slot.MUTE):
            # A card pulled mid-command and a card that fell silent fail alike; the reader
            # tells them apart once it notices the slot is empty, which takes a reader
            # that polls (pcscd polls some every 400 ms) a moment. What the slot holds
            # at the end of that moment decides.
            deadline = time.monotonic() + REMOVAL_GRACE_S
            while state is not None and (left := deadline - time.monotonic()) > 0:
                states, _ = self._context.wait_for_change({self.reader: state}, left)
                state = states.get(self.reader)
        if state is None or state.slot is Slot.UNAVAILABLE:
            raise ReaderUnplugged(what)
        if state.slot is Slot.EMPTY:
            raise CardRemoved(what)
        if _u32(code) in _NO_CARD:
            # The card was out for a moment (pulled and pushed back in): still removed.
            raise CardRemoved(what)
        if _u32(code) == _SHARING:
            raise ReaderBusy(what)
        # The card is still there but stopped answering (or never did).
        raise CardMute(what)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
        except SystemError:
            pass

    def __enter__(self) -> CardLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
