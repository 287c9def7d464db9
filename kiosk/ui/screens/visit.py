"""The screens of a resident's visit around the catalog: identify, review and confirm,
done (receipt, what happens next, rating), and "my applications".

Each screen only shows and asks; the window (kiosk/ui/window.py) owns the `Visit`, moves
between screens and runs the work off the main thread. Personal data is shown masked
(张*丰, 310***********1236) and each screen's `clear()` drops whatever it shows, for the
idle wipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.core.identity import Identity
from kiosk.core.states import ApplicationView, State
from kiosk.core.visit import Visit
from kiosk.core.voucher import Voucher
from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import TextButton, WrappedLabel, button, touch_scroll_area

if TYPE_CHECKING:  # the catalog's models load with the catalog, after the first paint
    from kiosk.core.catalog import ServiceItem

RATINGS = {5: "rating_5", 4: "rating_4", 3: "rating_3", 2: "rating_2", 1: "rating_1"}
STATE_KEYS = {
    State.DRAFT: "state_draft",
    State.READY: "state_ready",
    State.QUEUED: "state_queued",
    State.SUBMITTED: "state_submitted",
    State.ACCEPTED: "state_accepted",
    State.READY_FOR_PICKUP: "state_ready_for_pickup",
    State.COMPLETED: "state_completed",
    State.REJECTED: "state_rejected",
    State.NEEDS_MORE: "state_needs_more",
}
#: States whose text carries the district's words (why it was refused, what is missing).
WITH_REASON = frozenset({State.REJECTED, State.NEEDS_MORE})


def _page(widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout(widget)
    margin = theme.PAGE_MARGIN_PX
    layout.setContentsMargins(margin, margin, margin, margin)
    layout.setSpacing(theme.SPACING_PX)
    return layout


def _header(back: QWidget, heading: QWidget) -> QHBoxLayout:
    """The back button and the screen's heading, side by side."""
    header = QHBoxLayout()
    header.setSpacing(theme.SPACING_PX)
    header.addWidget(back, 0, Qt.AlignmentFlag.AlignTop)
    header.addWidget(heading, 1)
    return header


def _column() -> tuple[QWidget, QVBoxLayout]:
    """A column of content for a touch scroll area (room on the right for its bar)."""
    content = QWidget()
    body = QVBoxLayout(content)
    body.setContentsMargins(0, 0, theme.SPACING_PX, 0)
    body.setSpacing(theme.SPACING_PX)
    return content, body


def resident_line(visit: Visit, lang: Language) -> str:
    shown = visit.resident_display()
    if shown is None:
        return text("review_applicant_photo", lang)
    if isinstance(visit.resident, Voucher):
        return text("identify_voucher_done", lang, code=shown["code"])
    return text(
        "review_applicant",
        lang,
        name=shown.get("name") or "—",
        id=shown.get("ssn") or shown.get("card_number") or "—",
    )


def state_text(view: ApplicationView, lang: Language) -> str:
    if view.state in WITH_REASON:
        return text(STATE_KEYS[view.state], lang, reason=view.reason or "—")
    return text(STATE_KEYS[view.state], lang)


