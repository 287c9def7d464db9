"""The capture screen (交材料): the resident hands over the materials an item needs.

Two modes on one screen:

- pages: the document camera's live view. When a page has held still for a few frames it
  is taken by itself, flattened, turned upright and cleaned (`kiosk.devices.vision.page`),
  and shown large to use or retake; then the next page, the next material, or done. "Take
  it now" takes the page at once (the whole picture when no page can be found).
- photo: the camera's live view, mirrored like a looking-glass. "Take photo" frames a
  head-and-shoulders portrait around the largest face and checks it (one face, large
  enough, in the middle: `check_photo`); a photo that fails says why, in the resident's
  words, and they try again; a good one is shown to use or retake.

Threads: a timer on the main thread takes the newest frame from the camera's latest-frame
slot (it never waits) and shows it, scaled down. Everything slow — finding the page,
flattening, cleaning, the face check, JPEG encoding — runs on a `TaskManager` worker, one
analysis at a time; frames that come while one runs are dropped. Each result belongs to
the step it was started in and is dropped if the screen has moved on (retake, wipe …).

A camera that gives no new frame for a while (unplugged, its service stopped) gets a calm
message and disabled capture buttons; the view picks up again when frames come back.

`wipe()` (the idle timer) and `stop()` drop every picture the screen holds and clear the
view; `pages_done`, `photo_done` and `cancelled` hand over (or drop) the pictures and
leave the screen holding none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from kiosk.devices.camera.frames import Frame
from kiosk.devices.vision.faces import (
    MIN_FACE_FRACTION,
    PHOTO_SEARCH_FRACTION,
    Box,
    PhotoVerdict,
    check_photo,
    find_faces,
)
from kiosk.devices.vision.page import PageFinding, clean_page, find_page, flatten_page
from kiosk.devices.vision.quads import Steadiness, corner_error
from kiosk.ui import theme
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import PRESSES, WrappedLabel, button, touch_scroll_area

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_MEDIA_TYPE = "image/jpeg"
PHOTO_MEDIA_TYPE = "image/jpeg"
PAGE_JPEG_QUALITY = 90
PHOTO_JPEG_QUALITY = 92
PREVIEW_INTERVAL_MS = 80  # about 12 frames a second
STALE_AFTER_S = 2.0  # no new frame for this long: the camera is taken to be away
STEADY_FRAMES = 6  # analysed frames in a row a page must hold still …
STEADY_MOTION = 0.008  # … moving no corner more than this × its diagonal
MOVED = 0.03  # a page taken once is taken again only after moving this much, or leaving
PHOTO_FACE_SPAN = 1.8  # the photo is this many face widths wide …
PHOTO_FACE_HEIGHT = 0.45  # … with the face's centre this far down it …
PHOTO_ASPECT = 4 / 3  # … and its height this many times its width
PHOTO_MAX_WIDTH = 600


class FrameSlot(Protocol):
    """Where a camera keeps its newest frame (`CameraService.frames`)."""

    def latest(self) -> Frame | None: ...


@dataclass(frozen=True)
class CapturedPage:
    """A page the resident has accepted: encoded for the blob store, and the material it
    belongs to ("" when the screen was asked for a number of pages)."""

    content: bytes
    media_type: str
    label: str


# -- the work done on worker threads (no Qt) ---------------------------------------------


@dataclass(frozen=True)
class Shot:
    """A picture taken: as the resident is shown it, and encoded for the store; where the
    page lay in the frame (None for a photo, or a page taken whole)."""

    image: np.ndarray
    content: bytes
    corners: np.ndarray | None = None


@dataclass(frozen=True)
class PageSight:
    """What one analysed frame showed: whether a page is in it, whether it is one already
    taken (held until it moves or leaves), and the shot when it has just held still."""

    seen: bool
    held: bool = False
    shot: Shot | None = None


@dataclass(frozen=True)
class PhotoTake:
    """A photo attempt: the verdict, and the framed photo when it is usable."""

    verdict: PhotoVerdict
    shot: Shot | None


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the picture could not be encoded as JPEG")
    return data.tobytes()


def page_shot(image: np.ndarray, finding: PageFinding | None) -> Shot:
    """The page of `finding` flattened, upright and cleaned; the whole picture without one."""
    if finding is None:
        return Shot(image, encode_jpeg(image, PAGE_JPEG_QUALITY))
    flat, _ = flatten_page(image, finding)
    page = clean_page(flat)
    return Shot(page, encode_jpeg(page, PAGE_JPEG_QUALITY), finding.corners)


def take_page_now(image: np.ndarray) -> Shot:
    """A page taken at the resident's word: the page if one can be found, else the whole
    picture as the camera sees it."""
    return page_shot(image, find_page(image))


class PageTracker:
    """Watches document-camera frames for a page that holds still, and takes it once: a
    page taken is held (not taken again) until it moves or leaves the picture.

    One `feed` at a time; `hold` and `reset` may be called from another thread meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steady = Steadiness(STEADY_FRAMES, STEADY_MOTION)
        self._held = False
        self._held_corners: np.ndarray | None = None

    def hold(self, corners: np.ndarray | None) -> None:
        """Do not take the page lying at `corners` (None: whatever lies there) again."""
        with self._lock:
            self._held, self._held_corners = True, corners
            self._steady.reset()

    def feed(self, image: np.ndarray) -> PageSight:
        finding = find_page(image)
        corners = None if finding is None else finding.corners
        with self._lock:
            if self._held and not self._moved(corners):
                return PageSight(seen=corners is not None, held=True)
            self._held, self._held_corners = False, None
            if finding is None or not self._steady.update(corners):
                return PageSight(seen=corners is not None)
            self._steady.reset()
            self._held, self._held_corners = True, corners
        return PageSight(seen=True, held=True, shot=page_shot(image, finding))

    def _moved(self, corners: np.ndarray | None) -> bool:
        if corners is None:
            return True
        if self._held_corners is None:
            return False
        return corner_error(corners, self._held_corners)[0] > MOVED


