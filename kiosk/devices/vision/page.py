"""The document camera's pages: find the sheet, flatten it, turn it the right way up and
clean it for reading.

- `find_page(image)`: the largest four-sided outline covering at least 8 % of the frame
  whose true proportion (perspective undone, see `quads.aspect`) is a page's, from 1.2 up
  to where the ID-1 card's begins (1.46): A4 and A5 (1.414), Letter (1.294).
  Corners clockwise from the one nearest the frame's top-left; `flatten_page` gives them
  back in the page's own order, from its top-left.
- `flatten_page(image, finding)`: the page warped flat, portrait, its longer side 1754 px
  (A4 at 150 dpi) and its shorter side from the measured proportion (A4 → 1240 px), then
  turned upright.
- Which way up (decided on the flattened page, so it works for any quarter turn):
  1. the lines of text run along the rows, not the columns (the ink's row profile varies
     more than its column profile); otherwise the page is turned a quarter;
  2. of the two ways left, upright is the one where the lines' left ends line up better
     than their right ends (text is set flush left, ragged right), with the heading's
     bigger type and Latin ascenders as tie-breakers. A page with no text keeps the way it
     lies in the frame.
  Portrait pages with landscape text come out landscape. Justified Chinese text with no
  heading can fool step 2; the resident sees each page and can turn it (issue 7's screen).
- `clean_page(flat)`: even light (each pixel divided by the paper's own brightness around
  it, estimated on a coarse grid), paper made white, ink made dark, a light sharpening;
  greyscale, as a document camera's "document mode" gives.
- `PageWatcher`: on the live document camera, hands over a page when it has held still
  for a few frames (the resident's hand is off it).
- `pages_to_pdf(pages, out)`: several cleaned pages as one PDF (reportlab), each page on an
  A4 sheet, scaled to fit; or `save_pages` as numbered images.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from kiosk.devices.vision.quads import (
    CARD_PAGE_BOUNDARY,
    Quad,
    Steadiness,
    aspect,
    find_quads,
    side_lengths,
    warp,
)
from kiosk.errors import DoorstepError

LONG_SIDE = 1754  # A4 at 150 dpi
MIN_AREA = 0.08


class PageNotFound(DoorstepError):
    """No page can be seen in the picture."""

    resident_zh = "没有看到材料，请将材料平放在高拍仪下方。"
    resident_en = "No page can be seen. Please lay the page flat under the document camera."
    action = "Lay the page flat and whole inside the picture, on the darker desk mat."


@dataclass(frozen=True)
class PageFinding:
    corners: np.ndarray  # 4 × 2 float32, frame pixels, clockwise
    support: float

    def as_json(self) -> dict[str, object]:
        return {"corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners]}


def is_page_shape(corners: np.ndarray, frame_size: tuple[int, int]) -> bool:
    """Whether the rectangle seen as `corners` in a frame of `frame_size` is page shaped."""
    return 1.2 <= aspect(corners, frame_size) < CARD_PAGE_BOUNDARY


def find_page(image: np.ndarray, quads: list[Quad] | None = None) -> PageFinding | None:
    """The largest page-shaped outline in `image` (BGR); None when there is none."""
    if quads is None:
        quads = find_quads(image, min_area=MIN_AREA)
    size = (image.shape[1], image.shape[0])
    pages = [q for q in quads if q.area >= MIN_AREA and is_page_shape(q.corners, size)]
    if not pages:
        return None
    best = max(pages, key=lambda q: q.area)
    return PageFinding(best.corners, best.support)


def flatten_page(image: np.ndarray, finding: PageFinding) -> tuple[np.ndarray, PageFinding]:
    """The page flat and upright; and the finding with its corners in the page's order."""
    corners = np.asarray(finding.corners, np.float32)
    top, side = side_lengths(corners)
    if top > side:  # portrait: the first side is a short one
        corners = np.roll(corners, -1, axis=0)
    if corners[0, 1] + corners[1, 1] > corners[2, 1] + corners[3, 1]:
        corners = np.roll(corners, 2, axis=0)  # start from the way it lies in the frame
    short = round(LONG_SIDE / aspect(corners, (image.shape[1], image.shape[0])))
    flat = warp(image, corners, (short, LONG_SIDE))
    turns = upright_turns(flat)
    if turns:
        flat = np.ascontiguousarray(np.rot90(flat, turns))
        # np.rot90 turns counter-clockwise; the page's top-left moves `turns` corners on.
        corners = np.roll(corners, -turns, axis=0)
    return flat, PageFinding(corners, finding.support)


def upright_turns(flat: np.ndarray) -> int:
    """How many counter-clockwise quarter turns make the flattened page read upright."""
    ink = _ink(flat)
    if ink.mean() < 0.002:
        return 0
    rows = ink.mean(axis=1)
    columns = ink.mean(axis=0)
    quarter = _profile_strength(columns) > 1.2 * _profile_strength(rows)
    if quarter:
        ink = np.rot90(ink, 1)
    turn = 2 if _upside_down(ink) else 0
    return (turn + (1 if quarter else 0)) % 4


