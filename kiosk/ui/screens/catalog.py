"""The catalog screen: find a service item by category tile or by searching (Chinese,
English, item code or pinyin initials such as "jyjl"), then pick it from a list of
large rows. While the catalog loads it says so; if loading fails it says so calmly.

Searching has its own on-screen keyboard. It opens when the resident touches the search
field (as on a phone) or the "键盘" button beside it, and closes with the same button
("收起键盘") or when the resident goes home; it starts closed. Most residents find their
service by category, and a wall of forty keys over the tiles would crowd them out; the
field and the button that open it are the first things under the heading. While it is
open it stands to the right of the tiles or results, which narrow to one column, so the
results show as each key is tapped: beneath the search row there is no room for both at
1366×768. The hardware keyboard types into the field either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.errors import DoorstepError
from kiosk.ui import theme
from kiosk.ui.keyboard import OnScreenKeyboard
from kiosk.ui.strings import Language, text
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import PRESSES, TextButton, WrappedLabel, button, touch_scroll_area

if TYPE_CHECKING:  # the catalog's models load with the catalog, after the first paint
    from kiosk.core.catalog import Catalog, Category, ServiceItem


def resident_message(error: BaseException, lang: Language) -> str:
    """What a resident is told when the catalog cannot be shown."""
    if isinstance(error, DoorstepError):
        return error.resident_message(lang)
    return text("catalog_unavailable", lang)


def row_detail(item: ServiceItem, lang: Language) -> str:
    """The second line of an item's row: its time limit and how it is handled here."""
    handling = text("list_separator", lang).join(h.label(lang) for h in item.handling)
    return text("row_detail", lang, time_limit=item.time_limit(lang), handling=handling)


