"""The service guide screen (办事指南): everything a resident needs to know about one item
before applying — who may apply, the conditions, the materials to bring, how long it
takes, what it costs, how this station handles it and whom to ask — in plain labelled
sections that scroll under a finger. An item handled by video with a district agent
(`Handling.REMOTE_ASSISTANCE`) has a big "视频连线坐席" button beside "Apply here"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button, label, touch_scroll_area

if TYPE_CHECKING:  # the catalog's models load with the catalog, after the first paint
    from kiosk.core.catalog import Material, ServiceItem

SECTIONS = (
    "section_eligibility",
    "section_conditions",
    "section_materials",
    "section_time_limit",
    "section_fee",
    "section_handling",
    "section_responsible",
    "section_phone",
)


def material_line(number: int, material: Material, lang: Language) -> str:
    """One numbered line of the materials list: name, form, copies, required or not."""
    return text(
        "material_line",
        lang,
        number=number,
        name=material.name(lang),
        form=material.form.label(lang),
        copies=material.copies,
        required=text("material_required" if material.required else "material_optional", lang),
    )


def section_texts(item: ServiceItem, lang: Language, station_phone: str) -> dict[str, str]:
    """The body of each section of `item`'s guide; an empty text hides the section."""
    conditions = [
        text("condition_line", lang, number=number, condition=condition)
        for number, condition in enumerate(item.conditions(lang), start=1)
    ]
    materials = [
        material_line(number, material, lang)
        for number, material in enumerate(item.materials, start=1)
    ]
    phone = item.phone or text("station_phone", lang, phone=station_phone)
    return {
        "section_eligibility": item.eligibility(lang),
        "section_conditions": "\n".join(conditions),
        "section_materials": "\n".join(materials) or text("no_materials", lang),
        "section_time_limit": item.time_limit(lang),
        "section_fee": item.fee(lang),
        "section_handling": "\n".join(h.label(lang) for h in item.handling),
        "section_responsible": item.responsible_body(lang),
        "section_phone": phone,
    }


class GuideScreen(QWidget):
    """The guide of one service item."""

    back_requested = Signal()
    apply_requested = Signal(object)  # the ServiceItem
    call_requested = Signal(object)  # the ServiceItem: a video call with an agent

    def __init__(self, station_phone: str) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._station_phone = station_phone
        self._item: ServiceItem | None = None

        self.back_button = button()
        self.back_button.clicked.connect(self.back_requested)
        self.apply_button = button(ButtonKind.PRIMARY)
        self.apply_button.clicked.connect(self._apply)
        self.apply_button.hide()
        self.call_button = button()  # beside "Apply here", less tall: the heading keeps its room
        self.call_button.clicked.connect(self._call)
        self.call_button.hide()
        self.heading = WrappedLabel(TextRole.HEADING)
        self.summary = WrappedLabel(muted=True)
        self.section_titles: dict[str, QLabel] = {}
        self.section_bodies: dict[str, WrappedLabel] = {}

        content = QWidget()
        sections = QVBoxLayout(content)
        sections.setContentsMargins(0, 0, theme.SPACING_PX, theme.PAGE_MARGIN_PX)
        sections.setSpacing(theme.SPACING_PX // 2)
        for key in SECTIONS:
            title = label(TextRole.SUBHEADING)
            body = WrappedLabel()
            if sections.count():
                sections.addSpacing(theme.SPACING_PX)
            sections.addWidget(title)
            sections.addWidget(body)
            self.section_titles[key] = title
            self.section_bodies[key] = body
        sections.addStretch(1)
        # Keep lines to a comfortable reading width on a wide screen. (A maximum width on
        # the labels themselves would not do: box layouts then ask them for their height
        # at the wider width, and wrapped text gets cut off.)
        content.setMaximumWidth(theme.READING_WIDTH_PX)
        page = QWidget()
        page_layout = QHBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(content, 1)
        page_layout.addStretch(0)
        self.scroll_area = touch_scroll_area(page)

        header = QHBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        titles.addWidget(self.heading)
        titles.addWidget(self.summary)
        header.addLayout(titles, 1)
        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, 0)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(header)
        layout.addWidget(self.scroll_area, 1)
        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING_PX * 2)
        actions.addStretch(1)
        actions.addWidget(self.call_button, 0, Qt.AlignmentFlag.AlignVCenter)
        actions.addWidget(self.apply_button)
        actions.addStretch(1)
        layout.addLayout(actions)
        layout.addSpacing(theme.SPACING_PX)

    def set_can_apply(self, can_apply: bool) -> None:
        """Show "Apply here" (the window has a store to queue applications in)."""
        self.apply_button.setVisible(can_apply)

    def _apply(self) -> None:
        if self._item is not None:
            self.apply_requested.emit(self._item)

    def _call(self) -> None:
        if self._item is not None:
            self.call_requested.emit(self._item)

    def show_item(self, item: ServiceItem) -> None:
        from kiosk.core.catalog import Handling

        self._item = item
        self.call_button.setVisible(Handling.REMOTE_ASSISTANCE in item.handling)
        self._fill()
        self.scroll_area.verticalScrollBar().setValue(0)

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("back", lang))
        self.apply_button.setText(text("apply_here", lang))
        self.call_button.setText(text("call_start", lang))
        for key, title in self.section_titles.items():
            title.setText(text(key, lang))
        self._fill()

    def _fill(self) -> None:
        item, lang = self._item, self._lang
        if item is None:
            return
        self.heading.set_plain_text(item.name(lang))
        self.summary.set_plain_text(
            text("item_code", lang, category=item.category.label(lang), code=item.code)
        )
        for key, body_text in section_texts(item, lang, self._station_phone).items():
            self.section_bodies[key].set_plain_text(body_text)
            self.section_titles[key].setVisible(bool(body_text))
            self.section_bodies[key].setVisible(bool(body_text))