def portrait_crop(image: np.ndarray, face: Box) -> np.ndarray:
    """A head-and-shoulders photo (3 × 4) around `face`, as large as `PHOTO_FACE_SPAN`
    asks where the frame allows, moved inside the frame where it would cross an edge."""
    height, width = image.shape[:2]
    crop_w = min(round(face.w * PHOTO_FACE_SPAN), width, round(height / PHOTO_ASPECT))
    crop_h = round(crop_w * PHOTO_ASPECT)
    centre_x, centre_y = face.centre
    left = round(min(max(centre_x - crop_w / 2, 0), width - crop_w))
    top = round(min(max(centre_y - PHOTO_FACE_HEIGHT * crop_h, 0), height - crop_h))
    return image[top : top + crop_h, left : left + crop_w]


def take_photo(image: np.ndarray) -> PhotoTake:
    """Frame a portrait around the largest face in `image` and check it."""
    faces = tuple(find_faces(image, min_fraction=PHOTO_SEARCH_FRACTION))
    if not faces:
        return PhotoTake(PhotoVerdict("no_face", None, faces), None)
    face = faces[0]
    if face.w < MIN_FACE_FRACTION * image.shape[1]:
        return PhotoTake(PhotoVerdict("too_small", face, faces), None)
    photo = portrait_crop(image, face)
    if photo.shape[1] > PHOTO_MAX_WIDTH:
        size = (PHOTO_MAX_WIDTH, round(PHOTO_MAX_WIDTH * PHOTO_ASPECT))
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    photo = np.ascontiguousarray(photo)
    encoded = encode_jpeg(photo, PHOTO_JPEG_QUALITY)
    # the check is of the photo as it is kept (resized, a JPEG), not of the crop before:
    # a face found a little lower in the smaller picture must not pass here and fail later
    verdict = check_photo(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR))
    if not verdict.ok:
        return PhotoTake(verdict, None)
    return PhotoTake(verdict, Shot(photo, encoded))


# -- the widgets -------------------------------------------------------------------------


