"""Where frames come from: the `FrameSource` interface, the real camera and its simulators.

A source is driven by one thread at a time (the camera service's): `open()`, then `read()`
as often as it likes, then `close()`; a closed source may be opened again. `read()` blocks
until the next frame and returns it as BGR `uint8` (height × width × 3), or raises
`CameraLost`; `open()` raises `CameraUnavailable`. `describe()` says what the source is in
a line for staff and logs (never a frame's content; a URL's password is masked).

`paced` says whether `read()` keeps to a frame rate by itself: a camera does (the driver
blocks until the next frame), and so does every simulator (it sleeps); a video file opened
through the real backend does not, and the camera service paces such a source itself.

- `OpenCvSource`: the real backend, `cv2.VideoCapture` on an index or a path. On Linux,
  indexes and `/dev/...` paths go through V4L2, asking for MJPG (USB document cameras
  give 1080p at a usable rate only that way). The driver's queue of frames is left as it
  is: the service drains it as fast as frames come, so it never holds stale ones. The size
  and rate are requests: the camera may give another size, and the frames say what it
  gave.
- `VideoFileSource`: a video file played at its own rate (or the one given), looping by
  reopening the file, so a file deleted or replaced while playing is noticed at the loop.
- `ImageFolderSource`: the images of a folder in name order, each held for `hold_s`
  (default: one frame each); the folder is listed again every round, so pages dropped in
  are picked up. An unreadable file is skipped with one warning naming it.
- `SyntheticSource`: the scenes of `kiosk.devices.camera.scene`, one per `hold_s`, each
  frame with fresh sensor noise. Scenes change by frame count, not by the clock, so a run
  is the same on a slow machine, only slower.

The simulators can be `unplug()`ged and `replug()`ged from any thread: while unplugged
`open()` raises `CameraUnavailable`, `read()` raises `CameraLost`, and after `replug()`
the source gives frames again only once it has been reopened, as a real camera does.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from kiosk.config import CameraSettings, DeviceBackend, assets_dir
from kiosk.devices.camera.errors import CameraLost, CameraUnavailable
from kiosk.devices.camera.scene import SceneKind, Truth, noise_plane, render

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_FALLBACK_FPS = 15.0  # for a video file that does not say its rate
NOISE_FRAMES = 8  # the synthetic camera's planes of sensor noise, taken in turn


@runtime_checkable
class FrameSource(Protocol):
    """A camera, or something standing in for one."""

    @property
    def paced(self) -> bool: ...

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def as_bgr(image: object) -> np.ndarray:
    """`image` as BGR `uint8` (height × width × 3): grey and BGRA pictures are converted;
    anything else (no picture, another depth or shape) raises CameraLost."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise CameraLost("the camera gave an empty frame")
    if image.dtype != np.uint8:
        raise CameraLost(f"the camera gives {image.dtype} frames; only 8-bit ones can be used")
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if channels == 3:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise CameraLost(f"the camera gives frames shaped {image.shape}, not pictures")


