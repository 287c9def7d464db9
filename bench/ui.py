"""Interface speed: how soon the kiosk shows its start screen, and how soon a tap shows the
next screen. Offscreen Qt, so the figures are Qt's own work and not a display's.

`ui_cold_start_ms`: from the moment the benchmark starts a new Python process to the end
of the first paint of the start screen, in that process: `kiosk run --windowed` (1366 ×
768) with the demo's settings (every device simulated) and a temporary data folder (the
first, untimed start creates its database): the interpreter, the imports, the settings,
the font, the window built, shown and painted. The floor is the same process showing a
bare QWidget with one QLabel until it is painted. "Painted" is when an event posted, at
high priority, from the watched widget's paint is delivered: the whole window's paint
(and, on a screen, its flush) has ended by then. What the kiosk does behind its start
screen (the store opened, the printer, sync and the devices started, the other screens
made, the catalog loaded: kiosk/ui/app.py) is not counted, since the resident already
sees the start screen. Each is the median of RUNS starts, the two taking turns, from
compiled bytecode as an installed kiosk starts.

`ui_tap_to_screen_ms`: in one process, a mouse click (QTest) on the start screen's start
button of a 1920 × 1080 kiosk window until the catalog screen's first paint has ended.
The floor is a click on a bare QPushButton that switches a QStackedWidget from one label
to another, in a window of the same size. Median of TAPS each.

`ui_soak_rss_mb`: resident memory after 1,000 whole visits tapped through the window
(`DOORSTEP_BENCH_VISITS` to change the number), against the same process's memory after
the first 50 (see `soak`).

Targets: the start screen within 2× the floor; the next screen in under 100 ms; memory at
the end within 30 MB of the start. About 3 minutes.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TAPS = 50
WARMUP_TAPS = 3
CHILD_TIMEOUT_S = 60
SAMPLE_CATALOG = ROOT / "assets" / "catalog" / "sample-catalog.toml"
DEMO_SETTINGS = ROOT / "assets" / "demo" / "kiosk.toml"
WINDOW_PX = (1920, 1080)
PAINTED = "painted at "
VISITS = int(os.environ.get("DOORSTEP_BENCH_VISITS", "1000"))
WARMUP_VISITS = 50
# Qt.EventPriority.HighEventPriority: PySide makes all of Qt's namespace (hundreds of
# enums) on its first use, which would be a fifth of the floor's start.
HIGH_EVENT_PRIORITY = 1


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if len(sys.argv) == 4 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](float(sys.argv[2]), Path(sys.argv[3]))
        return
    cold_start()
    tap_to_screen()
    soak(VISITS)


# -- cold start -----------------------------------------------------------------------------


def cold_start() -> None:
    ours: list[float] = []
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="doorstep-bench-ui-") as folder:
        data_dir = Path(folder)
        # An installed kiosk starts from compiled bytecode; a checkout may not have it yet
        # (or run with PYTHONDONTWRITEBYTECODE), and compiling would be timed as starting.
        for package in ("kiosk", "bench"):
            compileall.compile_dir(ROOT / package, quiet=1)
        start_child("floor", data_dir)  # warm the disk cache for both
        start_child("kiosk", data_dir)
        for _ in range(RUNS):
            floor.append(start_child("floor", data_dir))
            ours.append(start_child("kiosk", data_dir))
    report(
        "ui_cold_start_ms",
        statistics.median(ours) * 1000,
        statistics.median(floor) * 1000,
        "ms",
        "ratio ≤ 2",
    )


def start_child(kind: str, data_dir: Path) -> float:
    """Seconds from starting a process of `kind` to the end of its first paint."""
    environment = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "KIOSK_DATA_DIR": str(data_dir),
    }
    started = time.time()
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), kind, repr(started), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        env=environment,
        cwd=ROOT,
    )
    painted = [line for line in child.stdout.splitlines() if line.startswith(PAINTED)]
    if child.returncode != 0 or not painted:
        raise RuntimeError(
            f"the {kind} start failed (status {child.returncode}):\n{child.stderr[-3000:]}"
        )
    return float(painted[0].removeprefix(PAINTED)) - started


def child_kiosk(started: float, data_dir: Path) -> None:
    """`kiosk run --windowed` with the demo's settings (every device simulated) and a data
    folder of its own, until the start screen is painted."""
    from kiosk.cli import main
    from kiosk.ui.screens.start import StartScreen

    watcher = _paint_watcher()
    paint = StartScreen.paintEvent

    def paint_and_tell(screen: StartScreen, event: Any) -> None:
        paint(screen, event)
        watcher.painted()

    StartScreen.paintEvent = paint_and_tell  # type: ignore[method-assign]
    arguments = ["--data-dir", str(data_dir), "--config", str(DEMO_SETTINGS)]
    try:
        main([*arguments, "run", "--windowed"])
    except SystemExit as exit:
        if exit.code:
            raise


def child_floor(started: float, data_dir: Path) -> None:
    """A bare window with one label, until it is painted."""
    from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

    app = QApplication(sys.argv[:1])
    window = QWidget()
    label = QLabel("欢迎使用 Welcome")
    QVBoxLayout(window).addWidget(label)
    window.resize(1366, 768)
    watcher = _paint_watcher()  # kept: Qt drops a filter that Python has deleted
    label.installEventFilter(watcher)
    window.show()
    app.exec()


CHILDREN: dict[str, Callable[[float, Path], None]] = {"kiosk": child_kiosk, "floor": child_floor}


def _paint_watcher() -> Any:
    """A watcher told of a paint (`painted()`, or as the event filter of the widget to
    watch) that, once the window's paint has ended, prints the time and ends the event
    loop. Only the widget is watched: an application-wide Python event filter would have
    PySide wrap every object that gets an event, which costs more the more Qt classes a
    program touches, and is no part of starting."""
    from PySide6.QtCore import QCoreApplication, QEvent, QObject

    class Watcher(QObject):
        def __init__(self) -> None:
            super().__init__()
            self._told = False

        def painted(self) -> None:
            if not self._told:
                self._told = True
                # Delivered once the whole window's paint (of which this is a part) has
                # ended, before any other event posted meanwhile (the kiosk's own work
                # after its first paint, say).
                QCoreApplication.postEvent(self, QEvent(QEvent.Type.User), HIGH_EVENT_PRIORITY)

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                self.painted()
            return False

        def event(self, event: QEvent) -> bool:
            if event.type() != QEvent.Type.User:
                return super().event(event)
            print(f"{PAINTED}{time.time()!r}", flush=True)
            QCoreApplication.exit(0)
            return True

    return Watcher()


# -- tap to the next screen -------------------------------------------------------------------


def tap_to_screen() -> None:
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer
    from PySide6.QtGui import QFont
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

    from kiosk.config import Settings, UiSettings
    from kiosk.core.catalog import parse_catalog
    from kiosk.ui import theme
    from kiosk.ui.app import application
    from kiosk.ui.fonts import load_font
    from kiosk.ui.tasks import TaskManager
    from kiosk.ui.theme import TextRole
    from kiosk.ui.window import MainWindow

    app = application()
    load_font()
    font = QFont(theme.FONT_FAMILY)
    font.setPointSizeF(theme.text_pt(TextRole.BODY, False))
    app.setFont(font)

    class Painted(QObject):
        """Counts the paint events a widget receives."""

        def __init__(self, widget: QWidget) -> None:
            super().__init__(widget)
            self.widget = widget
            self.count = 0
            widget.installEventFilter(self)

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    def settle(painted: Painted) -> None:
        """Repaint `painted`'s widget and process events until that has happened."""
        before = painted.count
        painted.widget.update()
        while painted.count == before:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def time_tap(target: QWidget, painted: Painted) -> float:
        before = painted.count
        started = time.perf_counter()
        QTest.mouseClick(target, Qt.MouseButton.LeftButton)
        while painted.count == before:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        # The paint that counted ran inside that processEvents call, to the end.
        return time.perf_counter() - started

    def median_tap(
        target: QWidget, painted: Painted, back: Callable[[], None], back_painted: Painted
    ) -> float:
        samples = []
        for number in range(WARMUP_TAPS + TAPS):
            back()
            settle(back_painted)
            elapsed = time_tap(target, painted)
            if number >= WARMUP_TAPS:
                samples.append(elapsed)
        return statistics.median(samples)

    # The floor: a button that switches a stack between two labels.
    plain = QWidget()
    layout = QVBoxLayout(plain)
    # The offscreen platform warns when a layout sets a window's minimum size.
    layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
    button = QPushButton("开始 Start")
    stack = QStackedWidget()
    first, second = QLabel("欢迎 Welcome"), QLabel("目录 Catalog")
    stack.addWidget(first)
    stack.addWidget(second)
    layout.addWidget(button)
    layout.addWidget(stack, 1)
    button.clicked.connect(lambda: stack.setCurrentWidget(second))
    plain.resize(*WINDOW_PX)
    plain.show()
    floor = median_tap(
        button,
        Painted(second),
        lambda: stack.setCurrentWidget(first),
        Painted(first),
    )
    plain.close()

    # Ours: the kiosk window, its catalog loaded.
    path = SAMPLE_CATALOG
    catalog = parse_catalog(path.read_text(encoding="utf-8"), str(path))
    tasks = TaskManager()
    window = MainWindow(Settings(ui=UiSettings(fullscreen=False)), tasks)
    window.resize(*WINDOW_PX)
    window.show()
    loop = QEventLoop()
    window.catalog_settled.connect(loop.quit)
    QTimer.singleShot(0, lambda: window.load_catalog(lambda: catalog))
    loop.exec()
    ours = median_tap(
        window.start_screen.start_button,
        Painted(window.catalog_screen),
        window.show_start,
        Painted(window.start_screen),
    )
    tasks.shutdown()
    window.deleteLater()
    report("ui_tap_to_screen_ms", ours * 1000, floor * 1000, "ms", "< 100 ms")


