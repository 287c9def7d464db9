"""Staff mode: the PIN pad that opens it, and the staff dashboard behind it.

`StaffPinScreen` is a large PIN pad (digits shown as dots and counted in words, clear and
delete, the tries left and a lockout's countdown in words). It checks the PIN with a
`StaffLock` (kiosk.core.staff) on a worker thread and emits `unlocked` or `cancelled`.

`StaffScreen` is the dashboard: large buttons open its sections — the upload queue and
the sync state, the applications the district asked more for (补正, with their supplement
notices to print) and those it rejected with its reasons, the five devices
with a check and a self-test each, the print jobs with reprint, today's report (shown and
printed), today's 好差评 ratings with the comment staff may attach to each, and the
settings staff may change here (kiosk.config `STATION_CHANGEABLE`,
kept in `local-settings.json`), with "close the kiosk program" (`quit_requested`, on a
second tap) beneath them. Two buttons leave it: "assist a resident"
(`assisted_session_requested`) and "exit staff mode" (`closed`); "video call for a
resident" (`call_requested`) starts an assisted session with a call to an agent. Every
read and write of the store, the disk and the devices runs on the `TaskManager`; nothing
shown here holds personal data (applications appear by reference and item).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.config import (
    Paths,
    Settings,
    UiSettings,
    fixed_by_file,
    load_settings,
    save_local_settings,
    setting_bounds,
)
from kiosk.core.applications import Applications, ApplicationView, State
from kiosk.core.ratings import Ratings, RatingView
from kiosk.core.staff import MAX_PIN_DIGITS, Attempt, LockStatus, StaffLock, Verdict
from kiosk.devices.discovery import FAMILIES
from kiosk.devices.health import DeviceChecks
from kiosk.devices.printer.jobs import JobKind, JobState, PrintJobView, PrintQueue
from kiosk.documents import DayReportData, day_report_from_store, render_day_report
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.sync.service import SyncStatus, read_status
from kiosk.sync.wire import MAX_COMMENT
from kiosk.ui import theme
from kiosk.ui.keyboard import OnScreenKeyboard
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import TextButton, WrappedLabel, button, label, touch_scroll_area

logger = logging.getLogger(__name__)

#: How many queued applications and print jobs the dashboard lists at most.
LIST_LIMIT = 50
#: How long the first tap on "close the kiosk program" waits for the second.
QUIT_CONFIRM_MS = 5000
PIN_KEY_SIZE_PX = (100, 88)


def duration_words(seconds: float, lang: Language) -> str:
    """A time left in words, rounded up to the second: "4 分 30 秒", "5 min", "45 s"."""
    whole = max(0, math.ceil(seconds))
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return text("staff_seconds", lang, seconds=rest)
    if not rest:
        return text("staff_minutes", lang, minutes=minutes)
    return text("staff_minutes_seconds", lang, minutes=minutes, seconds=rest)


def problem_words(error: BaseException) -> str:
    """What staff are told of a failure: a named error's message and what to do."""
    if isinstance(error, DoorstepError):
        return f"{error.staff_message} — {error.action}"
    return type(error).__name__


