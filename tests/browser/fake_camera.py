"""The agent's camera in the browser tests: a `.y4m` file Chromium plays as its webcam
(`--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE`), and the
test that a frame the kiosk received came from it.

The picture is a split field no camera scene of the kiosk's simulator has: the left half
a saturated blue, the right half a saturated orange, with a white bar across the middle.
`looks_like_agent(frame)` checks those three regions' mean colours in a decoded BGR
frame, which survives VP8 at any bitrate the call reaches; it does not depend on which of
the file's frames arrived, or when.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

BLUE = (200, 60, 20)  # BGR
ORANGE = (20, 140, 240)
WHITE = (255, 255, 255)

#: Chromium's fake capture flags (the file is appended by `media_arguments`).
FAKE_MEDIA = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")


def agent_picture(width: int = 640, height: int = 360, shade: int = 0) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, : width // 2] = BLUE
    frame[:, width // 2 :] = ORANGE
    bar = height // 10
    frame[height // 2 - bar // 2 : height // 2 + bar // 2] = WHITE
    if shade:  # a frame number in the corner: consecutive frames differ, like a camera's
        cv2.putText(frame, str(shade), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, WHITE, 2)
    return frame


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Write BGR frames (all one size, even width and height) as a 4:2:0 y4m file."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def agent_camera_file(folder: Path, width: int = 640, height: int = 360) -> Path:
    frames = [agent_picture(width, height, shade=n + 1) for n in range(25)]
    return write_y4m(folder / f"agent-camera-{width}x{height}.y4m", frames)


def media_arguments(camera_file: Path) -> tuple[str, ...]:
    return (*FAKE_MEDIA, f"--use-file-for-fake-video-capture={camera_file}")


def looks_like_agent(frame: np.ndarray) -> bool:
    """Whether a decoded BGR frame (any size) shows the agent's test picture."""
    height, width = frame.shape[:2]

    def mean(y0: float, y1: float, x0: float, x1: float) -> np.ndarray:
        region = frame[int(y0 * height) : int(y1 * height), int(x0 * width) : int(x1 * width)]
        return region.reshape(-1, 3).mean(axis=0)

    def near(colour: np.ndarray, want: tuple[int, int, int]) -> bool:
        return bool(np.all(np.abs(colour - np.array(want)) < 45))

    return (
        near(mean(0.1, 0.3, 0.1, 0.4), BLUE)
        and near(mean(0.7, 0.9, 0.6, 0.9), ORANGE)
        and near(mean(0.48, 0.52, 0.2, 0.8), WHITE)
    )