class CatalogScreen(QWidget):
    """Category tiles, a search field with its on-screen keyboard, and the list of
    matching items."""

    item_chosen = Signal(object)
    back_requested = Signal()
    retry_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lang: Language = "zh"
        self._catalog: Catalog | None = None
        self._failure: BaseException | None = None
        self._category: Category | None = None
        self._tiles: list[tuple[Category, TextButton]] = []
        self._rows: list[TextButton] = []
        self._shown: list[ServiceItem] = []
        self._keyboard_open = False
        self._tile_columns = 0

        self.back_button = button()
        self.back_button.clicked.connect(self.go_back)
        self.heading = WrappedLabel(TextRole.HEADING)
        self.search = QLineEdit()
        self.search.textChanged.connect(self._refresh)
        self.clear_button = button()
        self.clear_button.clicked.connect(self.search.clear)
        self.search.installEventFilter(self)
        self.keyboard = OnScreenKeyboard()
        self.keyboard.set_target(self.search)
        self.keyboard_button = button()
        self.keyboard_button.clicked.connect(self.toggle_keyboard)

        self.status = WrappedLabel(notice=True)
        self.retry_button = button()
        self.retry_button.clicked.connect(self.retry_requested)
        status_page = QWidget()
        status_layout = QVBoxLayout(status_page)
        status_layout.setContentsMargins(0, 0, 0, 0)
        status_layout.setSpacing(theme.SPACING_PX)
        status_layout.addWidget(self.status)
        status_layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignLeft)
        status_layout.addStretch(1)

        tile_content = QWidget()
        self._tile_grid = QGridLayout(tile_content)
        self._tile_grid.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        self._tile_grid.setSpacing(theme.SPACING_PX)
        self.tile_area = touch_scroll_area(tile_content)

        self.list_heading = WrappedLabel(TextRole.SUBHEADING)
        self.no_results = WrappedLabel(notice=True)
        row_content = QWidget()
        self._row_layout = QVBoxLayout(row_content)
        self._row_layout.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        self._row_layout.setSpacing(theme.SPACING_PX)
        self._row_layout.addWidget(self.no_results)
        self._row_layout.addStretch(1)
        self.list_area = touch_scroll_area(row_content)
        list_page = QWidget()
        list_layout = QVBoxLayout(list_page)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(theme.SPACING_PX)
        list_layout.addWidget(self.list_heading)
        list_layout.addWidget(self.list_area, 1)

        self._pages = QStackedWidget()
        self._status_page = status_page
        self._list_page = list_page
        for page in (status_page, self.tile_area, list_page):
            self._pages.addWidget(page)

        header = QHBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.heading, 1)
        search_row = QHBoxLayout()
        search_row.setSpacing(theme.SPACING_PX)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.clear_button)
        search_row.addWidget(self.keyboard_button)
        body = QHBoxLayout()
        body.setSpacing(theme.SPACING_PX)
        body.addWidget(self._pages, 2)
        body.addWidget(self.keyboard, 3)
        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(header)
        layout.addLayout(search_row)
        layout.addLayout(body, 1)
        self._refresh()

    def set_loading(self) -> None:
        self._catalog, self._failure = None, None
        self._refresh()

    def set_catalog(self, catalog: Catalog) -> None:
        self._catalog, self._failure = catalog, None
        self._build_tiles(catalog)
        self._refresh()

    def set_failure(self, error: BaseException) -> None:
        self._catalog, self._failure = None, error
        self._refresh()

    def reset(self) -> None:
        """Back to the category tiles with an empty search field and no keyboard."""
        self._category = None
        self._keyboard_open = False
        self.search.clear()
        self._refresh()

    @property
    def keyboard_open(self) -> bool:
        """Whether the resident has opened the on-screen keyboard (it shows only once the
        catalog has loaded)."""
        return self._keyboard_open

    def set_keyboard_open(self, is_open: bool) -> None:
        if is_open != self._keyboard_open:
            self._keyboard_open = is_open
            self._refresh()

    def toggle_keyboard(self) -> None:
        self.set_keyboard_open(not self._keyboard_open)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            watched is self.search
            and event.type() in PRESSES
            and self.search.isEnabled()
        ):
            self.set_keyboard_open(True)
        return super().eventFilter(watched, event)

    def go_back(self) -> None:
        """One step back: from search results or a category to the tiles, from the tiles
        to the start screen."""
        if self.search.text():
            self.search.clear()
        elif self._category is not None:
            self._category = None
            self._refresh()
        else:
            self.back_requested.emit()

    def show_category(self, category: Category) -> None:
        self._category = category
        self.search.clear()
        self._refresh()

    def tiles(self) -> list[TextButton]:
        """The category tiles, in display order."""
        return [tile for _, tile in self._tiles]

    def rows(self) -> list[TextButton]:
        """The rows of the item list now shown, in order."""
        return self._rows[: len(self._shown)]

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self.back_button.setText(text("back", lang))
        self.heading.set_plain_text(text("catalog_heading", lang))
        self.search.setPlaceholderText(text("search_placeholder", lang))
        self.clear_button.setText(text("clear", lang))
        self.keyboard.retranslate(lang)
        self._label_keyboard_button()
        self.retry_button.setText(text("try_again", lang))
        self.no_results.set_plain_text(text("no_results", lang))
        if self._catalog is not None:
            for category, tile in self._tiles:
                self._label_tile(self._catalog, category, tile)
        self._refresh()

    def _label_keyboard_button(self) -> None:
        # As wide as its longer label, so the search field keeps its width when it changes.
        widths = []
        for key in ("kb_hide", "kb_show"):
            self.keyboard_button.setText(text(key, self._lang))
            widths.append(self.keyboard_button.sizeHint().width())
        self.keyboard_button.setMinimumWidth(max(widths))

    def _label_tile(self, catalog: Catalog, category: Category, tile: TextButton) -> None:
        count = len(catalog.in_category(category))
        tile.set_texts(category.label(self._lang), text("category_count", self._lang, count=count))

    def _build_tiles(self, catalog: Catalog) -> None:
        for _, tile in self._tiles:
            self._tile_grid.removeWidget(tile)
            tile.deleteLater()
        self._tiles = []
        for category in catalog.categories():
            tile = TextButton(ButtonKind.TILE)
            tile.setMinimumHeight(theme.TILE_MIN_HEIGHT_PX)
            self._label_tile(catalog, category, tile)
            tile.clicked.connect(lambda _=False, chosen=category: self.show_category(chosen))
            self._tiles.append((category, tile))
        self._tile_columns = 0
        self._place_tiles()

    def _place_tiles(self) -> None:
        columns = 1 if self._keyboard_open else theme.TILE_COLUMNS
        if columns == self._tile_columns:
            return
        self._tile_columns = columns
        grid = self._tile_grid
        for row in range(grid.rowCount()):
            grid.setRowStretch(row, 0)
        for index, (_, tile) in enumerate(self._tiles):
            grid.removeWidget(tile)
            row, column = divmod(index, columns)
            grid.addWidget(tile, row, column)
        grid.setRowStretch((len(self._tiles) + columns - 1) // columns, 1)
        for column in range(theme.TILE_COLUMNS):
            grid.setColumnStretch(column, 1 if column < columns else 0)

    def _refresh(self) -> None:
        lang = self._lang
        catalog = self._catalog
        self.search.setEnabled(catalog is not None)
        self.clear_button.setEnabled(bool(self.search.text()))
        self._show_keyboard(catalog is not None)
        if catalog is None:
            if self._failure is None:
                self.status.set_plain_text(text("loading", lang))
            else:
                self.status.set_plain_text(resident_message(self._failure, lang))
            self.retry_button.setVisible(self._failure is not None)
            self._pages.setCurrentWidget(self._status_page)
            return
        query = self.search.text().strip()
        if query:
            items = catalog.search(query)
            heading = text("search_heading", lang, query=query, count=len(items))
        elif self._category is not None:
            items = catalog.in_category(self._category)
            heading = text(
                "category_heading", lang, category=self._category.label(lang), count=len(items)
            )
        else:
            self._show_items([])
            self._pages.setCurrentWidget(self.tile_area)
            return
        self.list_heading.set_plain_text(heading)
        self._show_items(items)
        self.no_results.setVisible(not items)
        self._pages.setCurrentWidget(self._list_page)

    def _show_keyboard(self, ready: bool) -> None:
        self.keyboard_button.setEnabled(ready)
        key = "kb_hide" if self._keyboard_open else "kb_show"
        self.keyboard_button.setText(text(key, self._lang))
        self.keyboard.setVisible(ready and self._keyboard_open)
        self._place_tiles()

    def _show_items(self, items: list[ServiceItem]) -> None:
        while len(self._rows) < len(items):
            row = TextButton(ButtonKind.ROW)
            index = len(self._rows)
            row.clicked.connect(lambda _=False, at=index: self.item_chosen.emit(self._shown[at]))
            self._row_layout.insertWidget(index, row)
            self._rows.append(row)
        self._shown = list(items)
        for row, item in zip(self._rows, items, strict=False):
            row.set_texts(item.name(self._lang), row_detail(item, self._lang))
            row.show()
        for row in self._rows[len(items) :]:
            row.hide()
        self.list_area.verticalScrollBar().setValue(0)
