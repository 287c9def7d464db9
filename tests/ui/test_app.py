"""`kiosk.ui.app.run`, the entry point `kiosk run` calls: it shows the window (reusing a
running QApplication), takes a screenshot once the catalog has settled, quits by itself
when asked, and routes Qt's own warnings into logging."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import pytest
from PySide6.QtCore import QSize, Qt, QTimer, qWarning
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.logging import Record

from kiosk.config import Settings, UiSettings
from kiosk.core.catalog import Catalog
from kiosk.errors import StoreError
from kiosk.ui.app import APPLICATION_NAME, WINDOWED_SIZE, run
from kiosk.ui.kit import Kit
from kiosk.ui.qtlog import qt_messages_to_logging
from kiosk.ui.window import MainWindow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CapturedQtMessages(Protocol):
    """What pytest-qt's `qtlog` fixture gives."""

    records: list[Record]


def assert_png(path: Path, size: tuple[int, int] | None = None) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = QImage(str(path))
    assert not image.isNull()
    if size is not None:
        assert image.size() == QSize(*size)


def test_run_in_a_window_writes_a_screenshot_and_quits(
    qapp: QApplication, tmp_path: Path, catalog: Catalog
) -> None:
    shot = tmp_path / "shots" / "shot.png"
    code = run(Settings(), lambda: catalog, windowed=True, screenshot=shot, quit_after=2)
    assert code == 0
    assert_png(shot, WINDOWED_SIZE)
    assert QApplication.instance() is qapp
    assert qapp.applicationName() == APPLICATION_NAME


def test_run_full_screen_without_a_frame(qapp: QApplication, catalog: Catalog) -> None:
    seen: list[tuple[bool, bool]] = []

    def look() -> None:
        for widget in qapp.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                frameless = bool(widget.windowFlags() & Qt.WindowType.FramelessWindowHint)
                seen.append((widget.isFullScreen(), frameless))

    QTimer.singleShot(500, look)
    assert run(Settings(), lambda: catalog, quit_after=1) == 0
    assert seen == [(True, True)]


def test_run_windowed_when_the_settings_say_so(qapp: QApplication, catalog: Catalog) -> None:
    seen: list[QSize] = []

    def look() -> None:
        seen.extend(
            widget.size()
            for widget in qapp.topLevelWidgets()
            if isinstance(widget, MainWindow) and widget.isVisible()
        )

    QTimer.singleShot(500, look)
    settings = Settings(ui=UiSettings(fullscreen=False))
    assert run(settings, lambda: catalog, quit_after=1) == 0
    assert seen == [QSize(*WINDOWED_SIZE)]


def test_run_survives_a_failing_loader(
    qapp: QApplication, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Catalog:
        raise OSError("catalog file unreadable")

    shot = tmp_path / "failed.png"
    with caplog.at_level(logging.ERROR):
        code = run(Settings(), broken, windowed=True, screenshot=shot, quit_after=2)
    assert code == 0
    assert "catalog file unreadable" in caplog.text
    assert_png(shot)


@pytest.mark.qt_log_ignore("doorstep test warning")
def test_qt_warnings_go_to_logging(
    qapp: QApplication, qtlog: CapturedQtMessages, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kiosk.qt"), qt_messages_to_logging():
        qWarning("doorstep test warning")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("kiosk.qt", logging.WARNING, "doorstep test warning")
    ]
    # The handler that was there before (pytest-qt's) still saw it.
    assert [record.message for record in qtlog.records] == ["doorstep test warning"]


def test_run_draws_the_start_screen_first_and_brings_up_the_kit_behind_it(
    qapp: QApplication, catalog: Catalog
) -> None:
    release = threading.Event()
    events: list[str] = []
    seen: dict[str, object] = {}
    kit = Kit(demo=True)
    kit._stoppers.append(lambda: events.append("kit stopped"))

    def start_kit(bridge: object) -> Kit:
        seen["kit thread"] = threading.get_ident()
        assert release.wait(10)
        events.append("kit up")
        return kit

    def load() -> Catalog:
        events.append("catalog loading")
        return catalog

    def while_the_kit_comes_up() -> None:
        window = next(w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow))
        seen["start screen shown"] = (
            window.isVisible() and window.stack.currentWidget() is window.start_screen
        )
        events.append("start screen shown")
        release.set()

    QTimer.singleShot(500, while_the_kit_comes_up)
    assert run(Settings(), load, start_kit=start_kit, windowed=True, quit_after=3) == 0
    assert seen["start screen shown"] is True
    assert seen["kit thread"] != threading.main_thread().ident
    assert events == ["start screen shown", "kit up", "catalog loading", "kit stopped"]


def test_run_raises_what_kept_the_kit_from_coming_up(qapp: QApplication, catalog: Catalog) -> None:
    def start_kit(bridge: object) -> Kit:
        raise StoreError("the database was written by a newer Doorstep")

    with pytest.raises(StoreError, match="newer Doorstep"):
        run(Settings(), lambda: catalog, start_kit=start_kit, windowed=True, quit_after=30)