class IdentifyScreen(QWidget):
    """Insert the card, scan the voucher, or show the card to the camera. The window
    feeds it what the devices report (`show_reading`, `show_identified`, `show_error`)."""

    back_requested = Signal()
    continue_requested = Signal()
    demo_card = Signal(str)  # "good" or "bad": the simulated reader's demo buttons
    demo_voucher = Signal()

    def __init__(self, *, demo: bool = False) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._state: tuple[str, dict[str, str]] = ("", {})
        self.back_button = button()
        self.back_button.clicked.connect(self.back_requested)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.ways = [WrappedLabel() for _ in range(3)]
        self.status = WrappedLabel(notice=True)
        self.status.hide()
        self.continue_button = button(ButtonKind.PRIMARY)
        self.continue_button.clicked.connect(self.continue_requested)
        self.continue_button.hide()

        self.demo_box = QWidget()
        demo_layout = QVBoxLayout(self.demo_box)
        demo_layout.setContentsMargins(0, 0, 0, 0)
        demo_layout.setSpacing(theme.SPACING_PX // 2)
        self.demo_label = WrappedLabel(muted=True)
        self.demo_good = button()
        self.demo_bad = button()
        self.demo_scan = button()
        self.demo_good.clicked.connect(lambda: self.demo_card.emit("good"))
        self.demo_bad.clicked.connect(lambda: self.demo_card.emit("bad"))
        self.demo_scan.clicked.connect(self.demo_voucher)
        demo_buttons = QHBoxLayout()
        demo_buttons.setSpacing(theme.SPACING_PX)
        for part in (self.demo_good, self.demo_bad, self.demo_scan):
            demo_buttons.addWidget(part)
        demo_buttons.addStretch(1)
        demo_layout.addWidget(self.demo_label)
        demo_layout.addLayout(demo_buttons)

        header = _header(self.back_button, self.heading)
        content, body = _column()
        for way in self.ways:
            body.addWidget(way)
        body.addWidget(self.status)
        body.addStretch(1)
        body.addWidget(self.demo_box)
        self.set_demo(demo)
        layout = _page(self)
        layout.addLayout(header)
        layout.addWidget(touch_scroll_area(content), 1)
        layout.addWidget(self.continue_button, 0, Qt.AlignmentFlag.AlignHCenter)

    def set_demo(self, demo: bool) -> None:
        """Show the simulated kit's demo buttons (a card, a bad card, a voucher)."""
        self.demo_box.setVisible(demo)

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("back", lang))
        self.heading.set_plain_text(text("identify_heading", lang))
        for way, key in zip(
            self.ways, ("identify_card", "identify_voucher", "identify_camera"), strict=True
        ):
            way.set_plain_text(text(key, lang))
        self.continue_button.setText(text("identify_continue", lang))
        self.demo_label.set_plain_text(text("demo_heading", lang))
        self.demo_good.setText(text("demo_insert_card", lang))
        self.demo_bad.setText(text("demo_insert_bad", lang))
        self.demo_scan.setText(text("demo_scan_voucher", lang))
        self._show_status()

    def clear(self) -> None:
        self._state = ("", {})
        self.status.set_plain_text("")
        self.status.hide()
        self.continue_button.hide()

    def show_reading(self) -> None:
        self._state = ("identify_reading", {})
        self.continue_button.hide()
        self._show_status()

    def show_message(self, zh: str, en: str) -> None:
        """A message from a device error (already in both languages)."""
        self._state = ("", {"zh": zh, "en": en})
        self.continue_button.hide()
        self._show_status()

    def show_identified(self, visit: Visit) -> None:
        if isinstance(visit.resident, Identity):
            name = visit.resident.to_display().get("name") or "—"
            self._state = ("identify_done", {"name": name})
        elif isinstance(visit.resident, Voucher):
            self._state = ("identify_voucher_done", {"code": visit.resident.masked_code})
        else:
            self._state = ("identify_photo_done", {})
        self.continue_button.show()
        self._show_status()

    @property
    def status_text(self) -> str:
        return self.status.plain_text if self.status.isVisible() else ""

    def _show_status(self) -> None:
        key, fields = self._state
        if key:
            message = text(key, self._lang, **fields)
        elif fields:
            message = fields["en" if self._lang == "en" else "zh"]
        else:
            self.status.hide()
            return
        self.status.set_plain_text(message)
        self.status.show()


class ReviewScreen(QWidget):
    """What will be sent, in plain words, and one big button to send it; beside it,
    "ask an agent" (请坐席帮我看看: a video call about the visit, `call_requested`)."""

    submit_requested = Signal()
    back_requested = Signal()
    call_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._visit: Visit | None = None
        self._offline = False
        self._busy = False
        self._failed = False
        self.back_button = button()
        self.back_button.clicked.connect(self.back_requested)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.lines = [WrappedLabel(TextRole.SUBHEADING) for _ in range(5)]
        self.offline_note = WrappedLabel(notice=True)
        self.status = WrappedLabel(notice=True)
        self.submit_button = button(ButtonKind.PRIMARY)
        self.submit_button.clicked.connect(self._submit)
        self.call_button = button()
        self.call_button.clicked.connect(self.call_requested)
        header = _header(self.back_button, self.heading)
        content, body = _column()
        for line in self.lines:
            body.addWidget(line)
        body.addWidget(self.offline_note)
        body.addWidget(self.status)
        body.addStretch(1)
        layout = _page(self)
        layout.addLayout(header)
        layout.addWidget(touch_scroll_area(content), 1)
        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING_PX * 2)
        actions.addStretch(1)
        actions.addWidget(self.call_button, 0, Qt.AlignmentFlag.AlignVCenter)
        actions.addWidget(self.submit_button)
        actions.addStretch(1)
        layout.addLayout(actions)

    def show_visit(self, visit: Visit, *, offline: bool) -> None:
        self._visit, self._offline, self._busy, self._failed = visit, offline, False, False
        self._fill()

    def set_offline(self, offline: bool) -> None:
        self._offline = offline
        self._fill()

    def set_failed(self) -> None:
        self._busy, self._failed = False, True
        self._fill()

    def clear(self) -> None:
        self._visit = None
        for line in self.lines:
            line.set_plain_text("")

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("review_change", lang))
        self.heading.set_plain_text(text("review_heading", lang))
        self.submit_button.setText(text("review_submit", lang))
        self.call_button.setText(text("call_ask_agent", lang))
        self.offline_note.set_plain_text(text("review_offline", lang))
        self._fill()

    def _submit(self) -> None:
        if self._busy or self._visit is None:
            return
        self._busy, self._failed = True, False
        self._fill()
        self.submit_requested.emit()

    def _fill(self) -> None:
        visit, lang = self._visit, self._lang
        self.offline_note.setVisible(self._offline)
        self.submit_button.setEnabled(not self._busy)
        self.back_button.setEnabled(not self._busy)
        self.call_button.setEnabled(not self._busy)
        if self._busy:
            self.status.set_plain_text(text("submitting", lang))
        elif self._failed:
            self.status.set_plain_text(text("submit_failed", lang))
        self.status.setVisible(self._busy or self._failed)
        if visit is None or visit.item is None:
            return
        item = visit.item
        texts = [
            text("review_item", lang, item=item.name(lang)),
            resident_line(visit, lang),
            text("review_pages", lang, count=len(visit.pages)),
            text("review_photo" if visit.photo else "review_no_photo", lang),
            text("review_time_limit", lang, limit=item.time_limit(lang)),
        ]
        for line, value in zip(self.lines, texts, strict=True):
            line.set_plain_text(value)


