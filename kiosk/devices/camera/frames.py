"""The latest-frame slot: one writer (the camera's thread), any number of readers.

The camera thread puts every frame it captures into the slot, replacing the one before
(a `deque(maxlen=1)`): a reader takes the newest frame, never a queue of stale ones, and a
slow or stalled reader never holds the camera back. Frames are read-only NumPy arrays, so
readers can share one without copying and none can spoil it for the others.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured picture: BGR `uint8` (height × width × 3), read-only."""

    image: np.ndarray
    seq: int  # 1, 2, 3 … per camera service; a reopened camera keeps counting
    timestamp: float  # time.monotonic() when it was captured

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]


class LatestFrame:
    """Holds the newest frame; readers take it or wait for one newer than they have seen."""

    def __init__(self) -> None:
        self._slot: deque[Frame] = deque(maxlen=1)
        self._changed = threading.Condition()
        self._seq = 0

    def put(self, image: np.ndarray, timestamp: float | None = None) -> Frame:
        """Store a new frame (the array is made read-only, not copied) and wake waiters."""
        image.flags.writeable = False
        with self._changed:
            self._seq += 1
            frame = Frame(image, self._seq, time.monotonic() if timestamp is None else timestamp)
            self._slot.append(frame)
            self._changed.notify_all()
        return frame

    def latest(self) -> Frame | None:
        """The newest frame, or None before the first one."""
        try:
            return self._slot[-1]
        except IndexError:
            return None

    def wait_newer(self, seq: int, timeout: float | None = None) -> Frame | None:
        """The newest frame with a sequence number above `seq`; None if none came in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                frame = self.latest()
                if frame is not None and frame.seq > seq:
                    return frame
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._changed.wait(remaining)
