"""The camera service: one thread per camera that owns its source and keeps the newest
frame in a latest-frame slot (`service.frames`) for the preview, the vision pipeline and
the video call.

The thread reads frames as fast as the source gives them (a source that does not pace
itself is held to `unpaced_fps`) and never waits for a reader. It never dies: when the
source cannot be opened, stops giving frames or fails in a way nobody expected (logged),
the thread closes it, reports the outage once and opens a fresh source from
`source_factory` with capped exponential backoff (0.25 s doubling to 5 s) until frames
flow again. The backoff starts over only once a frame has come, so a camera that opens but
gives nothing is retried as slowly as one that does not open.

Events go to a plain callback on the service's thread (the Qt side turns them into
signals in ui/bridge); it must return quickly, and one that raises is logged and ignored.
An outage is reported once: `LOST` when a camera that gave frames stops, `DOWN` when it
cannot be opened (or gives nothing) to begin with; its end as `UP` (the first frames in
the service's life) or `REOPENED`. `STOPPED` is the last event. Repeated failures during
an outage are logged at DEBUG only, so an unplugged camera does not fill the log.

`health()` may be called from any thread; `snapshot()` gets one picture from a service or
straight from a source (for the command line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from kiosk.devices.backoff import Backoff
from kiosk.devices.camera.errors import CameraError, CameraLost, NoFrame
from kiosk.devices.camera.frames import LatestFrame
from kiosk.devices.camera.sources import FrameSource, Pacer

log = logging.getLogger(__name__)

FPS_WINDOW_S = 2.0  # health().fps counts the frames of the last this many seconds


class CameraEventKind(StrEnum):
    UP = "up"
    DOWN = "down"
    LOST = "lost"
    REOPENED = "reopened"
    STOPPED = "stopped"


class CameraState(StrEnum):
    STARTING = "starting"  # not a frame yet
    RUNNING = "running"
    LOST = "lost"  # in an outage: reopening with backoff
    STOPPED = "stopped"


@dataclass(frozen=True)
class CameraEvent:
    """Something a camera service saw. `detail` is one line for staff; for DOWN and LOST
    `error` says what went wrong, with words for the resident."""

    kind: CameraEventKind
    name: str
    detail: str = ""
    error: CameraError | None = None
    at: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        return f"{self.name}: {self.kind.value}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class CameraHealth:
    """How one camera is doing, at the moment `health()` was called."""

    name: str
    state: CameraState
    source: str  # the source's describe(), "" before the first open
    fps: float  # frames per second over the last FPS_WINDOW_S
    frames: int  # captured since the service started
    reopens: int  # outages that ended with frames flowing again
    last_error: str | None  # the name of the last error, None if there was none
    last_error_message: str | None
    frame_age: float | None  # seconds since the newest frame, None before the first

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class CameraService:
    """Owns one camera on its own thread; the newest frame is in `frames`."""

    def __init__(
        self,
        name: str,
        source_factory: Callable[[], FrameSource],
        on_event: Callable[[CameraEvent], None] | None = None,
        *,
        backoff: Backoff | None = None,
        unpaced_fps: float = 30.0,
    ) -> None:
        self.name = name
        self.frames = LatestFrame()
        self._source_factory = source_factory
        self._on_event = on_event
        self._backoff = backoff or Backoff()
        self._unpaced_fps = unpaced_fps
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards what health() reads
        self._state = CameraState.STARTING
        self._ever_up = False
        self._source_text = ""
        self._captured = 0
        self._reopens = 0
        self._last_error: CameraError | None = None
        self._times: deque[float] = deque(maxlen=1024)

    # -- from any thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} service is already running")
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (up to `timeout`, while a read finishes)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def last_error(self) -> CameraError | None:
        return self._last_error

    def health(self) -> CameraHealth:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._times if t >= now - FPS_WINDOW_S]
            error = self._last_error
            fps = 0.0
            if len(recent) >= 2 and recent[-1] > recent[0]:
                fps = (len(recent) - 1) / (recent[-1] - recent[0])
            return CameraHealth(
                name=self.name,
                state=self._state,
                source=self._source_text,
                fps=round(fps, 2),
                frames=self._captured,
                reopens=self._reopens,
                last_error=None if error is None else error.name,
                last_error_message=None if error is None else error.staff_message,
                frame_age=None if not self._times else now - self._times[-1],
            )

    # -- on the service thread -----------------------------------------------------------

    def _emit(
        self, kind: CameraEventKind, detail: str = "", error: CameraError | None = None
    ) -> None:
        event = CameraEvent(kind, self.name, detail, error)
        log.info("camera %s", event.describe())
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("a camera event listener failed (%s %s)", self.name, kind.value)

    def _run(self) -> None:
        log.info("camera service %s started", self.name)
        while not self._stopping.is_set():
            source: FrameSource | None = None
            failure: CameraError | None = None
            try:
                source = self._source_factory()
                with self._lock:
                    self._source_text = source.describe()
                source.open()
                self._stream(source)
            except CameraError as exc:
                failure = exc
            except Exception as exc:  # never die: log it, treat it as a lost camera
                log.exception("camera %s: unexpected failure", self.name)
                failure = CameraLost(f"unexpected failure: {type(exc).__name__}: {exc}")
            finally:
                if source is not None:
                    self._close(source)
            if failure is not None and not self._stopping.is_set():
                self._outage(failure)
                self._stopping.wait(self._backoff.next())
        with self._lock:
            self._state = CameraState.STOPPED
        self._emit(CameraEventKind.STOPPED)
        log.info("camera service %s stopped", self.name)

    def _stream(self, source: FrameSource) -> None:
        pacer = None if source.paced else Pacer(self._unpaced_fps)
        flowing = False
        while not self._stopping.is_set():
            frame = self.frames.put(source.read())
            with self._lock:
                self._captured += 1
                self._times.append(frame.timestamp)
            if not flowing:
                flowing = True
                self._flowing(source, frame.size)
            if pacer is not None:
                pacer.wait()

    def _flowing(self, source: FrameSource, size: tuple[int, int]) -> None:
        self._backoff.reset()
        with self._lock:
            was_up, self._ever_up = self._ever_up, True
            self._state = CameraState.RUNNING
            if was_up:
                self._reopens += 1
        detail = f"{source.describe()}: {size[0]}x{size[1]} frames"
        self._emit(CameraEventKind.REOPENED if was_up else CameraEventKind.UP, detail)

    def _outage(self, error: CameraError) -> None:
        with self._lock:
            previous, self._state = self._state, CameraState.LOST
            self._last_error = error
        detail = f"{error.name}: {error.staff_message}"
        if previous is CameraState.LOST:
            log.debug("camera %s still out: %s", self.name, detail)
        else:
            kind = CameraEventKind.LOST if previous is CameraState.RUNNING else CameraEventKind.DOWN
            self._emit(kind, detail, error)

    def _close(self, source: FrameSource) -> None:
        try:
            source.close()
        except Exception:
            log.exception("camera %s: closing %s failed", self.name, source.describe())


def snapshot(
    target: CameraService | FrameSource, timeout: float = 10.0, *, settle_frames: int = 0
) -> np.ndarray:
    """One fresh picture (BGR `uint8`), skipping `settle_frames` first (a real camera's
    first frames are dark while its exposure settles).

    From a running service: the first frame captured after the call; on timeout NoFrame
    (naming the service's last error, if it has one). From a source: it is opened, read
    and closed on a helper thread, once, and its own error is raised as it is; a source
    that gives nothing within `timeout` raises NoFrame, and the helper, a daemon thread,
    closes it whenever its read returns.
    """
    if isinstance(target, CameraService):
        return _from_service(target, timeout, settle_frames)
    result: Future[np.ndarray] = Future()
    helper = threading.Thread(
        target=_grab, args=(target, settle_frames, result), name="camera-snapshot", daemon=True
    )
    helper.start()
    try:
        image = result.result(timeout)
    except FutureTimeout:
        raise NoFrame(f"{target.describe()} gave no frame within {timeout:g} s") from None
    finally:
        if result.done():
            helper.join()  # it has closed the source; only the thread's end is left
    return image


def _from_service(service: CameraService, timeout: float, settle_frames: int) -> np.ndarray:
    if not service.alive:
        raise NoFrame(f"the {service.name} service is not running")
    newest = service.frames.latest()
    seen = 0 if newest is None else newest.seq
    frame = service.frames.wait_newer(seen + settle_frames, timeout)
    if frame is not None:
        return frame.image
    error = service.last_error
    reason = f" (last error: {error.name}: {error.staff_message})" if error else ""
    raise NoFrame(f"{service.name} gave no frame within {timeout:g} s{reason}")


def _grab(source: FrameSource, settle_frames: int, result: Future[np.ndarray]) -> None:
    """Open, read, close, and only then hand over the picture: a process that exits while
    a thread is still inside OpenCV's release() is killed by the C++ runtime."""
    try:
        source.open()
        try:
            for _ in range(settle_frames):
                source.read()
            image = source.read()
        finally:
            source.close()
    except BaseException as exc:
        result.set_exception(exc)
    else:
        result.set_result(image)
