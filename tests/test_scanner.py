"""The scanner gun: a burst of keys ended by Enter is a scan, typing is not, told apart on
timestamps the tests choose; the gun service hands out vouchers and errors, never raises,
and logs no code; the simulator drives it end to end."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.voucher import Voucher, VoucherInvalid, parse_voucher
from kiosk.devices.scanner import (
    MAX_KEY_GAP_S,
    MIN_LENGTH,
    BurstDetector,
    Key,
    ScannerGun,
    ScanResult,
    ScanTooLong,
    SimulatedScanner,
)
from kiosk.errors import DoorstepError

CODE = "4243754826492874240001130000"
WHEN = dt.datetime(2025, 3, 1, 2, 30, tzinfo=dt.UTC)

Press = tuple[str | Key, float]


def keys(text: str, *, start_ms: int, gap_ms: int, enter_gap_ms: int | None = None) -> list[Press]:
    """`text` typed from `start_ms` with `gap_ms` between keys, then Enter after
    `enter_gap_ms` (default `gap_ms`). Timestamps are whole milliseconds, in seconds."""
    presses: list[Press] = [(char, (start_ms + i * gap_ms) / 1000) for i, char in enumerate(text)]
    last_ms = start_ms + (len(text) - 1) * gap_ms
    presses.append(
        (Key.ENTER, (last_ms + (gap_ms if enter_gap_ms is None else enter_gap_ms)) / 1000)
    )
    return presses


def feed(detector: BurstDetector, presses: Iterable[Press]) -> list[ScanResult]:
    results = []
    for key, timestamp_s in presses:
        result = detector.feed(key, timestamp_s)
        if result is not None:
            results.append(result)
    return results


def texts(results: Sequence[ScanResult]) -> list[str]:
    return [result.text for result in results]


# The detector


def test_a_scanner_burst_is_a_scan() -> None:
    results = feed(BurstDetector(), keys(CODE, start_ms=1000, gap_ms=4))
    assert texts(results) == [CODE]
    assert results[0].started_s == 1.0
    assert results[0].ended_s == pytest.approx(1.0 + 28 * 0.004)
    assert not results[0].truncated


def test_a_scan_result_does_not_show_its_text() -> None:
    (result,) = feed(BurstDetector(), keys(CODE, start_ms=0, gap_ms=2))
    assert CODE not in repr(result)
    assert CODE not in str(result)
    assert "28 characters" in repr(result)


@pytest.mark.parametrize("gap_ms", [80, 120, 200, 300])
def test_typing_that_ends_in_enter_is_not_a_scan(gap_ms: int) -> None:
    assert feed(BurstDetector(), keys(CODE, start_ms=0, gap_ms=gap_ms)) == []


def test_a_fast_burst_with_a_late_enter_is_not_a_scan() -> None:
    detector = BurstDetector()
    assert feed(detector, keys(CODE, start_ms=0, gap_ms=4, enter_gap_ms=60)) == []
    assert detector.pending == 0


def test_a_slow_key_in_the_middle_starts_the_burst_again() -> None:
    detector = BurstDetector()
    presses = keys("ABCDEFGH", start_ms=0, gap_ms=4)[:-1] + keys("12345678", start_ms=200, gap_ms=4)
    assert texts(feed(detector, presses)) == ["12345678"]


def test_a_slow_key_leaving_too_short_a_burst_is_not_a_scan() -> None:
    presses = keys("ABCDEFGH", start_ms=0, gap_ms=4)[:-1] + keys("123", start_ms=200, gap_ms=4)
    assert feed(BurstDetector(), presses) == []


def test_a_fast_pair_then_a_quick_enter_is_not_a_scan() -> None:
    presses = [("a", 0.0), ("s", 0.150), ("d", 0.160), (Key.ENTER, 0.170)]
    assert feed(BurstDetector(), presses) == []


def test_the_minimum_length() -> None:
    assert feed(BurstDetector(), keys("1" * (MIN_LENGTH - 1), start_ms=0, gap_ms=3)) == []
    assert texts(feed(BurstDetector(), keys("1" * MIN_LENGTH, start_ms=0, gap_ms=3))) == [
        "1" * MIN_LENGTH
    ]


def test_the_gap_threshold() -> None:
    threshold_ms = round(MAX_KEY_GAP_S * 1000)
    below = keys(CODE, start_ms=5000, gap_ms=threshold_ms - 1)
    above = keys(CODE, start_ms=5000, gap_ms=threshold_ms + 1)
    assert texts(feed(BurstDetector(), below)) == [CODE]
    assert feed(BurstDetector(), above) == []


def test_keys_in_the_same_millisecond_are_fast() -> None:
    assert texts(feed(BurstDetector(), keys(CODE, start_ms=7, gap_ms=0))) == [CODE]


@pytest.mark.parametrize("breaker", [Key.OTHER, "\b", "\t", "ab", ""])
def test_any_other_key_breaks_the_burst(breaker: str | Key) -> None:
    presses = keys(CODE, start_ms=0, gap_ms=4)
    presses.insert(20, (breaker, presses[19][1]))
    # What came before the breaker is forgotten; what follows is a burst of its own.
    assert texts(feed(BurstDetector(), presses)) == [CODE[20:]]
    presses = keys(CODE, start_ms=0, gap_ms=4)
    presses.insert(24, (breaker, presses[23][1]))
    assert feed(BurstDetector(), presses) == []


def test_a_clock_that_goes_back_breaks_the_burst() -> None:
    presses = keys(CODE, start_ms=1000, gap_ms=4)
    presses[20:] = [(key, timestamp_s - 1.0) for key, timestamp_s in presses[20:]]
    assert texts(feed(BurstDetector(), presses)) == [CODE[20:]]
    presses = keys(CODE, start_ms=1000, gap_ms=4)
    presses[24:] = [(key, timestamp_s - 1.0) for key, timestamp_s in presses[24:]]
    assert feed(BurstDetector(), presses) == []


def test_pending_counts_the_burst_under_way() -> None:
    detector = BurstDetector()
    assert detector.pending == 0
    detector.feed("4", 0.0)
    detector.feed("2", 0.004)
    assert detector.pending == 2
    detector.feed("4", 0.5)
    assert detector.pending == 1
    detector.feed(Key.ENTER, 0.504)
    assert detector.pending == 0


def test_an_overlong_burst_is_kept_only_in_part() -> None:
    detector = BurstDetector(max_length=40)
    (result,) = feed(detector, keys("7" * 100, start_ms=0, gap_ms=2))
    assert result.truncated
    assert result.text == "7" * 40


@pytest.mark.parametrize(
    "settings",
    [{"max_gap_s": 0}, {"min_length": 2}, {"min_length": 10, "max_length": 9}],
)
def test_settings_that_would_take_typing_for_a_scan_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        BurstDetector(**settings)


printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@st.composite
def human_typing(draw: st.DrawFn) -> list[Press]:
    """A person typing: 80-300 ms between keys, now and then one fast pair (a rolled
    key, 0-35 ms), then Enter at any speed."""
    chars = draw(st.lists(printable, min_size=0, max_size=40))
    presses: list[Press] = []
    now_ms = draw(st.integers(0, 10**9))
    previous_fast = True
    for char in chars:
        fast = not previous_fast and draw(st.booleans())
        now_ms += draw(st.integers(0, 35) if fast else st.integers(80, 300))
        presses.append((char, now_ms / 1000))
        previous_fast = fast
    now_ms += draw(st.integers(0, 300))
    presses.append((Key.ENTER, now_ms / 1000))
    return presses


@st.composite
def scanner_burst(draw: st.DrawFn) -> tuple[str, list[Press]]:
    """A gun's burst (0-30 ms between keys and before the Enter), after whatever a person
    typed before it and a pause of at least 80 ms."""
    presses = draw(human_typing())
    if draw(st.booleans()):
        presses.pop()  # the person did not press Enter
    text = draw(st.text(alphabet=printable, min_size=MIN_LENGTH, max_size=120))
    now_ms = round(presses[-1][1] * 1000) if presses else 0
    now_ms += draw(st.integers(80, 5000))
    for char in text:
        presses.append((char, now_ms / 1000))
        now_ms += draw(st.integers(0, 30))
    presses.append((Key.ENTER, now_ms / 1000))
    return text, presses


@given(human_typing())
def test_human_typing_is_never_a_scan(presses: list[Press]) -> None:
    assert feed(BurstDetector(), presses) == []


@given(scanner_burst())
def test_a_scanner_burst_is_always_a_scan(case: tuple[str, list[Press]]) -> None:
    text, presses = case
    assert texts(feed(BurstDetector(), presses)) == [text]


# The gun service


class Recorder:
    def __init__(self, gun: ScannerGun) -> None:
        self.vouchers: list[Voucher] = []
        self.errors: list[DoorstepError] = []
        self.stop_scans = gun.on_scan(self.vouchers.append)
        self.stop_errors = gun.on_error(self.errors.append)


def make_gun() -> ScannerGun:
    return ScannerGun(parse=partial(parse_voucher, source="scanner", clock=lambda: WHEN))


def type_into(gun: ScannerGun, presses: Iterable[Press]) -> list[ScanResult]:
    results = []
    for key, timestamp_s in presses:
        result = gun.feed(key, timestamp_s)
        if result is not None:
            results.append(result)
    return results


def test_the_gun_hands_out_a_voucher() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    assert texts(type_into(gun, keys(CODE, start_ms=0, gap_ms=3))) == [CODE]
    assert [voucher.code for voucher in seen.vouchers] == [CODE]
    assert seen.vouchers[0].source == "scanner"
    assert seen.vouchers[0].scanned_at == WHEN
    assert seen.errors == []


def test_a_burst_that_is_not_a_voucher_is_reported_not_raised() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    type_into(gun, keys("https://example.org/x", start_ms=0, gap_ms=3))
    assert seen.vouchers == []
    (error,) = seen.errors
    assert isinstance(error, VoucherInvalid)
    assert error.reason == "non_digit"


def test_an_overlong_burst_is_reported() -> None:
    gun = ScannerGun(detector=BurstDetector(max_length=64))
    seen = Recorder(gun)
    type_into(gun, keys("1" * 500, start_ms=0, gap_ms=1))
    (error,) = seen.errors
    assert isinstance(error, ScanTooLong)
    assert "64" in error.staff_message
    assert error.resident_message("en")


def test_typing_reaches_no_callback() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    assert type_into(gun, keys(CODE, start_ms=0, gap_ms=150)) == []
    assert seen.vouchers == [] and seen.errors == []


def test_callbacks_run_in_order_and_can_be_stopped() -> None:
    gun = make_gun()
    calls: list[str] = []
    stop_first = gun.on_scan(lambda voucher: calls.append("first"))
    gun.on_scan(lambda voucher: calls.append("second"))
    SimulatedScanner(gun, clock=lambda: 10.0).scan(CODE)
    assert calls == ["first", "second"]
    stop_first()
    stop_first()  # stopping twice is harmless
    SimulatedScanner(gun, clock=lambda: 20.0).scan(CODE)
    assert calls == ["first", "second", "second"]


def test_the_gun_logs_no_code(caplog: pytest.LogCaptureFixture) -> None:
    gun = make_gun()
    Recorder(gun)
    simulator = SimulatedScanner(gun, clock=lambda: 0.0)
    with caplog.at_level(logging.DEBUG):
        simulator.scan(CODE)
        simulator.scan("4243754826492874240001990000")  # bad province
    assert "voucher scanned" in caplog.text
    assert "refused" in caplog.text
    assert CODE not in caplog.text
    assert "4243754826492874240001990000" not in caplog.text


# The simulator


def test_the_simulator_scans_end_to_end() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    simulator = SimulatedScanner(gun, clock=lambda: 100.0)
    result = simulator.scan(f"{CODE}")
    assert result is not None
    assert result.text == CODE
    assert result.started_s == 100.0
    assert [voucher.code for voucher in seen.vouchers] == [CODE]


def test_the_simulator_scans_bad_codes_too() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    SimulatedScanner(gun).scan("4253754826492874240001130000")
    assert [error.reason for error in seen.errors] == ["prefix"]  # type: ignore[attr-defined]


def test_a_scan_after_typing_is_still_a_scan() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    type_into(gun, keys("hello", start_ms=0, gap_ms=150)[:-1])
    SimulatedScanner(gun).scan(CODE, at_s=2.0)
    assert [voucher.code for voucher in seen.vouchers] == [CODE]


def test_a_simulator_as_slow_as_a_person_is_not_a_scan() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    assert SimulatedScanner(gun, key_gap_s=0.1).scan(CODE, at_s=0.0) is None
    assert seen.vouchers == [] and seen.errors == []


def test_the_simulator_can_scan_from_another_thread() -> None:
    gun = make_gun()
    seen = Recorder(gun)
    on: list[int] = []
    gun.on_scan(lambda voucher: on.append(threading.get_ident()))
    worker = threading.Thread(target=SimulatedScanner(gun).scan, args=(CODE,))
    worker.start()
    worker.join()
    assert [voucher.code for voucher in seen.vouchers] == [CODE]
    assert on == [worker.ident]
