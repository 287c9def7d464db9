"""The start screen: a welcome, one instruction and one big button. Touching anywhere on
it starts, so a resident cannot miss."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button


class StartScreen(QWidget):
    """Welcome, "touch the screen to begin", and the start button."""

    start_requested = Signal()
    mine_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setProperty("clickable", True)
        self.heading = WrappedLabel(TextRole.TITLE)
        self.body = WrappedLabel(TextRole.SUBHEADING)
        self.instruction = WrappedLabel(muted=True)
        self.start_button = button(ButtonKind.PRIMARY)
        self.start_button.clicked.connect(self.start_requested)
        self.mine_button = button()
        self.mine_button.clicked.connect(self.mine_requested)

        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX * 3 // 2
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX * 3 // 2)
        layout.addStretch(1)
        for part in (self.heading, self.body, self.instruction):
            part.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            layout.addWidget(part)
        buttons = QHBoxLayout()
        buttons.setSpacing(theme.SPACING_PX * 2)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignVCenter)
        buttons.addWidget(self.mine_button, 0, Qt.AlignmentFlag.AlignVCenter)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        self.heading.set_plain_text(text("welcome", lang))
        self.body.set_plain_text(text("welcome_body", lang))
        self.instruction.set_plain_text(text("touch_to_begin", lang))
        self.start_button.setText(text("start", lang))
        self.mine_button.setText(text("my_applications", lang))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.start_requested.emit()
        super().mouseReleaseEvent(event)
