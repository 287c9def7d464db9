"""The cameras: the latest-frame slot, every frame source, the camera service that outlives
unplugged cameras and stalled readers, the settings, and `kiosk camera list/snapshot`.

Nothing here bounds wall-clock time: waits are generous and only counts and sequence
numbers are asserted. Simulators run small and fast (160×120 or 320×240, hundreds of fps).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest

from kiosk.config import CameraSettings, DeviceBackend, SceneName, load_settings
from kiosk.devices.backoff import Backoff
from kiosk.devices.camera.errors import CameraLost, CameraUnavailable, NoFrame
from kiosk.devices.camera.frames import LatestFrame
from kiosk.devices.camera.scene import SceneKind
from kiosk.devices.camera.service import (
    CameraEvent,
    CameraEventKind,
    CameraService,
    CameraState,
    snapshot,
)
from kiosk.devices.camera.sources import (
    FrameSource,
    ImageFolderSource,
    OpenCvSource,
    SyntheticSource,
    VideoFileSource,
    as_bgr,
    open_source,
)
from kiosk.devices.camera.v4l import list_video_devices

SMALL = (160, 120)
WAIT = 20.0  # seconds a test waits for something that should happen at once


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def make_video(path: Path, frames: int = 6, size: tuple[int, int] = SMALL, fps: float = 25) -> Path:
    """An MJPG .avi whose frame i is a flat grey of brightness 30 + 30·i."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 30 + 30 * i, np.uint8))
    writer.release()
    return path


def brightness(image: np.ndarray) -> int:
    return round(float(image.mean()) / 30) * 30


def write_image(path: Path, value: int, channels: int = 3) -> None:
    shape = (SMALL[1], SMALL[0]) if channels == 1 else (SMALL[1], SMALL[0], channels)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))


