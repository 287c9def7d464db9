"""An agent calling the station back (区级坐席回电): the screen that rings when a district
agent answers a resident's call-back request with a video call to this station.

It shows (and the window speaks) who is calling and about which item, with two large
buttons: answer (接听) and not now (暂不接听). Decisions made here: it rings only while
the station is idle on its start screen (a resident in the middle of a visit is never
interrupted: the window answers the district `busy`); it rings for as long as the call
client lets it (`kiosk.remote.client.RING_S`), after which `RingEnded` brings the start
screen back; the agent's name is a display name, never personal data of a resident.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.remote.events import IncomingCall
from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button


class RingScreen(QWidget):
    """The ringing call; `answered` / `declined` carry its `IncomingCall`."""

    answered = Signal(object)
    declined = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._incoming: IncomingCall | None = None
        self.heading = WrappedLabel(TextRole.HEADING)
        self.detail = WrappedLabel(TextRole.SUBHEADING)
        self.hint = WrappedLabel()
        self.answer_button = button(ButtonKind.PRIMARY)
        self.answer_button.clicked.connect(self._answer)
        self.decline_button = button()
        self.decline_button.clicked.connect(self._decline)
        buttons = QHBoxLayout()
        buttons.setSpacing(theme.SPACING_PX)
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.decline_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(theme.SPACING_PX, theme.SPACING_PX, theme.SPACING_PX, 0)
        column.setSpacing(theme.SPACING_PX)
        column.addWidget(self.heading)
        column.addWidget(self.detail)
        column.addWidget(self.hint)
        column.addLayout(buttons)
        column.addStretch(1)
        self._refresh()

    @property
    def incoming(self) -> IncomingCall | None:
        return self._incoming

    def ring(self, incoming: IncomingCall) -> None:
        self._incoming = incoming
        self._refresh()

    def clear(self) -> None:
        self._incoming = None
        self._refresh()

    def words(self, lang: Language) -> str:
        """What the station says when it rings."""
        incoming = self._incoming
        if incoming is None:
            return ""
        return text("say_ring", lang, agent=incoming.agent, item=incoming.item_title or "—")

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._refresh()

    def _answer(self) -> None:
        incoming, self._incoming = self._incoming, None
        if incoming is not None:
            self.answered.emit(incoming)

    def _decline(self) -> None:
        incoming, self._incoming = self._incoming, None
        if incoming is not None:
            self.declined.emit(incoming)

    def _refresh(self) -> None:
        lang, incoming = self._lang, self._incoming
        self.heading.set_plain_text(text("ring_heading", lang))
        detail = ""
        if incoming is not None:
            item = incoming.item_title or "—"
            detail = text("ring_detail", lang, agent=incoming.agent, item=item)
        self.detail.set_plain_text(detail)
        self.hint.set_plain_text(text("ring_hint", lang))
        self.answer_button.setText(text("ring_answer", lang))
        self.decline_button.setText(text("ring_decline", lang))
