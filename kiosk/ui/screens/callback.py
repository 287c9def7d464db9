"""The call-back request (请坐席回电): when no video call can be made (offline, no agent),
the resident leaves a phone number typed on a large keypad, the item they came for, and
a preferred time (today, tomorrow morning, tomorrow afternoon); an agent calls back.

The request is stored and queued for the district through the outbox like an
application, by `kiosk.core.callbacks.Callbacks.request`, on a worker thread. The number
is checked on the main thread first (`check_phone`: a pure function, no I/O), so that a
mistyped one is answered at once in the resident's words (`PhoneRefused`).

Decisions made here: a call-back is always about an item (the district routes it by the
item; `Callbacks` refuses a request without one), so the screen is only offered when the
visit has chosen one (the call screen hides its button otherwise); the digits are shown
in full while they are typed (the resident must be able to check them) and masked
(138****1234) once the request is kept.

The phone number is personal data: never logged, and dropped by `clear()` (the idle
wipe) and once it has been handed over.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.core.callbacks import (
    PREFERRED,
    Callbacks,
    PhoneRefused,
    Preferred,
    check_phone,
)
from kiosk.core.phone import mask
from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import TextButton, WrappedLabel, button, label, touch_scroll_area

if TYPE_CHECKING:
    from kiosk.core.catalog import ServiceItem
    from kiosk.store.db import Store

logger = logging.getLogger(__name__)

#: The words of each preferred time.
PREFERRED_KEYS: dict[Preferred, str] = {
    "today": "cb_today",
    "tomorrow_am": "cb_tomorrow_morning",
    "tomorrow_pm": "cb_tomorrow_afternoon",
}
assert set(PREFERRED_KEYS) == set(PREFERRED)
MAX_DIGITS = 12
KEY_WIDTH_PX = 110  # the keys share the height they are given, never below a target's


def spaced(digits: str) -> str:
    """A number as it is read out: 138 0013 8000 (a mobile), else in fours."""
    if digits.startswith("1"):
        groups = [digits[:3], digits[3:7], digits[7:]]
    else:
        groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return " ".join(group for group in groups if group)


class CallbackScreen(QWidget):
    """A phone number on the keypad, the item and a preferred time; `done` when it was
    kept (or the resident gives up: `back_requested`)."""

    back_requested = Signal()
    done = Signal()
    spoken = Signal(str)

    def __init__(self, tasks: TaskManager, store: Store | None) -> None:
        super().__init__()
        self._tasks = tasks
        self._store = store
        self._lang: Language = "zh"
        self._item: ServiceItem | None = None
        self._digits = ""
        self._preferred: Preferred | None = None
        self._status = ""  # the string key of the notice shown
        self._refusal: PhoneRefused | None = None  # why the typed number was refused
        self._masked = ""  # the number kept, masked
        self._busy = False
        self._saved = False
        self._generation = 0

        self.back_button = button()
        self.back_button.clicked.connect(self.back_requested)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.item_line = WrappedLabel(TextRole.SUBHEADING)
        self.phone_prompt = WrappedLabel()
        self.phone = label(TextRole.HEADING)
        self.when_prompt = WrappedLabel()
        self.time_buttons: dict[str, TextButton] = {}
        self.status = WrappedLabel(notice=True)
        self.submit_button = button(ButtonKind.PRIMARY)
        self.submit_button.clicked.connect(self.submit)
        self.done_button = button(ButtonKind.PRIMARY)
        self.done_button.clicked.connect(self.done)

        times = QHBoxLayout()
        times.setSpacing(theme.SPACING_PX)
        for value in PREFERRED_KEYS:
            choice = TextButton(ButtonKind.TILE)
            choice.setCheckable(True)
            choice.clicked.connect(lambda _=False, v=value: self.choose(v))
            times.addWidget(choice, 1)
            self.time_buttons[value] = choice

        self.digit_buttons: dict[str, QPushButton] = {}
        keypad = QGridLayout()
        keypad.setSpacing(theme.SPACING_PX // 2)
        for index, digit in enumerate("123456789"):
            keypad.addWidget(self._digit(digit), index // 3, index % 3)
        self.delete_button = self._key()
        self.delete_button.clicked.connect(self.delete)
        self.clear_button = self._key()
        self.clear_button.clicked.connect(self.clear_digits)
        keypad.addWidget(self.delete_button, 3, 0)
        keypad.addWidget(self._digit("0"), 3, 1)
        keypad.addWidget(self.clear_button, 3, 2)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        column.setSpacing(theme.SPACING_PX)
        # The notice under the number: what it says is mostly about the number.
        for part in (self.item_line, self.phone_prompt, self.phone, self.status, self.when_prompt):
            column.addWidget(part)
        column.addLayout(times)
        column.addStretch(1)

        header = QHBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.heading, 1)
        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING_PX)
        actions.addWidget(self.submit_button)
        actions.addWidget(self.done_button)
        actions.addStretch(1)
        form = QVBoxLayout()
        form.setSpacing(theme.SPACING_PX)
        form.addWidget(touch_scroll_area(content), 1)
        form.addLayout(actions)
        body = QHBoxLayout()
        body.setSpacing(theme.SPACING_PX * 2)
        body.addLayout(form, 1)
        body.addLayout(keypad)
        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(header)
        layout.addLayout(body, 1)
        self._refresh()

    def _key(self) -> QPushButton:
        key = button()
        key.setMinimumSize(KEY_WIDTH_PX, theme.TARGET_PX)
        key.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        return key

    def _digit(self, digit: str) -> QPushButton:
        key = self._key()
        key.setText(digit)
        key.clicked.connect(lambda _=False, d=digit: self.press(d))
        self.digit_buttons[digit] = key
        return key

    # -- what the window and the resident do -----------------------------------------------

    @property
    def digits(self) -> str:
        return self._digits

    @property
    def saved(self) -> bool:
        return self._saved

    def begin(self, item: ServiceItem | None) -> None:
        """A fresh request about `item` (None: a general enquiry)."""
        self.clear()
        self._item = item
        self._refresh()
        self.spoken.emit(text("cb_phone_prompt", self._lang))

    def press(self, digit: str) -> None:
        if len(self._digits) < MAX_DIGITS and not self._busy and not self._saved:
            self._digits += digit
            self._status, self._refusal = "", None
            self._refresh()

    def delete(self) -> None:
        if not self._busy and not self._saved:
            self._digits = self._digits[:-1]
            self._refresh()

    def clear_digits(self) -> None:
        if not self._busy and not self._saved:
            self._digits = ""
            self._refresh()

    def choose(self, preferred: Preferred) -> None:
        if not self._busy and not self._saved:
            self._preferred = preferred
            self._status, self._refusal = "", None
        self._refresh()

    def submit(self) -> None:
        """Check the number and the time here, then keep the request on a worker."""
        item = self._item
        if self._busy or self._saved or item is None:
            return
        try:
            number = check_phone(self._digits)
        except PhoneRefused as refused:
            self._refusal = refused
            self._say("")
            return
        if not self._preferred:
            self._say("cb_choose_time")
            return
        store, preferred = self._store, self._preferred
        code, title = item.code, item.name("zh")
        self._busy, self._refusal = True, None
        self._status = "cb_saving"
        self._refresh()
        self._generation += 1
        generation = self._generation

        def request() -> str:
            if store is None:
                raise RuntimeError("the kiosk has no store")
            return Callbacks(store).request(number, code, title, preferred)

        def kept(callback_id: str) -> None:
            if generation != self._generation:
                return
            logger.info("call-back %s queued for the district (%s)", callback_id, code)
            self._busy, self._saved = False, True
            self._digits, self._masked = "", mask(number)
            self._say("cb_saved")

        def failed(error: BaseException) -> None:
            logger.error("a call-back request could not be kept: %s", type(error).__name__)
            if generation != self._generation:
                return
            self._busy = False
            if isinstance(error, PhoneRefused):
                self._refusal = error
                self._say("")
            else:
                self._say("cb_failed")

        self._tasks.run_in_background(request, kept, failed)

    def clear(self) -> None:
        """Forget the number and the choices (the idle wipe)."""
        self._generation += 1
        self._item, self._digits, self._preferred = None, "", None
        self._status, self._busy, self._saved = "", False, False
        self._refusal, self._masked = None, ""
        self._refresh()

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._refresh()

    # -- texts -------------------------------------------------------------------------------

    def _say(self, key: str) -> None:
        """Show and speak the notice `key` (or, with "", why the number was refused)."""
        self._status = key
        self._refresh()
        self.spoken.emit(self._notice(self._lang))

    def _notice(self, lang: Language) -> str:
        if self._refusal is not None and not self._status:
            refusal = self._refusal
            return refusal.message_zh if lang == "zh" else refusal.message_en
        return text(self._status, lang) if self._status else ""

    def _refresh(self) -> None:
        lang, item = self._lang, self._item
        self.back_button.setText(text("back", lang))
        self.heading.set_plain_text(text("cb_heading", lang))
        if item is not None:
            self.item_line.set_plain_text(text("cb_item", lang, item=item.name(lang)))
        else:
            self.item_line.set_plain_text(text("cb_no_item", lang))
        self.phone_prompt.set_plain_text(text("cb_phone_prompt", lang))
        shown = self._masked or spaced(self._digits)
        self.phone.setText(shown or text("cb_phone_empty", lang))
        self.phone.setProperty("muted", not shown)
        self.phone.style().unpolish(self.phone)
        self.phone.style().polish(self.phone)
        self.when_prompt.set_plain_text(text("cb_when_prompt", lang))
        for value, choice in self.time_buttons.items():
            chosen = value == self._preferred
            choice.set_texts(("✔ " if chosen else "") + text(PREFERRED_KEYS[value], lang), "")
            choice.setChecked(chosen)
        notice = self._notice(lang)
        self.status.set_plain_text(notice)
        self.status.setVisible(bool(notice))
        self.delete_button.setText(text("cb_delete", lang))
        self.clear_button.setText(text("cb_clear", lang))
        self.submit_button.setText(text("cb_submit", lang))
        self.done_button.setText(text("cb_done", lang))
        self.submit_button.setVisible(not self._saved)
        self.submit_button.setEnabled(not self._busy and item is not None)
        self.done_button.setVisible(self._saved)
        self.back_button.setEnabled(not self._busy)
        for key in (*self.digit_buttons.values(), self.delete_button, self.clear_button):
            key.setEnabled(not self._busy and not self._saved)
