"""A large on-screen keyboard for the kiosk's text fields: residents search the catalog by
pinyin initials ("jyjl" finds 就医记录册申领), pinyin, English words or item codes.

Four rows that look like a computer keyboard, in lower case: the digits, then the QWERTY
letters, each row set in by half a key as on a real one; a space key after "m"; and, in a
column of their own on the right, two tall keys, "⌫ 删除" (the ⌫ shape is drawn, the word
says what it does) and "清除". Keys never take the focus, so the field keeps its cursor and
the hardware keyboard still types; each key edits the field through `QLineEdit.insert`,
`backspace` and `clear`, so `textChanged` fires as if the resident had typed. No key
repeats when held: a slow tap must not delete three letters.

Keys are placed by hand, not by a layout, so every key of a row is the same size: as wide
as the keyboard allows between `MIN_KEY_PX` and `MAX_KEY_PX`, about 84 px at 1920×1080 and
64 px (above the 60 px floor) at 1366×768, where the keyboard shares the width with the
search results beside it.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import label, paint_styled_button

BACKSPACE = "backspace"
CLEAR = "clear"
SPACE = " "

MIN_KEY_PX = 64
IDEAL_KEY_PX = 88
MAX_KEY_PX = 96
KEY_GAP_PX = 6
COLUMN_GAP_PX = 14
KEY_MARGIN_PX = 4
ROWS = 4
UNITS = 12  # key widths across: ten keys and the two-key-wide column on the right

LETTER_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
SPECIAL_COLUMN = 2 * (UNITS - 2)  # in half keys
LABEL_KEYS = {BACKSPACE: "kb_backspace", CLEAR: "kb_clear", SPACE: "kb_space"}


class KeySpec(NamedTuple):
    """Where one key sits: its row, first column and width in half keys, its height in rows."""

    value: str
    row: int
    column: int
    span: int = 2
    rows: int = 1


def key_specs() -> tuple[KeySpec, ...]:
    """Every key of the keyboard and its place."""
    specs: list[KeySpec] = []
    for row, (letters, indent) in enumerate(zip(LETTER_ROWS, (0, 0, 1, 2), strict=True)):
        specs += [KeySpec(letter, row, indent + 2 * index) for index, letter in enumerate(letters)]
    after_m = 2 + 2 * len(LETTER_ROWS[3])
    specs.append(KeySpec(SPACE, 3, after_m, SPECIAL_COLUMN - after_m))
    specs.append(KeySpec(BACKSPACE, 0, SPECIAL_COLUMN, 4, 2))
    specs.append(KeySpec(CLEAR, 2, SPECIAL_COLUMN, 4, 2))
    return tuple(specs)


class BackspaceShape(QWidget):
    """The ⌫ shape (a key cap pointing left with a cross in it), drawn in the text colour:
    the shipped font has no glyph for it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFixedSize(48, 32)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        width, height = float(self.width()), float(self.height())
        pen_width = 3.0
        inset = pen_width / 2
        tip = width * 0.32
        outline = QPainterPath(QPointF(inset, height / 2))
        for x, y in ((tip, inset), (width - inset, inset), (width - inset, height - inset)):
            outline.lineTo(x, y)
        outline.lineTo(tip, height - inset)
        outline.closeSubpath()
        centre_x, centre_y, arm = width * 0.62, height / 2, height * 0.2
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.palette().color(QPalette.ColorRole.WindowText), pen_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawPath(outline)
        painter.drawLine(
            QPointF(centre_x - arm, centre_y - arm), QPointF(centre_x + arm, centre_y + arm)
        )
        painter.drawLine(
            QPointF(centre_x - arm, centre_y + arm), QPointF(centre_x + arm, centre_y - arm)
        )