class Pacer:
    """Holds a loop to `fps`: `wait()` returns once per frame interval. A loop that falls
    behind carries on from where it is, without a burst to catch up."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.fps = fps
        self._interval = 1.0 / fps
        self._due = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self._due:
            time.sleep(self._due - now)
            now = self._due
        self._due = now + self._interval

    def reset(self) -> None:
        self._due = 0.0


def _masked(device: int | str) -> str:
    """The device as text, with the password of a URL (rtsp://user:pw@host) masked."""
    text = str(device)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class OpenCvSource:
    """A real camera (or anything else OpenCV opens) through `cv2.VideoCapture`."""

    def __init__(
        self, device: int | str, width: int, height: int, fps: float | None = None
    ) -> None:
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device: int | str = device
        self.width, self.height, self.fps = width, height, fps
        self._v4l2 = sys.platform.startswith("linux") and (
            isinstance(device, int) or device.startswith("/dev/")
        )
        self._capture: cv2.VideoCapture | None = None

    @property
    def paced(self) -> bool:
        return isinstance(self.device, int) or not Path(self.device).is_file()

    def describe(self) -> str:
        rate = f" @ {self.fps:g} fps" if self.fps else ""
        via = "V4L2" if self._v4l2 else "OpenCV"
        return f"camera {_masked(self.device)} ({via}), {self.width}x{self.height}{rate}"

    def open(self) -> None:
        self.close()
        api = cv2.CAP_V4L2 if self._v4l2 else cv2.CAP_ANY
        try:
            capture = cv2.VideoCapture(self.device, api)
        except cv2.error as exc:
            raise CameraUnavailable(f"OpenCV cannot open {self.describe()}: {exc}") from None
        if not capture.isOpened():
            capture.release()
            if isinstance(self.device, str) and "://" not in self.device:
                if not Path(self.device).exists():
                    raise CameraUnavailable(f"cannot open {self.describe()}: no such device")
                if not self._v4l2:
                    raise CameraUnavailable(f"OpenCV cannot play {self.describe()}")
            raise CameraUnavailable(
                f"cannot open {self.describe()}: not plugged in, held by another program, "
                "or no such device"
            )
        if self._v4l2:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        self._capture = capture
        log.info("opened %s", self.describe())

    def read(self) -> np.ndarray:
        if self._capture is None:
            raise CameraLost(f"{self.describe()} is not open")
        try:
            ok, image = self._capture.read()
        except cv2.error as exc:
            raise CameraLost(f"{self.describe()} failed: {exc}") from None
        if not ok or image is None:
            raise CameraLost(f"{self.describe()} stopped giving frames")
        return as_bgr(image)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class _Pluggable:
    """What the simulators share: a plug that tests and demos can pull."""

    def __init__(self) -> None:
        self._plug = threading.Lock()
        self._plugged = True
        self._is_open = False

    def describe(self) -> str:
        raise NotImplementedError

    @property
    def plugged(self) -> bool:
        return self._plugged

    def unplug(self) -> None:
        """Act as if the cable were pulled: frames stop until replugged and reopened."""
        with self._plug:
            self._plugged = False
            self._is_open = False
        log.info("%s: unplugged", self.describe())

    def replug(self) -> None:
        with self._plug:
            self._plugged = True
        log.info("%s: plugged back in", self.describe())

    def _mark_open(self) -> None:
        with self._plug:
            if not self._plugged:
                raise CameraUnavailable(f"{self.describe()} is unplugged")
            self._is_open = True

    def _mark_closed(self) -> None:
        with self._plug:
            self._is_open = False

    def _check_open(self) -> None:
        with self._plug:
            if not self._plugged:
                raise CameraLost(f"{self.describe()} was unplugged")
            if not self._is_open:
                raise CameraLost(f"{self.describe()} is not open")


class SyntheticSource(_Pluggable):
    """Synthetic scenes (face, card, voucher …) with sensor noise, cycling every `hold_s`."""

    paced = True

    def __init__(
        self,
        kinds: Sequence[SceneKind | str],
        size: tuple[int, int] = (1280, 720),
        fps: float = 15.0,
        hold_s: float = 3.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not kinds:
            raise ValueError("a synthetic camera needs at least one scene")
        self.kinds = tuple(SceneKind(kind) for kind in kinds)
        self.size, self.seed = size, seed
        self.hold_frames = max(1, round(hold_s * fps))
        self._pacer = Pacer(fps)
        self._rng = np.random.default_rng(seed)
        self._given = 0  # frames given so far; goes on counting across reopenings
        self._scene: tuple[int, SceneKind, np.ndarray, Truth] | None = None
        self._noise: list[np.ndarray] = []  # NOISE_FRAMES planes of sensor noise, made once

    def describe(self) -> str:
        scenes = ", ".join(kind.value for kind in self.kinds)
        width, height = self.size
        return f"synthetic scenes ({scenes}), {width}x{height} @ {self._pacer.fps:g} fps"

    @property
    def current(self) -> tuple[SceneKind, Truth] | None:
        """The scene of the frame given last, and what is in it; None before the first."""
        scene = self._scene
        return None if scene is None else (scene[1], scene[3])

    def open(self) -> None:
        self._mark_open()
        self._pacer.reset()

    def read(self) -> np.ndarray:
        self._pacer.wait()
        self._check_open()
        period = self._given // self.hold_frames
        if self._scene is None or self._scene[0] != period:
            kind = self.kinds[period % len(self.kinds)]
            image, truth = render(kind, seed=self.seed + period, size=self.size)
            self._scene = (period, kind, image, truth)
        self._given += 1
        if not self._noise:
            shape = self._scene[2].shape
            self._noise = [noise_plane(shape, self._rng) for _ in range(NOISE_FRAMES)]
        # the scene with sensor noise, saturated (a new array): a few planes made once and
        # taken in turn cost a twentieth of fresh noise per frame, and look the same to the
        # vision code (it never compares frames that far apart pixel by pixel)
        return cv2.add(self._scene[2], self._noise[self._given % NOISE_FRAMES], dtype=cv2.CV_8U)

    def close(self) -> None:
        self._mark_closed()


class VideoFileSource(_Pluggable):
    """A video file played as a camera, at its own frame rate or `fps`, looping."""

    paced = True

    def __init__(self, path: Path | str, fps: float | None = None, loop: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._fps = fps
        self._pacer: Pacer | None = None
        self._capture: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None

    @property
    def fps(self) -> float | None:
        """The rate it plays at: known once opened."""
        return None if self._pacer is None else self._pacer.fps

    def describe(self) -> str:
        return f"video file {self.path}"

    def open(self) -> None:
        self.close()
        capture, first = self._start()
        fps = self._fps or capture.get(cv2.CAP_PROP_FPS)
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            fps = _FALLBACK_FPS
        self._capture, self._first = capture, first
        self._pacer = Pacer(fps)
        self._mark_open()

    def _start(self) -> tuple[cv2.VideoCapture, np.ndarray]:
        """The file opened and its first frame decoded; CameraUnavailable if it cannot be."""
        if not self.path.is_file():
            raise CameraUnavailable(f"no video file at {self.path}")
        capture = cv2.VideoCapture(str(self.path))
        ok, image = capture.read() if capture.isOpened() else (False, None)
        if not ok or image is None:
            capture.release()
            raise CameraUnavailable(f"{self.path} is not a video OpenCV can play")
        return capture, image

    def read(self) -> np.ndarray:
        if self._pacer is None:
            raise CameraLost(f"{self.describe()} is not open")
        self._pacer.wait()
        self._check_open()
        if self._first is not None:
            image, self._first = self._first, None
            return as_bgr(image)
        assert self._capture is not None
        ok, image = self._capture.read()
        if ok and image is not None:
            return as_bgr(image)
        if not self.loop:
            raise CameraLost(f"{self.describe()} has ended")
        self._capture.release()
        self._capture = None
        try:
            self._capture, image = self._start()
        except CameraUnavailable as exc:
            raise CameraLost(exc.staff_message) from None
        return as_bgr(image)

    def close(self) -> None:
        self._mark_closed()
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._first = None


def _read_image(path: Path) -> np.ndarray | None:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if image is None else as_bgr(image)


class ImageFolderSource(_Pluggable):
    """The images of a folder (jpg, jpeg, png, bmp, webp) in name order, round and round."""

    paced = True

    def __init__(self, path: Path | str, fps: float = 2.0, hold_s: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.hold_frames = 1 if hold_s is None else max(1, round(hold_s * fps))
        self._pacer = Pacer(fps)
        self._pending: deque[Path] = deque()
        self._image: np.ndarray | None = None
        self._shown = 0
        self._warned: set[Path] = set()

    def describe(self) -> str:
        return f"image folder {self.path} @ {self._pacer.fps:g} fps"

    def _listing(self) -> list[Path]:
        if not self.path.is_dir():
            raise CameraUnavailable(f"no image folder at {self.path}")
        images = sorted(
            entry
            for entry in self.path.iterdir()
            if entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file()
        )
        if not images:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise CameraUnavailable(f"no images ({kinds}) in {self.path}")
        return images

    def open(self) -> None:
        self._pending = deque(self._listing())
        self._image, self._shown = None, 0
        self._pacer.reset()
        self._mark_open()

    def read(self) -> np.ndarray:
        self._pacer.wait()
        self._check_open()
        if self._image is None or self._shown >= self.hold_frames:
            self._image, self._shown = self._next_image(), 0
        self._shown += 1
        return self._image

    def _next_image(self) -> np.ndarray:
        listings = 0
        while True:
            if not self._pending:
                listings += 1
                if listings > 1:  # a whole fresh listing went by without a readable image
                    raise CameraLost(f"none of the images in {self.path} can be read")
                try:
                    self._pending = deque(self._listing())
                except CameraUnavailable as exc:
                    raise CameraLost(exc.staff_message) from None
            path = self._pending.popleft()
            image = _read_image(path)
            if image is not None:
                image.flags.writeable = False  # given out many times: no reader may change it
                return image
            if path not in self._warned:
                self._warned.add(path)
                log.warning("skipping %s: not an image OpenCV can read", path)

    def close(self) -> None:
        self._mark_closed()
        self._image = None


def _media_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else assets_dir() / path


def open_source(settings: CameraSettings, backend: DeviceBackend | str) -> FrameSource:
    """The source one camera's settings describe (not opened yet). Simulated video plays
    at the file's own rate; simulated images and scenes at `fps`, each held `hold_s`."""
    if DeviceBackend(backend) is DeviceBackend.REAL:
        return OpenCvSource(settings.device, settings.width, settings.height, settings.fps)
    if settings.simulator == "video":
        return VideoFileSource(_media_path(settings.simulator_path))
    if settings.simulator == "images":
        return ImageFolderSource(
            _media_path(settings.simulator_path), fps=settings.fps, hold_s=settings.hold_s
        )
    return SyntheticSource(
        settings.scenes,
        size=(settings.width, settings.height),
        fps=settings.fps,
        hold_s=settings.hold_s,
    )
