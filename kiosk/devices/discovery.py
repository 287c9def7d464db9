"""What `kiosk doctor` reports about the five-piece kit: which devices can be seen, by
which backend, without opening or claiming any of them (the device services own that).

Each family answers with the backend in use and what it found; a family that cannot be
looked at (pcscd not running, CUPS not installed) says why instead of failing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import DeviceBackend, DeviceSettings

FAMILIES = ("card_reader", "camera", "document_camera", "scanner", "printer")


@dataclass(frozen=True)
class DeviceReport:
    backend: str
    found: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def discover(settings: DeviceSettings) -> dict[str, DeviceReport]:
    reports = {}
    for family in FAMILIES:
        backend = DeviceBackend(getattr(settings, family))
        if backend is DeviceBackend.SIMULATOR:
            reports[family] = DeviceReport(backend.value, [f"simulated {family.replace('_', ' ')}"])
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


def _printers() -> DeviceReport:
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return DeviceReport("cups", error="CUPS is not installed: no lpstat command")
    try:
        result = subprocess.run(
            [lpstat, "-e"], capture_output=True, text=True, timeout=5, check=False
        )
    except subprocess.TimeoutExpired:
        return DeviceReport("cups", error="CUPS did not answer within 5 s")
    if result.returncode != 0:
        return DeviceReport("cups", error=result.stderr.strip() or "lpstat failed")
    return DeviceReport("cups", result.stdout.split())


_LOOKERS = {
    "card_reader": _card_readers,
    "camera": _video_devices,
    "document_camera": _video_devices,
    "scanner": _scanners,
    "printer": _printers,
}
