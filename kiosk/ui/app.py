"""Start the kiosk's interface: the Qt application, the shipped CJK font, Qt's messages
routed into logging, the kit (devices and services, through the bridge), the scanner
gun's key filter, and the window — full-screen, frameless and locked down on a station
(no way out by keyboard; the window refuses to close but when the program quits), in a
window for development. The start screen is drawn first; the kit is brought up and the
catalog loaded behind it, off the main thread. `kiosk run` calls `run`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.config import Settings
from kiosk.ui import theme
from kiosk.ui.bridge import Bridge
from kiosk.ui.fonts import load_font
from kiosk.ui.kit import Kit
from kiosk.ui.lockdown import Lockdown, guard_close
from kiosk.ui.qtlog import qt_messages_to_logging
from kiosk.ui.scanner import ScannerKeyFilter
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import TextRole
from kiosk.ui.window import MainWindow

if TYPE_CHECKING:  # the catalog's models load with the catalog, after the first paint
    from kiosk.core.catalog import Catalog

logger = logging.getLogger(__name__)

APPLICATION_NAME = "Doorstep"
WINDOWED_SIZE = (1366, 768)
SCREENSHOT_DELAY_MS = 300


def run(
    settings: Settings,
    load_catalog: Callable[[], Catalog],
    *,
    start_kit: Callable[[Bridge], Kit] | None = None,
    windowed: bool = False,
    screenshot: Path | None = None,
    quit_after: float | None = None,
) -> int:
    """Show the kiosk window until the application quits; return the exit code.

    The start screen is drawn first; then, on worker threads, `start_kit` brings up the
    devices and services the window works with (the store, the printer, sync, the card
    reader, the cameras), reporting to the bridge it is given, and once they are up
    `load_catalog` loads the catalog. Without `start_kit`, a window that only shows the
    catalog. If `start_kit` raises, the application quits and `run` raises that error
    (a station's kiosk then exits for systemd to start it again). `windowed` overrides
    the full-screen setting with a 1366×768 window. `screenshot` saves a PNG of the
    window once the catalog has loaded (or failed) and the window has been drawn.
    `quit_after` quits by itself after that many seconds. An existing QApplication (a
    test's, say) is used, not replaced.
    """
    app = application()
    with qt_messages_to_logging():
        load_font()
        font = QFont(theme.FONT_FAMILY)
        font.setPointSizeF(theme.text_pt(TextRole.BODY, settings.ui.large_text))
        app.setFont(font)
        tasks = TaskManager()
        bridge = Bridge(tasks)
        kit = Kit()
        window = MainWindow(settings, tasks, kit, bridge)
        scanner = ScannerKeyFilter(parent=window)
        window.scanner_gun = scanner.gun
        scanner.voucher_scanned.connect(window.voucher_scanned)
        scanner.scan_failed.connect(window.scan_failed)
        quitting = False
        lockdown: Lockdown | None = None
        if settings.ui.fullscreen and not windowed:
            window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
            # No way out by keyboard (Alt+F4, Esc, Ctrl+Q…) and no closing the window,
            # but the application's own quitting (staff, the session ending).
            lockdown = Lockdown()
            lockdown.install(app)
            guard_close(window, lambda: quitting)
            window.showFullScreen()
        else:
            window.resize(*WINDOWED_SIZE)
            window.show()
        if screenshot is not None:
            window.catalog_settled.connect(
                lambda: QTimer.singleShot(
                    SCREENSHOT_DELAY_MS, window, lambda: save_screenshot(window, screenshot)
                ),
                Qt.ConnectionType.SingleShotConnection,
            )

        def quit_now() -> None:
            nonlocal quitting
            quitting = True
            app.quit()

        window.quit_requested.connect(quit_now)
        if quit_after is not None:
            QTimer.singleShot(round(quit_after * 1000), app, quit_now)

        def after_first_paint() -> None:
            # Parsing the catalog and loading the pinyin dictionaries for its search hold
            # the interpreter, and would slow the first drawing down. The scanner gun's
            # filter sees every event of the application, and PySide then wraps each
            # receiver, which is slow the first time; the gun can only type into a window
            # that is there.
            scanner.install(app)
            if start_kit is None:
                window.load_catalog(load_catalog)
            else:
                bringing_up.append(
                    tasks.run_in_background(lambda: start_kit(bridge), kit_up, kit_failed)
                )

        def kit_up(started: Kit) -> None:
            nonlocal kit
            kit = started
            window.attach_kit(started)
            window.load_catalog(load_catalog)

        def kit_failed(error: BaseException) -> None:
            failures.append(error)
            logger.error("the kiosk could not start its devices and services: %s", error)
            quit_now()

        bringing_up: list[Future[Kit]] = []
        failures: list[BaseException] = []
        FirstPaint(window, after_first_paint)
        try:
            status = app.exec()
        finally:
            if lockdown is not None:
                lockdown.uninstall(app)
            scanner.uninstall(app)
            kit.stop()
            tasks.shutdown()  # waits for a bring-up still under way
            for future in bringing_up:
                came_up = future.done() and not future.cancelled() and not future.exception()
                if came_up and future.result() is not kit:
                    future.result().stop()  # up only after the application had quit
            window.close()
            window.deleteLater()
            # Quitting closes the window, and the last window closing posts a second
            # quit; left in the queue, it would stop the next event loop of a reused
            # application at once.
            QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
        if failures:
            raise failures[0]
        return status


class FirstPaint(QObject):
    """Calls `then` once, on the event loop's next turn after `widget` was first painted
    (the whole window's drawing, of which the widget's paint event is the start, done)."""

    def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._then)
        return False


def application() -> QApplication:
    """The running QApplication, made (named "Doorstep") if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    elif not isinstance(app, QApplication):
        raise TypeError(f"a {type(app).__name__} is running; the kiosk needs a QApplication")
    app.setApplicationName(APPLICATION_NAME)
    return app


def save_screenshot(window: MainWindow, path: Path) -> bool:
    """Save what `window` shows to `path` as PNG; False (and logged) if that failed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if window.grab().save(str(path), "PNG"):
        logger.info("screenshot saved to %s", path)
        return True
    logger.error("could not save a screenshot to %s", path)
    return False