# -- soak: a thousand visits --------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory, in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak(visits: int) -> None:
    """Resident memory after `visits` whole visits, tapped through the window on the
    simulated card reader with the real store and the folder printer (two 20 KB pages
    added to each visit, a receipt printed for each). The floor is the same process's
    memory at the start, after WARMUP_VISITS visits have filled its caches: the figure is
    what a day of visits adds to it."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
    from PySide6.QtTest import QTest

    from kiosk.config import DeviceBackend, DeviceSettings, Paths, Settings, UiSettings
    from kiosk.core.applications import Applications
    from kiosk.core.catalog import parse_catalog
    from kiosk.core.samples import sample_document_images
    from kiosk.devices.card.simulator import SimulatedCardReader
    from kiosk.devices.printer.backends import backends_from_settings
    from kiosk.devices.printer.jobs import PrintQueue
    from kiosk.devices.printer.service import PrinterService
    from kiosk.store.db import Store
    from kiosk.ui.app import application
    from kiosk.ui.bridge import Bridge
    from kiosk.ui.kit import Kit
    from kiosk.ui.tasks import TaskManager
    from kiosk.ui.window import MainWindow

    app = application()

    def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("a visit got stuck")
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def tap(widget: object) -> None:
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]

    catalog = parse_catalog(SAMPLE_CATALOG.read_text(encoding="utf-8"), str(SAMPLE_CATALOG))
    item = next(iter(catalog))  # no cameras in this kit: the visit skips the capture
    pages = sample_document_images("BENCH", 0)
    with tempfile.TemporaryDirectory(prefix="doorstep-bench-soak-") as folder:
        paths = Paths(Path(folder))
        settings = Settings(
            ui=UiSettings(fullscreen=False, speech=False),
            devices=DeviceSettings(
                printer=DeviceBackend.SIMULATOR, card_reader=DeviceBackend.SIMULATOR
            ),
        )
        store = Store.open(paths)
        printer = PrinterService(
            PrintQueue(store), backends_from_settings(settings, paths), spool=paths.spool
        )
        printer.start()
        tasks = TaskManager()
        bridge = Bridge(tasks)
        card = SimulatedCardReader(bridge.on_card_event, read_delay_s=0)
        card.start()
        kit = Kit(store=store, applications=Applications(store, "BENCH"), card=card,
                  printer=printer, paths=paths)
        window = MainWindow(settings, tasks, kit, bridge)
        window.resize(*WINDOW_PX)
        window.show()
        loop = QEventLoop()
        window.catalog_settled.connect(loop.quit)
        window.load_catalog(lambda: catalog)
        loop.exec()

        def visit() -> None:
            tap(window.start_screen.start_button)
            window.catalog_screen.search.setText(item.code)
            tap(window.catalog_screen.rows()[0])
            tap(window.guide_screen.apply_button)
            card.insert()
            until(window.identify_screen.continue_button.isVisible)
            for label_text, content in pages:
                window.visit.add(content, media_type="image/png", kind="page", label=label_text)
            tap(window.identify_screen.continue_button)
            tap(window.review_screen.submit_button)
            until(lambda: window.stack.currentWidget() is window.done_screen)
            tap(window.done_screen.rating_buttons[5])
            tap(window.done_screen.finish_button)
            card.remove()

        for _ in range(WARMUP_VISITS):
            visit()
        until(lambda: printer.health().open_jobs == 0)
        gc.collect()
        start = rss_mb()
        started = time.perf_counter()
        for _ in range(visits):
            visit()
        until(lambda: printer.health().open_jobs == 0)
        gc.collect()
        end = rss_mb()
        print(f"  ui: {visits} visits in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        card.stop()
        printer.stop()
        tasks.shutdown()
        window.close()
        store.close()
    del app
    report("ui_soak_rss_mb", end, start, "MB", f"≤ floor + 30 MB after {visits} visits")


if __name__ == "__main__":
    main()
