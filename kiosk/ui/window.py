"""The kiosk window: a top bar that is always there (station name, home, language) over
the screens a resident moves through — start, catalog, service guide. It loads the
catalog off the main thread and says plainly when it cannot."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from kiosk.config import Settings, StationSettings
from kiosk.core.catalog import Catalog, ServiceItem
from kiosk.errors import DoorstepError
from kiosk.ui import theme
from kiosk.ui.screens.catalog import CatalogScreen
from kiosk.ui.screens.guide import GuideScreen
from kiosk.ui.screens.start import StartScreen
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button

logger = logging.getLogger(__name__)


class TopBar(QWidget):
    """The station's name, a home button and the language switch."""

    def __init__(self, station: StationSettings) -> None:
        super().__init__()
        self.setObjectName("topBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self._station = station
        self.station_name = WrappedLabel(TextRole.SUBHEADING)
        self.home_button = button(ButtonKind.TOP_BAR)
        self.language_button = button(ButtonKind.TOP_BAR)
        layout = QHBoxLayout(self)
        margin = theme.SPACING_PX
        layout.setContentsMargins(theme.PAGE_MARGIN_PX, margin, theme.PAGE_MARGIN_PX, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addWidget(self.station_name, 1)
        layout.addWidget(self.home_button)
        layout.addWidget(self.language_button)

    def retranslate(self, lang: Language) -> None:
        name = self._station.name_en if lang == "en" else self._station.name_zh
        self.station_name.set_plain_text(name)
        self.home_button.setText(text("home", lang))
        self.language_button.setText(text("switch_language", lang))


class MainWindow(QMainWindow):
    """The window residents use. `catalog_settled` fires when a catalog load has ended,
    whether it gave a catalog or a failure."""

    catalog_settled = Signal()

    def __init__(self, settings: Settings, tasks: TaskManager) -> None:
        super().__init__()
        self._tasks = tasks
        self._lang: Language = settings.ui.language
        self._catalog: Catalog | None = None
        self._loader: Callable[[], Catalog] | None = None

        self.top_bar = TopBar(settings.station)
        self.start_screen = StartScreen()
        self.catalog_screen = CatalogScreen()
        self.guide_screen = GuideScreen(settings.station.phone)
        self.stack = QStackedWidget()
        for screen in (self.start_screen, self.catalog_screen, self.guide_screen):
            self.stack.addWidget(screen)

        self.top_bar.language_button.clicked.connect(self.toggle_language)
        self.top_bar.home_button.clicked.connect(self.show_start)
        self.start_screen.start_requested.connect(self.show_catalog)
        self.catalog_screen.back_requested.connect(self.show_start)
        self.catalog_screen.item_chosen.connect(self.show_guide)
        self.catalog_screen.retry_requested.connect(self._reload)
        self.guide_screen.back_requested.connect(self.show_catalog)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.top_bar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        # A fixed smallest size, so the window's size limits never change while it is
        # shown (the layouts would otherwise keep moving them with the content).
        self.setMinimumSize(*theme.SMALLEST_WINDOW_PX)
        self.setStyleSheet(theme.style_sheet(settings.ui.large_text))
        self.set_language(self._lang)
        self.show_start()

    @property
    def language(self) -> Language:
        return self._lang

    @property
    def catalog(self) -> Catalog | None:
        return self._catalog

    def set_language(self, lang: Language) -> None:
        """Show every screen in `lang` at once."""
        self._lang = lang
        self.setWindowTitle(text("window_title", lang))
        self.top_bar.retranslate(lang)
        self.start_screen.retranslate(lang)
        self.catalog_screen.retranslate(lang)
        self.guide_screen.retranslate(lang)

    def toggle_language(self) -> None:
        self.set_language("en" if self._lang == "zh" else "zh")

    def show_start(self) -> None:
        self.catalog_screen.reset()
        self.stack.setCurrentWidget(self.start_screen)
        self.top_bar.home_button.hide()

    def show_catalog(self) -> None:
        self.stack.setCurrentWidget(self.catalog_screen)
        self.top_bar.home_button.show()

    def show_guide(self, item: ServiceItem) -> None:
        self.guide_screen.show_item(item)
        self.stack.setCurrentWidget(self.guide_screen)
        self.top_bar.home_button.show()

    def load_catalog(self, loader: Callable[[], Catalog]) -> None:
        """Run `loader` on a worker thread; show the catalog, or a calm message, when done."""
        self._loader = loader
        self._catalog = None
        self.catalog_screen.set_loading()
        self._tasks.run_in_background(
            lambda: _ready_for_search(loader()), self._catalog_loaded, self._catalog_failed
        )

    def _reload(self) -> None:
        if self._loader is not None:
            self.load_catalog(self._loader)

    def _catalog_loaded(self, catalog: Catalog) -> None:
        logger.info("catalog %s loaded: %d items", catalog.header.version, len(catalog))
        self._catalog = catalog
        self.catalog_screen.set_catalog(catalog)
        self.catalog_settled.emit()

    def _catalog_failed(self, error: BaseException) -> None:
        if isinstance(error, DoorstepError):
            logger.error(
                "catalog could not be loaded: %s: %s (action: %s)",
                error.name,
                error.staff_message,
                error.action,
            )
        else:
            logger.error("catalog could not be loaded", exc_info=error)
        self.catalog_screen.set_failure(error)
        self.catalog_settled.emit()


def _ready_for_search(catalog: Catalog) -> Catalog:
    # On the worker thread, not when a resident types the first letter.
    catalog.prepare_search()
    return catalog