class Events:
    """Records a service's events (called on the service's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[CameraEvent] = []

    def __call__(self, event: CameraEvent) -> None:
        with self._lock:
            self.items.append(event)

    def kinds(self) -> list[CameraEventKind]:
        with self._lock:
            return [event.kind for event in self.items]

    def wait_for(self, kind: CameraEventKind, count: int = 1) -> None:
        wait_until(lambda: self.kinds().count(kind) >= count, f"{count} × {kind.value}")


@pytest.fixture
def services() -> Iterator[list[CameraService]]:
    """Services a test starts; all are stopped afterwards, whatever happened."""
    started: list[CameraService] = []
    yield started
    for service in started:
        service.stop()


def start(
    services: list[CameraService],
    factory: Callable[[], FrameSource],
    on_event: Callable[[CameraEvent], None] | None = None,
    **options: object,
) -> CameraService:
    service = CameraService("camera", factory, on_event, backoff=Backoff(0.01, 0.05), **options)
    services.append(service)
    service.start()
    return service


def newer_frames(service: CameraService, count: int) -> list[int]:
    """The sequence numbers of `count` frames, each newer than the one before."""
    seen = 0 if (latest := service.frames.latest()) is None else latest.seq
    seqs = []
    for _ in range(count):
        frame = service.frames.wait_newer(seen, timeout=WAIT)
        assert frame is not None, "frames stopped coming"
        seqs.append(seen := frame.seq)
    return seqs


# -- the latest-frame slot ---------------------------------------------------------------


def test_the_slot_holds_only_the_newest_frame_read_only() -> None:
    slot = LatestFrame()
    assert slot.latest() is None
    for value in (1, 2, 3):
        slot.put(np.full((4, 6, 3), value, np.uint8))
    frame = slot.latest()
    assert frame is not None and frame.seq == 3 and frame.size == (6, 4)
    assert int(frame.image[0, 0, 0]) == 3
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0, 0] = 9
    assert slot.wait_newer(3, timeout=0.01) is None
    assert slot.wait_newer(2, timeout=0) is frame


def test_wait_newer_wakes_when_a_newer_frame_comes() -> None:
    slot = LatestFrame()
    slot.put(np.zeros((2, 2, 3), np.uint8))
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(slot.wait_newer(1, timeout=WAIT).seq))
    waiter.start()
    slot.put(np.ones((2, 2, 3), np.uint8))
    waiter.join(WAIT)
    assert got == [2]


def test_many_readers_each_see_newer_frames_and_the_writer_never_waits() -> None:
    slot = LatestFrame()
    last = 300
    seen: dict[int, list[int]] = {}

    def reader(number: int) -> None:
        seqs = seen.setdefault(number, [])
        while not seqs or seqs[-1] < last:
            frame = slot.wait_newer(seqs[-1] if seqs else 0, timeout=WAIT)
            assert frame is not None
            seqs.append(frame.seq)

    readers = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for thread in readers:
        thread.start()
    for _ in range(last):
        slot.put(np.zeros((2, 2, 3), np.uint8))
    for thread in readers:
        thread.join(WAIT)
    assert len(seen) == 8
    for seqs in seen.values():
        assert seqs == sorted(set(seqs)) and seqs[-1] == last


# -- the sources -------------------------------------------------------------------------


def test_a_video_file_plays_at_its_rate_and_loops(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", frames=6, fps=25)
    at_its_rate = VideoFileSource(video)
    at_its_rate.open()
    assert at_its_rate.fps == 25 and at_its_rate.paced
    at_its_rate.close()

    source = VideoFileSource(video, fps=1000)
    source.open()
    frames = [source.read() for _ in range(14)]
    source.close()
    assert all(frame.shape == (120, 160, 3) and frame.dtype == np.uint8 for frame in frames)
    values = [brightness(frame) for frame in frames]
    assert values[:6] == [30, 60, 90, 120, 150, 180]
    assert values[6:12] == values[:6] and values[12:] == values[:2]


def test_a_video_without_loop_ends_with_camera_lost(tmp_path: Path) -> None:
    source = VideoFileSource(make_video(tmp_path / "clip.avi", frames=3), fps=1000, loop=False)
    source.open()
    for _ in range(3):
        source.read()
    with pytest.raises(CameraLost, match="ended"):
        source.read()


def test_a_missing_or_broken_video_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no video file"):
        VideoFileSource(tmp_path / "nothing.avi").open()
    with pytest.raises(CameraLost, match="not open"):
        VideoFileSource(tmp_path / "nothing.avi").read()
    broken = tmp_path / "broken.avi"
    broken.write_bytes(os.urandom(5000))
    with pytest.raises(CameraUnavailable, match="not a video"):
        VideoFileSource(broken).open()


def test_a_video_file_deleted_while_playing_is_lost_at_the_loop(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", frames=4)
    source = VideoFileSource(video, fps=1000)
    source.open()
    source.read()
    video.unlink()
    with pytest.raises(CameraLost, match="no video file"):
        for _ in range(10):
            source.read()
    source.close()
    with pytest.raises(CameraUnavailable):
        source.open()


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """a.jpg (colour), b.png (grey), c.png (corrupt), notes.txt."""
    folder = tmp_path / "pages"
    folder.mkdir()
    write_image(folder / "a.jpg", 60)
    write_image(folder / "b.png", 120, channels=1)
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    (folder / "notes.txt").write_text("not a picture", encoding="utf-8")
    return folder


def test_an_image_folder_cycles_its_images_and_skips_a_broken_one_with_one_warning(
    pages: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = ImageFolderSource(pages, fps=1000)
    source.open()
    with caplog.at_level(logging.WARNING, logger="kiosk.devices.camera.sources"):
        frames = [source.read() for _ in range(6)]
    assert [brightness(frame) for frame in frames] == [60, 120] * 3
    assert all(frame.shape == (120, 160, 3) for frame in frames)
    warnings = [record.getMessage() for record in caplog.records if "c.png" in record.getMessage()]
    assert len(warnings) == 1 and str(pages / "c.png") in warnings[0]


def test_an_image_folder_holds_each_image(pages: Path) -> None:
    source = ImageFolderSource(pages, fps=1000, hold_s=0.003)
    source.open()
    assert [brightness(source.read()) for _ in range(7)] == [60, 60, 60, 120, 120, 120, 60]


def test_a_missing_empty_or_unreadable_folder_gives_no_frames(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="no image folder"):
        ImageFolderSource(tmp_path / "nope").open()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CameraUnavailable, match="no images"):
        ImageFolderSource(tmp_path / "empty").open()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"not a jpeg")
    source = ImageFolderSource(tmp_path / "bad", fps=1000)
    source.open()
    with pytest.raises(CameraLost, match="can be read"):
        source.read()


def test_the_real_backend_reads_a_video_file_path(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", frames=4)
    source = OpenCvSource(str(video), 640, 480, None)
    assert not source.paced  # a file is decoded as fast as asked; the service paces it
    source.open()
    values = [brightness(source.read()) for _ in range(4)]
    assert values == [30, 60, 90, 120]
    with pytest.raises(CameraLost, match="stopped giving frames"):
        source.read()
    source.close()
    with pytest.raises(CameraLost, match="not open"):
        source.read()
    with pytest.raises(CameraUnavailable, match="no such device"):
        OpenCvSource(str(tmp_path / "video9"), 640, 480, 15).open()


def test_the_real_backend_takes_an_index_or_a_path() -> None:
    assert OpenCvSource("0", 640, 480).device == 0
    assert OpenCvSource(2, 640, 480).paced
    masked = OpenCvSource("rtsp://admin:s3cret@10.0.0.5/live", 640, 480).describe()
    assert "s3cret" not in masked and "admin" not in masked and "10.0.0.5/live" in masked


def test_frames_are_made_bgr_or_refused() -> None:
    grey = np.full((4, 5), 7, np.uint8)
    assert as_bgr(grey).shape == (4, 5, 3) and int(as_bgr(grey)[0, 0, 2]) == 7
    assert as_bgr(grey[:, :, None]).shape == (4, 5, 3)
    assert as_bgr(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    colour = np.zeros((4, 5, 3), np.uint8)
    assert as_bgr(colour) is colour
    for bad in (None, np.zeros((0, 5, 3), np.uint8), np.zeros((4, 5, 3), np.uint16),
                np.zeros((4, 5, 2), np.uint8), np.zeros(5, np.uint8)):
        with pytest.raises(CameraLost):
            as_bgr(bad)


def test_synthetic_scenes_cycle_with_fresh_noise_and_repeat_for_a_seed() -> None:
    def source() -> SyntheticSource:
        made = SyntheticSource(["card", "page"], size=SMALL, fps=1000, hold_s=0.003, seed=7)
        made.open()
        return made

    first, second = source(), source()
    kinds = []
    frames = []
    for _ in range(7):
        frames.append(first.read())
        assert first.current is not None
        kinds.append(first.current[0])
        assert np.array_equal(frames[-1], second.read())
    assert kinds == [SceneKind.CARD] * 3 + [SceneKind.PAGE] * 3 + [SceneKind.CARD]
    assert all(frame.shape == (120, 160, 3) and frame.dtype == np.uint8 for frame in frames)
    assert not np.array_equal(frames[0], frames[1])  # the noise is fresh each frame
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() < 10
    assert first.current[1].kind is SceneKind.CARD


@pytest.fixture(params=["synthetic", "video", "images"])
def simulator(request: pytest.FixtureRequest, tmp_path: Path, pages: Path) -> FrameSource:
    if request.param == "synthetic":
        return SyntheticSource(["empty"], size=SMALL, fps=500)
    if request.param == "video":
        return VideoFileSource(make_video(tmp_path / "clip.avi"), fps=500)
    return ImageFolderSource(pages, fps=500)


def test_a_simulator_unplugged_stops_until_replugged_and_reopened(simulator: FrameSource) -> None:
    assert isinstance(simulator, FrameSource) and simulator.paced
    simulator.open()
    simulator.read()
    simulator.unplug()  # type: ignore[attr-defined]
    with pytest.raises(CameraLost, match="unplugged"):
        simulator.read()
    simulator.close()
    with pytest.raises(CameraUnavailable, match="unplugged"):
        simulator.open()
    simulator.replug()  # type: ignore[attr-defined]
    with pytest.raises(CameraLost, match="not open"):
        simulator.read()
    simulator.open()
    assert simulator.read().shape == (120, 160, 3)
    simulator.close()


def test_the_settings_choose_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_ASSETS_DIR", str(tmp_path))
    settings = load_settings(
        tmp_path,
        env={
            "KIOSK_CAMERA__SIMULATOR": "video",
            "KIOSK_CAMERA__SIMULATOR_PATH": "clips/desk.avi",
            "KIOSK_DOCUMENT_CAMERA__SIMULATOR": "images",
            "KIOSK_DOCUMENT_CAMERA__SIMULATOR_PATH": str(tmp_path / "pages"),
        },
    )
    video = open_source(settings.camera, DeviceBackend.SIMULATOR)
    assert isinstance(video, VideoFileSource) and video.path == tmp_path / "clips" / "desk.avi"
    images = open_source(settings.document_camera, "simulator")
    assert isinstance(images, ImageFolderSource) and images.path == tmp_path / "pages"
    real = open_source(settings.document_camera, DeviceBackend.REAL)
    assert isinstance(real, OpenCvSource) and real.device == 1
    assert (real.width, real.height) == (1920, 1080)
    synthetic = open_source(load_settings(tmp_path, env={}).camera, "simulator")
    assert isinstance(synthetic, SyntheticSource)
    assert synthetic.kinds == (SceneKind.FACE, SceneKind.CARD, SceneKind.VOUCHER, SceneKind.EMPTY)


def test_video_devices_are_listed_with_names_and_stable_links(tmp_path: Path) -> None:
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    (dev / "v4l" / "by-id").mkdir(parents=True)
    for index, name in ((0, "HD Webcam"), (1, "HD Webcam"), (10, "Document Camera")):
        (dev / f"video{index}").write_bytes(b"")
        (sysfs / f"video{index}").mkdir(parents=True)
        (sysfs / f"video{index}" / "name").write_text(name + "\n", encoding="utf-8")
    (dev / "videoX").write_bytes(b"")
    (dev / "v4l" / "by-id" / "usb-Cam-video-index0").symlink_to(dev / "video0")
    found = list_video_devices(dev, sysfs)
    assert [(d.index, d.name) for d in found] == [
        (0, "HD Webcam"), (1, "HD Webcam"), (10, "Document Camera")
    ]
    assert found[0].stable_path == str(dev / "v4l" / "by-id" / "usb-Cam-video-index0")
    assert found[1].stable_path is None
    assert all(d.captures is None for d in found)  # plain files cannot be asked
    assert "HD Webcam" in found[0].describe()
    assert list_video_devices(tmp_path / "none", sysfs) == []


# -- the settings ------------------------------------------------------------------------


def test_camera_settings_have_defaults_per_camera(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    camera, document = settings.camera, settings.document_camera
    assert (camera.device, camera.width, camera.height) == ("0", 1280, 720)
    assert camera.scenes == ("face", "card", "voucher", "empty")
    assert (document.device, document.width, document.height) == ("1", 1920, 1080)
    assert document.scenes == ("page",)
    assert isinstance(document, CameraSettings) and camera.simulator == "synthetic"


def test_a_document_camera_table_keeps_its_own_defaults(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[document_camera]\nwidth = 2592\nheight = 1944\n', encoding="utf-8"
    )
    document = load_settings(tmp_path, env={"KIOSK_CAMERA__SCENES": "qr, face"}).document_camera
    assert (document.device, document.width, document.scenes) == ("1", 2592, ("page",))
    assert load_settings(tmp_path, env={"KIOSK_CAMERA__SCENES": "qr, face"}).camera.scenes == (
        "qr", "face"
    )


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("[camera]\nwidth = 100\n", "line 2: camera.width"),
        ('[camera]\nscenes = ["face", "dog"]\n', "line 2: camera.scenes"),
        ("[document_camera]\nfps = 0\n", "line 2: document_camera.fps"),
        ('[camera]\nsimulator = "video"\n', "camera.simulator_path"),
        ("[camera]\nscenes = []\n", "camera.scenes"),
    ],
)
def test_bad_camera_settings_name_the_key(tmp_path: Path, content: str, where: str) -> None:
    from kiosk.errors import SettingsError

    (tmp_path / "kiosk.toml").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=where.replace(".", r"\.")):
        load_settings(tmp_path, env={})


def test_the_settings_know_every_scene() -> None:
    assert set(get_args(SceneName)) == {kind.value for kind in SceneKind}


# -- the camera service ------------------------------------------------------------------


def test_an_unplugged_camera_is_reported_lost_and_reopened(services: list[CameraService]) -> None:
    source = SyntheticSource(["card"], size=SMALL, fps=300, hold_s=60)
    events = Events()
    service = start(services, lambda: source, events)
    events.wait_for(CameraEventKind.UP)
    before = newer_frames(service, 3)
    health = service.health()
    assert health.state is CameraState.RUNNING and health.frames >= 3
    assert health.source.startswith("synthetic") and health.reopens == 0

    source.unplug()
    events.wait_for(CameraEventKind.LOST)
    wait_until(lambda: service.health().state is CameraState.LOST, "the lost state")
    assert service.health().last_error == "CameraLost"
    source.replug()
    events.wait_for(CameraEventKind.REOPENED)
    after = newer_frames(service, 5)
    assert after[0] > before[-1]  # one sequence across the outage
    health = service.health()
    assert health.state is CameraState.RUNNING and health.reopens == 1
    assert health.frame_age is not None and health.fps > 0
    assert events.kinds() == [CameraEventKind.UP, CameraEventKind.LOST, CameraEventKind.REOPENED]
    lost = events.items[1]
    assert lost.error is not None and lost.error.resident_message("en")

    service.stop()
    assert not service.alive
    assert events.kinds()[-1] is CameraEventKind.STOPPED
    assert service.health().state is CameraState.STOPPED


def test_a_video_file_that_appears_later_is_opened(
    services: list[CameraService], tmp_path: Path
) -> None:
    path = tmp_path / "late.avi"
    attempts = []

    def factory() -> FrameSource:
        attempts.append(1)
        return VideoFileSource(path, fps=300)

    events = Events()
    service = start(services, factory, events)
    events.wait_for(CameraEventKind.DOWN)
    wait_until(lambda: len(attempts) >= 4, "a few attempts to open it")
    assert service.health().state is CameraState.LOST
    assert service.health().last_error == "CameraUnavailable"
    make_video(tmp_path / "writing.avi").rename(path)  # whole, at once
    events.wait_for(CameraEventKind.UP)
    newer_frames(service, 5)
    assert events.kinds()[:2] == [CameraEventKind.DOWN, CameraEventKind.UP]
    assert service.health().reopens == 0


def test_a_video_file_through_the_real_backend_plays_again_at_its_end(
    services: list[CameraService], tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.avi", frames=3)
    events = Events()
    service = start(services, lambda: OpenCvSource(str(video), 160, 120), events, unpaced_fps=300)
    events.wait_for(CameraEventKind.REOPENED, count=2)
    assert service.health().reopens >= 2 and service.health().frames >= 3 + 3 + 1


def test_a_stalled_reader_holds_back_neither_the_camera_nor_other_readers(
    services: list[CameraService],
) -> None:
    service = start(services, lambda: SyntheticSource(["voucher"], size=SMALL, fps=300))
    holding, release = threading.Event(), threading.Event()
    held: list[tuple[int, np.ndarray, np.ndarray]] = []

    def stalled_reader() -> None:
        frame = service.frames.wait_newer(0, timeout=WAIT)
        assert frame is not None
        held.append((frame.seq, frame.image, frame.image.copy()))
        holding.set()
        release.wait(WAIT)  # sits on its frame

    stalled = threading.Thread(target=stalled_reader)
    stalled.start()
    assert holding.wait(WAIT)
    seqs = newer_frames(service, 20)
    assert seqs == sorted(set(seqs)) and seqs[0] > held[0][0]
    captured = service.health().frames
    wait_until(lambda: service.health().frames > captured + 10, "the camera to keep capturing")
    _, image, copy = held[0]
    assert np.array_equal(image, copy) and not image.flags.writeable
    release.set()
    stalled.join(WAIT)


def test_a_listener_that_raises_does_not_stop_the_service(
    services: list[CameraService], caplog: pytest.LogCaptureFixture
) -> None:
    source = SyntheticSource(["qr"], size=SMALL, fps=300)
    calls: list[CameraEventKind] = []

    def listener(event: CameraEvent) -> None:
        calls.append(event.kind)
        raise RuntimeError("listener broke")

    with caplog.at_level(logging.ERROR, logger="kiosk.devices.camera.service"):
        service = start(services, lambda: source, listener)
        wait_until(lambda: CameraEventKind.UP in calls, "up")
        source.unplug()
        wait_until(lambda: CameraEventKind.LOST in calls, "lost")
        source.replug()
        wait_until(lambda: service.health().reopens == 1, "the reopening")
        newer_frames(service, 5)
    assert service.alive
    assert sum("listener failed" in record.getMessage() for record in caplog.records) >= 3


class _FailsOnce:
    """A source whose third read of its first opening fails in a way nobody expected."""

    paced = True

    def __init__(self) -> None:
        self.opens = 0
        self.reads = 0
        self.closes = 0

    def describe(self) -> str:
        return "a source that fails once"

    def open(self) -> None:
        self.opens += 1
        self.reads = 0

    def read(self) -> np.ndarray:
        time.sleep(0.002)
        self.reads += 1
        if self.opens == 1 and self.reads == 3:
            raise ZeroDivisionError("a bug")
        return np.zeros((8, 8, 3), np.uint8)

    def close(self) -> None:
        self.closes += 1


def test_an_unexpected_failure_is_logged_and_the_camera_reopened(
    services: list[CameraService], caplog: pytest.LogCaptureFixture
) -> None:
    source = _FailsOnce()
    events = Events()
    with caplog.at_level(logging.ERROR, logger="kiosk.devices.camera.service"):
        service = start(services, lambda: source, events)
        events.wait_for(CameraEventKind.REOPENED)
    assert events.kinds()[:3] == [
        CameraEventKind.UP, CameraEventKind.LOST, CameraEventKind.REOPENED
    ]
    assert "ZeroDivisionError" in (service.health().last_error_message or "")
    assert source.opens == 2 and source.closes >= 1
    assert any(record.exc_info for record in caplog.records)


def test_stop_ends_the_service_while_it_waits_to_reopen(tmp_path: Path) -> None:
    events = Events()
    service = CameraService(
        "document_camera",
        lambda: VideoFileSource(tmp_path / "never.avi"),
        events,
        backoff=Backoff(600, 600),
    )
    service.start()
    events.wait_for(CameraEventKind.DOWN)
    service.stop(timeout=WAIT)
    assert not service.alive
    assert events.kinds() == [CameraEventKind.DOWN, CameraEventKind.STOPPED]
    health = service.health()
    assert health.state is CameraState.STOPPED and health.frames == 0 and health.fps == 0
    assert health.frame_age is None and health.as_json()["last_error"] == "CameraUnavailable"


def test_snapshot_from_a_service_or_a_source(
    services: list[CameraService], tmp_path: Path
) -> None:
    service = start(services, lambda: SyntheticSource(["face"], size=SMALL, fps=300))
    newer_frames(service, 1)
    seen = service.frames.latest()
    assert seen is not None
    picture = snapshot(service, timeout=WAIT, settle_frames=2)
    assert picture.shape == (120, 160, 3)
    latest = service.frames.latest()
    assert latest is not None and latest.seq >= seen.seq + 3

    source = SyntheticSource(["page"], size=SMALL, fps=300)
    assert snapshot(source, timeout=WAIT, settle_frames=1).shape == (120, 160, 3)
    with pytest.raises(CameraLost, match="not open"):
        source.read()  # snapshot closed it
    source.unplug()
    with pytest.raises(CameraUnavailable):
        snapshot(source, timeout=WAIT)
    with pytest.raises(NoFrame, match="not running"):
        snapshot(CameraService("camera", lambda: source), timeout=WAIT)


def test_snapshot_gives_up_on_a_camera_that_gives_nothing() -> None:
    release = threading.Event()

    class Silent(_FailsOnce):
        def read(self) -> np.ndarray:
            release.wait(WAIT)
            return super().read()

    try:
        with pytest.raises(NoFrame, match="gave no frame"):
            snapshot(Silent(), timeout=0.05)
    finally:
        release.set()


# -- kiosk camera ------------------------------------------------------------------------

SIMULATED = {
    "KIOSK_CONFIG": "",
    "KIOSK_DEVICES__CAMERA": "simulator",
    "KIOSK_DEVICES__DOCUMENT_CAMERA": "simulator",
    "KIOSK_CAMERA__WIDTH": "320",
    "KIOSK_CAMERA__HEIGHT": "240",
    "KIOSK_CAMERA__FPS": "60",
    "KIOSK_DOCUMENT_CAMERA__WIDTH": "320",
    "KIOSK_DOCUMENT_CAMERA__HEIGHT": "240",
    "KIOSK_DOCUMENT_CAMERA__FPS": "60",
}


def kiosk(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), "camera", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **SIMULATED, **env},
        check=False,
    )


def test_camera_list_says_what_each_camera_gives(data_dir: Path) -> None:
    result = kiosk(data_dir, "list", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [camera["name"] for camera in report["cameras"]] == ["camera", "document_camera"]
    for camera in report["cameras"]:
        assert camera["backend"] == "simulator" and camera["source"].startswith("synthetic")
        assert camera["gives_frames"] and (camera["width"], camera["height"]) == (320, 240)
    assert isinstance(report["video_devices"], list)
    text = kiosk(data_dir, "list")
    assert text.returncode == 0 and "gives frames: 320x240" in text.stdout


def test_camera_list_names_a_camera_that_gives_nothing(data_dir: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "video9")
    result = kiosk(
        data_dir, "list", "--json",
        KIOSK_DEVICES__DOCUMENT_CAMERA="real", KIOSK_DOCUMENT_CAMERA__DEVICE=missing,
    )
    assert result.returncode == 1
    camera, document = json.loads(result.stdout)["cameras"]
    assert camera["gives_frames"]
    assert not document["gives_frames"] and document["error"] == "CameraUnavailable"
    assert missing in document["message"]


def test_camera_snapshot_writes_the_picture(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "camera.png"
    result = kiosk(data_dir, "snapshot", "--out", str(out))
    assert result.returncode == 0, result.stderr
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape == (240, 320, 3)
    out = tmp_path / "page.jpg"
    result = kiosk(data_dir, "snapshot", "--device", "document_camera", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert (written["device"], written["width"], written["height"]) == ("document_camera", 320, 240)
    assert cv2.imread(str(out)).shape == (240, 320, 3)


def test_camera_snapshot_plays_the_configured_video(data_dir: Path, tmp_path: Path) -> None:
    make_video(tmp_path / "clip.avi")
    out = tmp_path / "frame.bmp"
    result = kiosk(
        data_dir, "snapshot", "--out", str(out),
        KIOSK_ASSETS_DIR=str(tmp_path), KIOSK_CAMERA__SIMULATOR="video",
        KIOSK_CAMERA__SIMULATOR_PATH="clip.avi",
    )
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out)).shape == (120, 160, 3)


def test_camera_snapshot_refuses_what_it_cannot_do(data_dir: Path, tmp_path: Path) -> None:
    unknown = kiosk(data_dir, "snapshot", "--out", str(tmp_path / "picture.xyz"))
    assert unknown.returncode == 2 and "--out" in unknown.stderr and ".xyz" in unknown.stderr
    assert not (tmp_path / "picture.xyz").exists()

    missing = str(tmp_path / "video9")
    failed = kiosk(data_dir, "snapshot", "--device", missing, "--out", str(tmp_path / "x.png"))
    assert failed.returncode == 1
    assert f"error: cannot open camera {missing}" in failed.stderr
    assert "what to do:" in failed.stderr
    as_json = kiosk(
        data_dir, "snapshot", "--device", missing, "--out", str(tmp_path / "x.png"), "--json"
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"] == "CameraUnavailable"

    nowhere = kiosk(data_dir, "snapshot", "--out", str(tmp_path / "no" / "such" / "x.png"))
    assert nowhere.returncode == 1 and "cannot write" in nowhere.stderr
