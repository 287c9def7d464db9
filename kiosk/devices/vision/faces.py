"""Faces: is someone standing at the kiosk, and is a photo a usable portrait?

OpenCV's Haar cascade for frontal faces (`haarcascade_frontalface_default.xml`, shipped
with opencv-python 4.x) on a greyscale copy scaled to 480 px wide and equalised: a few
milliseconds per 1280 × 720 frame on one core. At least 5 neighbouring detections and a
face at least 1/24 of the frame's width (someone within about two metres) are required,
which keeps most cards, pages and desk textures from being taken for faces. One
classifier per thread: a cascade is not safe to share between threads.

`check_photo` says whether a photo suits a photo-based application: exactly one face; the
face at least 25 % of the photo's width; its centre within 15 % of the photo's width and
height from the photo's centre. Each verdict carries what to tell the resident.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height in the image's pixels

WORK_WIDTH = 480
MIN_FACE_FRACTION = 1 / 24
PHOTO_MIN_FACE_WIDTH = 0.25
PHOTO_MAX_OFF_CENTRE = 0.15

_local = threading.local()


def _cascade() -> cv2.CascadeClassifier:
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"OpenCV's face cascade is missing: {path}")
        _local.cascade = cascade
    return cascade


def find_faces(image: np.ndarray) -> list[Box]:
    """Frontal faces in `image` (BGR or grey), largest first."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    scale = min(1.0, WORK_WIDTH / grey.shape[1])
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    smallest = max(20, int(grey.shape[1] * MIN_FACE_FRACTION))
    found = _cascade().detectMultiScale(
        grey, scaleFactor=1.15, minNeighbors=5, minSize=(smallest, smallest)
    )
    boxes = [
        (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in (found if len(found) else [])
    ]
    return sorted(boxes, key=lambda box: -box[2] * box[3])


def someone_present(image: np.ndarray) -> bool:
    """Whether a face looks at the kiosk (to wake the start screen)."""
    return bool(find_faces(image))


class PhotoProblem(StrEnum):
    OK = "ok"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    OFF_CENTRE = "off_centre"


_ADVICE = {
    PhotoProblem.OK: ("照片可以使用。", "The photo can be used."),
    PhotoProblem.NO_FACE: (
        "没有看到人脸，请正对镜头。",
        "No face can be seen. Please look straight at the camera.",
    ),
    PhotoProblem.SEVERAL_FACES: (
        "画面中有多个人，请只留申请人一人。",
        "There is more than one person in the picture. Only the applicant, please.",
    ),
    PhotoProblem.TOO_SMALL: (
        "请靠近一些，让脸占满画面中央。",
        "Please come a little closer, so your face fills the middle of the picture.",
    ),
    PhotoProblem.OFF_CENTRE: (
        "请正对镜头，让脸位于画面中央。",
        "Please face the camera with your face in the middle of the picture.",
    ),
}


@dataclass(frozen=True)
class PhotoVerdict:
    problem: PhotoProblem
    face: Box | None

    @property
    def ok(self) -> bool:
        return self.problem is PhotoProblem.OK

    def resident_message(self, lang: str) -> str:
        zh, en = _ADVICE[self.problem]
        return en if lang == "en" else zh


def check_photo(image: np.ndarray) -> PhotoVerdict:
    """Whether `image` is a usable portrait: one face, large enough, centred."""
    faces = find_faces(image)
    if not faces:
        return PhotoVerdict(PhotoProblem.NO_FACE, None)
    if len(faces) > 1:
        return PhotoVerdict(PhotoProblem.SEVERAL_FACES, faces[0])
    x, y, w, h = face = faces[0]
    height, width = image.shape[:2]
    if w < PHOTO_MIN_FACE_WIDTH * width:
        return PhotoVerdict(PhotoProblem.TOO_SMALL, face)
    dx = abs(x + w / 2 - width / 2) / width
    dy = abs(y + h / 2 - height / 2) / height
    if dx > PHOTO_MAX_OFF_CENTRE or dy > PHOTO_MAX_OFF_CENTRE:
        return PhotoVerdict(PhotoProblem.OFF_CENTRE, face)
    return PhotoVerdict(PhotoProblem.OK, face)
