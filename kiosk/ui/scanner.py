"""The scanner gun's key presses, taken from the kiosk's own key events: an event filter on
the QApplication feeds every key press to a `ScannerGun` (kiosk.devices.scanner) and turns
what the gun makes of them into the Qt signals `voucher_scanned` and `scan_failed`.

A keyboard wedge's keys reach the focused widget before anyone can know they are a scan,
so a focused QLineEdit fills up with the code. The filter takes the burst back out:

- When a character starts a possible burst (the gun's `pending` count becomes 1), the
  filter records the focused QLineEdit's state — text, cursor, selection, modified flag —
  before the key reaches it; likewise for any other QLineEdit a key of the same burst
  goes to.
- When the burst's Enter makes it a scan (a voucher or not), every recorded line edit is
  set back to its recorded state before the signals are emitted, and the Enter is
  consumed, so no `returnPressed` and no default button fire for it. The restoring uses
  `setText`: the line edit emits `textChanged` (not `textEdited`), and its undo history
  is cleared.

Ordinary typing reaches widgets untouched: no other key is ever consumed, and nothing is
restored unless a scan was recognised. Only QLineEdit is restored; the kiosk has no other
text entry, and a scan typed into any other widget stays there.

Each key's time is the event's `timestamp()` (milliseconds, set by the window system when
the key was pressed, so a busy main thread cannot squeeze slow typing into a burst), or
`time.monotonic()` when the timestamp is 0 (a synthetic event).

Qt shows one key event to an application filter once per receiver: the window, then the
focus widget, then each parent while the event is ignored. Only widgets are taken, and a
press identical to the last one fed (key, text, modifiers, timestamp) arriving at an
ancestor of its receiver is the same press propagating, and is not fed again. Keys that a
shortcut consumes never arrive as key presses, and are not seen.

The filter sees every event of the application; all but key presses leave at the first
comparison. Everything here runs on the main thread and only briefly; nothing blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from kiosk.core.voucher import Voucher
from kiosk.devices.scanner import Key, ScannerGun
from kiosk.errors import DoorstepError

#: Keys that only change what the next key types (a gun presses Shift for capitals): not
#: fed to the gun at all.
_MODIFIER_KEYS = frozenset(
    {
        Qt.Key.Key_Shift,
        Qt.Key.Key_Control,
        Qt.Key.Key_Alt,
        Qt.Key.Key_AltGr,
        Qt.Key.Key_Meta,
        Qt.Key.Key_Super_L,
        Qt.Key.Key_Super_R,
        Qt.Key.Key_Hyper_L,
        Qt.Key.Key_Hyper_R,
        Qt.Key.Key_CapsLock,
        Qt.Key.Key_NumLock,
    }
)
_ENTER_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter})

_Signature = tuple[int, str, int, int, bool]


class ScannerKeyFilter(QObject):
    """Feeds the application's key presses to a scanner gun; emits `voucher_scanned` with
    each `Voucher` and `scan_failed` with the `DoorstepError` of each burst that is not one.
    The signals also carry what other key sources (a `SimulatedScanner`) feed the same gun.
    """

    voucher_scanned = Signal(object)
    scan_failed = Signal(object)

    def __init__(
        self,
        gun: ScannerGun | None = None,
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.gun = gun or ScannerGun()
        self._clock = clock
        self._recorded: list[_LineEditState] = []
        self._last: tuple[_Signature, QWidget] | None = None
        self._unsubscribe = [
            self.gun.on_scan(self._scanned),
            self.gun.on_error(self._failed),
        ]

    def install(self, app: QCoreApplication | None = None) -> None:
        """Start watching the key presses of `app` (by default the running application).
        Keep a reference to the filter, or give it a parent: Qt drops a deleted filter."""
        app = app or QCoreApplication.instance()
        if app is None:
            raise RuntimeError("there is no Qt application to watch")
        app.installEventFilter(self)

    def uninstall(self, app: QCoreApplication | None = None) -> None:
        """Stop watching, and stop relaying the gun's scans."""
        app = app or QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._recorded.clear()
        self._last = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            event.type() != QEvent.Type.KeyPress
            or not isinstance(event, QKeyEvent)
            or not isinstance(watched, QWidget)
        ):
            return False
        if self._propagating(watched, event):
            return False
        key = _key_of(event)
        if key is None:
            return False
        stamp = event.timestamp()
        timestamp_s = stamp / 1000 if stamp else self._clock()
        result = self.gun.detect(key, timestamp_s)
        if result is not None:
            for state in self._recorded:
                state.restore()
            self._recorded.clear()
            event.accept()
            self.gun.deliver(result)
            return True
        pending = self.gun.pending
        if pending <= 1:
            self._recorded.clear()
        if (
            pending
            and isinstance(watched, QLineEdit)
            and all(state.line_edit is not watched for state in self._recorded)
        ):
            self._recorded.append(_LineEditState.of(watched))
        return False

    def _propagating(self, watched: QWidget, event: QKeyEvent) -> bool:
        """Whether `event` is the press fed last, now shown to an ancestor of its receiver.
        (A widget is its own ancestor to Qt; the same widget again is a new press, as when
        a gun sends "00" within one millisecond.)"""
        signature = (
            event.key(),
            event.text(),
            event.modifiers().value,
            event.timestamp(),
            event.isAutoRepeat(),
        )
        last = self._last
        if (
            last is not None
            and last[0] == signature
            and shiboken6.isValid(last[1])
            and watched is not last[1]
            and watched.isAncestorOf(last[1])
        ):
            return True
        self._last = (signature, watched)
        return False

    def _scanned(self, voucher: Voucher) -> None:
        if shiboken6.isValid(self):
            self.voucher_scanned.emit(voucher)

    def _failed(self, error: DoorstepError) -> None:
        if shiboken6.isValid(self):
            self.scan_failed.emit(error)


def _key_of(event: QKeyEvent) -> str | Key | None:
    """What the gun is fed for a key press: its character, ENTER, OTHER, or nothing (None)
    for a modifier key. An auto-repeated key is OTHER: a held key is a person, never a gun."""
    key = event.key()
    if key in _MODIFIER_KEYS:
        return None
    if event.isAutoRepeat():
        return Key.OTHER
    if key in _ENTER_KEYS:
        return Key.ENTER
    text = event.text()
    if len(text) == 1 and text.isprintable():
        return text
    return Key.OTHER


@dataclass(frozen=True, repr=False)
class _LineEditState:
    """A line edit's text, cursor, selection and modified flag, to put back after a scan."""

    line_edit: QLineEdit
    text: str
    cursor: int
    selection_start: int
    selection_length: int
    modified: bool

    @classmethod
    def of(cls, line_edit: QLineEdit) -> _LineEditState:
        return cls(
            line_edit,
            line_edit.text(),
            line_edit.cursorPosition(),
            line_edit.selectionStart(),
            line_edit.selectionLength(),
            line_edit.isModified(),
        )

    def restore(self) -> None:
        line_edit = self.line_edit
        if not shiboken6.isValid(line_edit):
            return
        line_edit.setText(self.text)
        line_edit.setModified(self.modified)
        if self.selection_length > 0:
            end = self.selection_start + self.selection_length
            if self.cursor == self.selection_start:
                line_edit.setSelection(end, -self.selection_length)
            else:
                line_edit.setSelection(self.selection_start, self.selection_length)
        else:
            line_edit.setCursorPosition(self.cursor)

    def __repr__(self) -> str:
        # The text may be anything a resident typed: keep it out of any log.
        return f"_LineEditState({len(self.text)} characters)"