def _ink(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    binary = cv2.adaptiveThreshold(
        small, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15
    )
    h, w = binary.shape
    margin = (int(h * 0.02), int(w * 0.02))  # the page's own border is not ink
    binary[: margin[0]] = 0
    binary[h - margin[0] :] = 0
    binary[:, : margin[1]] = 0
    binary[:, w - margin[1] :] = 0
    return binary.astype(np.float32)


def _profile_strength(profile: np.ndarray) -> float:
    """How much a projection profile alternates between ink and gaps, at a line's scale."""
    smooth = cv2.GaussianBlur(profile.reshape(-1, 1), (1, 5), 0).ravel()
    return float(np.abs(np.diff(smooth)).sum() / (smooth.sum() + 1e-6))


def _text_lines(ink: np.ndarray) -> list[tuple[int, int]]:
    rows = ink.mean(axis=1)
    on = rows > max(0.01, 0.15 * float(rows.max()))
    lines, start = [], None
    for i, value in enumerate(on):
        if value and start is None:
            start = i
        elif not value and start is not None:
            if i - start >= 3:
                lines.append((start, i))
            start = None
    return lines


def _upside_down(ink: np.ndarray) -> bool:
    lines = _text_lines(ink)
    if len(lines) < 3:
        return False
    votes = 0.0
    lefts, rights, heights = [], [], []
    for top, bottom in lines:
        columns = np.nonzero(ink[top:bottom].any(axis=0))[0]
        lefts.append(columns[0])
        rights.append(columns[-1])
        heights.append(bottom - top)
    left_spread = float(np.median(np.abs(np.array(lefts) - np.median(lefts))))
    right_spread = float(np.median(np.abs(np.array(rights) - np.median(rights))))
    if abs(left_spread - right_spread) > 2:
        votes += 1.0 if right_spread < left_spread else -1.0
    # A heading in bigger type: the tallest line sits nearer the top.
    tallest = int(np.argmax(heights))
    if heights[tallest] > 1.3 * float(np.median(heights)):
        votes += 0.5 if tallest >= len(lines) / 2 else -0.5
    # Latin ascenders and capitals stand above the x-height more than descenders drop below.
    above = below = 0.0
    for top, bottom in lines:
        profile = ink[top:bottom].mean(axis=1)
        core = np.nonzero(profile > 0.5 * profile.max())[0]
        above += float(profile[: core[0]].sum())
        below += float(profile[core[-1] + 1 :].sum())
    if above + below > 0:
        votes += 0.5 if below > 1.3 * above else -0.5 if above > 1.3 * below else 0.0
    return votes > 0


def clean_page(flat: np.ndarray) -> np.ndarray:
    """The page as an even, white, legible greyscale image (same size)."""
    grey = cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY) if flat.ndim == 3 else flat
    h, w = grey.shape
    # The paper's brightness: the brightest of each neighbourhood, on a coarse grid.
    small = cv2.resize(grey, (max(8, w // 16), max(8, h // 16)), interpolation=cv2.INTER_AREA)
    paper = cv2.dilate(small, np.ones((5, 5), np.uint8))
    paper = cv2.GaussianBlur(paper, (0, 0), 2)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    even = grey.astype(np.float32) / np.maximum(paper, 1.0)
    # Paper to white, ink stretched to dark.
    ink_level = float(np.percentile(even, 1))
    stretched = (even - ink_level) / max(0.9 - ink_level, 1e-3)
    stretched = np.clip(stretched, 0, 1) ** 1.3
    out = (stretched * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(out, (0, 0), 1.5)
    return cv2.addWeighted(out, 1.5, blurred, -0.5, 0)


class PageWatcher:
    """Feed it document-camera frames; it returns the flattened page once it held still."""

    def __init__(self, *, steady_frames: int = 6, max_motion: float = 0.008) -> None:
        self._steady = Steadiness(steady_frames, max_motion)

    def reset(self) -> None:
        self._steady.reset()

    def feed(self, image: np.ndarray) -> tuple[np.ndarray, PageFinding] | None:
        finding = find_page(image)
        if not self._steady.update(None if finding is None else finding.corners):
            return None
        assert finding is not None
        self._steady.reset()  # one capture per placing of a page
        return flatten_page(image, finding)


def pages_to_pdf(pages: list[np.ndarray], out: Path | BinaryIO, *, title: str = "Document") -> None:
    """Write `pages` (images) as one PDF, each on an A4 sheet scaled to fit, centred."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    if not pages:
        raise ValueError("no pages to write")
    target = str(out) if isinstance(out, Path) else out
    canvas = Canvas(target, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("Doorstep kiosk")
    for image in pages:
        h, w = image.shape[:2]
        size = landscape(A4) if w > h else A4
        canvas.setPageSize(size)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
        if not ok:
            raise ValueError("a page could not be encoded")
        margin = 18
        scale = min((size[0] - 2 * margin) / w, (size[1] - 2 * margin) / h)
        dw, dh = w * scale, h * scale
        reader = ImageReader(io.BytesIO(data.tobytes()))
        canvas.drawImage(reader, (size[0] - dw) / 2, (size[1] - dh) / 2, dw, dh)
        canvas.showPage()
    canvas.save()
