"""Faces: is someone standing at the kiosk, and is a photo a usable portrait?

OpenCV's Haar cascade for frontal faces (`haarcascade_frontalface_default.xml`, shipped
in opencv-python 4.x's `cv2.data.haarcascades`) runs on a greyscale copy scaled down to
480 px wide and histogram-equalised. The parameters were chosen on the astronaut portrait
pasted into frames at many sizes and places, against the CC0 textures, blank and noisy
frames and the synthetic scenes of cards, pages, phones and desks:

- steps of 1.15 between scales and at least 6 overlapping detections (fewer let bricks,
  gravel and lines of text through as faces);
- a face at least 1/12 of the frame's width (107 px in 1280 × 720, someone within about
  1.3 m of a kiosk's camera): the smallest scales cost the most and give most false
  faces, and nobody further away is using the kiosk. `check_photo` looks down to 1/24,
  so that a small face gets "come closer" rather than "no face".

Each thread gets its own classifier, loaded on first use: `detectMultiScale` on one
classifier from several threads at once is not safe.

`check_photo` says whether a photo suits an application that needs the resident's
picture: exactly one face (another face at least a third as wide as the largest counts;
smaller ones are far behind and are ignored); the face at least 25 % of the photo's width;
its centre within 15 % of the photo's width (across) and height (up and down) of the
photo's centre. Each verdict carries what to tell the resident, in Chinese and English.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import cv2
import numpy as np

from kiosk.devices.vision.images import as_grey
from kiosk.errors import DoorstepError

CASCADE = "haarcascade_frontalface_default.xml"
#: Faces are looked for on a copy this many pixels wide (never enlarged).
WORK_WIDTH = 480
SCALE_STEP = 1.15
MIN_NEIGHBOURS = 6
#: The smallest face `find_faces` reports, as a fraction of the image's width.
MIN_FACE_FRACTION = 1 / 12
#: The smallest face `check_photo` looks for.
PHOTO_SEARCH_FRACTION = 1 / 24
#: A usable photo's face is at least this fraction of the photo's width …
PHOTO_MIN_FACE_WIDTH = 0.25
#: … and its centre at most this fraction of the width (height) off the centre.
PHOTO_MAX_OFF_CENTRE = 0.15
#: Faces narrower than this fraction of the largest do not make a photo "several faces".
PHOTO_OTHER_FACE_FRACTION = 1 / 3
#: The cascade's own window: no face smaller than this (in working pixels) can be found.
_WINDOW = 24

PhotoVerdictKind = Literal["ok", "no_face", "several_faces", "off_centre", "too_small"]

_ADVICE: dict[str, tuple[str, str]] = {
    "ok": ("照片可以使用。", "The photo is good."),
    "no_face": (
        "没有看到您的脸，请正对镜头。",
        "Your face cannot be seen. Please look straight at the camera.",
    ),
    "several_faces": (
        "画面中不止一个人，请只让办事人入镜。",
        "There is more than one person in the picture. Only the applicant, please.",
    ),
    "off_centre": (
        "请正对镜头，让脸位于画面中央。",
        "Please face the camera with your face in the middle of the picture.",
    ),
    "too_small": (
        "请靠近镜头一些。",
        "Please come a little closer to the camera.",
    ),
}

_local = threading.local()


class Box(NamedTuple):
    """A face's bounding box in the image's pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


class FaceModelMissing(DoorstepError):
    """OpenCV's face cascade file is missing or unreadable."""

    action = "Reinstall opencv-python-headless 4.x (its data folder holds the face cascade)."


@dataclass(frozen=True)
class PhotoVerdict:
    """What `check_photo` found: `verdict`, the face it judged (the largest; None when
    there is none) and every face found, largest first."""

    verdict: PhotoVerdictKind
    face: Box | None
    faces: tuple[Box, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def resident_zh(self) -> str:
        return _ADVICE[self.verdict][0]

    @property
    def resident_en(self) -> str:
        return _ADVICE[self.verdict][1]

    def resident_message(self, lang: str) -> str:
        """What to tell the resident, in English for "en", else in Chinese."""
        return self.resident_en if lang == "en" else self.resident_zh


def find_faces(image: np.ndarray, *, min_fraction: float = MIN_FACE_FRACTION) -> list[Box]:
    """The frontal faces in `image` (BGR, BGRA or greyscale `uint8`), largest first; none
    narrower than `min_fraction` of the image's width."""
    grey = as_grey(image)
    height, width = grey.shape
    scale = min(1.0, WORK_WIDTH / width)
    if scale < 1.0:
        size = (WORK_WIDTH, max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    smallest = max(_WINDOW, round(min_fraction * grey.shape[1]))
    if min(grey.shape) < smallest:
        return []
    found = _classifier().detectMultiScale(
        cv2.equalizeHist(grey),
        scaleFactor=SCALE_STEP,
        minNeighbors=MIN_NEIGHBOURS,
        minSize=(smallest, smallest),
    )
    boxes = [_in_image(box, scale, width, height) for box in np.asarray(found).reshape(-1, 4)]
    return sorted(boxes, key=lambda box: box.w * box.h, reverse=True)


def someone_present(image: np.ndarray) -> bool:
    """Whether a face looks at the kiosk from close enough to be using it."""
    return bool(find_faces(image))


def check_photo(image: np.ndarray) -> PhotoVerdict:
    """Whether `image` is a usable portrait: one face, large enough, in the middle."""
    faces = tuple(find_faces(image, min_fraction=PHOTO_SEARCH_FRACTION))
    if not faces:
        return PhotoVerdict("no_face", None, faces)
    face = faces[0]
    others = [box for box in faces[1:] if box.w >= PHOTO_OTHER_FACE_FRACTION * face.w]
    if others:
        return PhotoVerdict("several_faces", face, faces)
    height, width = image.shape[:2]
    if face.w < PHOTO_MIN_FACE_WIDTH * width:
        return PhotoVerdict("too_small", face, faces)
    centre_x, centre_y = face.centre
    if (
        abs(centre_x - width / 2) > PHOTO_MAX_OFF_CENTRE * width
        or abs(centre_y - height / 2) > PHOTO_MAX_OFF_CENTRE * height
    ):
        return PhotoVerdict("off_centre", face, faces)
    return PhotoVerdict("ok", face, faces)


def _in_image(found: np.ndarray, scale: float, width: int, height: int) -> Box:
    """A box found on the working copy, in the image's pixels and inside the image."""
    x, y, w, h = (float(value) / scale for value in found)
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(width, round(x + w)), min(height, round(y + h))
    return Box(left, top, right - left, bottom - top)


def _classifier() -> cv2.CascadeClassifier:
    """This thread's face cascade, loaded on first use."""
    classifier = getattr(_local, "classifier", None)
    if classifier is None:
        path = Path(cv2.data.haarcascades) / CASCADE
        classifier = cv2.CascadeClassifier()
        if not path.is_file() or not classifier.load(str(path)):
            raise FaceModelMissing(f"OpenCV's face cascade {CASCADE} cannot be loaded")
        _local.classifier = classifier
    return classifier
