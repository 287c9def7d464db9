"""Four-sided things in a frame: the shared geometry behind the card and the page finders.

`find_quads(image)` proposes every convex four-sided outline it can see, scored by how much
of its border is a real edge; the card finder and the page finder then keep the ones with
their own shape. How:

1. The frame is scaled to 800, 400 and 200 px wide (each from the one before); edges are
   found in each colour channel (a card can differ from the desk in colour only) and joined.
2. Every contour of each edge map, outer and inner, is reduced to its convex hull and
   simplified; those that become four corners, are big enough and are not square are
   candidates. The inner contours matter most: the inside of a card's border is a clean
   outline even when the desk's texture runs into the border from outside; the coarse
   scales close a border broken by texture or low contrast.
3. Each side of a kept candidate is then refined at full resolution: the strongest edge
   across the side is measured at forty places to a fraction of a pixel, a line is fitted
   through them (Huber, so a finger or a glare spot does not pull it) and the corners are
   where neighbouring lines meet. Rounded card corners therefore come out where the straight
   edges meet, as the truth is defined.
4. A refined outline is kept only if each side is an object's border (`border_evidence`):
   an unbroken edge with a steady step in colour across it. This is what tells a card from
   a block of text on a page or an outline traced through gravel.

Corners are always ordered clockwise from the one nearest the frame's top-left; the finders
decide which corner is the object's own top-left.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

WORK_WIDTH = 800

# Where the page shape ends and the card shape begins, so an outline is never both: A4
# is √2 (1.414), ID-1 85.6 : 54 (1.585). The line sits nearer A4 because a page, being
# big in the frame, has its proportion measured far more steadily than a hand-held card
# (on the evaluation set pages stay below 1.455 and 99 % of cards above 1.44 with 0.4 %
# corner noise).
ID1_ASPECT = 85.6 / 54.0
A4_ASPECT = 2**0.5
CARD_PAGE_BOUNDARY = 1.46
# The least proportion either finder wants (both ask for 1.2), less a margin for the rough
# first outline.
MIN_ASPECT = 1.1
# The scales the outlines are looked for at: a fine texture behind the object blurs away
# and a small gap in its border closes at the coarser ones.
WIDTHS = (WORK_WIDTH, WORK_WIDTH // 2, WORK_WIDTH // 4)


@dataclass(frozen=True)
class Quad:
    corners: np.ndarray  # 4 × 2 float32, frame pixels, clockwise from the top-left
    area: float  # fraction of the frame
    support: float  # fraction of the border that lies on an edge, 0..1
    continuity: float = 1.0  # of the weakest side: share of it that is an unbroken edge
    contrast: float = 255.0  # of the weakest side: colour step from outside to inside


# An object's border is an unbroken edge with a steady colour step across it; the edge of a
# block of text, a run of desk texture or a shadow is not. On the evaluation scenes every
# true card and page side has continuity ≥ 0.8 and a step ≥ 45, while outlines made of
# texture or text stay below 0.66 continuity. A finger over a quarter of a side still passes.
MIN_CONTINUITY = 0.75
MIN_CONTRAST = 25.0


def order_clockwise(points: np.ndarray) -> np.ndarray:
    """The four points clockwise (on screen, y down), starting nearest the top-left."""
    points = np.asarray(points, np.float32).reshape(4, 2)
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    points = points[np.argsort(angles)]  # clockwise on screen, as y points down
    start = int(np.argmin(points.sum(axis=1)))
    return np.roll(points, -start, axis=0)


def side_lengths(corners: np.ndarray) -> tuple[float, float]:
    """Mean lengths of the first/third sides and the second/fourth sides."""
    c = np.asarray(corners, np.float32)
    d = np.linalg.norm(np.roll(c, -1, axis=0) - c, axis=1)
    return float((d[0] + d[2]) / 2), float((d[1] + d[3]) / 2)


def aspect(corners: np.ndarray, frame_size: tuple[int, int] | None = None) -> float:
    """The true proportion (longer over shorter side, ≥ 1) of the rectangle whose picture
    is the quad `corners`, undoing the perspective.

    Zhang & He's method ("Whiteboard scanning and image enhancement", 2007): with the
    principal point at the frame's centre (`frame_size`, else the quad's own centre), the
    two vanishing directions of the quad give the camera's focal length and from it the
    rectangle's proportion.
    """
    c = np.asarray(corners, np.float64)
    if frame_size:
        centre = np.array(frame_size, np.float64) / 2
        width = float(frame_size[0])
    else:
        centre = c.mean(axis=0)
        width = float(np.ptp(c[:, 0])) * 3
    # m1..m4 as in the paper: (0,0), (w,0), (0,h), (w,h) of the rectangle.
    m1, m2, m4, m3 = (np.append(p - centre, 1.0) for p in c)
    k2 = np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3)
    k3 = np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2)
    n2 = k2 * m2 - m1
    n3 = k3 * m3 - m1
    # The focal length the outline implies; when the sides are nearly parallel it is
    # ill-defined and noisy, so it is held to what real cameras have: 0.6 to 2 frame widths
    # (a 80° to 28° horizontal view), and taken as one frame width when it cannot be had.
    f2 = width**2
    if abs(n2[2] * n3[2]) > 1e-12:
        estimate = -(n2[0] * n3[0] + n2[1] * n3[1]) / (n2[2] * n3[2])
        if estimate > 0:
            f2 = float(np.clip(estimate, (0.6 * width) ** 2, (2.0 * width) ** 2))
    top = (n2[0] ** 2 + n2[1] ** 2) / f2 + n2[2] ** 2
    bottom = (n3[0] ** 2 + n3[1] ** 2) / f2 + n3[2] ** 2
    ratio = float(np.sqrt(top / bottom)) if bottom > 0 else 0.0
    if not np.isfinite(ratio) or ratio <= 0:
        a, b = side_lengths(corners)
        ratio = a / max(b, 1e-6)
    return max(ratio, 1 / ratio)


def diagonal(corners: np.ndarray) -> float:
    c = np.asarray(corners, np.float32)
    return float((np.linalg.norm(c[2] - c[0]) + np.linalg.norm(c[3] - c[1])) / 2)


def corner_error(found: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    """Largest corner distance over the truth's diagonal, at the best cyclic match; and
    the shift of that match (0 when the found corners start at the truth's first)."""
    found = np.asarray(found, np.float32)
    truth = np.asarray(truth, np.float32)
    best = (float("inf"), 0)
    for shift in range(4):
        error = float(np.linalg.norm(np.roll(found, -shift, axis=0) - truth, axis=1).max())
        best = min(best, (error, shift))
    return best[0] / diagonal(truth), best[1]


def warp(image: np.ndarray, corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The quad `corners` (clockwise from the output's top-left) flattened to `size` (w, h)."""
    w, h = size
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    homography = cv2.getPerspectiveTransform(np.asarray(corners, np.float32), target)
    return cv2.warpPerspective(
        image, homography, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def find_quads(image: np.ndarray, *, min_area: float = 0.015, limit: int = 8) -> list[Quad]:
    """Convex four-sided outlines in `image` (BGR), best supported first, refined.

    The edges are looked at at each of WIDTHS.
    """
    grey = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
    quads: list[Quad] = []
    tried: list[np.ndarray] = []
    frame_size = (image.shape[1], image.shape[0])
    fine: tuple[np.ndarray, float] | None = None  # the edges every outline is checked on
    small = image
    for work_width in WIDTHS:
        # Each scale is made from the one before: halving is cheap, while an odd ratio
        # straight from the full frame costs as much as the whole edge search.
        if small.shape[1] > work_width:
            factor = work_width / small.shape[1]
            size = (work_width, max(1, round(small.shape[0] * factor)))
            small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        scale = small.shape[1] / image.shape[1]
        edges = _edges(small)
        if fine is None:
            fine = (edges, scale)
        frame_area = small.shape[0] * small.shape[1]
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            _, _, w, h = cv2.boundingRect(contour)
            if w * h < min_area * frame_area:
                continue
            hull = cv2.convexHull(contour)
            area = cv2.contourArea(hull)
            if area < min_area * frame_area or area > 0.98 * frame_area:
                continue
            approx = cv2.approxPolyDP(hull, 0.03 * cv2.arcLength(hull, True), True)
            if len(approx) != 4 or not cv2.isContourConvex(approx):
                continue
            rough = order_clockwise(approx) / scale
            # Squares (QR codes, photos, tiles) are neither cards nor pages, and an outline
            # already looked at from another scale is not looked at again.
            if (
                min_angle(rough) < 45
                or aspect(rough, frame_size) < MIN_ASPECT
                or any(_same(rough, q.corners) for q in quads)
                or any(corner_error(rough, seen)[0] < 0.01 for seen in tried)
            ):
                continue
            tried.append(rough)
            corners = refine_corners(grey, rough, reach=0.03)
            if corners is not None:  # a second, closer look from where the first one landed
                corners = refine_corners(grey, corners, reach=0.012)
            if corners is None or min_angle(corners) < 45:
                continue
            support = _support(fine[0], corners * fine[1])
            if support < 0.6:
                continue
            continuity, contrast = border_evidence(grey, corners)
            if continuity < MIN_CONTINUITY or contrast < MIN_CONTRAST:
                continue
            quads.append(Quad(corners, area / frame_area, support, continuity, contrast))
    quads.sort(key=lambda q: -q.support * (1 + q.area))
    return quads[:limit]


def _edges(small: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    edges = np.zeros(small.shape[:2], np.uint8)
    for channel in cv2.split(blurred):
        edges |= cv2.Canny(channel, 40, 110, L2gradient=True)
    return cv2.dilate(edges, np.ones((3, 3), np.uint8))


def min_angle(corners: np.ndarray) -> float:
    angles = []
    for i in range(4):
        a = corners[i - 1] - corners[i]
        b = corners[(i + 1) % 4] - corners[i]
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return min(angles)


def _support(edges: np.ndarray, corners: np.ndarray, samples: int = 30) -> float:
    """Fraction of points along the quad's sides (away from the corners) on an edge."""
    t = np.linspace(0.1, 0.9, samples, dtype=np.float32)[:, None]
    points = np.concatenate(
        [corners[i] + t * (corners[(i + 1) % 4] - corners[i]) for i in range(4)]
    )
    xs = np.clip(points[:, 0].round().astype(int), 0, edges.shape[1] - 1)
    ys = np.clip(points[:, 1].round().astype(int), 0, edges.shape[0] - 1)
    return float((edges[ys, xs] > 0).mean())


def border_evidence(
    image: np.ndarray, corners: np.ndarray, *, samples: int = 40, depth: float = 0.04
) -> tuple[float, float]:
    """How much the quad's weakest side looks like an object's border, as (continuity,
    contrast). `image` is the smoothed float32 frame that `refine_corners` takes.

    Each side is sampled in two bands, just outside and just inside (2 px to `depth` × the
    shorter side away). Continuity is the share of places along the side where the colour
    steps across it (against the side's own median step); contrast is the median, over
    eight stretches of the side, of the distance between the mean colours outside and
    inside, so texture, which averages out over a stretch, gives little.
    """
    c = np.asarray(corners, np.float32)
    lengths = np.linalg.norm(np.roll(c, -1, axis=0) - c, axis=1)
    band = max(4.0, depth * float(lengths.min()))
    offsets = np.concatenate([np.linspace(-band, -2, 6), np.linspace(2, band, 6)]).astype(
        np.float32
    )
    centre = c.mean(axis=0)
    t = np.linspace(0.1, 0.9, samples, dtype=np.float32)[:, None]
    continuity, contrast = 1.0, 255.0
    for i in range(4):
        start, end = c[i], c[(i + 1) % 4]
        along = (end - start) / max(float(lengths[i]), 1e-6)
        normal = np.array([-along[1], along[0]], np.float32)
        if np.dot(centre - (start + end) / 2, normal) < 0:
            normal = -normal  # pointing inside
        grid = (start + t * (end - start))[:, None, :] + offsets[None, :, None] * normal
        profile = cv2.remap(
            image,
            np.ascontiguousarray(grid[..., 0]),
            np.ascontiguousarray(grid[..., 1]),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ).reshape(samples, len(offsets), -1)
        step = np.linalg.norm(profile[:, 6] - profile[:, 5], axis=-1)
        continuity = min(continuity, float((step > 0.35 * np.median(step) + 5).mean()))
        stretches = profile.reshape(8, samples // 8, len(offsets), -1)
        outside = stretches[:, :, :6].mean(axis=(1, 2))
        inside = stretches[:, :, 6:].mean(axis=(1, 2))
        contrast = min(contrast, float(np.median(np.linalg.norm(outside - inside, axis=-1))))
    return continuity, contrast


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return corner_error(a, b)[0] < 0.05


def refine_corners(
    image: np.ndarray, corners: np.ndarray, *, reach: float, samples: int = 40
) -> np.ndarray | None:
    """Corners moved to where the sides' fitted edge lines meet (None if a side is lost).

    `image` is the frame as float32 (any number of channels), lightly smoothed; each side's
    edge is looked for up to `reach` × the diagonal either side of where it is now.
    """
    corners = np.asarray(corners, np.float32)
    reach = max(3.0, reach * diagonal(corners))
    offsets = np.arange(-reach, reach + 0.5, 0.5, dtype=np.float32)
    lines = []
    for i in range(4):
        start, end = corners[i], corners[(i + 1) % 4]
        direction = end - start
        length = float(np.linalg.norm(direction))
        if length < 8:
            return None
        direction /= length
        normal = np.array([-direction[1], direction[0]], np.float32)
        t = np.linspace(0.12, 0.88, samples, dtype=np.float32)
        base = start + t[:, None] * (end - start)  # samples × 2
        grid = base[:, None, :] + offsets[None, :, None] * normal  # samples × offsets × 2
        map_x = np.ascontiguousarray(grid[..., 0])
        map_y = np.ascontiguousarray(grid[..., 1])
        profile = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if profile.ndim == 3:
            gradient = np.abs(np.diff(profile, axis=1)).sum(axis=2)
        else:
            gradient = np.abs(np.diff(profile, axis=1))
        # The side's edge is the straight line across the samples with the strongest mean
        # gradient (text or a shadow near the border is broken or soft, the border is not);
        # then each sample's peak within a pixel of that line places it to a fraction.
        line = _best_line(gradient)
        if line is None:
            return None
        rows = np.arange(samples)
        lo = np.clip(np.floor(line).astype(int) - 2, 0, gradient.shape[1] - 1)
        window = np.stack(
            [gradient[rows, np.clip(lo + j, 0, gradient.shape[1] - 1)] for j in range(5)], axis=1
        )
        peak = lo + window.argmax(axis=1)
        strength = gradient[rows, peak]
        good = (strength > 0.3 * strength.max()) & (peak > 0) & (peak < gradient.shape[1] - 1)
        if good.sum() < samples // 3:
            return None
        rows = rows[good]
        left = gradient[rows, peak[rows] - 1]
        mid = gradient[rows, peak[rows]]
        right = gradient[rows, peak[rows] + 1]
        denominator = left - 2 * mid + right
        safe = np.where(np.abs(denominator) > 1e-6, denominator, 1.0)
        sub = np.where(np.abs(denominator) > 1e-6, 0.5 * (left - right) / safe, 0.0)
        # gradient[k] lies between offsets[k] and offsets[k + 1]
        where = offsets[0] + (peak[rows] + 0.5 + np.clip(sub, -0.5, 0.5)) * 0.5
        points = base[rows] + where[:, None] * normal
        vx, vy, x0, y0 = cv2.fitLine(
            points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01
        ).ravel()
        lines.append((np.array([x0, y0], np.float32), np.array([vx, vy], np.float32)))
    refined = []
    for i in range(4):
        point = _intersect(lines[i - 1], lines[i])
        if point is None or np.linalg.norm(point - corners[i]) > 4 * reach:
            return None
        refined.append(point)
    return np.array(refined, np.float32)


def _best_line(gradient: np.ndarray) -> np.ndarray | None:
    """Column positions (one per row) of the straight line through `gradient` (rows ×
    offsets) with the largest mean, searched over its two end offsets at a step of 2."""
    rows, columns = gradient.shape
    ends = np.arange(0, columns, 2, dtype=np.float32)
    start, end = np.meshgrid(ends, ends, indexing="ij")
    fraction = np.linspace(0.0, 1.0, rows, dtype=np.float32)
    # positions[a, b, k]: the column of row k on the line from ends[a] to ends[b]
    positions = start[..., None] + (end - start)[..., None] * fraction
    index = np.clip(np.rint(positions).astype(np.intp), 0, columns - 1)
    # a little tolerance: the best of each column and its neighbours
    padded = np.maximum(
        gradient, np.maximum(np.roll(gradient, 1, axis=1), np.roll(gradient, -1, axis=1))
    )
    # Scored by the median along the line: a border is edge all along, a line of text or
    # a pattern has gaps.
    score = np.median(padded[np.arange(rows), index], axis=2)
    a, b = np.unravel_index(int(score.argmax()), score.shape)
    if score[a, b] <= 0:
        return None
    return positions[a, b]


def _intersect(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> np.ndarray | None:
    (p, r), (q, s) = a, b
    cross = r[0] * s[1] - r[1] * s[0]
    if abs(cross) < 1e-6:
        return None
    t = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / cross
    return p + t * r


class Steadiness:
    """Whether an outline has held still: `update(corners)` is True once the last
    `frames` outlines in a row each moved no corner more than `max_motion` × the diagonal."""

    def __init__(self, frames: int = 5, max_motion: float = 0.01) -> None:
        self.frames = frames
        self.max_motion = max_motion
        self._recent: deque[np.ndarray] = deque(maxlen=frames)

    def reset(self) -> None:
        self._recent.clear()

    def update(self, corners: np.ndarray | None) -> bool:
        if corners is None:
            self._recent.clear()
            return False
        corners = np.asarray(corners, np.float32)
        if self._recent and corner_error(corners, self._recent[-1])[0] > self.max_motion:
            self._recent.clear()
        self._recent.append(corners)
        return len(self._recent) == self.frames
