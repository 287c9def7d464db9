"""Synthetic camera scenes with known truth: the simulated cameras' pictures and the
vision evaluation set.

`render(kind, seed=…)` draws one frame of a scene the kiosk's cameras meet, and returns the
truth about it: where the card's corners are, where the page's corners are, which codes it
holds and where, where the face is. The same (kind, seed, size) always gives the same
frame, so the evaluation set in the tests is the same on every run and every machine.

What a frame holds:

- a background: a desk in a plain colour or a gradient, a wood grain, or one of the CC0
  textures in `assets/camera` (brick, grass, gravel) tinted;
- one object, placed with a random position, rotation and perspective:
  `card`   an ID-1 card face (85.6 × 54 mm: chip on the left, photo on the right, lines
           of text), held roughly upright (±30°), in colours that stand out from the desk;
  `voucher` a phone whose screen shows a medical-insurance voucher QR code;
  `qr`     a phone or a paper slip with some other QR code (a URL, a receipt reference,
           text);
  `page`   an A4 sheet of text under the document camera, turned any quarter turn and a
           little more;
  `face`   a head-and-shoulders photo of a person (the public-domain portrait in assets);
  `empty`  nothing but the background and a few distractors (a note, a pen, a coin, lines
           of text) whose shapes are not a card's;
- the camera's faults: uneven light, a soft vignette, defocus or a little motion blur,
  sensor noise and sometimes JPEG compression.

Corners are given in the object's own reading order, clockwise from its top-left (for a
card: the corner above the chip), as the straight edges' meeting points (a card's rounded
corners are cut inside them).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from kiosk.config import assets_dir
from kiosk.core.identity import PROVINCES

# Drawing scales of the objects before they are warped into the frame.
CARD_MM = (85.6, 54.0)
CARD_PX = (856, 540)  # 10 px per mm
PAGE_PX = (992, 1403)  # A4 at 120 dpi
PHONE_PX = (360, 740)

_BLACK = (20, 20, 20)
_WORDS = tuple(
    [
        "application",
        "resident",
        "service",
        "station",
        "district",
        "social",
        "security",
        "insurance",
        "medical",
        "certificate",
        "residence",
        "permit",
        "pension",
        "subsidy",
        "elderly",
        "card",
        "number",
        "address",
        "date",
        "name",
        "office",
        "street",
        "community",
        "committee",
        "form",
        "copy",
        "original",
        "signature",
        "approved",
        "received",
        "is",
        "of",
        "the",
        "and",
        "for",
        "with",
        "by",
        "to",
        "on",
        "in",
        "at",
    ]
)


class SceneKind(StrEnum):
    EMPTY = "empty"
    CARD = "card"
    VOUCHER = "voucher"
    QR = "qr"
    PAGE = "page"
    FACE = "face"


@dataclass(frozen=True)
class CodeTruth:
    data: str
    kind: str  # "nhsa_voucher" | "other"
    corners: np.ndarray  # 4 × 2, frame pixels, clockwise from the code's top-left
    frame_width: int

    @property
    def width_fraction(self) -> float:
        """How much of the frame's width the code spans (its bounding box)."""
        xs = self.corners[:, 0]
        return float(xs.max() - xs.min()) / self.frame_width


@dataclass(frozen=True)
class Truth:
    kind: SceneKind
    card: np.ndarray | None = None  # 4 × 2, clockwise from the card face's top-left
    page: np.ndarray | None = None  # 4 × 2, clockwise from the page's top-left
    page_turns: int = 0  # quarter turns (counter-clockwise) the page lies at in the frame
    codes: tuple[CodeTruth, ...] = ()
    faces: tuple[tuple[int, int, int, int], ...] = ()
    notes: dict[str, float] = field(default_factory=dict)


def render(
    kind: SceneKind | str, *, seed: int, size: tuple[int, int] = (1280, 720)
) -> tuple[np.ndarray, Truth]:
    """One frame (BGR uint8, height × width × 3) of a scene of `kind`, and its truth."""
    kind = SceneKind(kind)
    width, height = size
    rng = np.random.default_rng([seed, list(SceneKind).index(kind), width, height])
    frame = _background(rng, width, height)
    truth = _PLACERS[kind](frame, rng)
    frame = _camera_faults(frame, rng)
    return frame, truth


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """The image with fresh Gaussian sensor noise (a new array)."""
    return np.clip(image.astype(np.float32) + _noise(image.shape, rng, sigma), 0, 255).astype(
        np.uint8
    )


