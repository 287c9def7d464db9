"""The few building blocks every screen is made of: labels that carry a text role, text
that wraps with generous line spacing, large buttons, big two-line buttons for tiles and
list rows, and scroll areas that follow a finger."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QStyle,
    QStyleOption,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui import theme
from kiosk.ui.theme import ButtonKind, TextRole


def label(role: TextRole = TextRole.BODY) -> QLabel:
    """A one-line label for text in `role` (its size comes from the style sheet)."""
    widget = QLabel()
    widget.setProperty("role", role.value)
    return widget


#: What a finger (or the mouse) going down arrives as. Qt makes a quick second tap near the
#: first a double click; to a resident it is one more tap.
PRESSES = frozenset(
    {QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.TouchBegin}
)


class WrappedLabel(QLabel):
    """Text that wraps to the width it is given, with lines spaced for easy reading.

    Set its text with `set_plain_text`; the label shows it as rich text only to space
    the lines (`theme.LINE_HEIGHT_PERCENT`), and `plain_text` gives it back as set."""

    def __init__(
        self, role: TextRole = TextRole.BODY, *, muted: bool = False, notice: bool = False
    ) -> None:
        super().__init__()
        self.setProperty("role", role.value)
        self.setProperty("muted", muted)
        self.setProperty("notice", notice)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self._plain_text = ""

    @property
    def plain_text(self) -> str:
        return self._plain_text

    def set_plain_text(self, text: str) -> None:
        self._plain_text = text
        body = html.escape(text).replace("\n", "<br>")
        self.setText(f'<div style="line-height:{theme.LINE_HEIGHT_PERCENT}%">{body}</div>')


def button(kind: ButtonKind = ButtonKind.NORMAL) -> QPushButton:
    """A push button of `kind`; its size and look come from the style sheet."""
    widget = QPushButton()
    widget.setProperty("kind", kind.value)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return widget


class TextButton(QAbstractButton):
    """A large button showing a title and a detail line, both wrapping: a category tile
    or a row of a list of service items."""

    def __init__(self, kind: ButtonKind) -> None:
        super().__init__()
        self.setProperty("kind", kind.value)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMinimumSize(theme.TARGET_PX, theme.TARGET_PX)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._title = WrappedLabel(TextRole.BUTTON)
        self._detail = WrappedLabel(muted=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*theme.TEXT_BUTTON_MARGINS_PX)
        layout.setSpacing(4)
        for part in (self._title, self._detail):
            part.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            layout.addWidget(part)
        layout.addStretch(1)

    @property
    def detail(self) -> str:
        return self._detail.plain_text

    def set_texts(self, title: str, detail: str) -> None:
        self.setText(title)
        self._title.set_plain_text(title)
        self._detail.set_plain_text(detail)
        self._detail.setVisible(bool(detail))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        paint_styled_button(self)


def paint_styled_button(widget: QAbstractButton) -> None:
    """Paint a plain QAbstractButton (which paints nothing itself) as the style sheet
    draws boxes, with the pressed state ("sunken") shown as on push buttons."""
    option = QStyleOption()
    option.initFrom(widget)
    if widget.isDown():
        option.state |= QStyle.StateFlag.State_Sunken
    painter = QPainter(widget)
    widget.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, widget)


def touch_scroll_area(content: QWidget) -> QScrollArea:
    """A vertical scroll area around `content` that scrolls by dragging a finger (or the
    mouse) anywhere on it, with a wide scroll bar; it never scrolls sideways."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # Qt's own minimum for a scroll area (about 210 px) would make a short window squeeze
    # the wrapped headings around it instead, cutting text off; what scrolls gives way
    # first, down to room for the scroll bar's handle.
    area.setMinimumHeight(2 * theme.SCROLL_BAR_PX)
    area.setWidget(content)
    QScroller.grabGesture(area.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
    return area
