"""No way out of the kiosk by keyboard or by closing its window, short of staff mode.

`Lockdown` is an event filter on the QApplication. While active it swallows the keys that
leave or close a program — Alt+F4, Ctrl+F4, Esc (with any modifiers), Ctrl+Q and Ctrl+W
(with or without Shift) — before any widget, shortcut or action sees them. Qt asks the
focused widget with a ShortcutOverride event whether it wants a key before trying the
application's shortcuts; the filter accepts that event for a blocked key (so no shortcut
fires) and then consumes the key press and release themselves. Every other key passes
untouched: the scanner gun's filter (kiosk/ui/scanner.py) and the line edits need plain
keys.

`CloseGuard` is an event filter on the kiosk window. Whatever asks the window to close —
the window manager (its Alt+F4 binding, a close button, a taskbar), `window.close()`, or
`QApplication.quit()`, which in Qt 6 closes every window first — is refused unless
`allowed()` says staff have let the kiosk quit. A minimised window is put back as it was.
`QCoreApplication.exit(code)` ends the event loop without asking any window, so the
program itself can always stop (and a crash report, kiosk/ui/crash.py, uses it).

What is out of the program's reach, and belongs to the station's session setup:

- Alt+Tab, Super and other window-switching keys are the window manager's: it grabs them
  before Qt sees them. The kiosk session runs no window manager, or one with those
  bindings removed.
- Ctrl+Alt+Backspace (killing the X server) is off in Xorg unless configured; Ctrl+Alt+F1…
  F12 (switching consoles) is the X server's and is turned off with `DontVTSwitch`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QWindowStateChangeEvent
from PySide6.QtWidgets import QWidget

Mod = Qt.KeyboardModifier

#: A blocked key and the modifiers that must be held with it (more may be held).
BLOCKED_KEYS: tuple[tuple[Qt.Key, Qt.KeyboardModifier], ...] = (
    (Qt.Key.Key_F4, Mod.AltModifier),
    (Qt.Key.Key_F4, Mod.ControlModifier),
    (Qt.Key.Key_Escape, Mod.NoModifier),
    (Qt.Key.Key_Q, Mod.ControlModifier),
    (Qt.Key.Key_W, Mod.ControlModifier),
)

_MODIFIER_MASK = Mod.ShiftModifier | Mod.ControlModifier | Mod.AltModifier | Mod.MetaModifier
_KEY_EVENTS = frozenset(
    {QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress, QEvent.Type.KeyRelease}
)


def is_blocked(key: int, modifiers: Qt.KeyboardModifier) -> bool:
    """Whether `key` pressed with `modifiers` is one of the ways out."""
    held = modifiers & _MODIFIER_MASK
    return any(key == blocked and (held & needed) == needed for blocked, needed in BLOCKED_KEYS)


class Lockdown(QObject):
    """Swallows the application's ways out by keyboard while `active`."""

    def __init__(self, parent: QObject | None = None, *, active: bool = True) -> None:
        super().__init__(parent)
        self._active = active

    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        """Block the ways out (True) or let them through (False, for staff)."""
        self._active = active

    def install(self, app: QCoreApplication | None = None) -> None:
        """Start filtering the key events of `app` (by default the running application).
        Keep a reference to the filter, or give it a parent: Qt drops a deleted filter."""
        app = app or QCoreApplication.instance()
        if app is None:
            raise RuntimeError("there is no Qt application to lock down")
        app.installEventFilter(self)

    def uninstall(self, app: QCoreApplication | None = None) -> None:
        app = app or QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            not self._active
            or event.type() not in _KEY_EVENTS
            or not isinstance(event, QKeyEvent)
            or not is_blocked(event.key(), event.modifiers())
        ):
            return False
        # Accepted, a ShortcutOverride tells Qt the key is taken: no shortcut fires.
        event.accept()
        return True


class CloseGuard(QObject):
    """Refuses to let `window` close, or stay minimised, unless `allowed()` is True.
    `allowed` is asked at each attempt, on the main thread; it must be quick."""

    def __init__(self, window: QWidget, allowed: Callable[[], bool]) -> None:
        super().__init__(window)
        self._window = window
        self._allowed = allowed
        self.refused = 0
        window.installEventFilter(self)

    def remove(self) -> None:
        """Stop guarding the window."""
        self._window.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is not self._window:
            return False
        kind = event.type()
        if kind == QEvent.Type.Close and not self._allowed():
            self.refused += 1
            event.ignore()
            return True
        if (
            kind == QEvent.Type.WindowStateChange
            and isinstance(event, QWindowStateChangeEvent)
            and self._window.isMinimized()
            and not self._allowed()
        ):
            state = event.oldState() & ~Qt.WindowState.WindowMinimized
            QTimer.singleShot(0, self, lambda: self._restore(state))
        return False

    def _restore(self, state: Qt.WindowState) -> None:
        window = self._window
        if window.isVisible() and window.isMinimized() and not self._allowed():
            window.setWindowState(state)
            window.show()
            window.activateWindow()


def guard_close(window: QWidget, allowed: Callable[[], bool]) -> CloseGuard:
    """Guard `window` against closing until `allowed()`; the guard lives as long as the
    window (it is the window's child)."""
    return CloseGuard(window, allowed)
