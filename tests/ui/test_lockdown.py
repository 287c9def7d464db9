"""The kiosk has no way out by keyboard: the keys that close or quit a program do nothing
(no shortcut, no action, no dialog's Esc), the window refuses to close or stay minimised
until staff allow it, and every other key still types and still reaches the scanner gun."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QLayout, QLineEdit, QMainWindow
from pytestqt.qtbot import QtBot

from kiosk.core.voucher import Voucher
from kiosk.ui.lockdown import CloseGuard, Lockdown, guard_close, is_blocked
from kiosk.ui.scanner import ScannerKeyFilter

Mod = Qt.KeyboardModifier
CODE = "4243754826492874240001130000"

WAYS_OUT = [
    pytest.param(Qt.Key.Key_F4, Mod.AltModifier, id="alt+f4"),
    pytest.param(Qt.Key.Key_F4, Mod.ControlModifier, id="ctrl+f4"),
    pytest.param(Qt.Key.Key_Escape, Mod.NoModifier, id="esc"),
    pytest.param(Qt.Key.Key_Escape, Mod.ShiftModifier, id="shift+esc"),
    pytest.param(Qt.Key.Key_Q, Mod.ControlModifier, id="ctrl+q"),
    pytest.param(Qt.Key.Key_W, Mod.ControlModifier, id="ctrl+w"),
    pytest.param(Qt.Key.Key_Q, Mod.ControlModifier | Mod.ShiftModifier, id="ctrl+shift+q"),
]


@dataclass
class Kiosk:
    window: QMainWindow
    line_edit: QLineEdit
    lockdown: Lockdown
    guard: CloseGuard
    may_quit: bool = False
    triggered: list[str] = field(default_factory=list)


@pytest.fixture
def kiosk(qtbot: QtBot) -> Iterator[Kiosk]:
    """A shown window with a focused line edit, a quit action and shortcuts bound to the
    ways out (as a careless screen might add), locked down."""
    window = QMainWindow()
    line_edit = QLineEdit()
    window.setCentralWidget(line_edit)
    # The offscreen platform warns when a layout sets a window's minimum size.
    window.layout().setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    lockdown = Lockdown()
    lockdown.install()
    state = Kiosk(window, line_edit, lockdown, guard_close(window, lambda: state.may_quit))

    quit_action = QAction("quit", window)
    quit_action.setShortcuts([QKeySequence("Ctrl+Q"), QKeySequence("Ctrl+Shift+Q")])
    quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    quit_action.triggered.connect(lambda: state.triggered.append("quit"))
    quit_action.triggered.connect(window.close)
    window.addAction(quit_action)
    for keys in ("Ctrl+W", "Alt+F4", "Ctrl+F4", "Esc", "Shift+Esc"):
        shortcut = QShortcut(QKeySequence(keys), window)
        shortcut.activated.connect(lambda keys=keys: state.triggered.append(keys))
        shortcut.activated.connect(window.close)

    window.resize(640, 200)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    line_edit.setFocus()
    qtbot.waitUntil(line_edit.hasFocus)
    yield state
    lockdown.uninstall()
    # pytest-qt closes the widgets it was given before this runs: close it here, allowed.
    state.may_quit = True
    window.close()
    window.deleteLater()


@pytest.mark.parametrize(("key", "modifiers"), WAYS_OUT)
def test_a_way_out_does_nothing(
    qtbot: QtBot, kiosk: Kiosk, key: Qt.Key, modifiers: Qt.KeyboardModifier
) -> None:
    kiosk.line_edit.setText("abc")
    QTest.keyClick(kiosk.line_edit, key, modifiers)
    QTest.keyClick(kiosk.window, key, modifiers)
    QApplication.processEvents()
    assert kiosk.triggered == []
    assert kiosk.window.isVisible()
    assert kiosk.line_edit.text() == "abc"


def test_typing_still_works(qtbot: QtBot, kiosk: Kiosk) -> None:
    returns: list[str] = []
    kiosk.line_edit.returnPressed.connect(lambda: returns.append(kiosk.line_edit.text()))
    qtbot.keyClicks(kiosk.line_edit, "Zhang 123 q w")
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_Backspace)
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_F4)
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_A, Mod.ControlModifier)  # select all
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_Right)
    qtbot.keyClicks(kiosk.line_edit, "!")
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_Return)
    assert kiosk.line_edit.text() == "Zhang 123 q !"
    assert returns == ["Zhang 123 q !"]
    assert kiosk.triggered == []


def test_the_ways_out_work_again_when_staff_lift_the_lockdown(qtbot: QtBot, kiosk: Kiosk) -> None:
    kiosk.lockdown.set_active(False)
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_Q, Mod.ControlModifier)
    assert kiosk.triggered == ["quit"]
    assert kiosk.window.isVisible()  # the close guard still refused
    kiosk.lockdown.set_active(True)
    QTest.keyClick(kiosk.line_edit, Qt.Key.Key_Q, Mod.ControlModifier)
    assert kiosk.triggered == ["quit"]


def test_the_window_refuses_to_close(qtbot: QtBot, kiosk: Kiosk) -> None:
    assert not kiosk.window.close()
    QApplication.processEvents()
    assert kiosk.window.isVisible()
    assert kiosk.guard.refused == 1


def test_the_window_closes_when_staff_allow_it(qtbot: QtBot, kiosk: Kiosk) -> None:
    kiosk.may_quit = True
    assert kiosk.window.close()
    assert not kiosk.window.isVisible()


def test_a_minimised_window_comes_back(qtbot: QtBot, kiosk: Kiosk) -> None:
    kiosk.window.showMinimized()
    qtbot.waitUntil(lambda: not kiosk.window.isMinimized())
    assert kiosk.window.isVisible()


def test_esc_does_not_close_a_dialog(qtbot: QtBot) -> None:
    dialog = QDialog()
    qtbot.addWidget(dialog)
    rejected: list[bool] = []
    dialog.rejected.connect(lambda: rejected.append(True))
    dialog.show()
    qtbot.waitExposed(dialog)
    lockdown = Lockdown()
    lockdown.install()
    try:
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        assert rejected == []
        assert dialog.isVisible()
        lockdown.set_active(False)
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        assert rejected == [True]
    finally:
        lockdown.uninstall()


def test_the_scanner_gun_still_sees_every_key(qtbot: QtBot, kiosk: Kiosk) -> None:
    scanner = ScannerKeyFilter()
    scanner.install()
    try:
        handle = kiosk.window.windowHandle()
        with qtbot.waitSignal(scanner.voucher_scanned, timeout=1000) as signal:
            for i, char in enumerate([*CODE, "\r"]):
                key = Qt.Key.Key_Return if char == "\r" else Qt.Key(ord(char))
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    event = QKeyEvent(kind, key, Mod.NoModifier, char)
                    event.setTimestamp(5000 + i * 4)
                    QApplication.sendEvent(handle, event)
    finally:
        scanner.uninstall()
    (voucher,) = signal.args
    assert isinstance(voucher, Voucher)
    assert voucher.code == CODE
    assert kiosk.line_edit.text() == ""


def test_which_keys_are_blocked() -> None:
    assert is_blocked(Qt.Key.Key_F4, Mod.AltModifier | Mod.KeypadModifier)
    assert is_blocked(Qt.Key.Key_Escape, Mod.ControlModifier)
    assert not is_blocked(Qt.Key.Key_F4, Mod.NoModifier)
    assert not is_blocked(Qt.Key.Key_Q, Mod.NoModifier)
    assert not is_blocked(Qt.Key.Key_Q, Mod.AltModifier)
    assert not is_blocked(Qt.Key.Key_Return, Mod.NoModifier)
