"""The scanner gun (扫描枪) of the station's kit: a USB keyboard wedge, so a code it reads
arrives as a burst of key presses, far faster than anyone types, ended by Enter.

`BurstDetector` tells such a burst from typing by timing alone. `ScannerGun` is the
service: key presses in (from the kiosk window's key events, through the Qt event filter
in `kiosk.ui.scanner`, or from `SimulatedScanner`), and out through callbacks a
`Voucher` for each burst that is one, or the error saying why a burst is not.

The thresholds, and why:

- `MAX_KEY_GAP_S` (35 ms): every gap between two keys of a burst, and between its last
  character and the Enter, is at most this. A wedge sends a character every 1-16 ms (a
  press and a release report each, at a USB poll interval of 1-8 ms; Bluetooth guns and
  guns set to a slower "inter-character delay" reach 20-30 ms). People type with gaps of
  80-300 ms (elderly residents slower still); a practised typist rolls a pair of keys
  faster than 35 ms now and then, but never a run of them.
- `MIN_LENGTH` (6 characters): a shorter burst is not a scan, so a pair or a triple of
  keys struck at once (a rolled pair, a palm on two keys) followed by a quick Enter is
  typing. The shortest code we expect is far longer (a voucher has 28 digits).
- `MAX_LENGTH` (1024 characters): a burst longer than this (a gun stuck in continuous
  mode, a code we never expect) is not kept whole; its Enter yields a truncated result
  that `ScannerGun` reports as `ScanTooLong`, so memory stays bounded.

A gap that is negative (the event clock wrapped or jumped back) counts as slow: it ends
the burst. Any key other than a printable character or Enter (Backspace, Tab, arrows,
an auto-repeated key) ends it too; modifier keys (the Shift a gun presses for capitals)
are not keys to this module and are simply not fed.

`BurstDetector` is plain state and not thread-safe; `ScannerGun` guards it with a lock so
keys may come from the Qt main thread and a simulator's thread alike. Callbacks run on
the thread that fed the Enter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TypeVar

from kiosk.core.voucher import Voucher, parse_voucher
from kiosk.errors import DoorstepError

logger = logging.getLogger(__name__)

MAX_KEY_GAP_S = 0.035
MIN_LENGTH = 6
MAX_LENGTH = 1024
#: The simulator's gap between keys: a wired gun at a 2 ms poll interval.
SIMULATED_KEY_GAP_S = 0.004


class Key(Enum):
    """The keys that are not characters."""

    #: Return or Enter: ends a burst.
    ENTER = "enter"
    #: Any other key that is not a modifier (Backspace, Tab, arrows, a repeated key):
    #: breaks a burst.
    OTHER = "other"


class ScanTooLong(DoorstepError):
    """The scanner sent more characters than any code the kiosk takes."""

    resident_zh = "这个码无法识别，请出示医保电子凭证二维码。"
    resident_en = "This code cannot be read. Please show your medical insurance e-voucher QR code."
    action = "Check the scanner gun's settings: it should send one code per scan, ended by Enter."


@dataclass(frozen=True, repr=False)
class ScanResult:
    """What a burst typed, between its first character and its Enter. `truncated`: the
    burst was longer than the detector keeps, and `text` is only its beginning."""

    text: str
    started_s: float
    ended_s: float
    truncated: bool = False

    def __repr__(self) -> str:
        # The text may be a token (a voucher code): only its length is shown.
        cut = ", truncated" if self.truncated else ""
        return f"ScanResult({len(self.text)} characters{cut})"

    __str__ = __repr__


class BurstDetector:
    """Tells a scanner's burst from typing by the time between keys (see the module's
    docstring for the thresholds). Feed it every key press with its timestamp in seconds,
    from any clock that only goes forward."""

    def __init__(
        self,
        *,
        max_gap_s: float = MAX_KEY_GAP_S,
        min_length: int = MIN_LENGTH,
        max_length: int = MAX_LENGTH,
    ) -> None:
        if not max_gap_s > 0:
            raise ValueError("max_gap_s must be positive")
        if min_length < 3:
            raise ValueError("min_length must be at least 3, or a rolled pair of keys is a scan")
        if max_length < min_length:
            raise ValueError("max_length must be at least min_length")
        self.max_gap_s = max_gap_s
        self.min_length = min_length
        self.max_length = max_length
        self._chars: list[str] = []
        self._count = 0
        self._started_s = 0.0
        self._last_s: float | None = None

    @property
    def pending(self) -> int:
        """How many characters the burst under way has had so far (0: none under way).
        1 means the last key fed started a new one."""
        return self._count

    def reset(self) -> None:
        """Forget the burst under way."""
        self._chars.clear()
        self._count = 0
        self._last_s = None

    def feed(self, key: str | Key, timestamp_s: float) -> ScanResult | None:
        """Take one key press: a one-character string or a `Key`. Returns the burst's
        result when this key is the Enter that ends a scan, else None. A string that is
        not one printable character counts as `Key.OTHER`."""
        in_time = self._last_s is not None and 0 <= timestamp_s - self._last_s <= self.max_gap_s
        if key is Key.ENTER:
            result = None
            if in_time and self._count >= self.min_length:
                result = ScanResult(
                    "".join(self._chars),
                    self._started_s,
                    timestamp_s,
                    truncated=self._count > len(self._chars),
                )
            self.reset()
            return result
        if key is Key.OTHER or len(key) != 1 or not key.isprintable():
            self.reset()
            return None
        if not in_time:
            self.reset()
            self._started_s = timestamp_s
        if self._count < self.max_length:
            self._chars.append(key)
        self._count += 1
        self._last_s = timestamp_s
        return None


ScanCallback = Callable[[Voucher], None]
ErrorCallback = Callable[[DoorstepError], None]
C = TypeVar("C", ScanCallback, ErrorCallback)


class ScannerGun:
    """The scanner gun service. Keys go in through `feed`; each burst that is a voucher
    goes out to the `on_scan` callbacks, and each that is not, as the error saying why
    (`VoucherInvalid`, `ScanTooLong`), to the `on_error` callbacks — never raised.

    `parse` turns a burst's text into a voucher (by default `parse_voucher` with source
    "scanner"). Callbacks run in the order they were added; an exception a callback
    raises is a program error and is not caught.
    """

    def __init__(
        self,
        *,
        parse: Callable[[str], Voucher] | None = None,
        detector: BurstDetector | None = None,
    ) -> None:
        self._parse = parse or partial(parse_voucher, source="scanner")
        self._detector = detector or BurstDetector()
        self._lock = threading.Lock()
        self._scan_callbacks: list[ScanCallback] = []
        self._error_callbacks: list[ErrorCallback] = []

    def on_scan(self, callback: ScanCallback) -> Callable[[], None]:
        """Call `callback` with every voucher scanned; returns a function that stops it."""
        return self._subscribe(self._scan_callbacks, callback)

    def on_error(self, callback: ErrorCallback) -> Callable[[], None]:
        """Call `callback` with the error of every burst that is not a voucher; returns a
        function that stops it."""
        return self._subscribe(self._error_callbacks, callback)

    @property
    def pending(self) -> int:
        """How many characters the burst under way has had (see `BurstDetector.pending`)."""
        with self._lock:
            return self._detector.pending

    def feed(self, key: str | Key, timestamp_s: float) -> ScanResult | None:
        """Take one key press; when it ends a scan, deliver the scan and return its result."""
        result = self.detect(key, timestamp_s)
        if result is not None:
            self.deliver(result)
        return result

    def detect(self, key: str | Key, timestamp_s: float) -> ScanResult | None:
        """Take one key press and say whether it ended a scan, without delivering it: for
        a key source that has something to do first (the Qt filter takes the burst back
        out of the line edit it went to)."""
        with self._lock:
            return self._detector.feed(key, timestamp_s)

    def deliver(self, result: ScanResult) -> None:
        """Parse a scan and hand the voucher, or the error, to the callbacks."""
        if result.truncated:
            error: DoorstepError = ScanTooLong(
                f"the scanner sent more than {len(result.text)} characters in one burst"
            )
        else:
            try:
                voucher = self._parse(result.text)
            except DoorstepError as exc:
                error = exc
            else:
                logger.info("voucher scanned: %s", voucher)
                for on_scan in self._callbacks(self._scan_callbacks):
                    on_scan(voucher)
                return
        logger.warning("a scan was refused: %s", error.staff_message)
        for on_error in self._callbacks(self._error_callbacks):
            on_error(error)

    def _subscribe(self, callbacks: list[C], callback: C) -> Callable[[], None]:
        with self._lock:
            callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def _callbacks(self, callbacks: list[C]) -> list[C]:
        with self._lock:
            return list(callbacks)


class SimulatedScanner:
    """Stands in for a real gun (for the demo and the tests): types a code into a
    `ScannerGun` as a wedge would, a key every `key_gap_s` and then Enter, on timestamps
    it makes up from `clock` — nothing waits."""

    def __init__(
        self,
        gun: ScannerGun,
        *,
        key_gap_s: float = SIMULATED_KEY_GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if key_gap_s < 0:
            raise ValueError("key_gap_s must not be negative")
        self.gun = gun
        self.key_gap_s = key_gap_s
        self._clock = clock

    def scan(self, code: str, *, at_s: float | None = None) -> ScanResult | None:
        """Type `code` and Enter, the first key at `at_s` (default: now by the clock).
        Returns what the gun made of the Enter; the gun's callbacks have run."""
        timestamp_s = self._clock() if at_s is None else at_s
        for char in code:
            self.gun.feed(char, timestamp_s)
            timestamp_s += self.key_gap_s
        return self.gun.feed(Key.ENTER, timestamp_s)