def local_time(moment: datetime | str | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def clear_layout(layout: QLayout) -> None:
    """Remove and delete every widget and nested layout in `layout`."""
    while layout.count():
        item = layout.takeAt(0)
        if (widget := item.widget()) is not None:
            widget.hide()
            widget.deleteLater()
        elif (inner := item.layout()) is not None:
            clear_layout(inner)


# -- the PIN pad ---------------------------------------------------------------------------


class StaffPinScreen(QWidget):
    """The staff PIN pad. Show it (it clears itself and reads the lock's state when
    shown); it emits `unlocked` after the right PIN and `cancelled` on "cancel".
    `clock` (monotonic seconds) runs the lockout countdown."""

    unlocked = Signal()
    cancelled = Signal()

    def __init__(
        self,
        lock: StaffLock,
        tasks: TaskManager,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._lock = lock
        self._tasks = tasks
        self._clock = clock
        self._lang: Language = "zh"
        self._pin = ""
        self._busy = False
        self._status: LockStatus | None = None
        self._locked_until: float | None = None
        self._message: Callable[[Language], str] = lambda lang: ""
        self._generation = 0

        self.heading = WrappedLabel(TextRole.HEADING)
        self.instruction = WrappedLabel()
        self.dots = label(TextRole.HEADING)
        self.typed = WrappedLabel(muted=True)
        self.status = WrappedLabel(notice=True)
        self.cancel_button = button()
        self.cancel_button.clicked.connect(self.cancel)

        # 1 2 3 | delete
        # 4 5 6 | clear
        # 7 8 9 | OK
        #   0   | OK
        self.digit_buttons: dict[str, QPushButton] = {}
        keypad = QGridLayout()
        keypad.setSpacing(theme.SPACING_PX)
        for index, digit in enumerate("123456789"):
            keypad.addWidget(self._digit_button(digit), index // 3, index % 3)
        keypad.addWidget(self._digit_button("0"), 3, 0, 1, 3)
        self.delete_button = self._key()
        self.delete_button.clicked.connect(self.delete)
        self.clear_button = self._key()
        self.clear_button.clicked.connect(self.clear)
        self.ok_button = button(ButtonKind.PRIMARY_KEY)
        self.ok_button.clicked.connect(self.submit)
        self.ok_button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        keypad.addWidget(self.delete_button, 0, 3)
        keypad.addWidget(self.clear_button, 1, 3)
        keypad.addWidget(self.ok_button, 2, 3, 2, 1)

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)

        header = QHBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.heading, 1)
        typed = QHBoxLayout()
        typed.setSpacing(theme.SPACING_PX)
        typed.addWidget(self.dots)
        typed.addWidget(self.typed, 1)
        left = QVBoxLayout()
        left.setSpacing(theme.SPACING_PX)
        left.addLayout(header)
        left.addWidget(self.instruction)
        left.addLayout(typed)
        left.addWidget(self.status)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX * 2)
        layout.addLayout(left, 1)
        pad = QVBoxLayout()
        pad.addLayout(keypad)
        pad.addStretch(1)
        layout.addLayout(pad)
        self._show_pin()
        self._update_keys()

    def _key(self) -> QPushButton:
        key = button()
        key.setMinimumSize(*PIN_KEY_SIZE_PX)
        return key

    def _digit_button(self, digit: str) -> QPushButton:
        key = self._key()
        key.setText(digit)
        key.clicked.connect(lambda _=False, d=digit: self.press(d))
        self.digit_buttons[digit] = key
        return key

    @property
    def checking(self) -> bool:
        """Whether the lock is being asked (a PIN checked, or its state read)."""
        return self._busy

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.heading.set_plain_text(text("staff_pin_heading", lang))
        self.instruction.set_plain_text(text("staff_pin_instruction", lang))
        self.clear_button.setText(text("staff_pin_clear", lang))
        self.delete_button.setText(text("staff_pin_delete", lang))
        self.ok_button.setText(text("staff_pin_ok", lang))
        self.cancel_button.setText(text("staff_pin_cancel", lang))
        self._show_pin()
        self._show_message()

    def prepare(self) -> None:
        """Start afresh: no digits, and the lock's state read again."""
        self._pin = ""
        self._show_pin()
        self._generation += 1
        generation = self._generation
        self._busy = True
        self._update_keys()
        self._tasks.run_in_background(
            self._lock.status,
            lambda status: self._status_read(generation, status),
            lambda error: self._failed(generation, error),
        )

    def press(self, digit: str) -> None:
        if len(self._pin) < MAX_PIN_DIGITS and self._accepting():
            self._pin += digit
            self._show_pin()

    def delete(self) -> None:
        self._pin = self._pin[:-1]
        self._show_pin()

    def clear(self) -> None:
        self._pin = ""
        self._show_pin()

    def cancel(self) -> None:
        self._pin = ""
        self._show_pin()
        self.cancelled.emit()

    def submit(self) -> None:
        if not self._pin or not self._accepting():
            return
        pin, self._pin = self._pin, ""
        self._show_pin()
        self._generation += 1
        generation = self._generation
        self._busy = True
        self._say(lambda lang: text("staff_pin_checking", lang))
        self._tasks.run_in_background(
            lambda: self._lock.check(pin),
            lambda attempt: self._checked(generation, attempt),
            lambda error: self._failed(generation, error),
        )

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.prepare()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt's name)
        self._pin = ""
        self._show_pin()
        self._countdown.stop()
        super().hideEvent(event)

    # -- outcomes --------------------------------------------------------------------------

    def _status_read(self, generation: int, status: LockStatus) -> None:
        if generation != self._generation:
            return
        self._busy = False
        self._apply(status)
        if not status.pin_set:
            self._say(lambda lang: text("staff_pin_no_pin", lang))
        elif status.locked:
            self._say_locked()
        elif status.tries_left < self._lock.tries:
            self._say(lambda lang: text("staff_pin_tries_left", lang, tries=status.tries_left))
        else:
            self._say(lambda lang: "")

    def _checked(self, generation: int, attempt: Attempt) -> None:
        if generation != self._generation:
            return
        self._busy = False
        self._apply(attempt.status)
        tries = attempt.status.tries_left
        if attempt.verdict is Verdict.RIGHT:
            self._say(lambda lang: "")
            self.unlocked.emit()
        elif attempt.verdict is Verdict.WRONG:
            self._say(lambda lang: text("staff_pin_wrong", lang, tries=tries))
        elif attempt.verdict is Verdict.LOCKED:
            self._say_locked()
        else:
            self._say(lambda lang: text("staff_pin_no_pin", lang))

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self._busy = False
        self._status = None
        self._update_keys()
        problem = problem_words(error)
        self._say(lambda lang: text("staff_pin_failed", lang, problem=problem))

    def _apply(self, status: LockStatus) -> None:
        self._status = status
        if status.locked:
            self._locked_until = self._clock() + status.locked_for_s
            self._countdown.start()
        else:
            self._locked_until = None
            self._countdown.stop()
        self._update_keys()

    def _tick(self) -> None:
        if self._locked_until is None:
            self._countdown.stop()
            return
        if self._locked_until - self._clock() <= 0:
            self._countdown.stop()
            self._locked_until = None
            self.prepare()
            return
        self._show_message()

    def _say_locked(self) -> None:
        def locked(lang: Language) -> str:
            left = (self._locked_until or 0) - self._clock()
            return text("staff_pin_locked", lang, time=duration_words(left, lang))

        self._say(locked)

    def _say(self, message: Callable[[Language], str]) -> None:
        self._message = message
        self._show_message()

    def _show_message(self) -> None:
        shown = self._message(self._lang)
        self.status.set_plain_text(shown)
        self.status.setVisible(bool(shown))

    def _accepting(self) -> bool:
        status = self._status
        return not self._busy and status is not None and status.pin_set and not status.locked

    def _update_keys(self) -> None:
        accepting = self._accepting()
        for key in (*self.digit_buttons.values(), self.clear_button, self.delete_button):
            key.setEnabled(accepting)
        self.ok_button.setEnabled(accepting)

    def _show_pin(self) -> None:
        self.dots.setText(" ".join("●" * len(self._pin)))
        self.dots.setVisible(bool(self._pin))
        self.typed.set_plain_text(text("staff_pin_typed", self._lang, count=len(self._pin)))


# -- the dashboard -------------------------------------------------------------------------


class Section(StrEnum):
    QUEUE = "queue"
    REJECTED = "rejected"
    DEVICES = "devices"
    PRINTS = "prints"
    REPORT = "report"
    RATINGS = "ratings"
    SETTINGS = "settings"


#: Each section's name, and what its tile on the overview says of it.
SECTION_TEXTS: dict[Section, tuple[str, str]] = {
    Section.QUEUE: ("staff_section_queue", "staff_tile_queue"),
    Section.REJECTED: ("staff_section_rejected", "staff_tile_rejected"),
    Section.DEVICES: ("staff_section_devices", "staff_tile_devices"),
    Section.PRINTS: ("staff_section_prints", "staff_tile_prints"),
    Section.REPORT: ("staff_section_report", "staff_tile_report"),
    Section.RATINGS: ("staff_section_ratings", "staff_tile_ratings"),
    Section.SETTINGS: ("staff_section_settings", "staff_tile_settings"),
}
DEVICE_NAMES = {
    "card_reader": "staff_device_card_reader",
    "camera": "staff_device_camera",
    "document_camera": "staff_device_document_camera",
    "scanner": "staff_device_scanner",
    "printer": "staff_device_printer",
}
JOB_KINDS: dict[str, str] = {
    JobKind.RECEIPT: "staff_job_receipt",
    JobKind.SUPPLEMENT: "staff_job_supplement",
    JobKind.FORM: "staff_job_form",
    JobKind.REPORT: "staff_job_report",
    JobKind.TEST_PAGE: "staff_job_test_page",
}
JOB_STATES = {
    JobState.QUEUED: "staff_job_queued",
    JobState.PRINTING: "staff_job_printing",
    JobState.DONE: "staff_job_done",
}


class _Page(QWidget):
    """A section of the dashboard: a back button, its heading, a line of buttons, a
    notice for what is happening, and its content in a scroll area."""

    back_requested = Signal()

    def __init__(self, section: Section) -> None:
        super().__init__()
        self.section = section
        self._lang: Language = "zh"
        self._generation = 0
        self.back_button = button()
        self.back_button.clicked.connect(self.back_requested)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.notice = WrappedLabel(notice=True)
        self.notice.hide()
        self.tools = QHBoxLayout()
        self.tools.setSpacing(theme.SPACING_PX)
        content = QWidget()
        self.body = QVBoxLayout(content)
        self.body.setContentsMargins(0, 0, theme.SPACING_PX, theme.SPACING_PX)
        self.body.setSpacing(theme.SPACING_PX)
        self.scroll_area = touch_scroll_area(content)
        top = QHBoxLayout()
        top.setSpacing(theme.SPACING_PX)
        top.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.heading, 1)
        top.addLayout(self.tools)
        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, 0)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.scroll_area, 1)

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("back", lang))
        self.heading.set_plain_text(text(SECTION_TEXTS[self.section][0], lang))

    def refresh(self) -> None:
        """Read what the section shows again (in the background)."""

    def tell(self, message: str) -> None:
        self.notice.set_plain_text(message)
        self.notice.setVisible(bool(message))

    def _next(self) -> int:
        self._generation += 1
        return self._generation

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _failed(self, generation: int, error: BaseException) -> None:
        if self._current(generation):
            self.tell(text("staff_load_failed", self._lang, problem=problem_words(error)))


