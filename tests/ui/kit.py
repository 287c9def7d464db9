"""A kiosk window on the simulated kit and the real local store, for the flow tests.

The store, the applications and the print service (the folder printer: each receipt a
PDF in `printed/`) are the real ones; the card reader, the cameras and the scanner gun are
the simulators `make demo` uses. Built by the `kiosk_window` fixture, which also stops
every service afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QInputDevice, QPointingDevice
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from kiosk.config import (
    CameraSettings,
    DeviceBackend,
    DeviceSettings,
    DocumentCameraSettings,
    Paths,
    Settings,
    UiSettings,
)
from kiosk.core.catalog import Catalog
from kiosk.store.db import Store
from kiosk.ui.bridge import Bridge
from kiosk.ui.fonts import load_font
from kiosk.ui.kit import Kit, start_kit
from kiosk.ui.tasks import TaskManager
from kiosk.ui.window import MainWindow

SIMULATED = DeviceSettings(
    card_reader=DeviceBackend.SIMULATOR,
    camera=DeviceBackend.SIMULATOR,
    document_camera=DeviceBackend.SIMULATOR,
    scanner=DeviceBackend.SIMULATOR,
    printer=DeviceBackend.SIMULATOR,
)


class RecordingSpeaker:
    """Stands in for espeak-ng in the window tests: keeps what would have been said."""

    def __init__(self) -> None:
        self.muted = False
        self.said: list[tuple[str, str]] = []

    def say(self, text: str, lang: str) -> None:
        if not self.muted:
            self.said.append((text, lang))


@dataclass
class KioskUnderTest:
    window: MainWindow
    kit: Kit
    paths: Paths
    printed: Path

    def pdfs(self) -> list[Path]:
        return sorted(self.printed.glob("*.pdf"))


MakeKiosk = Callable[..., KioskUnderTest]


TAP_WAIT_MS = 2000
_touchscreen: QPointingDevice | None = None


def touchscreen() -> QPointingDevice:
    """The kiosk's touchscreen, as Qt sees a touch device (one for the whole run)."""
    global _touchscreen
    if _touchscreen is None:
        _touchscreen = QTest.createTouchDevice(QInputDevice.DeviceType.TouchScreen)
    return _touchscreen


def tap(qtbot: QtBot, widget: QWidget, pos: QPoint | None = None) -> None:
    """A finger's tap on `widget` (at `pos`, else its centre), once it is shown and
    enabled (new rows show a turn later): a touch press and release from a touchscreen,
    which Qt turns into the mouse events widgets act on, as on the station's screen."""

    def ready() -> None:
        assert widget.isVisible(), f"{type(widget).__name__} is not shown"
        assert widget.isEnabled(), f"{type(widget).__name__} is disabled"

    qtbot.waitUntil(ready, timeout=TAP_WAIT_MS)
    point = widget.rect().center() if pos is None else pos
    QTest.touchEvent(widget, touchscreen()).press(0, point, widget).commit()
    QTest.touchEvent(widget, touchscreen()).release(0, point, widget).commit()


@pytest.fixture
def make_kiosk(
    qtbot: QtBot, data_dir: Path, catalog: Catalog, tasks: TaskManager
) -> Iterator[MakeKiosk]:
    from kiosk.devices.printer.backends import backends_from_settings
    from kiosk.devices.printer.jobs import PrintQueue
    from kiosk.devices.printer.service import PrinterService

    started: list[tuple[Kit, Store, PrinterService]] = []

    def make(
        *,
        language: str = "zh",
        large_text: bool = False,
        size: tuple[int, int] = (1366, 768),
        camera_scenes: tuple[str, ...] = ("face",),
        camera_hold_s: float = 600,
        page_scenes: tuple[str, ...] = ("page",),
        idle_warning_s: int = 60,
        idle_timeout_s: int = 20,
    ) -> KioskUnderTest:
        assert load_font()
        settings = Settings(
            ui=UiSettings(
                language=language,
                fullscreen=False,
                large_text=large_text,
                idle_warning_s=idle_warning_s,
                idle_timeout_s=idle_timeout_s,
            ),
            devices=SIMULATED,
            camera=CameraSettings(scenes=camera_scenes, hold_s=camera_hold_s),
            document_camera=DocumentCameraSettings(scenes=page_scenes, hold_s=600, fps=10),
        )
        paths = Paths(data_dir)
        store = Store.open(paths)
        printer = PrinterService(
            PrintQueue(store), backends_from_settings(settings, paths), spool=paths.spool
        )
        printer.start()
        bridge = Bridge(tasks)
        kit = start_kit(settings, paths, store, bridge, printer=printer)
        kit.speaker = RecordingSpeaker()
        started.append((kit, store, printer))
        window = MainWindow(settings, tasks, kit, bridge)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        with qtbot.waitSignal(window.catalog_settled):
            window.load_catalog(lambda: catalog)
        return KioskUnderTest(window, kit, paths, data_dir / "printed")

    yield make
    for kit, store, printer in reversed(started):
        kit.stop()
        printer.stop()
        store.close()
