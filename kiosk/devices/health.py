"""How each device of the five-piece kit is doing, and a self-test for each, for the
staff screen: `DeviceChecks` is what the screen needs, `KitChecks` the kiosk's own.

Both methods answer `(ok, text)`, the text one or two lines for staff in the language
asked ("zh" or "en"; a device's own error message is in English). They may block — a
self-test waits for a picture, a scan or a printout — so they are called off the Qt main
thread, and never raise for a device that is missing or broken: that is a `False` answer.

- health: what the running service says (a camera's frames, the printer's state, the
  card readers the card service sees), or, for a device without a running service here,
  what `kiosk doctor` finds (kiosk.devices.discovery);
- self-test: the card reader lists the readers on a PC/SC context of its own and what
  each holds; a camera takes one picture; the scanner waits `scan_wait_s` for staff to
  scan any code (the test page's QR code will do) and says what the gun made of it; the
  printer prints a test page (as `kiosk print test-page` does) and waits `print_wait_s`
  for it.

`reported_health` is what the sync's health report to the district says of each device.

A simulated device says it is simulated; its self-test still runs where there is
something to run (a simulated camera gives a picture, the folder printer prints).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import msgspec

from kiosk.config import DeviceBackend, Paths, Settings
from kiosk.devices.discovery import FAMILIES, DeviceReport, discover
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.sync.wire import DeviceHealth, DeviceState

Result = tuple[bool, str]

#: A camera frame older than this means the camera has stopped giving frames.
STALE_FRAME_S = 5.0


class DeviceChecks(Protocol):
    """What the staff screen asks of the kit; `family` is one of `FAMILIES`."""

    def health(self, family: str, lang: str) -> Result: ...

    def self_test(self, family: str, lang: str) -> Result: ...


_TEXTS: dict[str, tuple[str, str]] = {
    "unknown_family": ("没有这种设备：{family}", "No such device: {family}"),
    "simulated": ("模拟设备（演示用）", "Simulated device (demo)"),
    "none_found": ("没有找到设备", "No device found"),
    "found": ("找到：{found}", "Found: {found}"),
    "readers": ("读卡器：{readers}", "Readers: {readers}"),
    "no_reader": ("没有连接读卡器", "No card reader is connected"),
    "slot_empty": ("无卡", "no card"),
    "slot_card": ("有卡", "card in"),
    "slot_mute": ("卡无应答（是否插反？）", "card does not answer (upside down?)"),
    "slot_unavailable": ("不可用", "unavailable"),
    "simulated_reader": (
        "模拟读卡器（演示用），没有可自检的硬件",
        "Simulated card reader (demo): no hardware to test",
    ),
    "camera_running": (
        "正常出图：每秒 {fps:g} 帧",
        "Giving pictures: {fps:g} frames a second",
    ),
    "camera_starting": ("正在启动", "Starting"),
    "camera_stale": (
        "{age:.0f} 秒没有新画面",
        "No new picture for {age:.0f} seconds",
    ),
    "camera_down": ("无画面：{problem}", "No picture: {problem}"),
    "camera_stopped": ("已停止", "Stopped"),
    "picture": ("拍到一张 {width}×{height} 的画面", "Took a {width}×{height} picture"),
    "scanner_keyboards": ("键盘类设备：{found}", "Keyboard-like devices: {found}"),
    "scanner_none": (
        "没有找到 USB 键盘类设备，扫描枪是否已插好？",
        "No USB keyboard-like device: is the scanner gun plugged in?",
    ),
    "scanner_not_here": (
        "扫描枪没有接到本屏幕",
        "The scanner gun is not connected to this screen",
    ),
    "scanned_voucher": (
        "扫描枪工作正常：读到一个医保电子凭证",
        "The scanner gun works: it read a medical-insurance e-voucher",
    ),
    "scanned_other": (
        "扫描枪工作正常：读到一个码（不是医保电子凭证：{problem}）",
        "The scanner gun works: it read a code (not an e-voucher: {problem})",
    ),
    "no_scan": (
        "{seconds:.0f} 秒内没有扫到码",
        "No code was scanned within {seconds:.0f} seconds",
    ),
    "printer_ready": ("可以打印；待打印 {open} 份", "Ready; jobs to print: {open}"),
    "printer_ready_idle": ("可以打印", "Ready to print"),
    "printer_problem": ("不能打印：{problem}", "Cannot print: {problem}"),
    "printer_unknown": ("打印服务还没有查看打印机", "The print service has not looked yet"),
    "printer_stopped": ("打印服务没有运行", "The print service is not running"),
    "no_store": ("没有本地数据库，无法打印", "No local store: nothing can be printed"),
    "printed": ("测试页已打印（任务 {job}）", "The test page printed (job {job})"),
    "print_failed": (
        "测试页没有打印出来：{problem}。它留在队列里，打印机恢复后会打印。",
        "The test page did not print: {problem}. It stays queued and prints once the "
        "printer is back.",
    ),
    "print_waiting": (
        "测试页 {seconds:.0f} 秒内还没有打印（{state}）",
        "The test page has not printed within {seconds:.0f} seconds ({state})",
    ),
    "print_elsewhere": (
        "测试页已排队；正在运行的服务站程序会打印它",
        "The test page is queued; the running kiosk prints it",
    ),
}


def _t(key: str, lang: str, **fields: object) -> str:
    zh, en = _TEXTS[key]
    return (en if lang == "en" else zh).format(**fields)


class KitChecks:
    """The kiosk's own device checks, built on the running services where it is given
    them (`card`: a CardReaderService; `cameras`: CameraServices by family; `printer`: a
    PrinterService; `scanner`: the ScannerGun the window's key filter feeds) and on the
    settings and discovery for the rest. `store` holds the print queue for the test page.
    """

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        *,
        store: Store | None = None,
        card: Any = None,
        cameras: Mapping[str, Any] | None = None,
        printer: Any = None,
        scanner: Any = None,
        frame_wait_s: float = 5.0,
        scan_wait_s: float = 30.0,
        print_wait_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self._paths = paths
        self._store = store
        self._card = card
        self._cameras = dict(cameras or {})
        self._printer = printer
        self._scanner = scanner
        self._frame_wait_s = frame_wait_s
        self._scan_wait_s = scan_wait_s
        self._print_wait_s = print_wait_s

    def health(self, family: str, lang: str) -> Result:
        if family not in FAMILIES:
            return False, _t("unknown_family", lang, family=family)
        try:
            if family == "card_reader":
                return self._card_health(lang)
            if family in ("camera", "document_camera"):
                return self._camera_health(family, lang)
            if family == "printer":
                return self._printer_health(lang)
            return self._scanner_health(lang)
        except DoorstepError as error:
            return False, error.staff_message

    def self_test(self, family: str, lang: str) -> Result:
        if family not in FAMILIES:
            return False, _t("unknown_family", lang, family=family)
        try:
            if family == "card_reader":
                return self._card_test(lang)
            if family in ("camera", "document_camera"):
                return self._camera_test(family, lang)
            if family == "printer":
                return self._printer_test(lang)
            return self._scanner_test(lang)
        except DoorstepError as error:
            return False, error.staff_message

    # -- card reader -------------------------------------------------------------------

    def _simulated(self, family: str) -> bool:
        return DeviceBackend(getattr(self._settings.devices, family)) is DeviceBackend.SIMULATOR

    def _card_health(self, lang: str) -> Result:
        if self._simulated("card_reader"):
            return True, _t("simulated", lang)
        readers = getattr(self._card, "readers", None)
        if readers:
            return True, _reader_list({name: state.slot for name, state in readers.items()}, lang)
        return _from_report(self._discovered("card_reader"), lang)

    def _card_test(self, lang: str) -> Result:
        if self._simulated("card_reader"):
            return True, _t("simulated_reader", lang)
        from kiosk.devices.card.pcsc import PcscContext

        context = PcscContext()
        try:
            context.establish()
            slots = {}
            for reader in context.list_readers():
                state = context.state_of(reader)
                if state is not None:
                    slots[reader] = state.slot
        finally:
            context.release()
        if not slots:
            return False, _t("no_reader", lang)
        return True, _reader_list(slots, lang)

    # -- cameras -----------------------------------------------------------------------

    def _camera_health(self, family: str, lang: str) -> Result:
        from kiosk.devices.camera.service import CameraState

        service = self._cameras.get(family)
        if service is None:
            if self._simulated(family):
                return True, _t("simulated", lang)
            return _from_report(self._discovered(family), lang)
        health = service.health()
        if health.state is CameraState.RUNNING:
            if health.frame_age is not None and health.frame_age > STALE_FRAME_S:
                return False, _t("camera_stale", lang, age=health.frame_age)
            return True, _t("camera_running", lang, fps=health.fps)
        if health.state is CameraState.STARTING and health.last_error is None:
            return False, _t("camera_starting", lang)
        if health.state is CameraState.STOPPED:
            return False, _t("camera_stopped", lang)
        problem = health.last_error_message or health.last_error or health.state.value
        return False, _t("camera_down", lang, problem=problem)

    def _camera_test(self, family: str, lang: str) -> Result:
        from kiosk.devices.camera.service import snapshot
        from kiosk.devices.camera.sources import open_source

        target = self._cameras.get(family)
        if target is None:
            target = open_source(
                getattr(self._settings, family), getattr(self._settings.devices, family)
            )
        image = snapshot(target, timeout=self._frame_wait_s)
        return True, _t("picture", lang, width=image.shape[1], height=image.shape[0])

    # -- scanner -----------------------------------------------------------------------

    def _scanner_health(self, lang: str) -> Result:
        if self._simulated("scanner"):
            return True, _t("simulated", lang)
        report = self._discovered("scanner")
        if report.found:
            return True, _t("scanner_keyboards", lang, found=", ".join(report.found))
        return False, report.error or _t("scanner_none", lang)

    def _scanner_test(self, lang: str) -> Result:
        if self._scanner is None:
            return False, _t("scanner_not_here", lang)
        seen: list[str] = []
        scanned = threading.Event()

        def on_scan(_voucher: object) -> None:
            seen.append(_t("scanned_voucher", lang))
            scanned.set()

        def on_error(error: DoorstepError) -> None:
            seen.append(_t("scanned_other", lang, problem=error.staff_message))
            scanned.set()

        stop_scans = self._scanner.on_scan(on_scan)
        stop_errors = self._scanner.on_error(on_error)
        try:
            scanned.wait(self._scan_wait_s)
        finally:
            stop_scans()
            stop_errors()
        if not seen:
            return False, _t("no_scan", lang, seconds=self._scan_wait_s)
        return True, seen[0]

    # -- printer -----------------------------------------------------------------------

    def _printer_health(self, lang: str) -> Result:
        if self._printer is None:
            from kiosk.devices.printer.backends import backends_from_settings

            status = backends_from_settings(self._settings, self._paths)(None).status()
            if status.problem is not None:
                return False, _t("printer_problem", lang, problem=status.problem.staff_message)
            return True, _t("printer_ready_idle", lang)
        health = self._printer.health()
        if not health.running:
            return False, _t("printer_stopped", lang)
        if health.ready is None:
            return True, _t("printer_unknown", lang)
        if not health.ready:
            problem = health.detail or health.problem
            return False, _t("printer_problem", lang, problem=problem)
        return True, _t("printer_ready", lang, open=health.open_jobs)

    def _printer_test(self, lang: str) -> Result:
        from kiosk.devices.printer.backends import backends_from_settings
        from kiosk.devices.printer.jobs import JobKind, JobState, PrintQueue
        from kiosk.devices.printer.service import PrinterBusy, PrinterService
        from kiosk.documents.test_page import render_test_page

        if self._store is None:
            return False, _t("no_store", lang)
        queue = PrintQueue(self._store)
        name = self._settings.printer.name or "(default printer)"
        page = render_test_page(self._settings.station, name, datetime.now().astimezone())
        job = queue.add(page, kind=JobKind.TEST_PAGE, title="test page")
        service = self._printer
        temporary = None
        if service is not None:
            service.wake()
        else:
            temporary = PrinterService(
                queue,
                backends_from_settings(self._settings, self._paths),
                spool=self._paths.spool,
                poll_s=0.25,
            )
            try:
                temporary.start()
            except PrinterBusy:
                temporary = None
        try:
            deadline = time.monotonic() + self._print_wait_s
            while True:
                job = queue.get(job.id)
                if job.state in (JobState.DONE, JobState.FAILED):
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
        finally:
            if temporary is not None:
                temporary.stop()
        if job.state is JobState.DONE:
            return True, _t("printed", lang, job=job.id[:8])
        if job.state is JobState.FAILED:
            return False, _t("print_failed", lang, problem=job.detail or job.reason)
        if service is None and temporary is None:
            return False, _t("print_elsewhere", lang)
        return False, _t("print_waiting", lang, seconds=self._print_wait_s, state=job.state)

    # -- discovery ---------------------------------------------------------------------

    def _discovered(self, family: str) -> DeviceReport:
        """What `kiosk doctor` finds for `family` alone (the others are not looked at)."""
        others = {other: DeviceBackend.SIMULATOR for other in FAMILIES if other != family}
        devices = msgspec.structs.replace(self._settings.devices, **others)
        return discover(devices, self._settings.printer)[family]


def _reader_list(slots: Mapping[str, Any], lang: str) -> str:
    opening, closing = (" (", ")") if lang == "en" else ("（", "）")
    shown = "; ".join(
        f"{name}{opening}{_t(f'slot_{slot}', lang)}{closing}" for name, slot in slots.items()
    )
    return _t("readers", lang, readers=shown)


def _from_report(report: DeviceReport, lang: str) -> Result:
    if report.error:
        return False, report.error
    if not report.found:
        return False, _t("none_found", lang)
    return True, _t("found", lang, found=", ".join(report.found))


# -- the health report the sync sends the district ----------------------------------------


def reported_health(settings: Settings, printer: Any = None) -> list[DeviceHealth]:
    """The five devices as the district's health report carries them: a state and the
    last error's code, never a message (kiosk.sync.wire.DeviceHealth). What `kiosk
    doctor` finds, without opening any device; the printer as the running print service
    (`printer`, a PrinterService) last saw it, when there is one. May block (CUPS, PC/SC):
    off the Qt main thread."""
    found = discover(settings.devices, settings.printer)
    health = []
    for family in FAMILIES:
        report = found[family]
        seen = printer.health() if family == "printer" and printer is not None else None
        if report.backend == DeviceBackend.SIMULATOR.value:
            health.append(DeviceHealth(family=family, state=DeviceState.SIMULATED))
        elif seen is not None and seen.ready is not None:
            state = DeviceState.OK if seen.ready else DeviceState.FAILING
            health.append(DeviceHealth(family=family, state=state, error=_code(seen.problem)))
        elif report.error:
            health.append(
                DeviceHealth(family=family, state=DeviceState.FAILING, error="not_available")
            )
        elif not report.found:
            health.append(DeviceHealth(family=family, state=DeviceState.MISSING))
        else:
            health.append(DeviceHealth(family=family, state=DeviceState.OK))
    return health


def _code(reason: str | None) -> str | None:
    """A reason code as the wire takes it (lower case, digits and _, at most 40)."""
    if not reason:
        return None
    code = re.sub(r"[^a-z0-9_]", "_", reason.lower())[:40]
    return code if code[:1].isalpha() else None
