"""The scanner gun seen through the application's key events: key presses with the
timestamps a test chooses go through the window to a focused line edit; a burst becomes a
voucher and leaves the line edit as it was, typing stays where it was typed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kiosk.core.voucher import Voucher, VoucherInvalid
from kiosk.devices.scanner import ScannerGun, SimulatedScanner
from kiosk.ui.scanner import ScannerKeyFilter

CODE = "4243754826492874240001130000"
SCANNER_GAP_MS = 4
TYPING_GAP_MS = 180

ENTER = "\r"
SHIFT = "shift"


@dataclass
class Station:
    window: QWidget
    line_edit: QLineEdit
    button: QPushButton
    scanner: ScannerKeyFilter
    returns: list[str]


@pytest.fixture
def station(qtbot: QtBot) -> Iterator[Station]:
    window = QWidget()
    layout = QVBoxLayout(window)
    # The offscreen platform warns when a layout sets a window's minimum size.
    layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    line_edit = QLineEdit()
    button = QPushButton("OK")
    layout.addWidget(line_edit)
    layout.addWidget(button)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    line_edit.setFocus()
    qtbot.waitUntil(line_edit.hasFocus)
    returns: list[str] = []
    line_edit.returnPressed.connect(lambda: returns.append(line_edit.text()))
    scanner = ScannerKeyFilter()
    scanner.install()
    yield Station(window, line_edit, button, scanner, returns)
    scanner.uninstall()


def key_event(
    kind: QEvent.Type, char: str, timestamp_ms: int, *, repeat: bool = False
) -> QKeyEvent:
    if char == ENTER:
        key, text = Qt.Key.Key_Return, "\r"
    elif char == SHIFT:
        key, text = Qt.Key.Key_Shift, ""
    else:
        key, text = Qt.Key(ord(char.upper())), char
    event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text, repeat)
    event.setTimestamp(timestamp_ms)
    return event


def press(target: QWidget, char: str, timestamp_ms: int, *, repeat: bool = False) -> QKeyEvent:
    """Press and release a key, delivered as the window system would: to the window,
    which hands it to the focus widget."""
    handle = target.window().windowHandle()
    event = key_event(QEvent.Type.KeyPress, char, timestamp_ms, repeat=repeat)
    QApplication.sendEvent(handle, event)
    QApplication.sendEvent(handle, key_event(QEvent.Type.KeyRelease, char, timestamp_ms + 1))
    return event


def type_keys(target: QWidget, chars: list[str], *, start_ms: int, gap_ms: int) -> int:
    """Press `chars` one after another; returns the time of the last."""
    now = start_ms
    for i, char in enumerate(chars):
        now = start_ms + i * gap_ms
        press(target, char, now)
    return now


def scan(target: QWidget, code: str, *, start_ms: int) -> int:
    return type_keys(target, [*code, ENTER], start_ms=start_ms, gap_ms=SCANNER_GAP_MS)


def test_a_burst_is_a_voucher_and_leaves_the_line_edit_as_it_was(
    qtbot: QtBot, station: Station
) -> None:
    line_edit = station.line_edit
    last = type_keys(line_edit, list("ab"), start_ms=10_000, gap_ms=TYPING_GAP_MS)
    start = last + 500
    type_keys(line_edit, list(CODE), start_ms=start, gap_ms=SCANNER_GAP_MS)
    assert line_edit.text() == "ab" + CODE  # delivered before anyone could know
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000) as signal:
        enter = press(line_edit, ENTER, start + len(CODE) * SCANNER_GAP_MS)
    (voucher,) = signal.args
    assert isinstance(voucher, Voucher)
    assert voucher.code == CODE
    assert voucher.source == "scanner"
    assert line_edit.text() == "ab"
    assert line_edit.cursorPosition() == 2
    assert station.returns == []  # the burst's Enter was taken
    assert enter.isAccepted()


def test_typing_reaches_the_line_edit_untouched(qtbot: QtBot, station: Station) -> None:
    line_edit = station.line_edit
    with (
        qtbot.assertNotEmitted(station.scanner.voucher_scanned),
        qtbot.assertNotEmitted(station.scanner.scan_failed),
    ):
        type_keys(line_edit, [*CODE, ENTER], start_ms=10_000, gap_ms=TYPING_GAP_MS)
    assert line_edit.text() == CODE
    assert station.returns == [CODE]


def test_typing_then_a_scan_then_typing(qtbot: QtBot, station: Station) -> None:
    line_edit = station.line_edit
    last = type_keys(line_edit, list("12"), start_ms=0, gap_ms=TYPING_GAP_MS)
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000):
        last = scan(line_edit, CODE, start_ms=last + 300)
    type_keys(line_edit, [*"3", ENTER], start_ms=last + 400, gap_ms=TYPING_GAP_MS)
    assert line_edit.text() == "123"
    assert station.returns == ["123"]


def test_a_burst_that_is_not_a_voucher_fails_and_is_taken_back(
    qtbot: QtBot, station: Station
) -> None:
    with (
        qtbot.waitSignal(station.scanner.scan_failed, timeout=1000) as signal,
        qtbot.assertNotEmitted(station.scanner.voucher_scanned),
    ):
        scan(station.line_edit, "HTTPS://EXAMPLE.ORG/X", start_ms=1000)
    (error,) = signal.args
    assert isinstance(error, VoucherInvalid)
    assert station.line_edit.text() == ""


def test_repeated_digits_in_one_millisecond_are_all_fed(qtbot: QtBot, station: Station) -> None:
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000) as signal:
        type_keys(station.line_edit, [*CODE, ENTER], start_ms=1000, gap_ms=0)
    assert signal.args[0].code == CODE


def test_a_selection_the_burst_replaced_comes_back(qtbot: QtBot, station: Station) -> None:
    line_edit = station.line_edit
    line_edit.setText("hello world")
    line_edit.setSelection(6, 5)
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000):
        scan(line_edit, CODE, start_ms=1000)
    assert line_edit.text() == "hello world"
    assert line_edit.selectedText() == "world"


def test_a_burst_to_a_focused_button_is_fed_once(qtbot: QtBot, station: Station) -> None:
    """A button ignores digits, so each press goes on to its parents as well."""
    station.button.setFocus()
    qtbot.waitUntil(station.button.hasFocus)
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000) as signal:
        scan(station.button, CODE, start_ms=1000)
    assert signal.args[0].code == CODE
    assert station.line_edit.text() == ""


def test_shift_presses_do_not_break_a_burst(qtbot: QtBot, station: Station) -> None:
    keys = [key for char in CODE for key in (SHIFT, char)]
    with qtbot.waitSignal(station.scanner.voucher_scanned, timeout=1000):
        type_keys(station.line_edit, [*keys, ENTER], start_ms=1000, gap_ms=2)
    assert station.line_edit.text() == ""


def test_a_held_key_then_enter_is_typing(qtbot: QtBot, station: Station) -> None:
    """Auto-repeat comes as fast as a gun (30 ms here); it is still a person."""
    line_edit = station.line_edit
    with qtbot.assertNotEmitted(station.scanner.scan_failed):
        press(line_edit, "7", 1000)
        for i in range(1, 20):
            press(line_edit, "7", 1000 + 500 + i * 30, repeat=True)
        press(line_edit, ENTER, 1000 + 500 + 20 * 30)
    assert line_edit.text() == "7" * 20
    assert station.returns == ["7" * 20]


def test_events_without_a_timestamp_are_timed_by_the_clock(qtbot: QtBot, station: Station) -> None:
    station.scanner.uninstall()
    ticks = iter(range(10**6))
    gap_s = {"value": 0.004}
    scanner = ScannerKeyFilter(clock=lambda: next(ticks) * gap_s["value"])
    scanner.install()
    try:
        with qtbot.waitSignal(scanner.voucher_scanned, timeout=1000):
            type_keys(station.line_edit, [*CODE, ENTER], start_ms=0, gap_ms=0)
        gap_s["value"] = 0.2
        with qtbot.assertNotEmitted(scanner.voucher_scanned):
            type_keys(station.line_edit, [*CODE, ENTER], start_ms=0, gap_ms=0)
    finally:
        scanner.uninstall()
    assert station.line_edit.text() == CODE


def test_a_simulated_scan_comes_out_of_the_same_signal(qtbot: QtBot) -> None:
    gun = ScannerGun()
    scanner = ScannerKeyFilter(gun)
    with qtbot.waitSignal(scanner.voucher_scanned, timeout=1000) as signal:
        SimulatedScanner(gun).scan(CODE)
    assert signal.args[0].code == CODE
    scanner.uninstall()
    with qtbot.assertNotEmitted(scanner.voucher_scanned):
        SimulatedScanner(gun).scan(CODE)


def test_after_uninstall_keys_are_not_watched(qtbot: QtBot, station: Station) -> None:
    station.scanner.uninstall()
    with qtbot.assertNotEmitted(station.scanner.voucher_scanned):
        scan(station.line_edit, CODE, start_ms=1000)
    assert station.line_edit.text() == CODE
