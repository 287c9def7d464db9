"""``VirtualCard``: plugs an emulated card into a vpcd reader slot over TCP.

vpcd (the pcscd driver of the Debian package vsmartcard-vpcd) listens on one TCP port
per slot; the card is the client. Card inserted = the socket is connected, card removed
= the socket is closed. Every message either way is a 2-byte big-endian length and a
payload. From vpcd, a 1-byte payload is a control command (00 power off, 01 power on,
02 reset - none answered - and 04 get ATR, answered with the ATR); anything longer is a
command APDU, answered with the response APDU. pcscd asks for the ATR on every presence
poll (about every 400 ms), so a removal is noticed within about half a second.

Speed matters: small exact-size recv() calls cost ~48 ms per APDU (Nagle and delayed
ACK), so the socket has TCP_NODELAY, TCP_QUICKACK is set before each recv(4096), messages
are split from a buffer and each answer goes out in one sendall(). An APDU round trip
through pcscd then takes well under a millisecond.

Failing in the middle of an answer, as a real reader reports it. vpcd treats a
connection that simply closes while it waits for an answer as an *empty* answer:
SCardTransmit then succeeds with 0 bytes. So where the card must fail a command it sends
the 2-byte length of an answer whose bytes never follow and resets the connection
(SO_LINGER 0); vpcd's read fails and SCardTransmit returns SCARD_E_NOT_TRANSACTED
(0x80100016), which is also what pcscd returns when a CCID reader reports an error.

- ``pull_after``: the card fails its pull_after-th APDU that way and stays out; pcscd
  reports the reader empty at its next poll.
- ``mute``: vpcd has no timeout, so a mute card would block SCardTransmit until it is
  removed. Instead, after ``mute_timeout`` seconds (default 8, a reader's timeout) the
  command fails as above and the card connects again at once: like a real mute card it
  stays in the reader, and every command fails the same way.

Only command headers, lengths and status words are logged, never data.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

from tests.cardsim.card import CardProfile, CardPulled, EmulatedCard, NoAnswer
from tests.cardsim.pcscd import DEFAULT_BASE_PORT, reader_name, wait_for_card

log = logging.getLogger(__name__)

CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04


class _Outcome(enum.Enum):
    CLOSED = "closed"  # removed by us, or vpcd closed the connection
    PULLED = "pulled"  # the card left mid-answer (pull_after)
    MUTE_TIMEOUT = "mute-timeout"  # a mute card failed a command; it reconnects


class VirtualCard:
    """An emulated card that can be inserted into and removed from a vpcd slot.

    ``reader`` is the PC/SC name of the slot, used to wait for pcscd to see the card
    come and go; by default it follows the default layout of ``PcscDaemon`` (port 40059
    is "Virtual PCD 00 00", 40060 "Virtual PCD 00 01", ...). Each ``insert()`` puts a
    fresh card from ``card_factory`` (an ``EmulatedCard`` by default) into the slot, as a
    physical card would be reset.
    """

    def __init__(
        self,
        profile: CardProfile,
        port: int = DEFAULT_BASE_PORT,
        *,
        host: str = "127.0.0.1",
        reader: str | None = None,
        mute_timeout: float = 8.0,
        card_factory: Callable[[CardProfile], EmulatedCard] = EmulatedCard,
    ) -> None:
        self.profile = profile
        self.card_factory = card_factory
        self.port = port
        self.host = host
        self.mute_timeout = mute_timeout
        slot = port - DEFAULT_BASE_PORT
        self.reader = reader if reader is not None else reader_name(slot) if slot >= 0 else None
        self.card: EmulatedCard | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pulled = threading.Event()
        self._closed_by_reader = threading.Event()
        self._mute_timeouts = 0
        self._reconnection: socket.socket | None = None

    # --- state --------------------------------------------------------------------------

    @property
    def inserted(self) -> bool:
        """True while the card is connected to vpcd (or a mute card is reconnecting)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def pulled(self) -> bool:
        """True when the card left the reader by itself (``pull_after`` reached)."""
        return self._pulled.is_set()

    @property
    def mute_timeouts(self) -> int:
        """How many commands a mute card has failed after ``mute_timeout``."""
        return self._mute_timeouts

    @property
    def closed_by_reader(self) -> bool:
        """True when vpcd closed the connection (pcscd stopped, say)."""
        return self._closed_by_reader.is_set()

    @property
    def apdu_count(self) -> int:
        """APDUs received since the last insert()."""
        return self.card.apdu_count if self.card else 0

    # --- insert / remove ----------------------------------------------------------------

    def insert(self, wait: bool = True, timeout: float = 10.0) -> None:
        """Connect to vpcd; with ``wait``, block until pcscd shows the card with its ATR.

        Retries the connection while the port refuses it (pcscd still starting).
        """
        if self.inserted:
            raise RuntimeError("the card is already inserted")
        deadline = time.monotonic() + timeout
        sock = self._connect(deadline)
        self.card = self.card_factory(self.profile)
        self._stop.clear()
        self._pulled.clear()
        self._closed_by_reader.clear()
        self._mute_timeouts = 0
        self._sock = sock
        self._thread = threading.Thread(
            target=self._run,
            args=(sock, self.card),
            name=f"virtual-card-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.debug("card %s inserted at port %d", self.profile.label, self.port)
        if wait and self.reader is not None:
            try:
                wait_for_card(
                    self.reader,
                    present=True,
                    atr=self.profile.atr,
                    timeout=max(0.1, deadline - time.monotonic()),
                )
            except BaseException:
                self.remove(wait=False)
                raise

    def remove(self, wait: bool = True, timeout: float = 10.0) -> None:
        """Close the socket (if still open); with ``wait``, block until the reader is empty.

        Safe to call twice, or after the card was pulled or vpcd closed the connection.
        """
        self._stop.set()
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the virtual card thread did not stop")
        self._thread = None
        log.debug("card %s removed from port %d", self.profile.label, self.port)
        if wait and self.reader is not None:
            wait_for_card(self.reader, present=False, timeout=timeout)

    def wait_present(self, timeout: float = 10.0) -> None:
        """Block until pcscd shows this card (its ATR) in the reader."""
        if self.reader is None:
            raise RuntimeError("no reader name to wait on")
        wait_for_card(self.reader, present=True, atr=self.profile.atr, timeout=timeout)

    def wait_empty(self, timeout: float = 10.0) -> None:
        """Block until pcscd shows the reader empty (after a pull, say)."""
        if self.reader is None:
            raise RuntimeError("no reader name to wait on")
        wait_for_card(self.reader, present=False, timeout=timeout)

    def __enter__(self) -> VirtualCard:
        self.insert()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    # --- the connection -----------------------------------------------------------------

    def _connect(self, deadline: float) -> socket.socket:
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except (ConnectionRefusedError, TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"vpcd does not accept on port {self.port}") from exc
                time.sleep(0.05)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    def _run(self, sock: socket.socket, card: EmulatedCard) -> None:
        """The card's thread: serve connections until the card is removed or pulled."""
        while True:
            outcome = self._serve(sock, card)
            if outcome is not _Outcome.MUTE_TIMEOUT or self._stop.is_set():
                return
            sock = self._reconnection
            self._reconnection = None
            if sock is None:
                log.warning("mute card could not reconnect to port %d", self.port)
                return
            with self._lock:
                if self._stop.is_set():
                    sock.close()
                    return
                self._sock = sock

    def _serve(self, sock: socket.socket, card: EmulatedCard) -> _Outcome:
        buffer = bytearray()
        try:
            while True:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    if not self._stop.is_set():
                        self._closed_by_reader.set()
                        log.info("vpcd closed the connection on port %d", self.port)
                    return _Outcome.CLOSED
                buffer += chunk
                while len(buffer) >= 2:
                    size = int.from_bytes(buffer[:2], "big")
                    if len(buffer) < 2 + size:
                        break
                    message = bytes(buffer[2 : 2 + size])
                    del buffer[: 2 + size]
                    outcome = self._handle(sock, card, message)
                    if outcome is not None:
                        return outcome
        finally:
            with self._lock:
                with contextlib.suppress(OSError):
                    sock.close()
                if self._sock is sock:
                    self._sock = None

    def _handle(self, sock: socket.socket, card: EmulatedCard, message: bytes) -> _Outcome | None:
        """Answer one message from vpcd; an outcome when this connection must end."""
        if len(message) == 1:
            control = message[0]
            if control == CTRL_ATR:
                return self._send(sock, card.atr)
            if control in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                card.reset()
            else:
                log.warning("unknown vpcd control byte %02X", control)
            return None
        if not message:
            return None
        header = message[:4].hex(" ").upper()
        try:
            response = card.respond(message)
        except CardPulled:
            self._pulled.set()  # before the broken answer: pcscd may report it at once
            self._fail_mid_answer(sock)
            log.info("card pulled at APDU %d (%s)", card.apdu_count, header)
            return _Outcome.PULLED
        except NoAnswer:
            log.debug("mute card: no answer to %s", header)
            if self._stop.wait(self.mute_timeout):
                return None  # removed meanwhile: the next recv sees the socket close
            # A mute card stays in the reader: its next connection waits in vpcd's queue
            # before this one is reset, so that pcscd's presence poll, however late this
            # thread runs on a busy machine, never finds the reader empty in between.
            try:
                self._reconnection = self._connect(time.monotonic() + 5.0)
            except (OSError, TimeoutError):
                self._reconnection = None
            self._fail_mid_answer(sock)
            self._mute_timeouts += 1
            log.info("mute card failed APDU %d after %.1f s", card.apdu_count, self.mute_timeout)
            return _Outcome.MUTE_TIMEOUT
        log.debug(
            "APDU %s (%d bytes) -> SW %s, %d data bytes",
            header,
            len(message),
            response[-2:].hex().upper(),
            len(response) - 2,
        )
        return self._send(sock, response)

    def _fail_mid_answer(self, sock: socket.socket) -> None:
        """Send an answer's length, never its bytes, and reset the connection."""
        with self._lock, contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"\x00\x02")
            sock.close()

    def _send(self, sock: socket.socket, payload: bytes) -> _Outcome | None:
        try:
            sock.sendall(len(payload).to_bytes(2, "big") + payload)
        except OSError:
            return _Outcome.CLOSED
        return None