@dataclass(frozen=True)
class QueueFacts:
    status: SyncStatus
    queued: list[ApplicationView]
    queued_total: int


class QueuePage(_Page):
    """The upload queue and where the sync stands."""

    sync_requested = Signal()

    def __init__(
        self, store: Store, station: str, tasks: TaskManager, sync_status: Callable[[], SyncStatus]
    ) -> None:
        super().__init__(Section.QUEUE)
        self._store = store
        self._station = station
        self._tasks = tasks
        self._sync_status = sync_status
        self._facts: QueueFacts | None = None
        self.refresh_button = button()
        self.refresh_button.clicked.connect(self.refresh)
        self.sync_button = button()
        self.sync_button.clicked.connect(self._sync_now)
        self.tools.addWidget(self.refresh_button)
        self.tools.addWidget(self.sync_button)
        self.summary = WrappedLabel()
        self.list_heading = WrappedLabel(TextRole.SUBHEADING)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(theme.SPACING_PX // 2)
        self.body.addWidget(self.summary)
        self.body.addWidget(self.list_heading)
        self.body.addLayout(self.rows)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.refresh_button.setText(text("staff_refresh", lang))
        self.sync_button.setText(text("staff_sync_now", lang))
        self._show()

    def refresh(self) -> None:
        generation = self._next()
        self.tell(text("staff_loading", self._lang))
        store, station, status = self._store, self._station, self._sync_status

        def read() -> QueueFacts:
            views = Applications(store, station).views()
            queued = [view for view in views if view.state is State.QUEUED]
            return QueueFacts(status(), queued[:LIST_LIMIT], len(queued))

        self._tasks.run_in_background(
            read,
            lambda facts: self._read(generation, facts),
            lambda error: self._failed(generation, error),
        )

    def _read(self, generation: int, facts: QueueFacts) -> None:
        if self._current(generation):
            self._facts = facts
            self.tell("")
            self._show()

    def _sync_now(self) -> None:
        self.sync_requested.emit()
        self.tell(text("staff_sync_requested", self._lang))

    def _show(self) -> None:
        lang, facts = self._lang, self._facts
        clear_layout(self.rows)
        if facts is None:
            self.summary.set_plain_text("")
            self.list_heading.set_plain_text("")
            return
        self.summary.set_plain_text(sync_summary(facts.status, lang))
        self.list_heading.set_plain_text(
            text("staff_queued_heading", lang, count=facts.queued_total)
        )
        if not facts.queued:
            self.rows.addWidget(self._row(text("staff_no_queued", lang)))
        for view in facts.queued:
            self.rows.addWidget(self._row(application_line(view, lang)))
        if facts.queued_total > len(facts.queued):
            more = facts.queued_total - len(facts.queued)
            self.rows.addWidget(self._row(text("staff_more", lang, count=more)))

    def _row(self, shown: str) -> WrappedLabel:
        row = WrappedLabel()
        row.set_plain_text(shown)
        return row


def sync_summary(status: SyncStatus, lang: Language) -> str:
    """The sync state in lines of "label: value"."""

    def field(key: str, value: str) -> str:
        return text("staff_field", lang, label=text(key, lang), value=value)

    if not status.enrolled:
        online = text("staff_not_enrolled", lang)
    elif status.online is None:
        online = text("staff_online_unknown", lang)
    else:
        online = text("staff_online_yes" if status.online else "staff_online_no", lang)
    error = text("staff_none", lang)
    if status.last_error:
        when = local_time(status.last_error_at) or ""
        error = text("staff_error_at", lang, time=when, error=status.last_error)
    lines = [
        field("staff_online_label", online),
        field("staff_queued_label", text("staff_count", lang, count=status.queued)),
        field("staff_in_flight_label", text("staff_count", lang, count=status.in_flight)),
        field("staff_rejected_label", text("staff_count", lang, count=status.rejected)),
        field(
            "staff_last_success_label",
            local_time(status.last_success) or text("staff_never", lang),
        ),
        field("staff_last_error_label", error),
    ]
    return "\n".join(lines)


def application_line(view: ApplicationView, lang: Language) -> str:
    item = view.item_name_en if lang == "en" and view.item_name_en else view.item_name_zh
    return text("staff_application_line", lang, reference=view.reference, item=item)


class RejectedPage(_Page):
    """The applications the district asked more for (补正), each with what is missing and
    a button that prints its supplement notice for the resident; then those it rejected,
    each with its reason."""

    print_queued = Signal()

    def __init__(self, store: Store, settings: Settings, tasks: TaskManager) -> None:
        super().__init__(Section.REJECTED)
        self._store = store
        self._settings = settings
        self._tasks = tasks
        self._rejected: list[ApplicationView] | None = None
        self._needs_more: list[ApplicationView] = []
        self.slip_buttons: list[QPushButton] = []
        self.refresh_button = button()
        self.refresh_button.clicked.connect(self.refresh)
        self.tools.addWidget(self.refresh_button)
        self.more_heading = WrappedLabel(TextRole.SUBHEADING)
        self.more_rows = QVBoxLayout()
        self.more_rows.setSpacing(theme.SPACING_PX)
        self.list_heading = WrappedLabel(TextRole.SUBHEADING)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(theme.SPACING_PX)
        self.body.addWidget(self.more_heading)
        self.body.addLayout(self.more_rows)
        self.body.addWidget(self.list_heading)
        self.body.addLayout(self.rows)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.refresh_button.setText(text("staff_refresh", lang))
        self._show()

    def refresh(self) -> None:
        generation = self._next()
        self.tell(text("staff_loading", self._lang))
        store, station = self._store, self._settings.station.code

        def read() -> list[ApplicationView]:
            views = Applications(store, station).views()
            wanted = (State.NEEDS_MORE, State.REJECTED)
            return [view for view in reversed(views) if view.state in wanted]

        self._tasks.run_in_background(
            read,
            lambda found: self._read(generation, found),
            lambda error: self._failed(generation, error),
        )

    def print_slip(self, view: ApplicationView) -> None:
        """Queue the supplement notice of `view` (an application that needs more)."""
        from kiosk.documents.supplement import supplement_pdf

        store, settings, lang = self._store, self._settings, self._lang
        for key in self.slip_buttons:
            key.setEnabled(False)

        def queue() -> PrintJobView:
            pdf, reference = supplement_pdf(
                store,
                view.id,
                settings.station,
                roll=settings.printer.paper == "roll80",
                lang=lang,
                now=datetime.now().astimezone(),
            )
            return PrintQueue(store).add(
                pdf, kind=JobKind.SUPPLEMENT, title="supplement", reference=reference
            )

        self._tasks.run_in_background(queue, self._slip_queued, self._slip_failed)

    def _slip_queued(self, job: PrintJobView) -> None:
        self.tell(text("staff_slip_queued", self._lang, reference=job.reference or ""))
        self.print_queued.emit()
        self._show()

    def _slip_failed(self, error: BaseException) -> None:
        self.tell(text("staff_load_failed", self._lang, problem=problem_words(error)))
        self._show()

    def _read(self, generation: int, found: list[ApplicationView]) -> None:
        if self._current(generation):
            self._needs_more = [view for view in found if view.state is State.NEEDS_MORE]
            self._rejected = [view for view in found if view.state is State.REJECTED]
            self.tell("")
            self._show()

    def _show(self) -> None:
        lang = self._lang
        clear_layout(self.rows)
        clear_layout(self.more_rows)
        self.slip_buttons = []
        if self._rejected is None:
            self.list_heading.set_plain_text("")
            self.more_heading.set_plain_text("")
            return
        self.more_heading.set_plain_text(
            text("staff_needs_more_heading", lang, count=len(self._needs_more))
        )
        self.more_heading.setVisible(bool(self._needs_more))
        for view in self._needs_more:
            title = WrappedLabel(TextRole.BUTTON)
            title.set_plain_text(application_line(view, lang))
            missing = WrappedLabel()
            missing.set_plain_text(text("staff_missing", lang, missing=view.reason or "—"))
            slip = button()
            slip.setText(text("mine_print_slip", lang))
            slip.clicked.connect(lambda _=False, chosen=view: self.print_slip(chosen))
            self.slip_buttons.append(slip)
            self.more_rows.addLayout(action_row(title, missing, slip))
        self.list_heading.set_plain_text(
            text("staff_rejected_heading", lang, count=len(self._rejected))
        )
        if not self._rejected:
            empty = WrappedLabel()
            empty.set_plain_text(text("staff_no_rejected", lang))
            self.rows.addWidget(empty)
        for view in self._rejected:
            title = WrappedLabel(TextRole.BUTTON)
            title.set_plain_text(application_line(view, lang))
            reason = WrappedLabel()
            reason.set_plain_text(
                text("staff_reason", lang, reason=view.reason or text("staff_no_reason", lang))
            )
            entry = QVBoxLayout()
            entry.setSpacing(4)
            entry.addWidget(title)
            entry.addWidget(reason)
            self.rows.addLayout(entry)


@dataclass
class _DeviceRow:
    name: WrappedLabel
    state: WrappedLabel
    check_button: QPushButton
    test_button: QPushButton
    shown: Callable[[Language], str] = lambda lang: ""


class DevicesPage(_Page):
    """The five devices: how each is doing, a check and a self-test for each."""

    def __init__(self, checks: DeviceChecks, tasks: TaskManager) -> None:
        super().__init__(Section.DEVICES)
        self._checks = checks
        self._tasks = tasks
        self._runs: dict[str, int] = {}
        self.rows: dict[str, _DeviceRow] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(theme.SPACING_PX)
        grid.setVerticalSpacing(theme.SPACING_PX)
        for index, family in enumerate(FAMILIES):
            row = _DeviceRow(
                name=WrappedLabel(TextRole.SUBHEADING),
                state=WrappedLabel(),
                check_button=button(),
                test_button=button(),
            )
            row.check_button.clicked.connect(lambda _=False, f=family: self.check(f))
            row.test_button.clicked.connect(lambda _=False, f=family: self.self_test(f))
            texts = QVBoxLayout()
            texts.setSpacing(4)
            texts.addWidget(row.name)
            texts.addWidget(row.state)
            grid.addLayout(texts, index, 0)
            grid.addWidget(row.check_button, index, 1, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(row.test_button, index, 2, Qt.AlignmentFlag.AlignTop)
            self.rows[family] = row
        grid.setColumnStretch(0, 1)
        self.body.addLayout(grid)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        for family, row in self.rows.items():
            row.name.set_plain_text(text(DEVICE_NAMES[family], lang))
            row.check_button.setText(text("staff_check", lang))
            row.test_button.setText(text("staff_self_test", lang))
            row.state.set_plain_text(row.shown(lang))

    def refresh(self) -> None:
        for family in FAMILIES:
            self.check(family)

    def check(self, family: str) -> None:
        self._run(
            family,
            self._checks.health,
            "staff_checking",
            ok="staff_device_ok",
            bad="staff_device_problem",
        )

    def self_test(self, family: str) -> None:
        waiting = {"scanner": "staff_testing_scanner", "printer": "staff_testing_printer"}
        self._run(
            family,
            self._checks.self_test,
            waiting.get(family, "staff_testing"),
            ok="staff_test_ok",
            bad="staff_test_failed",
        )

    def _run(
        self,
        family: str,
        how: Callable[[str, str], tuple[bool, str]],
        waiting: str,
        *,
        ok: str,
        bad: str,
    ) -> None:
        row = self.rows[family]
        run = self._runs.get(family, 0) + 1
        self._runs[family] = run
        lang = self._lang
        self._set(row, lambda lang: text(waiting, lang), busy=True)

        def done(result: tuple[bool, str]) -> None:
            if self._runs.get(family) == run:
                passed, said = result
                self._set(row, lambda lang: text(ok if passed else bad, lang, text=said))

        def failed(error: BaseException) -> None:
            if self._runs.get(family) == run:
                said = problem_words(error)
                self._set(row, lambda lang: text(bad, lang, text=said))

        self._tasks.run_in_background(lambda: how(family, lang), done, failed)

    def _set(
        self, row: _DeviceRow, shown: Callable[[Language], str], *, busy: bool = False
    ) -> None:
        row.shown = shown
        row.state.set_plain_text(shown(self._lang))
        row.check_button.setEnabled(not busy)
        row.test_button.setEnabled(not busy)


def job_title(job: PrintJobView, lang: Language) -> str:
    """A print job by its kind in words and its reference: "回执 DEMO01-20261124-0007"."""
    key = JOB_KINDS.get(job.kind)
    kind = text(key, lang) if key else job.title
    return text("staff_job_title", lang, kind=kind, reference=job.reference or "").strip()


def job_state(job: PrintJobView, lang: Language) -> str:
    if job.state is JobState.FAILED:
        return text("staff_job_failed", lang, reason=job.detail or job.reason or "?")
    return text(JOB_STATES[job.state], lang)


class PrintJobsPage(_Page):
    """The newest print jobs with their states, each with a reprint button."""

    print_queued = Signal()

    def __init__(self, store: Store, tasks: TaskManager) -> None:
        super().__init__(Section.PRINTS)
        self._queue = PrintQueue(store)
        self._tasks = tasks
        self._jobs: list[PrintJobView] | None = None
        self.reprint_buttons: list[QPushButton] = []
        self.refresh_button = button()
        self.refresh_button.clicked.connect(self.refresh)
        self.tools.addWidget(self.refresh_button)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(theme.SPACING_PX)
        self.body.addLayout(self.rows)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.refresh_button.setText(text("staff_refresh", lang))
        self._show()

    def refresh(self) -> None:
        generation = self._next()
        queue = self._queue
        self._tasks.run_in_background(
            lambda: queue.jobs(limit=LIST_LIMIT),
            lambda jobs: self._read(generation, jobs),
            lambda error: self._failed(generation, error),
        )

    def reprint(self, job: PrintJobView) -> None:
        queue = self._queue
        for key in self.reprint_buttons:
            key.setEnabled(False)
        self._tasks.run_in_background(
            lambda: queue.reprint(job.id), self._reprinted, self._reprint_failed
        )

    def _reprinted(self, job: PrintJobView) -> None:
        self.tell(text("staff_reprinted", self._lang, title=job_title(job, self._lang)))
        self.print_queued.emit()
        self.refresh()

    def _reprint_failed(self, error: BaseException) -> None:
        self.tell(text("staff_load_failed", self._lang, problem=problem_words(error)))
        self.refresh()

    def _read(self, generation: int, jobs: list[PrintJobView]) -> None:
        if self._current(generation):
            self._jobs = jobs
            self._show()

    def _show(self) -> None:
        lang = self._lang
        clear_layout(self.rows)
        self.reprint_buttons = []
        if self._jobs is None:
            return
        if not self._jobs:
            empty = WrappedLabel()
            empty.set_plain_text(text("staff_no_jobs", lang))
            self.rows.addWidget(empty)
        for job in self._jobs:
            title = WrappedLabel(TextRole.BUTTON)
            title.set_plain_text(job_title(job, lang))
            detail = WrappedLabel()
            when = local_time(job.created_at) or ""
            detail.set_plain_text(
                text("staff_job_detail", lang, time=when, state=job_state(job, lang))
            )
            again = button()
            again.setText(text("staff_reprint", lang))
            again.clicked.connect(lambda _=False, chosen=job: self.reprint(chosen))
            self.reprint_buttons.append(again)
            self.rows.addLayout(action_row(title, detail, again))


def action_row(title: QWidget, detail: QWidget, action: QWidget) -> QHBoxLayout:
    """A list row of staff mode: two lines of text, and the row's button beside them."""
    texts = QVBoxLayout()
    texts.setSpacing(4)
    texts.addWidget(title)
    texts.addWidget(detail)
    entry = QHBoxLayout()
    entry.setSpacing(theme.SPACING_PX)
    entry.addLayout(texts, 1)
    entry.addWidget(action, 0, Qt.AlignmentFlag.AlignTop)
    return entry


def queue_day_report(
    store: Store, settings: Settings, lang: Language, *, now: datetime, last_success: str | None
) -> PrintJobView:
    """Render today's report and queue it for printing (off the main thread)."""
    data = day_report(store, settings, lang, now=now, last_success=last_success)
    return PrintQueue(store).add(
        render_day_report(data), kind=JobKind.REPORT, title="day report", reference=data.reference
    )


def day_report(
    store: Store, settings: Settings, lang: Language, *, now: datetime, last_success: str | None
) -> DayReportData:
    succeeded = datetime.fromisoformat(last_success) if last_success else None
    return day_report_from_store(
        store, settings.station, now.date(), now=now, last_success=succeeded, lang=lang
    )


class DayReportPage(_Page):
    """Today's figures, and a button that prints today's report."""

    print_queued = Signal()

    def __init__(
        self,
        store: Store,
        settings: Settings,
        tasks: TaskManager,
        sync_status: Callable[[], SyncStatus],
    ) -> None:
        super().__init__(Section.REPORT)
        self._store = store
        self._settings = settings
        self._tasks = tasks
        self._sync_status = sync_status
        self._data: DayReportData | None = None
        self.print_button = button()
        self.print_button.clicked.connect(self.print_report)
        self.tools.addWidget(self.print_button)
        self.summary = WrappedLabel()
        self.body.addWidget(self.summary)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.print_button.setText(text("staff_print_report", lang))
        if self._lang != getattr(self._data, "lang", lang):
            self.refresh()
        self._show()

    def refresh(self) -> None:
        generation = self._next()
        store, settings, lang, status = self._store, self._settings, self._lang, self._sync_status
        self._tasks.run_in_background(
            lambda: day_report(
                store,
                settings,
                lang,
                now=datetime.now().astimezone(),
                last_success=status().last_success,
            ),
            lambda data: self._read(generation, data),
            lambda error: self._failed(generation, error),
        )

    def print_report(self) -> None:
        store, settings, lang, status = self._store, self._settings, self._lang, self._sync_status
        self.print_button.setEnabled(False)
        self._tasks.run_in_background(
            lambda: queue_day_report(
                store,
                settings,
                lang,
                now=datetime.now().astimezone(),
                last_success=status().last_success,
            ),
            self._queued,
            self._print_failed,
        )

    def _queued(self, _job: PrintJobView) -> None:
        self.print_button.setEnabled(True)
        self.tell(text("staff_report_queued", self._lang))
        self.print_queued.emit()

    def _print_failed(self, error: BaseException) -> None:
        self.print_button.setEnabled(True)
        self.tell(text("staff_load_failed", self._lang, problem=problem_words(error)))

    def _read(self, generation: int, data: DayReportData) -> None:
        if self._current(generation):
            self._data = data
            self._show()

    def _show(self) -> None:
        data, lang = self._data, self._lang
        if data is None:
            self.summary.set_plain_text("")
            return
        lines = [text("staff_report_today", lang, day=data.day.isoformat(), count=data.total)]
        lines += [
            text("staff_report_state_line", lang, state=entry.label, count=entry.count)
            for entry in data.by_state
            if entry.count
        ]
        lines.append(
            text("staff_report_sync", lang, waiting=data.sync.waiting, rejected=data.sync.rejected)
        )
        self.summary.set_plain_text("\n".join(lines))


#: Short comments staff add with one tap (they can still type their own).
COMMENT_PHRASES = (
    "staff_phrase_wait",
    "staff_phrase_help",
    "staff_phrase_device",
    "staff_phrase_materials",
    "staff_phrase_kind",
)


class RatingsPage(_Page):
    """Today's 好差评 ratings, newest first, each with the comment staff attached and a
    button to write or change it: a line of at most MAX_COMMENT characters, typed on the
    on-screen keyboard (or a keyboard plugged in, with its input method for Chinese), or
    put together from a few ready phrases with a tap. A comment goes to the district with
    the rating, or after it (kiosk.core.ratings)."""

    def __init__(self, store: Store, tasks: TaskManager) -> None:
        super().__init__(Section.RATINGS)
        self._ratings = Ratings(store)
        self._tasks = tasks
        self._shown: list[RatingView] | None = None
        self._editing: RatingView | None = None
        self.comment_buttons: list[QPushButton] = []
        self.refresh_button = button()
        self.refresh_button.clicked.connect(self.refresh)
        self.tools.addWidget(self.refresh_button)

        self.editor = QWidget()
        self.editor_heading = WrappedLabel(TextRole.SUBHEADING)
        self.comment_field = QLineEdit()
        self.comment_field.setMaxLength(MAX_COMMENT)
        self.phrase_buttons: dict[str, QPushButton] = {}
        phrases = QGridLayout()
        phrases.setSpacing(theme.SPACING_PX // 2)
        for index, key in enumerate(COMMENT_PHRASES):
            phrase = button()
            phrase.clicked.connect(lambda _=False, k=key: self._add_phrase(k))
            phrases.addWidget(phrase, *divmod(index, 3))
            self.phrase_buttons[key] = phrase
        self.keyboard = OnScreenKeyboard()
        self.keyboard.set_target(self.comment_field)
        self.save_button = button(ButtonKind.PRIMARY)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = button()
        self.cancel_button.clicked.connect(self.cancel)
        field = QHBoxLayout()  # the buttons beside the field: in sight above the keys
        field.setSpacing(theme.SPACING_PX)
        field.addWidget(self.comment_field, 1)
        field.addWidget(self.cancel_button)
        field.addWidget(self.save_button)
        editing = QVBoxLayout(self.editor)
        editing.setContentsMargins(0, 0, 0, 0)
        editing.setSpacing(theme.SPACING_PX)
        editing.addWidget(self.editor_heading)
        editing.addLayout(field)
        editing.addLayout(phrases)
        editing.addWidget(self.keyboard)
        self.editor.hide()

        self.list_heading = WrappedLabel(TextRole.SUBHEADING)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(theme.SPACING_PX)
        self.body.addWidget(self.editor)
        self.body.addWidget(self.list_heading)
        self.body.addLayout(self.rows)
        self.body.addStretch(1)

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.refresh_button.setText(text("staff_refresh", lang))
        for key, phrase in self.phrase_buttons.items():
            phrase.setText(text(key, lang))
        self.keyboard.retranslate(lang)
        self.save_button.setText(text("staff_comment_save", lang))
        self.cancel_button.setText(text("staff_comment_cancel", lang))
        self._show()

    def refresh(self) -> None:
        generation = self._next()
        ratings = self._ratings
        self._tasks.run_in_background(
            lambda: ratings.on_day(datetime.now().astimezone(), limit=LIST_LIMIT),
            lambda shown: self._read(generation, shown),
            lambda error: self._failed(generation, error),
        )

    def edit(self, rating: RatingView) -> None:
        """Open the comment editor for `rating`, with its comment as it is."""
        self._editing = rating
        self.comment_field.setText(rating.comment)
        self.editor.show()
        self.tell("")
        self._show()
        self.scroll_area.verticalScrollBar().setValue(0)

    def cancel(self) -> None:
        self._editing = None
        self.editor.hide()
        self._show()

    def save(self) -> None:
        rating, comment = self._editing, self.comment_field.text()
        if rating is None:
            return
        ratings = self._ratings
        self.save_button.setEnabled(False)
        self._tasks.run_in_background(
            lambda: ratings.comment(rating.id, comment), self._saved, self._save_failed
        )

    def _saved(self, _rating: RatingView) -> None:
        self.save_button.setEnabled(True)
        self._editing = None
        self.editor.hide()
        self.tell(text("staff_comment_saved", self._lang))
        self.refresh()

    def _save_failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.tell(text("staff_load_failed", self._lang, problem=problem_words(error)))

    def _add_phrase(self, key: str) -> None:
        current = self.comment_field.text().strip()
        phrase = text(key, self._lang)
        joined = f"{current}{'；' if self._lang == 'zh' else '; '}{phrase}" if current else phrase
        self.comment_field.setText(joined[:MAX_COMMENT])

    def _read(self, generation: int, shown: list[RatingView]) -> None:
        if self._current(generation):
            self._shown = shown
            self._show()

    def _show(self) -> None:
        lang = self._lang
        clear_layout(self.rows)
        self.comment_buttons = []
        if self._editing is not None:
            self.editor_heading.set_plain_text(
                text("staff_comment_heading", lang, line=rating_line(self._editing, lang))
            )
        if self._shown is None:
            self.list_heading.set_plain_text("")
            return
        self.list_heading.set_plain_text(
            text("staff_ratings_heading", lang, count=len(self._shown))
        )
        if not self._shown:
            empty = WrappedLabel()
            empty.set_plain_text(text("staff_no_ratings", lang))
            self.rows.addWidget(empty)
        for rating in self._shown:
            title = WrappedLabel(TextRole.BUTTON)
            title.set_plain_text(rating_line(rating, lang))
            comment = WrappedLabel()
            comment.set_plain_text(
                text("staff_comment", lang, comment=rating.comment)
                if rating.comment
                else text("staff_no_comment", lang)
            )
            write = button()
            write.setText(
                text("staff_comment_change" if rating.comment else "staff_comment_add", lang)
            )
            write.clicked.connect(lambda _=False, chosen=rating: self.edit(chosen))
            self.comment_buttons.append(write)
            self.rows.addLayout(action_row(title, comment, write))


def rating_line(rating: RatingView, lang: Language) -> str:
    """When, the score in words and the item ("10:32 · 满意 · HJ-0001"; no resident)."""
    score = text(f"rating_{rating.score}", lang)
    item = rating.item_code or text("staff_no_item", lang)
    return text(
        "staff_rating_line", lang, time=local_time(rating.rated_at) or "", score=score, item=item
    )


@dataclass(frozen=True)
class _Stepper:
    key: str
    step: int
    low: int
    high: int


def _stepper(key: str, step: int) -> _Stepper:
    """A stepper for an idle time, within the bounds the settings schema gives it."""
    low, high = setting_bounds(UiSettings, key)
    return _Stepper(key, step, int(low), int(high))


IDLE_STEPPERS = (_stepper("idle_warning_s", 10), _stepper("idle_timeout_s", 5))
SETTING_LABELS = {
    "language": "staff_setting_language",
    "large_text": "staff_setting_large_text",
    "speech": "staff_setting_speech",
    "idle_warning_s": "staff_setting_idle_warning",
    "idle_timeout_s": "staff_setting_idle_timeout",
}


class SettingsPage(_Page):
    """The settings staff may change here; "save" keeps them in `local-settings.json`
    and emits `settings_changed` with the settings now in force."""

    settings_changed = Signal(object)
    quit_requested = Signal()

    def __init__(
        self, paths: Paths, settings: Settings, tasks: TaskManager, config_file: Path | None
    ) -> None:
        super().__init__(Section.SETTINGS)
        # Closing the kiosk program takes a second tap within QUIT_CONFIRM_MS.
        self.quit_button = button()
        self.quit_button.clicked.connect(self._quit_tapped)
        self._quit_armed = QTimer(self)
        self._quit_armed.setSingleShot(True)
        self._quit_armed.setInterval(QUIT_CONFIRM_MS)
        self._quit_armed.timeout.connect(self._show)
        self._paths = paths
        self._config_file = config_file
        self._tasks = tasks
        ui = settings.ui
        self.values: dict[str, Any] = {key: getattr(ui, key) for key in SETTING_LABELS}
        self._saved = dict(self.values)
        self._fixed: set[str] = set()
        self._said: Callable[[Language], str] = lambda lang: ""
        self.titles: dict[str, WrappedLabel] = {}
        self.fixed_notes: dict[str, WrappedLabel] = {}
        self.choices: dict[str, list[tuple[Any, QPushButton]]] = {}
        self.steppers: dict[str, tuple[QPushButton, WrappedLabel, QPushButton]] = {}
        self.save_button = button()
        self.save_button.clicked.connect(self.save)
        self.tools.addWidget(self.save_button)

        grid = QGridLayout()
        grid.setHorizontalSpacing(theme.SPACING_PX)
        grid.setVerticalSpacing(theme.SPACING_PX // 2)
        row = 0
        for key, options in (
            ("language", ("zh", "en")),
            ("large_text", (True, False)),
            ("speech", (True, False)),
        ):
            controls = QHBoxLayout()
            controls.setSpacing(theme.SPACING_PX)
            self.choices[key] = []
            for option in options:
                choice = button()
                choice.clicked.connect(lambda _=False, k=key, o=option: self.choose(k, o))
                controls.addWidget(choice)
                self.choices[key].append((option, choice))
            row = self._add_row(grid, row, key, controls)
        for stepper in IDLE_STEPPERS:
            less, value, more = button(), WrappedLabel(TextRole.BUTTON), button()
            less.clicked.connect(lambda _=False, s=stepper: self.nudge(s, -1))
            more.clicked.connect(lambda _=False, s=stepper: self.nudge(s, +1))
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value.setMinimumWidth(140)
            controls = QHBoxLayout()
            controls.setSpacing(theme.SPACING_PX)
            for part in (less, value, more):
                controls.addWidget(part)
            self.steppers[stepper.key] = (less, value, more)
            row = self._add_row(grid, row, stepper.key, controls)
        grid.setColumnStretch(0, 1)
        self.body.addLayout(grid)
        self.body.addSpacing(theme.SPACING_PX)
        self.body.addWidget(self.quit_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.body.addStretch(1)

    def _quit_tapped(self) -> None:
        if self._quit_armed.isActive():
            self._quit_armed.stop()
            self.quit_requested.emit()
        else:
            self._quit_armed.start()
        self._show()

    def _add_row(self, grid: QGridLayout, row: int, key: str, controls: QLayout) -> int:
        title = WrappedLabel(TextRole.SUBHEADING)
        note = WrappedLabel(muted=True)
        note.hide()
        self.titles[key] = title
        self.fixed_notes[key] = note
        grid.addWidget(title, row, 0)
        grid.addLayout(controls, row, 1)
        grid.addWidget(note, row + 1, 0, 1, 2)
        return row + 2

    def retranslate(self, lang: Language) -> None:
        super().retranslate(lang)
        self.save_button.setText(text("staff_save_settings", lang))
        for key, title in self.titles.items():
            title.set_plain_text(text(SETTING_LABELS[key], lang))
            self.fixed_notes[key].set_plain_text(text("staff_setting_fixed", lang))
        self._show()

    def refresh(self) -> None:
        paths, config_file = self._paths, self._config_file
        generation = self._next()
        self._tasks.run_in_background(
            lambda: fixed_by_file(paths.data_dir, config_file),
            lambda fixed: self._fixed_read(generation, fixed),
            lambda error: self._failed(generation, error),
        )

    def choose(self, key: str, option: Any) -> None:
        self.values[key] = option
        self._changed()

    def nudge(self, stepper: _Stepper, direction: int) -> None:
        value = self.values[stepper.key] + direction * stepper.step
        self.values[stepper.key] = min(stepper.high, max(stepper.low, value))
        self._changed()

    def save(self) -> None:
        paths, config_file, changes = self._paths, self._config_file, dict(self.values)
        self.save_button.setEnabled(False)
        self._say(lambda lang: text("staff_settings_saving", lang))

        def write() -> Settings:
            save_local_settings(paths.data_dir, {"ui": changes})
            return load_settings(paths.data_dir, config_file)

        self._tasks.run_in_background(
            write, lambda settings: self._saved_as(changes, settings), self._save_failed
        )

    def _saved_as(self, changes: dict[str, Any], settings: Settings) -> None:
        self._saved = changes
        self.save_button.setEnabled(True)
        self._say(lambda lang: text("staff_settings_saved", lang))
        self.settings_changed.emit(settings)

    def _save_failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        problem = problem_words(error)
        self._say(lambda lang: text("staff_settings_failed", lang, problem=problem))

    def _fixed_read(self, generation: int, fixed: set[str]) -> None:
        if self._current(generation):
            self._fixed = fixed
            self._show()

    def _changed(self) -> None:
        if self.values != self._saved:
            self._say(lambda lang: text("staff_settings_unsaved", lang))
        else:
            self._say(lambda lang: "")
        self._show()

    def _say(self, message: Callable[[Language], str]) -> None:
        self._said = message
        self.tell(message(self._lang))

    def _show(self) -> None:
        lang = self._lang
        labels: dict[Any, str] = {
            "zh": text("staff_language_zh", lang),
            "en": text("staff_language_en", lang),
            True: text("staff_on", lang),
            False: text("staff_off", lang),
        }
        for key, options in self.choices.items():
            for option, choice in options:
                shown = labels[option]
                chosen = self.values[key] == option
                choice.setText(text("staff_chosen", lang, label=shown) if chosen else shown)
        for stepper in IDLE_STEPPERS:
            less, value, more = self.steppers[stepper.key]
            less.setText(text("staff_less", lang, step=stepper.step))
            more.setText(text("staff_more_seconds", lang, step=stepper.step))
            value.set_plain_text(text("staff_seconds", lang, seconds=self.values[stepper.key]))
            less.setEnabled(self.values[stepper.key] > stepper.low)
            more.setEnabled(self.values[stepper.key] < stepper.high)
        for key, note in self.fixed_notes.items():
            note.setVisible(f"ui.{key}" in self._fixed)
        armed = self._quit_armed.isActive()
        self.quit_button.setText(text("staff_quit_confirm" if armed else "staff_quit", lang))
        self.tell(self._said(lang))


class StaffScreen(QWidget):
    """The staff dashboard: an overview of large tiles, one for each section, and the
    section pages behind them (each with a back button to the overview).

    `store` is the local store, `paths` the data folder's paths (for the settings file
    staff change), `settings` the settings in force when it opens, `tasks` the task
    manager, `checks` the device checks (kiosk.devices.health.KitChecks, or another
    `DeviceChecks`). Optional: `sync_status` gives the live sync state (the running
    SyncService's `status`; by default what the store knows), `config_file` the
    technician's settings file when it is not `kiosk.toml` in the data folder.

    Signals: `assisted_session_requested`, `closed`, `print_queued` (a reprint or the
    report was queued: wake the print service), `sync_requested` (kick the sync) and
    `settings_changed(Settings)` (the settings now in force, after staff saved theirs).
    Showing it shows the overview; `show_section` opens a section.
    """

    assisted_session_requested = Signal()
    call_requested = Signal()  # staff start a video call for the resident they help
    closed = Signal()
    quit_requested = Signal()  # staff close the kiosk program
    print_queued = Signal()
    sync_requested = Signal()
    settings_changed = Signal(object)
    crashes_acknowledged = Signal()

    def __init__(
        self,
        store: Store,
        paths: Paths,
        settings: Settings,
        tasks: TaskManager,
        checks: DeviceChecks,
        *,
        sync_status: Callable[[], SyncStatus] | None = None,
        config_file: Path | None = None,
    ) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._tasks = tasks
        self._sync_status = sync_status or (lambda: read_status(store))
        self._status: SyncStatus | None = None
        station = settings.station.code
        self.queue_page = QueuePage(store, station, tasks, self._sync_status)
        self.rejected_page = RejectedPage(store, settings, tasks)
        self.devices_page = DevicesPage(checks, tasks)
        self.prints_page = PrintJobsPage(store, tasks)
        self.report_page = DayReportPage(store, settings, tasks, self._sync_status)
        self.ratings_page = RatingsPage(store, tasks)
        self.settings_page = SettingsPage(paths, settings, tasks, config_file)
        self.pages: dict[Section, _Page] = {
            page.section: page
            for page in (
                self.queue_page,
                self.rejected_page,
                self.devices_page,
                self.prints_page,
                self.report_page,
                self.ratings_page,
                self.settings_page,
            )
        }
        self.queue_page.sync_requested.connect(self.sync_requested)
        self.prints_page.print_queued.connect(self.print_queued)
        self.rejected_page.print_queued.connect(self.print_queued)
        self.report_page.print_queued.connect(self.print_queued)
        self.settings_page.settings_changed.connect(self.settings_changed)
        self.settings_page.quit_requested.connect(self.quit_requested)

        self.heading = WrappedLabel(TextRole.HEADING)
        self.assisted_button = button()
        self.assisted_button.clicked.connect(self.assisted_session_requested)
        self.call_button = button()
        self.call_button.clicked.connect(self.call_requested)
        self.exit_button = button()
        self.exit_button.clicked.connect(self.closed)
        self.tiles: dict[Section, TextButton] = {}
        tiles = QGridLayout()
        tiles.setSpacing(theme.SPACING_PX)
        for index, section in enumerate(Section):
            tile = TextButton(ButtonKind.TILE)
            tile.setMinimumHeight(theme.TILE_MIN_HEIGHT_PX)
            tile.clicked.connect(lambda _=False, s=section: self.show_section(s))
            row, column = divmod(index, theme.TILE_COLUMNS)
            tiles.addWidget(tile, row, column)
            self.tiles[section] = tile
        for column in range(theme.TILE_COLUMNS):
            tiles.setColumnStretch(column, 1)
        # The heading on a line of its own, the actions under it: three buttons in large
        # text do not fit beside the heading on a 1366-pixel screen.
        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING_PX)
        for action in (self.assisted_button, self.call_button, self.exit_button):
            actions.addWidget(action)
        actions.addStretch(1)
        header = QVBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addWidget(self.heading)
        header.addLayout(actions)
        self.overview = QWidget()
        tile_content = QWidget()
        tile_content.setLayout(tiles)
        tiles.setContentsMargins(0, 0, theme.SPACING_PX, theme.SPACING_PX)
        tiles.setRowStretch(tiles.rowCount(), 1)
        overview = QVBoxLayout(self.overview)
        margin = theme.PAGE_MARGIN_PX
        overview.setContentsMargins(margin, margin, margin, 0)
        overview.setSpacing(theme.SPACING_PX)
        overview.addLayout(header)
        # The kiosk stopped unexpectedly since staff last looked (kiosk/ui/crash.py).
        self.crash_notice = WrappedLabel(notice=True)
        self.crash_ok = button()
        self.crash_ok.clicked.connect(self._crashes_seen)
        crash_row = QHBoxLayout()
        crash_row.setSpacing(theme.SPACING_PX)
        crash_row.addWidget(self.crash_notice, 1)
        crash_row.addWidget(self.crash_ok, 0, Qt.AlignmentFlag.AlignVCenter)
        overview.addLayout(crash_row)
        self.crash_notice.hide()
        self.crash_ok.hide()
        self.tile_area = touch_scroll_area(tile_content)  # more tiles than fit: it scrolls
        overview.addWidget(self.tile_area, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.overview)
        for page in self.pages.values():
            page.back_requested.connect(self.show_overview)
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.retranslate(self._lang)

    def show_crashes(self, moments: list[str]) -> None:
        """Tell staff the kiosk stopped unexpectedly at these times (reports are kept in
        the data folder's crash/ for the technician)."""
        self._crashes = list(moments)
        shown = bool(moments)
        self.crash_notice.setVisible(shown)
        self.crash_ok.setVisible(shown)
        self._label_crashes()

    def _label_crashes(self) -> None:
        moments = getattr(self, "_crashes", [])
        if moments:
            self.crash_notice.set_plain_text(
                text("staff_crashed", self._lang, count=len(moments), when="、".join(moments))
            )
        self.crash_ok.setText(text("staff_crashes_seen", self._lang))

    def _crashes_seen(self) -> None:
        self.show_crashes([])
        self.crashes_acknowledged.emit()

    @property
    def section(self) -> Section | None:
        """The section on show (None: the overview)."""
        page = self.stack.currentWidget()
        return page.section if isinstance(page, _Page) else None

    def show_overview(self) -> None:
        self.stack.setCurrentWidget(self.overview)
        self.refresh()

    def show_section(self, section: Section) -> None:
        self.stack.setCurrentWidget(self.pages[section])
        self.pages[section].refresh()

    def refresh(self) -> None:
        """Read what is on show again: the section's content, or the overview's counts."""
        section = self.section
        if section is not None:
            self.pages[section].refresh()
            return
        self._tasks.run_in_background(self._sync_status, self._status_read, self._status_failed)

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.heading.set_plain_text(text("staff_heading", lang))
        self.assisted_button.setText(text("staff_assisted", lang))
        self.call_button.setText(text("call_staff_start", lang))
        self.exit_button.setText(text("staff_exit", lang))
        self._label_crashes()
        for page in self.pages.values():
            page.retranslate(lang)
        self._label_tiles()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not event.spontaneous():
            self.show_overview()

    def _status_read(self, status: SyncStatus) -> None:
        self._status = status
        self._label_tiles()

    def _status_failed(self, error: BaseException) -> None:
        logger.warning("the sync state could not be read: %s", problem_words(error))

    def _label_tiles(self) -> None:
        lang, status = self._lang, self._status
        for section, tile in self.tiles.items():
            name, about = SECTION_TEXTS[section]
            detail = text(about, lang)
            if status is not None and section is Section.QUEUE:
                detail = text("staff_tile_queue_count", lang, count=status.queued)
            elif status is not None and section is Section.REJECTED:
                detail = text("staff_tile_rejected_count", lang, count=status.rejected)
            tile.set_texts(text(name, lang), detail)