class KeyButton(QAbstractButton):
    """One key: a box drawn by the style sheet like a tile (its border thickens when
    pressed), with its label centred and, on backspace, the ⌫ shape above the label."""

    def __init__(self, spec: KeySpec) -> None:
        super().__init__()
        self.spec = spec
        self.setProperty("kind", ButtonKind.TILE.value)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAutoRepeat(False)
        self.setMinimumSize(MIN_KEY_PX, MIN_KEY_PX)
        self.caption = label(TextRole.BUTTON)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(KEY_MARGIN_PX, KEY_MARGIN_PX, KEY_MARGIN_PX, KEY_MARGIN_PX)
        layout.setSpacing(KEY_MARGIN_PX)
        layout.addStretch(1)
        if spec.value == BACKSPACE:
            layout.addWidget(BackspaceShape(), 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        layout.addStretch(1)
        if spec.value not in LABEL_KEYS:
            self.set_caption(spec.value)

    @property
    def value(self) -> str:
        """The character the key types, or `BACKSPACE` or `CLEAR`."""
        return self.spec.value

    def set_caption(self, caption: str) -> None:
        self.setText(caption)
        self.caption.setText(caption)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        paint_styled_button(self)


def keyboard_width(key_px: int) -> int:
    """How wide the keyboard is with keys `key_px` wide."""
    return UNITS * key_px + (UNITS - 1) * KEY_GAP_PX + COLUMN_GAP_PX


def keyboard_height(key_px: int) -> int:
    """How tall the keyboard is with rows `key_px` tall."""
    return ROWS * key_px + (ROWS - 1) * KEY_GAP_PX


class OnScreenKeyboard(QWidget):
    """A touch keyboard that types into one `QLineEdit`, its target. `typed` carries the
    value of every key tapped (a character, `BACKSPACE` or `CLEAR`), whether or not
    there is a target to type into: it tells the window that someone is there."""

    typed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._target: QLineEdit | None = None
        self._keys: dict[str, KeyButton] = {}
        for spec in key_specs():
            key = KeyButton(spec)
            key.setParent(self)
            key.clicked.connect(lambda _=False, value=spec.value: self.press(value))
            self._keys[spec.value] = key
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(keyboard_width(MIN_KEY_PX), keyboard_height(MIN_KEY_PX))
        self.setMaximumWidth(keyboard_width(MAX_KEY_PX))
        self.retranslate("zh")

    @property
    def target(self) -> QLineEdit | None:
        return self._target

    def set_target(self, line_edit: QLineEdit | None) -> None:
        """Type into `line_edit` from now on (nothing, if None)."""
        self._target = line_edit

    def key(self, value: str) -> KeyButton:
        """The key that types `value` (a character, `BACKSPACE` or `CLEAR`)."""
        return self._keys[value]

    def key_buttons(self) -> list[KeyButton]:
        return list(self._keys.values())

    def press(self, value: str) -> None:
        """Do what the key `value` does to the target, as if it had been tapped."""
        target = self._target
        if target is not None and target.isEnabled() and not target.isReadOnly():
            if value == BACKSPACE:
                target.backspace()
            elif value == CLEAR:
                target.clear()
            else:
                target.insert(value)
        self.typed.emit(value)

    def retranslate(self, lang: Language) -> None:
        for value, key in LABEL_KEYS.items():
            self._keys[value].set_caption(text(key, lang))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(keyboard_width(IDEAL_KEY_PX), keyboard_height(IDEAL_KEY_PX))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.minimumSize()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._place_keys()

    def _place_keys(self) -> None:
        spare_width = self.width() - keyboard_width(0)
        spare_height = self.height() - keyboard_height(0)
        key_width = max(MIN_KEY_PX, min(MAX_KEY_PX, spare_width // UNITS))
        key_height = max(MIN_KEY_PX, min(MAX_KEY_PX, spare_height // ROWS))
        half = (key_width + KEY_GAP_PX) / 2
        for key in self._keys.values():
            spec = key.spec
            x = round(spec.column * half)
            if spec.column >= SPECIAL_COLUMN:
                x += COLUMN_GAP_PX
            y = spec.row * (key_height + KEY_GAP_PX)
            width = round(spec.span * half) - KEY_GAP_PX
            height = spec.rows * key_height + (spec.rows - 1) * KEY_GAP_PX
            key.setGeometry(QRect(x, y, width, height))
