"""What `kiosk doctor` reports about the five-piece kit: which devices can be seen, by
which backend, without opening or claiming any of them (the device services own that).

Each family answers with the backend in use and what it found; a family that cannot be
looked at (pcscd not running, CUPS not installed) says why instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import DeviceBackend, DeviceSettings, PrinterSettings

FAMILIES = ("card_reader", "camera", "document_camera", "scanner", "printer")


@dataclass(frozen=True)
class DeviceReport:
    backend: str
    found: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def discover(
    settings: DeviceSettings, printer: PrinterSettings | None = None
) -> dict[str, DeviceReport]:
    reports = {}
    for family in FAMILIES:
        backend = DeviceBackend(getattr(settings, family))
        if backend is DeviceBackend.SIMULATOR:
            reports[family] = DeviceReport(backend.value, [f"simulated {family.replace('_', ' ')}"])
        elif family == "printer":
            reports[family] = _printers(printer or PrinterSettings())
        else:
            reports[family] = _LOOKERS[family]()
    return reports


def _card_readers() -> DeviceReport:
    try:
        from kiosk.devices.card.errors import CardError
        from kiosk.devices.card.pcsc import PcscContext
    except ImportError as exc:
        return DeviceReport("pcsc", error=f"pyscard cannot load: {exc}")
    context = PcscContext()
    try:
        context.establish()
        found = []
        for reader in context.list_readers():
            state = context.state_of(reader)
            found.append(f"{reader} ({state.slot.value if state else 'gone'})")
        return DeviceReport("pcsc", found)
    except CardError as exc:
        return DeviceReport("pcsc", error=exc.staff_message)
    finally:
        context.release()


def _video_devices() -> DeviceReport:
    from kiosk.devices.camera.v4l import list_video_devices

    return DeviceReport("opencv", [device.describe() for device in list_video_devices()])


def _scanners() -> DeviceReport:
    keyboards = sorted(str(p) for p in Path("/dev/input/by-id").glob("*-event-kbd"))
    return DeviceReport("hid-keyboard", keyboards)


def _printers(config: PrinterSettings) -> DeviceReport:
    """The CUPS queues, each with its state; the one the kiosk prints on is marked."""
    from kiosk.devices.printer.backends import CupsBackend
    from kiosk.devices.printer.errors import PrinterError

    server = config.server or None
    try:
        queues = CupsBackend(None, server).destinations()
    except PrinterError as error:
        return DeviceReport("cups", error=error.staff_message)
    found = []
    for queue in queues:
        try:
            status = CupsBackend(queue, server).status()
            state = "ready" if status.ready else status.problem.reason  # type: ignore[union-attr]
        except PrinterError as error:
            state = error.reason
        mark = " [in use]" if queue == config.name else ""
        found.append(f"{queue} ({state}){mark}")
    error = None
    if config.name and config.name not in queues:
        error = f"the printer in the settings, {config.name!r}, is not in CUPS"
    return DeviceReport("cups", found, error)


_LOOKERS: dict[str, Callable[[], DeviceReport]] = {
    "card_reader": _card_readers,
    "camera": _video_devices,
    "document_camera": _video_devices,
    "scanner": _scanners,
}