def to_pixmap(image: np.ndarray) -> QPixmap:
    """A BGR or greyscale `uint8` array as a pixmap (copied)."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if image.ndim == 2 else QImage.Format.Format_BGR888
    return QPixmap.fromImage(QImage(image.data, width, height, image.strides[0], fmt))


class ImageView(QLabel):
    """A picture fitted into the room it is given, keeping its proportions; or a line of
    text when there is no picture. It never asks the layout for room of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.setProperty("role", TextRole.SUBHEADING.value)
        self.setProperty("muted", True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._image: np.ndarray | None = None
        self._mirrored = False
        self._fast = False

    @property
    def has_image(self) -> bool:
        return self._image is not None or not self.pixmap().isNull()

    @property
    def landscape(self) -> bool:
        """Whether it shows a picture wider than it is tall."""
        return self._image is not None and self._image.shape[1] > self._image.shape[0]

    def show_image(self, image: np.ndarray, *, mirrored: bool = False, fast: bool = False) -> None:
        """Show `image`; `fast` for live frames (plainer scaling), `mirrored` like a mirror."""
        self._image, self._mirrored, self._fast = image, mirrored, fast
        self._render()

    def show_text(self, words: str) -> None:
        """Drop the picture and show `words` instead."""
        self._image = None
        self.clear()
        self.setText(words)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._image is not None:
            self._render()

    def _render(self) -> None:
        image = self._image
        if image is None:
            return
        room = self.contentsRect()
        height, width = image.shape[:2]
        scale = min(room.width() / width, room.height() / height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        fast = self._fast or scale > 1
        interpolation = cv2.INTER_LINEAR if fast else cv2.INTER_AREA
        shown = cv2.resize(image, size, interpolation=interpolation)
        if self._mirrored:
            shown = cv2.flip(shown, 1)
        self.setPixmap(to_pixmap(shown))


class Mode(StrEnum):
    IDLE = "idle"
    PAGES = "pages"
    PHOTO = "photo"


class Step(StrEnum):
    LIVE = "live"  # the live view: waiting for a page, or for "take photo"
    WORKING = "working"  # a picture being taken or checked
    REVIEW = "review"  # the picture shown, to use or retake
    KEPT = "kept"  # a page kept: another page, the next material, or done


class FeedState(StrEnum):
    STARTING = "starting"
    LIVE = "live"
    AWAY = "away"


Notice = Callable[[Language], str]


class CaptureScreen(QWidget):
    """The document camera's pages or the resident's photo, each checked by the resident.

    `pages_done` carries a list of `CapturedPage`; `photo_done` the photo as JPEG bytes
    (`PHOTO_MEDIA_TYPE`); `cancelled` the back button; `activity` any touch, and a page
    put under the camera or taken (the idle timer listens)."""

    pages_done = Signal(list)
    photo_done = Signal(bytes)
    cancelled = Signal()
    activity = Signal()

    def __init__(self, tasks: TaskManager, *, stale_after_s: float = STALE_AFTER_S) -> None:
        super().__init__()
        self._tasks = tasks
        self._stale_after_s = stale_after_s
        self._lang: Language = "zh"
        self._mode = Mode.IDLE
        self._step = Step.LIVE
        self._generation = 0
        self._frames: FrameSlot | None = None
        self._seq = 0
        self._fresh_at = 0.0
        self._camera = FeedState.STARTING
        self._analysing = False
        self._analysis_failed = False
        self._tracker = PageTracker()
        self._labels: list[str] = []
        self._counted = False
        self._slot = 0
        self._pages: list[tuple[int, CapturedPage]] = []  # (the material's index, page)
        self._shot: Shot | None = None
        self._seen = False
        self._held = False
        self._after_retake = False
        self._notice: Notice | None = None

        self._timer = QTimer(self)
        self._timer.setInterval(PREVIEW_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)

        self.view = ImageView()
        self.heading = WrappedLabel(TextRole.HEADING)
        self.progress = WrappedLabel(TextRole.SUBHEADING)
        self.detail = WrappedLabel()
        self.notice = WrappedLabel(notice=True)
        self.checklist = WrappedLabel()
        self.back_button = button()
        self.take_now_button = button()
        self.retake_button = button()
        self.more_button = button()
        self.use_button = button(ButtonKind.PRIMARY)
        self.next_button = button(ButtonKind.PRIMARY)
        self.take_photo_button = button(ButtonKind.PRIMARY)
        self.back_button.clicked.connect(self._cancel)
        self.take_now_button.clicked.connect(self._take_now)
        self.retake_button.clicked.connect(self._retake)
        self.more_button.clicked.connect(self._more)
        self.use_button.clicked.connect(self._use)
        self.next_button.clicked.connect(self._next)
        self.take_photo_button.clicked.connect(self._take_photo)
        self._build()
        for widget in [self, *self.findChildren(QWidget)]:
            widget.installEventFilter(self)
        self._refresh()

    def _build(self) -> None:
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        side_layout.setSpacing(theme.SPACING_PX)
        for part in (self.heading, self.notice, self.detail, self.progress, self.checklist):
            side_layout.addWidget(part)
        side_layout.addStretch(1)
        self.side_area = touch_scroll_area(side)

        self._middle = QHBoxLayout()
        self._middle.setSpacing(theme.SPACING_PX * 2)
        self._middle.addWidget(self.view, 3)
        self._middle.addWidget(self.side_area, 2)
        self._wide_view = True

        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING_PX)
        actions.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignBottom)
        actions.addStretch(1)
        for action in (
            self.take_now_button,
            self.retake_button,
            self.more_button,
            self.use_button,
            self.next_button,
            self.take_photo_button,
        ):
            actions.addWidget(action, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(self._middle, 1)
        layout.addLayout(actions)

    # -- what the window calls -------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def step(self) -> Step:
        return self._step

    @property
    def feed_state(self) -> FeedState:
        return self._camera

    @property
    def holds_images(self) -> bool:
        """Whether the screen holds or shows any picture."""
        return bool(self._pages) or self._shot is not None or self.view.has_image

    def begin_pages(self, frames: FrameSlot, wanted: list[str] | int) -> None:
        """Take pages from the document camera whose newest frame is in `frames`: one or
        more per material named in `wanted`, or `wanted` pages."""
        if isinstance(wanted, int):
            if wanted < 1:
                raise ValueError(f"at least one page must be wanted, not {wanted}")
            labels, counted = [""] * wanted, True
        else:
            if not wanted:
                raise ValueError("at least one material must be wanted")
            labels, counted = list(wanted), False
        self._start(Mode.PAGES, frames)
        self._labels, self._counted = labels, counted
        self._refresh()

    def begin_photo(self, frames: FrameSlot) -> None:
        """Take the resident's photo with the camera whose newest frame is in `frames`."""
        self._start(Mode.PHOTO, frames)
        self._refresh()

    def stop(self) -> None:
        """Stop the live view and any work under way, and drop every picture."""
        self._timer.stop()
        self._generation += 1
        self._mode = Mode.IDLE
        self._step = Step.LIVE
        self._frames = None
        self._tracker = PageTracker()
        self._labels, self._counted, self._slot = [], False, 0
        self._pages = []
        self._shot = None
        self._seen = self._held = self._after_retake = False
        self._notice = None
        self.view.show_text("")
        self._refresh()

    def wipe(self) -> None:
        """Forget everything (the idle timer ran out): no picture stays held or shown."""
        self.stop()

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._refresh()

    # -- events ------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in PRESSES:
            self.activity.emit()
        return super().eventFilter(watched, event)

    def _start(self, mode: Mode, frames: FrameSlot) -> None:
        self.stop()
        self._mode = mode
        self._frames = frames
        self._seq = 0
        self._fresh_at = time.monotonic()
        self._camera = FeedState.STARTING
        self._analysis_failed = False
        self.view.show_text(text("cap_waiting", self._lang))
        self._timer.start()

    def _set_step(self, step: Step) -> None:
        """Move to `step`; work started before is dropped when it comes back."""
        self._generation += 1
        self._step = step
        self._refresh()

    def _run(
        self,
        task: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[BaseException], None],
        *,
        settled: Callable[[], None] | None = None,
    ) -> None:
        """Run `task` on a worker; its outcome is handed on only if the screen is still at
        the step it was started in. `settled` runs whatever happened."""
        generation = self._generation

        def success(result: T) -> None:
            if settled is not None:
                settled()
            if generation == self._generation:
                on_success(result)

        def failure(error: BaseException) -> None:
            if settled is not None:
                settled()
            if generation == self._generation:
                on_failure(error)

        self._tasks.run_in_background(task, success, failure)

    # -- the live view -------------------------------------------------------------------

    def _tick(self) -> None:
        frames = self._frames
        if frames is None or self._step is not Step.LIVE:
            return
        frame = frames.latest()
        now = time.monotonic()
        if frame is not None and frame.seq != self._seq:
            self._seq, self._fresh_at = frame.seq, now
            self.view.show_image(frame.image, mirrored=self._mode is Mode.PHOTO, fast=True)
            self._arrange()
            if self._mode is Mode.PAGES and not self._analysing:
                self._analyse(frame.image)
        if frame is not None and now - self._fresh_at < self._stale_after_s:
            camera = FeedState.LIVE
        elif frame is None and now - self._fresh_at < self._stale_after_s:
            camera = FeedState.STARTING
        else:
            camera = FeedState.AWAY
        if camera is not self._camera:
            self._camera = camera
            if camera is FeedState.AWAY:
                self.view.show_text(text("cap_no_picture", self._lang))
                self._seen = False
            self._refresh()

    def _fresh_frame(self) -> Frame | None:
        """The newest frame, if the camera is giving frames."""
        if self._frames is None or self._camera is not FeedState.LIVE:
            return None
        return self._frames.latest()

    def _analyse(self, image: np.ndarray) -> None:
        self._analysing = True
        tracker = self._tracker
        self._run(
            lambda: tracker.feed(image),
            self._page_seen,
            self._analysis_failure,
            settled=self._analysis_settled,
        )

    def _analysis_settled(self) -> None:
        self._analysing = False

    def _analysis_failure(self, error: BaseException) -> None:
        if not self._analysis_failed:  # once per session, not ten times a second
            self._analysis_failed = True
            logger.error("looking for a page failed", exc_info=error)

    def _page_seen(self, sight: PageSight) -> None:
        if sight.shot is not None:
            self._shot = sight.shot
            self._notice = None
            self.activity.emit()
            self._show_shot()
            return
        if sight.seen and not self._seen:
            self.activity.emit()
        if (sight.seen, sight.held) != (self._seen, self._held):
            self._seen, self._held = sight.seen, sight.held
            self._refresh()

    def _show_shot(self) -> None:
        assert self._shot is not None
        self.view.show_image(self._shot.image)
        self._set_step(Step.REVIEW)

    # -- the resident's buttons ------------------------------------------------------------

    def _cancel(self) -> None:
        self.stop()
        self.cancelled.emit()

    def _take_now(self) -> None:
        frame = self._fresh_frame()
        if frame is None or self._mode is not Mode.PAGES or self._step is not Step.LIVE:
            return
        image = frame.image
        self._notice = None
        self._set_step(Step.WORKING)
        self._run(lambda: take_page_now(image), self._taken_now, self._page_failed)

    def _taken_now(self, shot: Shot) -> None:
        self._tracker.hold(shot.corners)
        self._shot = shot
        self._show_shot()

    def _page_failed(self, error: BaseException) -> None:
        logger.error("taking a page failed", exc_info=error)
        self._notice = lambda lang: text("cap_capture_failed", lang)
        self._back_to_live()

    def _take_photo(self) -> None:
        frame = self._fresh_frame()
        if frame is None or self._mode is not Mode.PHOTO or self._step is not Step.LIVE:
            return
        image = frame.image
        self._notice = None
        self._set_step(Step.WORKING)
        self._run(lambda: take_photo(image), self._photo_checked, self._photo_failed)

    def _photo_checked(self, take: PhotoTake) -> None:
        if take.shot is None:
            verdict = take.verdict
            logger.info("photo refused: %s", verdict.verdict)
            self._notice = verdict.resident_message
            self._back_to_live()
            return
        self._shot = take.shot
        self._show_shot()

    def _photo_failed(self, error: BaseException) -> None:
        logger.error("checking a photo failed", exc_info=error)
        self._notice = lambda lang: text("cap_photo_failed", lang)
        self._back_to_live()

    def _retake(self) -> None:
        if self._step is not Step.REVIEW:
            return
        self._shot = None
        self._notice = None
        self._after_retake = True
        self._back_to_live()

    def _back_to_live(self) -> None:
        frame = None if self._frames is None else self._frames.latest()
        if frame is None or self._camera is not FeedState.LIVE:
            self.view.show_text(self._image_placeholder())
        else:
            self.view.show_image(frame.image, mirrored=self._mode is Mode.PHOTO, fast=True)
        self._set_step(Step.LIVE)

    def _use(self) -> None:
        shot = self._shot
        if self._step is not Step.REVIEW or shot is None:
            return
        if self._mode is Mode.PHOTO:
            self.stop()
            self.photo_done.emit(shot.content)
            return
        label = self._labels[self._slot]
        self._pages.append((self._slot, CapturedPage(shot.content, PAGE_MEDIA_TYPE, label)))
        self._shot = None
        self._set_step(Step.KEPT)

    def _more(self) -> None:
        if self._step is Step.KEPT:
            self._after_retake = False
            self._back_to_live()

    def _next(self) -> None:
        if self._step is not Step.KEPT:
            return
        if self._slot + 1 >= len(self._labels):
            pages = [page for _, page in self._pages]
            self.stop()
            self.pages_done.emit(pages)
            return
        self._slot += 1
        self._after_retake = False
        self._back_to_live()

    # -- texts and buttons ---------------------------------------------------------------

    def _refresh(self) -> None:
        lang, mode, step = self._lang, self._mode, self._step
        self.back_button.setText(text("back", lang))
        self.take_now_button.setText(text("cap_take_now", lang))
        self.retake_button.setText(text("cap_retake", lang))
        self.more_button.setText(text("cap_more_pages", lang))
        self.next_button.setText(text(self._next_key(), lang))
        self.take_photo_button.setText(text("cap_take_photo", lang))
        use_key = "cap_use_photo" if mode is Mode.PHOTO else "cap_use_page"
        self.use_button.setText(text(use_key, lang))
        if mode is Mode.PHOTO:
            heading, detail = self._photo_texts(lang)
        elif mode is Mode.PAGES:
            heading, detail = self._page_texts(lang)
        else:
            heading, detail = "", ""
        self.heading.set_plain_text(heading)
        self.detail.set_plain_text(detail)
        self.progress.set_plain_text(self._progress_text(lang))
        self.checklist.set_plain_text(self._checklist_text(lang))
        notice = self._notice_text(lang)
        self.notice.set_plain_text(notice)
        if self._image_placeholder() and not self.view.has_image:
            self.view.setText(self._image_placeholder())
        live = step is Step.LIVE and mode is not Mode.IDLE
        camera_live = self._camera is FeedState.LIVE
        pages, photo = mode is Mode.PAGES, mode is Mode.PHOTO
        visible: dict[QWidget, bool] = {
            self.back_button: mode is not Mode.IDLE,
            self.heading: bool(heading),
            self.take_now_button: pages and step in (Step.LIVE, Step.WORKING),
            self.retake_button: step is Step.REVIEW,
            self.use_button: step is Step.REVIEW,
            self.more_button: pages and step is Step.KEPT and not self._counted,
            self.next_button: pages and step is Step.KEPT,
            self.take_photo_button: photo and step in (Step.LIVE, Step.WORKING),
            self.progress: bool(self.progress.plain_text),
            self.detail: bool(detail),
            self.notice: bool(notice),
            self.checklist: bool(self.checklist.plain_text),
        }
        for widget, shown in visible.items():
            widget.setVisible(shown)
        self.take_now_button.setEnabled(live and camera_live)
        self.take_photo_button.setEnabled(live and camera_live)
        self._arrange()

    def _arrange(self) -> None:
        """Most of the width to a landscape picture (the live view); to the texts when the
        picture is upright (a page, a photo) or there is none."""
        wide = self.view.landscape
        if wide != self._wide_view:
            self._wide_view = wide
            self._middle.setStretch(0, 3 if wide else 2)
            self._middle.setStretch(1, 2 if wide else 3)

    def _image_placeholder(self) -> str:
        if self._mode is Mode.IDLE:
            return ""
        if self._camera is FeedState.AWAY:
            return text("cap_no_picture", self._lang)
        return text("cap_waiting", self._lang)

    def _next_key(self) -> str:
        if self._slot + 1 >= len(self._labels):
            return "cap_done"
        return "cap_next_page" if self._counted else "cap_next_material"

    def _page_texts(self, lang: Language) -> tuple[str, str]:
        step = self._step
        if step is Step.WORKING:
            return text("cap_working_heading", lang), ""
        if step is Step.REVIEW:
            use, retake = text("cap_use_page", lang), text("cap_retake", lang)
            return (
                text("cap_check_heading", lang),
                text("cap_check_detail", lang, use=use, retake=retake),
            )
        if step is Step.KEPT:
            nxt = text(self._next_key(), lang)
            if self._counted:
                detail = text("cap_kept_detail", lang, next=nxt)
            else:
                more = text("cap_more_pages", lang)
                detail = text("cap_kept_more_detail", lang, more=more, next=nxt)
            return text("cap_kept_heading", lang), detail
        detail = text("cap_place_detail", lang, take_now=text("cap_take_now", lang))
        if self._camera is not FeedState.LIVE or not self._seen:
            return text("cap_place_heading", lang), detail
        if self._held:
            key = "cap_again_heading" if self._after_retake else "cap_next_heading"
            return text(key, lang), detail
        return text("cap_hold_heading", lang), detail

    def _photo_texts(self, lang: Language) -> tuple[str, str]:
        step = self._step
        if step is Step.WORKING:
            return text("cap_checking_heading", lang), ""
        if step is Step.REVIEW:
            use, retake = text("cap_use_photo", lang), text("cap_retake", lang)
            return (
                text("cap_photo_check_heading", lang),
                text("cap_photo_check_detail", lang, use=use, retake=retake),
            )
        take = text("cap_take_photo", lang)
        return text("cap_photo_heading", lang), text("cap_photo_detail", lang, take=take)

    def _progress_text(self, lang: Language) -> str:
        if self._mode is Mode.PHOTO:
            return text("cap_photo_progress", lang)
        if self._mode is not Mode.PAGES:
            return ""
        number, count = self._slot + 1, len(self._labels)
        if self._counted:
            return text("cap_page_progress", lang, number=number, count=count)
        label = self._labels[self._slot]
        return text("cap_material_progress", lang, number=number, count=count, label=label)

    def _checklist_text(self, lang: Language) -> str:
        if self._mode is not Mode.PAGES or self._counted or len(self._labels) < 2:
            return ""
        lines = []
        for index, label in enumerate(self._labels):
            pages = sum(1 for slot, _ in self._pages if slot == index)
            fields: dict[str, Any] = {"number": index + 1, "label": label, "pages": pages}
            if index == self._slot:
                key = "cap_line_now_taken" if pages else "cap_line_now"
            elif index < self._slot:
                key = "cap_line_taken"
            else:
                key = "cap_line_waiting"
            lines.append(text(key, lang, **fields))
        return "\n".join(lines)

    def _notice_text(self, lang: Language) -> str:
        if self._mode is Mode.IDLE:
            return ""
        if self._step is Step.LIVE and self._camera is FeedState.AWAY:
            key = "cap_camera_down" if self._mode is Mode.PHOTO else "cap_document_camera_down"
            return text(key, lang)
        return "" if self._notice is None else self._notice(lang)
