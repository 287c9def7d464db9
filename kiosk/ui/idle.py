"""The idle timer: a visit left alone is warned about, then wiped.

`IdleWatcher` watches every touch, click and key press of the application (an event
filter, there only while it is armed: the start screen's events never go through
Python for it). While it is armed (a visit is under way), `warning_s` seconds without input
show the warning — an `IdleOverlay` over the whole window with a countdown and a big
"I'm here" button — and `timeout_s` more seconds end the visit (`expired`): the window
wipes the resident's data and returns to the start screen. Any input while the warning
shows keeps the visit going. Both times are settings (`[ui] idle_warning_s`,
`idle_timeout_s`).

A video call suspends it (`suspend`): the resident may sit still for minutes while the
agent talks, and the wipe must never fire during a call. `resume` after the call counts
from then on again, so a resident who walks away after the call is still wiped.

Timers run on the main thread and only count; nothing here blocks.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import PRESSES, WrappedLabel, button

_INPUT = PRESSES | {
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.TouchUpdate,
    QEvent.Type.KeyPress,
    QEvent.Type.Wheel,
}


class IdleWatcher(QObject):
    """Counts the time since the last input while armed."""

    warning = Signal(int)  # seconds left before the visit is wiped (every second)
    resumed = Signal()  # input came while the warning showed
    expired = Signal()

    def __init__(self, warning_s: float, timeout_s: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._warning_ms = max(1, round(warning_s * 1000))
        self._timeout_s = max(1, round(timeout_s))
        self._left = 0
        self._armed = False
        self._suspended = False
        self._installed = False
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._warn)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)

    def set_times(self, warning_s: float, timeout_s: float) -> None:
        """New times, from the next touch on (staff mode has its own)."""
        self._warning_ms = max(1, round(warning_s * 1000))
        self._timeout_s = max(1, round(timeout_s))

    @property
    def armed(self) -> bool:
        return self._armed

    @property
    def suspended(self) -> bool:
        return self._suspended

    def suspend(self) -> None:
        """Stop counting (a call is under way): no warning, no wipe, until `resume`."""
        if self._suspended:
            return
        self._suspended = True
        self._idle.stop()
        if self._tick.isActive():
            self._tick.stop()
            self.resumed.emit()

    def resume(self) -> None:
        """Count again, from now (the call is over)."""
        if not self._suspended:
            return
        self._suspended = False
        self.touched()

    @property
    def warning_shown(self) -> bool:
        return self._tick.isActive()

    def install(self) -> None:
        """Watch the application's input whenever armed (until `uninstall`)."""
        self._installed = True
        self._watch(self._armed)

    def uninstall(self) -> None:
        self._installed = False
        self._watch(False)

    def arm(self) -> None:
        """A visit is under way: start counting (again) from now."""
        self._armed = True
        self._watch(self._installed)
        self.touched()

    def disarm(self) -> None:
        self._armed = False
        self._watch(False)
        self._idle.stop()
        self._tick.stop()

    def _watch(self, on: bool) -> None:
        app = QApplication.instance()
        if app is None:
            return
        # Installing twice keeps one filter; removing one that is not there does nothing.
        if on:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)

    def touched(self) -> None:
        if not self._armed or self._suspended:
            return
        if self._tick.isActive():
            self._tick.stop()
            self.resumed.emit()
        self._idle.start(self._warning_ms)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if self._armed and event.type() in _INPUT and watched.isWidgetType():
            self.touched()
        return False

    def _warn(self) -> None:
        if self._suspended:
            return
        self._left = self._timeout_s
        self._tick.start()
        self.warning.emit(self._left)

    def _count_down(self) -> None:
        if self._suspended:
            self._tick.stop()
            return
        self._left -= 1
        if self._left <= 0:
            self.disarm()
            self.expired.emit()
        else:
            self.warning.emit(self._left)


class IdleOverlay(QWidget):
    """The warning over the whole window: dimmed page, a panel, a countdown and a button."""

    continue_requested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        self._lang: Language = "zh"
        self._seconds = 0
        self.panel = QWidget(self)
        self.panel.setObjectName("idlePanel")
        self.panel.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.body = WrappedLabel(TextRole.SUBHEADING)
        self.continue_button = button(ButtonKind.PRIMARY)
        self.continue_button.clicked.connect(self.continue_requested)
        inner = QVBoxLayout(self.panel)
        inner.setContentsMargins(48, 48, 48, 48)
        inner.setSpacing(theme.SPACING_PX * 2)
        inner.addWidget(self.heading)
        inner.addWidget(self.body)
        inner.addWidget(self.continue_button, 0, Qt.AlignmentFlag.AlignHCenter)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(self.panel, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.hide()

    def show_countdown(self, seconds: int) -> None:
        self._seconds = seconds
        self._fill()
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
            width = min(theme.READING_WIDTH_PX, parent.width() - 2 * theme.PAGE_MARGIN_PX)
            width = max(width, theme.TARGET_PX)
            self.panel.setFixedWidth(width)
            layout = self.panel.layout()
            self.panel.setFixedHeight(layout.totalHeightForWidth(width))
        self.raise_()
        self.show()

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._fill()

    def _fill(self) -> None:
        self.heading.set_plain_text(text("idle_heading", self._lang))
        self.body.set_plain_text(text("idle_body", self._lang, seconds=self._seconds))
        self.continue_button.setText(text("idle_continue", self._lang))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 150))