class DoneScreen(QWidget):
    """The reference, the receipt, what happens next, and a one-tap rating."""

    rated = Signal(int)
    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._reference = ""
        self._printed = True
        self._steps: dict[str, tuple[str, ...]] = {}
        self._rating: int | None = None
        self.heading = WrappedLabel(TextRole.HEADING)
        self.reference = WrappedLabel(TextRole.HEADING)
        self.receipt = WrappedLabel(notice=True)
        self.next_title = WrappedLabel(TextRole.SUBHEADING)
        self.next_steps = WrappedLabel()
        self.rating_heading = WrappedLabel(TextRole.SUBHEADING)
        self.rating_buttons: dict[int, TextButton] = {}
        ratings = QHBoxLayout()
        ratings.setSpacing(theme.SPACING_PX)
        for value in RATINGS:
            choice = TextButton(ButtonKind.TILE)
            choice.setCheckable(True)
            choice.clicked.connect(lambda _=False, v=value: self._rate(v))
            ratings.addWidget(choice, 1)
            self.rating_buttons[value] = choice
        self.finish_button = button(ButtonKind.PRIMARY)
        self.finish_button.clicked.connect(self.finished)

        # What to read scrolls; the rating and the finish button always show.
        content, body = _column()
        for part in (self.heading, self.reference, self.receipt, self.next_title, self.next_steps):
            body.addWidget(part)
        body.addStretch(1)
        layout = _page(self)
        layout.addWidget(touch_scroll_area(content), 1)
        layout.addWidget(self.rating_heading)
        layout.addLayout(ratings)
        layout.addWidget(self.finish_button, 0, Qt.AlignmentFlag.AlignHCenter)

    def show_result(self, reference: str, printed: bool, steps: dict[str, tuple[str, ...]]) -> None:
        self._reference, self._printed, self._steps, self._rating = reference, printed, steps, None
        self._fill()

    def clear(self) -> None:
        self._reference, self._steps, self._rating = "", {}, None
        self._fill()

    @property
    def reference_shown(self) -> str:
        """The reference of the application this screen tells about ("" when cleared)."""
        return self._reference

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._fill()

    def _rate(self, value: int) -> None:
        self._rating = value
        self._fill()
        self.rated.emit(value)

    def _fill(self) -> None:
        lang = self._lang
        self.heading.set_plain_text(text("done_heading", lang))
        self.reference.set_plain_text(text("done_reference", lang, reference=self._reference))
        receipt = "done_receipt" if self._printed else "done_no_receipt"
        self.receipt.set_plain_text(text(receipt, lang))
        self.next_title.set_plain_text(text("done_next", lang))
        steps = self._steps.get(lang, ())
        self.next_steps.set_plain_text("\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1)))
        self.rating_heading.set_plain_text(
            text("rating_thanks" if self._rating else "rating_heading", lang)
        )
        for value, choice in self.rating_buttons.items():
            chosen = self._rating == value
            mark = "✔ " if chosen else ""
            choice.set_texts(mark + text(RATINGS[value], lang), "")
            choice.setChecked(chosen)
        self.finish_button.setText(text("finish", lang))


class MyApplicationsScreen(QWidget):
    """Insert the card to see the states of earlier applications (as of the last sync).
    Tapping one shows its state in full in the list's place (back returns to the list);
    one the district asked more for (补正) offers to print the supplement notice
    (`slip_requested` with its id; the window prints it and calls `show_slip_result`)."""

    back_requested = Signal()
    slip_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._views: list[ApplicationView] | None = None
        self._opened: ApplicationView | None = None
        self._slip: str = ""  # the string key of what the last print request came to
        self.back_button = button()
        self.back_button.clicked.connect(self._back)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.prompt = WrappedLabel(TextRole.SUBHEADING)
        self.note = WrappedLabel(muted=True)
        self.detail = WrappedLabel(TextRole.SUBHEADING)
        self.slip_button = button(ButtonKind.PRIMARY)
        self.slip_button.clicked.connect(self._slip_tapped)
        content, self._rows_layout = _column()
        self._rows_layout.addStretch(1)
        self._rows: list[TextButton] = []
        header = _header(self.back_button, self.heading)
        layout = _page(self)
        layout.addLayout(header)
        layout.addWidget(self.prompt)
        self.list_area = touch_scroll_area(content)
        layout.addWidget(self.list_area, 1)
        # An opened application, in the list's place (back returns to the list).
        self.opened_panel = QWidget()
        panel = QVBoxLayout(self.opened_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        panel.setSpacing(theme.SPACING_PX)
        panel.addWidget(self.detail)
        panel.addWidget(self.slip_button, 0, Qt.AlignmentFlag.AlignHCenter)
        panel.addStretch(1)
        layout.addWidget(self.opened_panel, 1)
        layout.addWidget(self.note)

    def open(self, view: ApplicationView) -> None:
        """Show one application's state in full (and the notice button if it needs more)."""
        self._opened, self._slip = view, ""
        self._fill()

    def show_slip_result(self, key: str) -> None:
        """What came of printing the notice: a string key ("mine_slip_printing", …)."""
        self._slip = key
        self.slip_button.setEnabled(True)
        self._fill()

    def _back(self) -> None:
        if self._opened is not None:
            self._opened, self._slip = None, ""
            self._fill()
        else:
            self.back_requested.emit()

    def _slip_tapped(self) -> None:
        if self._opened is not None:
            self.slip_button.setEnabled(False)
            self.slip_requested.emit(self._opened.id)

    def show_views(self, views: list[ApplicationView] | None) -> None:
        """None: waiting for the card; a list: the resident's applications."""
        self._views, self._opened, self._slip = views, None, ""
        self.slip_button.setEnabled(True)
        self._fill()

    def show_message(self, zh: str, en: str) -> None:
        self._views = None
        self._fill()
        self.prompt.set_plain_text(en if self._lang == "en" else zh)

    def clear(self) -> None:
        self.show_views(None)

    def rows(self) -> list[TextButton]:
        return [row for row in self._rows if not row.isHidden()]

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("back", lang))
        self.heading.set_plain_text(text("mine_heading", lang))
        self._fill()

    def _fill(self) -> None:
        lang, views = self._lang, self._views
        if views is None:
            self.prompt.set_plain_text(text("mine_insert", lang))
        elif not views:
            self.prompt.set_plain_text(text("mine_none", lang))
        else:
            self.prompt.set_plain_text("")
        self.prompt.setVisible(bool(self.prompt.plain_text))
        shown = views or []
        while len(self._rows) < len(shown):
            row = TextButton(ButtonKind.ROW)
            row.setEnabled(True)
            index = len(self._rows)
            row.clicked.connect(lambda _=False, n=index: self._row_tapped(n))
            self._rows_layout.insertWidget(index, row)
            self._rows.append(row)
        for row, view in zip(self._rows, shown, strict=False):
            name = view.item_name_en if lang == "en" and view.item_name_en else view.item_name_zh
            row.set_texts(
                name, text("mine_row", lang, reference=view.reference, state=state_text(view, lang))
            )
            row.show()
        for row in self._rows[len(shown) :]:
            row.set_texts("", "")
            row.hide()
        opened = self._opened
        self.note.set_plain_text(text("mine_synced", lang) if shown else "")
        self.note.setVisible(bool(shown) and opened is None)  # room for the opened one
        lines = []
        if opened is not None:
            lines.append(
                text(
                    "mine_opened", lang, reference=opened.reference, state=state_text(opened, lang)
                )
            )
        if self._slip:
            lines.append(text(self._slip, lang))
        self.detail.set_plain_text("\n".join(lines))
        self.list_area.setVisible(opened is None)
        self.opened_panel.setVisible(opened is not None)
        self.slip_button.setText(text("mine_print_slip", lang))
        self.slip_button.setVisible(opened is not None and opened.state is State.NEEDS_MORE)

    def _row_tapped(self, index: int) -> None:
        if self._views is not None and index < len(self._views):
            self.open(self._views[index])


def item_needs_capture(item: ServiceItem) -> bool:
    return bool(item.materials) or bool(getattr(item, "needs_photo", False))
