"""Show your card to the lens: find an ID-1 card in a frame and give back its face.

`find_card(image)` looks for a four-sided outline (see `quads`) whose sides are in the ID-1
proportion, 85.6 : 54 (1.585), perspective undone (see `quads.aspect`): from 1.46 (where
pages end) up to 10 % above it — not an A4 page (1.414) or a phone (about 2). Its corners come
back in the card face's own order, clockwise from the top-left, decided like this:

- the longer sides are the top and the bottom;
- of the two ways up left, the one with the chip on the left is upright (the ISO 7816
  contacts sit 10–19 mm from the left edge and 19–30 mm from the top, on every social
  security card); the chip is found as the gold or silver-grey patch of that size;
- if neither way shows a chip, the card is taken the way up it is held (its top is the
  side nearer the top of the frame).

`flatten_card` warps the face to 856 × 540 (10 px per mm), upright.

`CardWatcher` is what the kiosk runs on the live camera: it follows the card from frame to
frame and hands over a crop only when the card has been steady for `steady_frames` frames
in a row (no corner moving more than 1 % of the card's diagonal) and the crop is sharp
(the variance of its Laplacian is at least `min_sharpness`), so the kept picture is never a
blurred one taken mid-movement.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.devices.vision.quads import (
    CARD_PAGE_BOUNDARY,
    ID1_ASPECT,
    Quad,
    Steadiness,
    aspect,
    find_quads,
    min_angle,
    side_lengths,
    warp,
)
from kiosk.errors import DoorstepError

FACE_SIZE = (856, 540)  # 10 px per mm

# The chip's zone on an upright card face at FACE_SIZE, with a margin.
_CHIP_ZONE = (80, 170, 240, 320)  # x0, y0, x1, y1


class CardNotFound(DoorstepError):
    """No card can be seen in the picture."""

    resident_zh = "没有看到卡片，请将卡片正面对准镜头，保持不动。"
    resident_en = "No card can be seen. Please hold the front of the card to the camera, still."
    action = "Hold the card flat, face to the camera, filling about a third of the picture."


@dataclass(frozen=True)
class CardFinding:
    corners: np.ndarray  # 4 × 2 float32, frame pixels, clockwise from the face's top-left
    support: float  # 0..1, how much of the outline is a real edge
    chip_seen: bool  # whether the way up was decided by the chip

    def as_json(self) -> dict[str, object]:
        return {"corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners]}


def is_card_shape(corners: np.ndarray, frame_size: tuple[int, int]) -> bool:
    """Whether the rectangle seen as `corners` in a frame of `frame_size` is ID-1 shaped."""
    top, side = side_lengths(corners)
    seen = max(top, side) / max(min(top, side), 1e-6)
    # The outline as seen must be near the card's proportion too: a strong perspective
    # can make a sliver look like a card to the estimate, but nobody shows a card edge-on.
    return (
        1.2 <= seen <= 2.1
        and min_angle(corners) >= 60
        and CARD_PAGE_BOUNDARY <= aspect(corners, frame_size) <= ID1_ASPECT * 1.1
    )


def find_card(image: np.ndarray, quads: list[Quad] | None = None) -> CardFinding | None:
    """The best card-shaped outline in `image` (BGR), upright; None when there is none."""
    if quads is None:
        quads = find_quads(image)
    for quad in quads:
        if is_card_shape(quad.corners, (image.shape[1], image.shape[0])):
            corners, chip = _upright(image, quad.corners)
            return CardFinding(corners, quad.support, chip)
    return None


def flatten_card(image: np.ndarray, finding: CardFinding) -> np.ndarray:
    """The card face, flattened and upright, FACE_SIZE pixels."""
    return warp(image, finding.corners, FACE_SIZE)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the image's grey, at the card's scale."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _upright(image: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, bool]:
    corners = np.asarray(corners, np.float32)
    top, side = side_lengths(corners)
    if side > top:  # make the first side a long one
        corners = np.roll(corners, -1, axis=0)
    # Of the two ways round, start from the one whose top edge is higher in the frame.
    if corners[0, 1] + corners[1, 1] > corners[2, 1] + corners[3, 1]:
        corners = np.roll(corners, 2, axis=0)
    face = warp(image, corners, FACE_SIZE)
    here = _chip_score(face)
    turned = _chip_score(cv2.rotate(face, cv2.ROTATE_180))
    if turned > max(here * 1.5, 0.15):
        return np.roll(corners, 2, axis=0), True
    return corners, here > max(turned * 1.5, 0.15)


def _chip_score(face: np.ndarray) -> float:
    """How chip-like the chip zone is: the share of gold (or bare metal) pixels in it,
    against the same share over the whole face."""
    x0, y0, x1, y1 = _CHIP_ZONE
    hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV)
    gold = cv2.inRange(hsv, (8, 70, 90), (35, 255, 255))
    zone = float(gold[y0:y1, x0:x1].mean()) / 255.0
    everywhere = float(gold.mean()) / 255.0
    return max(0.0, zone - everywhere)


@dataclass(frozen=True)
class CardCapture:
    face: np.ndarray  # FACE_SIZE, upright
    finding: CardFinding
    sharpness: float


class CardWatcher:
    """Feed it frames; it returns a capture once the card is steady and sharp."""

    def __init__(
        self, *, steady_frames: int = 5, max_motion: float = 0.01, min_sharpness: float = 60.0
    ) -> None:
        self.min_sharpness = min_sharpness
        self._steady = Steadiness(steady_frames, max_motion)

    def reset(self) -> None:
        self._steady.reset()

    def feed(self, image: np.ndarray, finding: CardFinding | None = None) -> CardCapture | None:
        """Look at one frame (or use a finding already made for it)."""
        if finding is None:
            finding = find_card(image)
        if not self._steady.update(None if finding is None else finding.corners):
            return None
        assert finding is not None
        face = flatten_card(image, finding)
        score = sharpness(face)
        if score < self.min_sharpness:
            return None
        return CardCapture(face, finding, score)
