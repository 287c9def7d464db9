"""The capture screen driven the way a resident uses it, with the simulated cameras: the
document camera's synthetic pages are taken by themselves, checked, used or retaken; the
camera's synthetic face gives a photo that passes the face check and an empty scene gets
"no face"; the idle wipe leaves no picture behind; a camera that goes away gets a calm
message. Then every state against the ageing-friendly floor at both screen sizes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kiosk.config import CameraSettings, DeviceBackend, DeviceSettings, Settings
from kiosk.devices.camera.frames import Frame
from kiosk.devices.camera.scene import render
from kiosk.devices.camera.service import CameraService
from kiosk.devices.camera.sources import open_source
from kiosk.devices.vision.faces import PhotoVerdict, check_photo
from kiosk.ui import theme
from kiosk.ui.fonts import load_font
from kiosk.ui.screens.capture import (
    PAGE_MEDIA_TYPE,
    CapturedPage,
    CaptureScreen,
    FeedState,
    Mode,
    Step,
    take_photo,
)
from kiosk.ui.strings import LANGUAGES, Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button
from tests.ui.kit import tap
from tests.ui.test_ageing_floor import floor_problems

SIZES = [(1920, 1080), (1366, 768)]
CAPTURE_WAIT_MS = 60_000  # the simulated cameras on a slow machine, several tries


class Host(QMainWindow):
    """The capture screen in a stack under a bar as tall as the kiosk window's top bar,
    as the kiosk window holds its screens."""

    def __init__(self, screen: CaptureScreen, large_text: bool) -> None:
        super().__init__()
        self.screen = screen
        bar = QWidget()
        bar.setObjectName("topBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        bar_layout = QHBoxLayout(bar)
        margin = theme.SPACING_PX
        bar_layout.setContentsMargins(theme.PAGE_MARGIN_PX, margin, theme.PAGE_MARGIN_PX, margin)
        name = WrappedLabel(TextRole.SUBHEADING)
        name.set_plain_text("示例街道家门口服务站")
        home = button(ButtonKind.TOP_BAR)
        home.setText("首页")
        bar_layout.addWidget(name, 1)
        bar_layout.addWidget(home)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.stack = QStackedWidget()
        self.stack.addWidget(screen)
        layout.addWidget(bar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.setMinimumSize(*theme.SMALLEST_WINDOW_PX)
        self.setStyleSheet(theme.style_sheet(large_text))


MakeScreen = Callable[..., CaptureScreen]


@pytest.fixture
def make_screen(qtbot: QtBot, tasks: TaskManager) -> Iterator[MakeScreen]:
    hosts: list[Host] = []

    def make(
        *,
        size: tuple[int, int] = SIZES[1],
        large_text: bool = False,
        lang: Language = "zh",
        stale_after_s: float = 2.0,
    ) -> CaptureScreen:
        assert load_font()
        screen = CaptureScreen(tasks, stale_after_s=stale_after_s)
        screen.retranslate(lang)
        host = Host(screen, large_text)
        qtbot.addWidget(host)
        host.resize(*size)
        host.show()
        qtbot.waitExposed(host)
        hosts.append(host)
        return screen

    yield make
    for host in hosts:
        host.screen.stop()


@pytest.fixture
def services() -> Iterator[list[CameraService]]:
    started: list[CameraService] = []
    yield started
    for service in started:
        service.stop()


def document_camera(services: list[CameraService]) -> CameraService:
    """The simulated document camera, built as `kiosk camera` builds it from the settings."""
    settings = Settings(devices=DeviceSettings(document_camera=DeviceBackend.SIMULATOR))
    service = CameraService(
        "document_camera",
        lambda: open_source(settings.document_camera, settings.devices.document_camera),
    )
    services.append(service)
    service.start()
    return service


def camera(services: list[CameraService], scene: str) -> CameraService:
    """The simulated camera showing only `scene`."""
    settings = Settings(
        devices=DeviceSettings(camera=DeviceBackend.SIMULATOR),
        camera=CameraSettings(scenes=(scene,), hold_s=1.0),
    )
    service = CameraService("camera", lambda: open_source(settings.camera, settings.devices.camera))
    services.append(service)
    service.start()
    return service


class StillCamera:
    """A frame slot that always has a new frame of one picture, or none at all."""

    def __init__(self, image: np.ndarray | None) -> None:
        self.image = image
        self._seq = 0

    def latest(self) -> Frame | None:
        if self.image is None:
            return None
        self._seq += 1
        return Frame(self.image, self._seq, time.monotonic())


def still(kind: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    image, _ = render(kind, seed=seed, size=size)
    image.flags.writeable = False
    return image


def good_face() -> np.ndarray:
    """A synthetic face scene whose framed portrait passes the face check."""
    for seed in range(40):
        image = still("face", seed, (1280, 720))
        if take_photo(image).shot is not None:
            return image
    raise AssertionError("no synthetic face scene frames a usable portrait")



def wait_for_step(qtbot: QtBot, screen: CaptureScreen, step: Step) -> None:
    qtbot.waitUntil(lambda: screen.step is step, timeout=CAPTURE_WAIT_MS)


def decoded(content: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def shown_pictures(screen: CaptureScreen) -> list[QLabel]:
    return [label for label in screen.findChildren(QLabel) if not label.pixmap().isNull()]


# -- pages -------------------------------------------------------------------------------


def test_a_page_held_still_is_taken_and_used(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = document_camera(services)
    screen = make_screen()
    screen.begin_pages(service.frames, ["户口簿"])
    assert screen.heading.plain_text == text("cap_place_heading", "zh")
    assert "户口簿" in screen.progress.plain_text
    qtbot.waitUntil(lambda: screen.view.has_image, timeout=CAPTURE_WAIT_MS)

    wait_for_step(qtbot, screen, Step.REVIEW)
    assert screen.heading.plain_text == text("cap_check_heading", "zh")
    assert screen.view.has_image
    tap(qtbot, screen.use_button)
    assert screen.step is Step.KEPT
    assert screen.next_button.text() == text("cap_done", "zh")
    assert screen.more_button.isVisible()
    with qtbot.waitSignal(screen.pages_done) as done:
        tap(qtbot, screen.next_button)

    pages = done.args[0]
    assert len(pages) == 1
    page = pages[0]
    assert isinstance(page, CapturedPage)
    assert (page.media_type, page.label) == (PAGE_MEDIA_TYPE, "户口簿")
    image = decoded(page.content)
    height, width = image.shape[:2]
    assert height == 1754  # A4 at 150 dpi, upright
    assert 1100 < width < 1400
    assert image.ndim == 2 or np.ptp(image.astype(int), axis=2).max() < 8  # cleaned: grey
    assert screen.mode is Mode.IDLE
    assert not screen.holds_images
    assert shown_pictures(screen) == []


def test_retake_discards_the_page(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = document_camera(services)
    screen = make_screen()
    screen.begin_pages(service.frames, 1)
    wait_for_step(qtbot, screen, Step.REVIEW)

    tap(qtbot, screen.retake_button)
    assert screen.step is Step.LIVE
    assert not screen.retake_button.isVisible()
    assert screen.take_now_button.isVisible()
    qtbot.waitUntil(lambda: screen.take_now_button.isEnabled(), timeout=CAPTURE_WAIT_MS)
    tap(qtbot, screen.take_now_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    assert not screen.more_button.isVisible()  # a number of pages was asked for
    with qtbot.waitSignal(screen.pages_done) as done:
        tap(qtbot, screen.next_button)
    assert len(done.args[0]) == 1
    assert done.args[0][0].label == ""


def test_pages_of_several_materials(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = document_camera(services)
    screen = make_screen(lang="en")
    screen.begin_pages(service.frames, ["Household register", "Proof of income"])
    assert screen.progress.plain_text == "Material 1 of 2: Household register"
    assert "2. Proof of income: not yet" in screen.checklist.plain_text
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    assert screen.next_button.text() == "Next material"

    tap(qtbot, screen.more_button)  # a second page of the household register
    assert screen.step is Step.LIVE
    qtbot.waitUntil(lambda: screen.take_now_button.isEnabled(), timeout=CAPTURE_WAIT_MS)
    tap(qtbot, screen.take_now_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    assert "pages taken: 2" in screen.checklist.plain_text

    tap(qtbot, screen.next_button)
    assert screen.progress.plain_text == "Material 2 of 2: Proof of income"
    wait_for_step(qtbot, screen, Step.REVIEW)  # the next page the simulator puts down
    tap(qtbot, screen.use_button)
    assert screen.next_button.text() == "Done"
    with qtbot.waitSignal(screen.pages_done) as done:
        tap(qtbot, screen.next_button)
    labels = [page.label for page in done.args[0]]
    assert labels == ["Household register", "Household register", "Proof of income"]


def test_take_it_now_takes_the_whole_picture_without_a_page(
    qtbot: QtBot, make_screen: MakeScreen
) -> None:
    desk = still("empty", 3, (1920, 1080))
    screen = make_screen()
    screen.begin_pages(StillCamera(desk), 1)
    qtbot.waitUntil(lambda: screen.take_now_button.isEnabled())
    tap(qtbot, screen.take_now_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    with qtbot.waitSignal(screen.pages_done) as done:
        tap(qtbot, screen.next_button)
    assert decoded(done.args[0][0].content).shape == desk.shape


def test_back_cancels_and_drops_the_pages(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen()
    screen.begin_pages(StillCamera(still("page", 0, (1920, 1080))), ["A", "B"])
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    with qtbot.waitSignal(screen.cancelled), qtbot.assertNotEmitted(screen.pages_done):
        tap(qtbot, screen.back_button)
    assert not screen.holds_images
    assert shown_pictures(screen) == []


# -- photo -------------------------------------------------------------------------------


def test_a_face_gives_a_photo_that_passes_the_check(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = camera(services, "face")
    screen = make_screen()
    screen.begin_photo(service.frames)
    assert screen.heading.plain_text == text("cap_photo_heading", "zh")
    # The simulator puts the face somewhere new every second; some places frame badly
    # (the resident is told how to stand) and the resident tries again.
    for _ in range(30):
        qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled(), timeout=CAPTURE_WAIT_MS)
        tap(qtbot, screen.take_photo_button)
        qtbot.waitUntil(lambda: screen.step is not Step.WORKING, timeout=CAPTURE_WAIT_MS)
        if screen.step is Step.REVIEW:
            break
        assert screen.notice.isVisible()
        qtbot.wait(1100)  # the next place the simulator puts the face
    assert screen.step is Step.REVIEW
    assert screen.heading.plain_text == text("cap_photo_check_heading", "zh")
    assert screen.view.has_image
    with qtbot.waitSignal(screen.photo_done) as done:
        tap(qtbot, screen.use_button)
    photo = decoded(done.args[0])
    assert check_photo(photo).ok
    assert photo.shape[0] > photo.shape[1]  # a portrait
    assert not screen.holds_images


def test_no_face_is_told_and_can_try_again(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = camera(services, "empty")
    screen = make_screen()
    screen.begin_photo(service.frames)
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled(), timeout=CAPTURE_WAIT_MS)
    with qtbot.assertNotEmitted(screen.photo_done):
        tap(qtbot, screen.take_photo_button)
        qtbot.waitUntil(lambda: screen.notice.isVisible(), timeout=CAPTURE_WAIT_MS)
    no_face = PhotoVerdict("no_face", None)
    assert screen.notice.plain_text == no_face.resident_message("zh")
    assert screen.step is Step.LIVE
    screen.retranslate("en")
    assert screen.notice.plain_text == no_face.resident_message("en")
    assert screen.take_photo_button.isVisible()
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled(), timeout=CAPTURE_WAIT_MS)


def test_retaking_a_photo(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen()
    screen.begin_photo(StillCamera(good_face()))
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled())
    tap(qtbot, screen.take_photo_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.retake_button)
    assert screen.step is Step.LIVE
    assert not screen.notice.isVisible()
    tap(qtbot, screen.take_photo_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    with qtbot.waitSignal(screen.photo_done):
        tap(qtbot, screen.use_button)


# -- the idle wipe, the camera going away, touches ---------------------------------------


def test_wipe_leaves_no_picture(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen()
    screen.begin_pages(StillCamera(still("page", 0, (1920, 1080))), ["A", "B"])
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    tap(qtbot, screen.next_button)
    qtbot.waitUntil(lambda: screen.view.has_image)  # the live view of material B

    screen.wipe()
    assert screen.mode is Mode.IDLE
    assert not screen.holds_images
    assert shown_pictures(screen) == []
    assert not screen.back_button.isVisible()
    qtbot.wait(500)  # whatever was being worked on comes back and is dropped
    assert not screen.holds_images
    assert shown_pictures(screen) == []


def test_wipe_during_a_photo_check(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen()
    screen.begin_photo(StillCamera(good_face()))
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled())
    tap(qtbot, screen.take_photo_button)
    screen.wipe()
    qtbot.wait(500)
    assert screen.step is Step.LIVE
    assert screen.mode is Mode.IDLE
    assert shown_pictures(screen) == []


def test_the_camera_going_away_gets_a_calm_message(
    qtbot: QtBot, make_screen: MakeScreen, services: list[CameraService]
) -> None:
    service = document_camera(services)
    screen = make_screen()
    screen.begin_pages(service.frames, 1)
    qtbot.waitUntil(lambda: screen.feed_state is FeedState.LIVE, timeout=CAPTURE_WAIT_MS)

    service.stop()
    qtbot.waitUntil(lambda: screen.notice.isVisible(), timeout=CAPTURE_WAIT_MS)
    assert screen.notice.plain_text == text("cap_document_camera_down", "zh")
    assert screen.feed_state is FeedState.AWAY
    assert not screen.take_now_button.isEnabled()
    assert shown_pictures(screen) == []
    assert screen.view.text() == text("cap_no_picture", "zh")
    tap(qtbot, screen.back_button)  # the resident can still leave
    assert screen.mode is Mode.IDLE


def test_a_camera_that_never_gives_a_frame(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen(stale_after_s=0.3)
    screen.begin_photo(StillCamera(None))
    assert screen.view.text() == text("cap_waiting", "zh")
    qtbot.waitUntil(lambda: screen.notice.isVisible())
    assert screen.notice.plain_text == text("cap_camera_down", "zh")
    assert not screen.take_photo_button.isEnabled()


def test_touches_are_activity(qtbot: QtBot, make_screen: MakeScreen) -> None:
    screen = make_screen()
    screen.begin_pages(StillCamera(None), 1)
    with qtbot.waitSignal(screen.activity):
        tap(qtbot, screen.view)
    with qtbot.waitSignal(screen.activity):
        tap(qtbot, screen.heading)


# -- the ageing-friendly floor -----------------------------------------------------------


def every_state(qtbot: QtBot, screen: CaptureScreen, size: tuple[int, int]) -> Iterator[str]:
    page = StillCamera(still("page", 0, (1920, 1080)))
    labels = ["居民身份证（正反面）复印件", "户口簿首页及本人页", "家庭收入证明"]
    screen.begin_pages(StillCamera(None), labels)
    yield "pages, starting the camera"
    screen.stop()
    screen.begin_pages(page, labels)
    wait_for_step(qtbot, screen, Step.REVIEW)
    yield "pages, a page to check"
    tap(qtbot, screen.use_button)
    yield "pages, a page kept"
    tap(qtbot, screen.more_button)
    yield "pages, the live view"
    tap(qtbot, screen.take_now_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    tap(qtbot, screen.next_button)
    tap(qtbot, screen.take_now_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    tap(qtbot, screen.next_button)
    yield "pages, the last material"
    page.image = None
    qtbot.waitUntil(lambda: screen.notice.isVisible(), timeout=CAPTURE_WAIT_MS)
    yield "pages, the document camera away"
    screen.stop()
    screen.begin_pages(StillCamera(still("page", 0, (1920, 1080))), 2)
    wait_for_step(qtbot, screen, Step.REVIEW)
    tap(qtbot, screen.use_button)
    yield "pages, counted, a page kept"
    screen.stop()
    screen.begin_photo(StillCamera(still("empty", 1, (1280, 720))))
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled())
    yield "photo, the live view"
    tap(qtbot, screen.take_photo_button)
    qtbot.waitUntil(lambda: screen.notice.isVisible(), timeout=CAPTURE_WAIT_MS)
    yield "photo, no face"
    screen.stop()
    screen.begin_photo(StillCamera(good_face()))
    qtbot.waitUntil(lambda: screen.take_photo_button.isEnabled())
    tap(qtbot, screen.take_photo_button)
    wait_for_step(qtbot, screen, Step.REVIEW)
    yield "photo, a photo to check"
    screen.stop()


def settled(qtbot: QtBot, window: QMainWindow, size: tuple[int, int]) -> list[str]:
    problems: list[str] = []

    def fine() -> bool:
        problems[:] = floor_problems(window, size)  # type: ignore[arg-type]
        return not problems

    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(fine, timeout=1000)
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_state_meets_the_floor(
    qtbot: QtBot, make_screen: MakeScreen, size: tuple[int, int], large_text: bool
) -> None:
    problems = []
    for lang in LANGUAGES:
        screen = make_screen(size=size, large_text=large_text, lang=lang, stale_after_s=0.5)
        window = screen.window()
        assert isinstance(window, QMainWindow)
        for state in every_state(qtbot, screen, size):
            problems += [f"{lang}, {state}: {p}" for p in settled(qtbot, window, size)]
        window.close()
    assert problems == []
