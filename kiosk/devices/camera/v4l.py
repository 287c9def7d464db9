"""The video devices Linux offers (`/dev/video*`), named, for `kiosk camera list` and
`kiosk doctor`: enough for a technician to pick the `device` setting.

Names come from sysfs (`/sys/class/video4linux/videoN/name`); the stable
`/dev/v4l/by-id/...` link of each node is given too, because indexes change when cameras
are plugged in another order or a node is still held when its camera comes back. Each node
is asked, without streaming or claiming it, whether it captures pictures (VIDIOC_QUERYCAP):
a UVC camera usually has a second node that only carries metadata.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows, which has no /dev/video* either
    fcntl = None  # type: ignore[assignment]

_VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
_CAPABILITY = struct.Struct("16s32s32sIII12x")
_CAP_VIDEO_CAPTURE = 0x00000001
_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_CAP_DEVICE_CAPS = 0x80000000


@dataclass(frozen=True)
class VideoDevice:
    path: str  # /dev/videoN
    index: int  # N, what OpenCV calls the camera
    name: str  # from sysfs, "" when unknown
    captures: bool | None  # None: the node could not be asked (permissions, not a device)
    stable_path: str | None  # the /dev/v4l/by-id link to it, if udev made one

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        kind = {True: "captures", False: "no capture (metadata node)", None: "not asked"}
        parts = [self.path, self.name or "?", f"({kind[self.captures]})"]
        if self.stable_path:
            parts.append(self.stable_path)
        return "  ".join(parts)


def list_video_devices(
    dev: Path = Path("/dev"), sysfs: Path = Path("/sys/class/video4linux")
) -> list[VideoDevice]:
    """Every /dev/videoN, in index order; an empty list where there are none."""
    stable = _stable_links(dev / "v4l" / "by-id")
    found = []
    for node in dev.glob("video*"):
        match = re.fullmatch(r"video(\d+)", node.name)
        if match is None:
            continue
        found.append(
            VideoDevice(
                path=str(node),
                index=int(match.group(1)),
                name=_read_name(sysfs / node.name / "name"),
                captures=_captures(node),
                stable_path=stable.get(node.resolve()),
            )
        )
    return sorted(found, key=lambda device: device.index)


def _read_name(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _stable_links(folder: Path) -> dict[Path, str]:
    links: dict[Path, str] = {}
    for link in sorted(folder.glob("*")):
        links.setdefault(link.resolve(), str(link))
    return links


def _captures(node: Path) -> bool | None:
    if fcntl is None:
        return None
    try:
        handle = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buffer = bytearray(_CAPABILITY.size)
        fcntl.ioctl(handle, _VIDIOC_QUERYCAP, buffer)
    except OSError:
        return None
    finally:
        os.close(handle)
    *_, capabilities, device_caps = _CAPABILITY.unpack(buffer)
    caps = device_caps if capabilities & _CAP_DEVICE_CAPS else capabilities
    return bool(caps & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE))