def noise_plane(shape: tuple[int, ...], rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """Gaussian sensor noise as int16, to add to a frame with `cv2.add(..., dtype=CV_8U)`."""
    return np.rint(_noise(shape, rng, sigma)).astype(np.int16)


def _noise(shape: tuple[int, ...], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian noise from OpenCV's generator (several times NumPy's speed), seeded from `rng`."""
    cv2.setRNGSeed(int(rng.integers(2**31)))  # OpenCV's generator is per thread
    noise = np.empty(shape, np.float32)
    cv2.randn(noise, 0.0, float(sigma))
    return noise


def voucher_number(rng: np.random.Generator) -> str:
    """A voucher code of the right shape: 424 + 17 + 2 digits + province + 0000."""
    digits = "".join(str(d) for d in rng.integers(0, 10, 19))
    province = str(rng.choice(sorted(PROVINCES)))
    return f"424{digits}{province}0000"


# --- backgrounds -------------------------------------------------------------------


@functools.cache
def _texture(name: str) -> np.ndarray:
    image = cv2.imread(str(assets_dir() / "camera" / f"texture-{name}.jpg"), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"assets/camera/texture-{name}.jpg is missing")
    return image


@functools.cache
def _portrait() -> np.ndarray:
    image = cv2.imread(str(assets_dir() / "camera" / "face-astronaut.jpg"))
    if image is None:
        raise FileNotFoundError("assets/camera/face-astronaut.jpg is missing")
    return image


# The face in the portrait, as OpenCV's frontal-face detector boxes it (x, y, w, h).
_PORTRAIT_FACE = (177, 66, 95, 95)


def _random_colour(rng: np.random.Generator, low: int = 30, high: int = 225) -> np.ndarray:
    return rng.integers(low, high, 3).astype(np.float32)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    style = rng.choice(["plain", "gradient", "wood", "texture", "texture"])
    if style == "texture":
        name = str(rng.choice(["brick", "grass", "gravel"]))
        tile = _texture(name)
        scale = rng.uniform(0.8, 2.0)
        tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        reps = (height // tile.shape[0] + 2, width // tile.shape[1] + 2)
        grey = np.tile(tile, reps)[:height, :width].astype(np.float32) / 255.0
        contrast = rng.uniform(0.3, 0.8)
        grey = 0.5 + (grey - 0.5) * contrast
        base = grey[..., None] * _random_colour(rng, 60, 230)[None, None, :] * 1.2
    else:
        base = np.empty((height, width, 3), np.float32)
        base[:] = _random_colour(rng)
        if style == "gradient":
            other = _random_colour(rng)
            ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
            base = base * (1 - ramp) + other * ramp
        elif style == "wood":
            ys = np.arange(height, dtype=np.float32)[:, None]
            xs = np.arange(width, dtype=np.float32)[None, :]
            period = rng.uniform(18, 45)
            phase = np.sin(xs / rng.uniform(80, 200)) * rng.uniform(4, 12)
            grain = 0.85 + 0.15 * np.sin((ys + phase) / period * 2 * math.pi)
            base = base * grain[..., None]
    return np.clip(base, 0, 255).astype(np.uint8)


# --- placing objects ---------------------------------------------------------------


def _rect(w: float, h: float) -> np.ndarray:
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def _placement(
    rng: np.random.Generator,
    frame: np.ndarray,
    object_size: tuple[int, int],
    width_fraction: tuple[float, float],
    angle_range: float,
    tilt_degrees: float,
    turns: int = 0,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Where the object's four corners land in the frame, seen through a pinhole camera.

    The object is turned in its plane (±`angle_range` degrees plus `turns` quarter turns),
    tilted out of it (up to `tilt_degrees` about each axis), moved, and projected by a
    camera with a 53° horizontal view (focal length = frame width) looking at the frame's
    centre — a real perspective, so the object's true proportions can be recovered from the
    outline. Its longer side spans about `width_fraction` of the frame's width. `keep`
    (points in the object's pixels, default its corners) must land inside the frame; the
    rest may hang over the edge.
    """
    fh, fw = frame.shape[:2]
    ow, oh = object_size
    source = _rect(ow, oh)
    keep = source if keep is None else keep.astype(np.float32)
    focal = float(fw)
    centre = np.array([fw / 2, fh / 2], np.float32)
    margin = 0.02 * fw
    for _ in range(200):
        target = rng.uniform(*width_fraction) * fw
        angle = math.radians(rng.uniform(-angle_range, angle_range) + 90 * turns)
        tx, ty = np.radians(rng.uniform(-tilt_degrees, tilt_degrees, 2))
        rotation = _rotation_x(tx) @ _rotation_y(ty) @ _rotation_z(angle)
        scale = target / max(ow, oh)

        def project(
            points: np.ndarray, position: np.ndarray, rotation=rotation, scale=scale
        ) -> np.ndarray:
            local = np.zeros((len(points), 3))
            local[:, :2] = (points - source.mean(axis=0)) * scale
            world = local @ rotation.T + position
            return (world[:, :2] / world[:, 2:3] * focal + centre).astype(np.float32)

        # Where it may go: seen straight ahead first, then moved so that `keep` fits.
        ahead = project(keep, np.array([0.0, 0.0, focal]))
        low = margin - (ahead.min(axis=0) - centre)
        high = np.array([fw, fh]) - margin - (ahead.max(axis=0) - centre)
        if (high <= low).any():
            continue
        u, v = rng.uniform(low, high)
        # The object's centre on the ray through (u, v), one focal length away.
        position = np.array([u - centre[0], v - centre[1], focal], np.float64)
        position *= focal / np.linalg.norm(position)
        inside = project(keep, position)
        if (inside.min(axis=0) < margin * 0.5).any() or (
            inside.max(axis=0) > [fw - margin * 0.5, fh - margin * 0.5]
        ).any():
            continue
        return project(source, position)
    raise ValueError("object does not fit in the frame")


def _rotation_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rotation_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rotation_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _paste(
    frame: np.ndarray,
    image: np.ndarray,
    corners: np.ndarray,
    mask: np.ndarray | None = None,
    shadow: float = 0.0,
) -> np.ndarray:
    """Warp `image` (and its alpha `mask`) onto `corners` of `frame`, in place. Returns H."""
    h, w = image.shape[:2]
    homography = cv2.getPerspectiveTransform(_rect(w, h), corners)
    size = (frame.shape[1], frame.shape[0])
    if mask is None:
        mask = np.full((h, w), 255, np.uint8)
    warped = cv2.warpPerspective(image, homography, size, flags=cv2.INTER_AREA)
    alpha = cv2.warpPerspective(mask, homography, size, flags=cv2.INTER_LINEAR)
    alpha = alpha.astype(np.float32)[..., None] / 255.0
    base = frame.astype(np.float32)
    if shadow > 0:
        offset = np.float32([[1, 0, shadow], [0, 1, shadow]])
        soft = cv2.GaussianBlur(alpha[..., 0], (0, 0), shadow)
        soft = cv2.warpAffine(soft, offset, size)[..., None]
        base *= 1 - 0.45 * soft
    frame[:] = np.clip(base * (1 - alpha) + warped.astype(np.float32) * alpha, 0, 255)
    return homography


def _rounded_mask(w: int, h: int, radius: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (radius, 0), (w - radius, h), 255, -1)
    cv2.rectangle(mask, (0, radius), (w, h - radius), 255, -1)
    for cx, cy in (
        (radius, radius),
        (w - radius, radius),
        (radius, h - radius),
        (w - radius, h - radius),
    ):
        cv2.circle(mask, (cx, cy), radius, 255, -1, lineType=cv2.LINE_AA)
    return mask


def _text(rng: np.random.Generator, words: int) -> str:
    return " ".join(str(w) for w in rng.choice(_WORDS[:-8], words))


def _card_face(rng: np.random.Generator) -> np.ndarray:
    w, h = CARD_PX
    dark = rng.random() < 0.25
    top = _random_colour(rng, 20, 90) if dark else _random_colour(rng, 170, 250)
    bottom = np.clip(top + rng.uniform(-40, 40, 3), 0, 255)
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    card = (top * (1 - ramp) + bottom * ramp) * np.ones((1, w, 1), np.float32)
    card = card.astype(np.uint8)
    ink = (235, 235, 235) if dark else _BLACK
    for _ in range(int(rng.integers(2, 6))):  # a faint guilloche of waves
        ys = (h * rng.uniform(0.2, 0.9) + 25 * np.sin(np.arange(w) / rng.uniform(30, 90))).astype(
            np.int32
        )
        points = np.stack([np.arange(w), ys], axis=1)
        colour = tuple(int(c) for c in np.clip(top + rng.uniform(-25, 25, 3), 0, 255))
        cv2.polylines(card, [points], False, colour, 2, cv2.LINE_AA)
    cv2.circle(card, (80, 70), 38, (40, 40, 200), -1, cv2.LINE_AA)  # the emblem
    cv2.putText(
        card, "SOCIAL SECURITY CARD", (140, 88), cv2.FONT_HERSHEY_DUPLEX, 1.5, ink, 2, cv2.LINE_AA
    )
    chip = (60, 165, 205)
    cv2.rectangle(card, (100, 190), (215, 295), chip, -1)
    cv2.rectangle(card, (100, 190), (215, 295), (40, 110, 150), 2)
    for x in (138, 177):
        cv2.line(card, (x, 190), (x, 295), (40, 110, 150), 2)
    cv2.line(card, (100, 242), (215, 242), (40, 110, 150), 2)
    cv2.rectangle(card, (640, 150), (800, 360), (200, 190, 175), -1)  # the photo
    cv2.ellipse(card, (720, 230), (45, 55), 0, 0, 360, (120, 110, 100), -1, cv2.LINE_AA)
    cv2.ellipse(card, (720, 370), (75, 60), 0, 180, 360, (120, 110, 100), -1, cv2.LINE_AA)
    for i, y in enumerate((350, 400, 450, 500)):
        label = "".join(str(d) for d in rng.integers(0, 10, 18)) if i % 2 else _text(rng, 2).upper()
        cv2.putText(card, label, (250, y), cv2.FONT_HERSHEY_SIMPLEX, 0.95, ink, 2, cv2.LINE_AA)
    return card


def _place_card(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    w, h = CARD_PX
    corners = _placement(rng, frame, (w, h), (0.25, 0.6), 30, 20)
    # A card the camera can tell from what is behind it: its rim differs in colour from
    # the background around it by at least 60 (summed over B, G, R) — a dark card on a dark
    # desk of the same hue is not a fair test of anything.
    box = cv2.boundingRect(corners.astype(np.int32))
    x, y, bw, bh = box
    around = frame[max(0, y) : y + bh, max(0, x) : x + bw].reshape(-1, 3).mean(axis=0)
    for _ in range(20):
        face = _card_face(rng)
        rim = np.concatenate([face[:20].reshape(-1, 3), face[-20:].reshape(-1, 3)]).mean(axis=0)
        if np.abs(rim - around).sum() >= 60:
            break
    _paste(frame, face, corners, _rounded_mask(w, h, 32), shadow=float(rng.uniform(0, 6)))
    return Truth(SceneKind.CARD, card=corners)


def _qr_image(data: str, module_px: int) -> np.ndarray:
    matrix = cv2.QRCodeEncoder.create().encode(data)  # white border of 2 modules included
    matrix = cv2.copyMakeBorder(matrix, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=255)
    image = cv2.resize(matrix, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def _phone_with_code(
    rng: np.random.Generator, data: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A phone lying face up showing the code; its image, mask and the code's corners in it."""
    w, h = PHONE_PX
    phone = np.full((h, w, 3), 15, np.uint8)
    screen = (18, 40, w - 18, h - 40)
    brightness = int(rng.integers(200, 256))
    cv2.rectangle(phone, screen[:2], screen[2:], (brightness,) * 3, -1)
    header = tuple(int(c) for c in rng.integers(60, 200, 3))
    cv2.rectangle(phone, screen[:2], (screen[2], 130), header, -1)
    cv2.putText(
        phone, "e-Voucher", (40, 100), cv2.FONT_HERSHEY_DUPLEX, 1.1, (250, 250, 250), 2, cv2.LINE_AA
    )
    code = _qr_image(data, 1)
    module_px = max(1, int(300 // code.shape[0]))
    code = _qr_image(data, module_px)
    side = code.shape[0]
    x0, y0 = (w - side) // 2, 180
    phone[y0 : y0 + side, x0 : x0 + side] = np.minimum(code, brightness)
    cv2.putText(
        phone,
        _text(rng, 2),
        (40, y0 + side + 60),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.8,
        (90, 90, 90),
        2,
        cv2.LINE_AA,
    )
    quiet = 4 * module_px  # the code's corners are its modules', inside the quiet zone
    code_corners = _rect(side - 2 * quiet, side - 2 * quiet) + np.float32([x0 + quiet, y0 + quiet])
    return phone, _rounded_mask(w, h, 40), code_corners


def _slip_with_code(
    rng: np.random.Generator, data: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    code = _qr_image(data, 1)
    module_px = max(1, int(300 // code.shape[0]))
    code = _qr_image(data, module_px)
    side = code.shape[0]
    slip = np.full((side + 140, side + 60, 3), int(rng.integers(215, 256)), np.uint8)
    slip[30 : 30 + side, 30 : 30 + side] = np.minimum(code, slip[30 : 30 + side, 30 : 30 + side])
    cv2.putText(
        slip, _text(rng, 2), (30, side + 90), cv2.FONT_HERSHEY_SIMPLEX, 0.9, _BLACK, 2, cv2.LINE_AA
    )
    quiet = 4 * module_px
    code_corners = _rect(side - 2 * quiet, side - 2 * quiet) + np.float32([30 + quiet, 30 + quiet])
    return slip, np.full(slip.shape[:2], 255, np.uint8), code_corners


def _place_code(
    frame: np.ndarray, rng: np.random.Generator, data: str, kind: str, slip: bool
) -> Truth:
    image, mask, code_corners = (_slip_with_code if slip else _phone_with_code)(rng, data)
    h, w = image.shape[:2]
    # The code should span about a quarter to a half of the frame's width.
    code_side = float(code_corners[1, 0] - code_corners[0, 0])
    wanted = rng.uniform(0.22, 0.5) * frame.shape[1]
    longer = max(w, h) * wanted / code_side / frame.shape[1]
    corners = _placement(rng, frame, (w, h), (longer, longer), 30, 20, keep=code_corners)
    homography = _paste(frame, image, corners, mask, shadow=float(rng.uniform(0, 5)))
    code = cv2.perspectiveTransform(code_corners[None], homography)[0]
    return Truth(
        SceneKind.VOUCHER if kind == "nhsa_voucher" else SceneKind.QR,
        codes=(CodeTruth(data, kind, code, frame.shape[1]),),
    )


def _place_voucher(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    return _place_code(frame, rng, voucher_number(rng), "nhsa_voucher", slip=False)


def _other_payload(rng: np.random.Generator) -> str:
    choice = int(rng.integers(0, 4))
    if choice == 0:
        month, day, number = (int(n) for n in rng.integers([1, 1, 1], [13, 29, 9999]))
        return f"DEMO01-2026{month:02d}{day:02d}-{number:04d}"
    if choice == 1:
        return f"https://example.org/track?id={int(rng.integers(10**8, 10**9))}"
    if choice == 2:  # a 28-digit number of the wrong shape is not a voucher
        return "9" + "".join(str(d) for d in rng.integers(0, 10, 27))
    return _text(rng, int(rng.integers(2, 8)))


def _place_other_code(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    return _place_code(frame, rng, _other_payload(rng), "other", slip=bool(rng.random() < 0.5))


def _page_image(rng: np.random.Generator) -> np.ndarray:
    w, h = PAGE_PX
    paper = int(rng.integers(225, 256))
    page = np.full((h, w, 3), paper, np.uint8)
    margin = int(w * 0.1)
    y = margin + 40
    cv2.putText(
        page,
        _text(rng, 3).upper(),
        (margin, y),
        cv2.FONT_HERSHEY_DUPLEX,
        1.4,
        _BLACK,
        3,
        cv2.LINE_AA,
    )
    y += 80
    while y < h - margin:
        if rng.random() < 0.12:
            y += 40  # a paragraph break
            continue
        line = _text(rng, int(rng.integers(3, 8)) if rng.random() < 0.2 else 14)
        while cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.85, 2)[0][0] > w - 2 * margin:
            line = line.rsplit(" ", 1)[0]
        cv2.putText(page, line, (margin, y), cv2.FONT_HERSHEY_SIMPLEX, 0.85, _BLACK, 2, cv2.LINE_AA)
        y += 42
    return page


def _place_page(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    page = _page_image(rng)
    turns = int(rng.integers(0, 4))
    h, w = page.shape[:2]
    fh, fw = frame.shape[:2]
    # The page's longer side covers 50-88 % of the frame's height.
    longer = rng.uniform(0.5, 0.88) * fh / fw
    corners = _placement(rng, frame, (w, h), (longer, longer), 12, 8, turns=turns)
    _paste(frame, page, corners, shadow=float(rng.uniform(0, 8)))
    return Truth(SceneKind.PAGE, page=corners, page_turns=turns)


def _place_face(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    """Someone at the kiosk: their face 1/10 to 1/4 of the frame's width (the camera faces
    a person standing about an arm's length away), the portrait cropped by the frame."""
    portrait = _portrait()
    fh, fw = frame.shape[:2]
    x, y, w, h = _PORTRAIT_FACE
    face_width = rng.uniform(0.1, 0.25) * fw
    side = max(1, round(face_width * portrait.shape[0] / w))
    scale = side / portrait.shape[0]
    image = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_AREA)
    gain = rng.uniform(0.75, 1.2)
    image = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    box = [round(x * scale), round(y * scale), round(w * scale), round(h * scale)]
    # Where the portrait's corner goes: anywhere that keeps the whole face in the frame.
    x0 = int(rng.integers(-box[0], fw - box[0] - box[2] + 1))
    y0 = int(rng.integers(-box[1], fh - box[1] - box[3] + 1))
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(fw, x0 + side), min(fh, y0 + side)
    frame[top:bottom, left:right] = image[top - y0 : bottom - y0, left - x0 : right - x0]
    return Truth(SceneKind.FACE, faces=((x0 + box[0], y0 + box[1], box[2], box[3]),))


def _place_distractors(frame: np.ndarray, rng: np.random.Generator) -> Truth:
    fh, fw = frame.shape[:2]
    for _ in range(int(rng.integers(0, 4))):
        what = int(rng.integers(0, 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if what == 0:  # a square note
            side = int(rng.uniform(0.08, 0.25) * fw)
            note = np.full((side, side, 3), colour, np.uint8)
            corners = _placement(rng, frame, (side, side), (side / fw, side / fw), 40, 10)
            _paste(frame, note, corners)
        elif what == 1:  # a pen
            x, y = int(rng.integers(0, fw)), int(rng.integers(0, fh))
            angle = rng.uniform(0, math.pi)
            length = rng.uniform(0.1, 0.3) * fw
            end = (int(x + length * math.cos(angle)), int(y + length * math.sin(angle)))
            cv2.line(frame, (x, y), end, colour, int(rng.integers(6, 14)), cv2.LINE_AA)
        elif what == 2:  # a coin
            centre = (int(rng.integers(0, fw)), int(rng.integers(0, fh)))
            cv2.circle(frame, centre, int(rng.uniform(0.015, 0.04) * fw), colour, -1, cv2.LINE_AA)
        else:  # some printed words straight on the desk
            x, y = int(rng.integers(0, fw // 2)), int(rng.integers(20, fh))
            cv2.putText(
                frame, _text(rng, 4), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, colour, 2, cv2.LINE_AA
            )
    return Truth(SceneKind.EMPTY)


_PLACERS = {
    SceneKind.EMPTY: _place_distractors,
    SceneKind.CARD: _place_card,
    SceneKind.VOUCHER: _place_voucher,
    SceneKind.QR: _place_other_code,
    SceneKind.PAGE: _place_page,
    SceneKind.FACE: _place_face,
}


# --- the camera's faults -------------------------------------------------------------


def _camera_faults(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fh, fw = frame.shape[:2]
    # Uneven light: a tilted plane of gain and a vignette, smooth, so worked out coarsely.
    ys, xs = np.mgrid[0:1:18j, 0:1:32j].astype(np.float32)
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    light = 1.0 + gx * (xs - 0.5) + gy * (ys - 0.5)
    light *= 1.0 - rng.uniform(0.0, 0.5) * ((xs - 0.5) ** 2 + (ys - 0.5) ** 2)
    light = cv2.resize(light * rng.uniform(0.75, 1.15), (fw, fh), interpolation=cv2.INTER_LINEAR)
    image = frame.astype(np.float32) * cv2.merge([light, light, light])
    # Defocus or a little motion.
    if rng.random() < 0.7:
        sigma = rng.uniform(0.3, 1.4)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    else:
        length = int(rng.integers(3, 7))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        centre = (length / 2 - 0.5, length / 2 - 0.5)
        rotation = cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    image += _noise(image.shape, rng, rng.uniform(1.5, 6.0))
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        quality = int(rng.integers(55, 95))
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out
