"""Video call speed: glass to glass, frame rate, the kiosk's CPU and call setup, at 1280×720.

Every frame the camera puts into the kiosk's latest-frame slot
(`kiosk.devices.camera.frames.LatestFrame`) carries a stamp drawn into its pixels
(`kiosk.remote.stamp`: a 16-bit counter as a row of black and white cells): here the
counter is the wall-clock millisecond the frame was stamped (`kiosk call --stamp` does the
same). Whoever decodes the frame
reads the stamp back, so glass to glass is the time of decoding minus the stamp, with no
side channel between the processes (they share this machine's clock). Frames per second
are the distinct stamps decoded per second.

The floor: two aiortc peers in this one process passing the same frames over loopback
(host candidates, no TURN): a camera thread puts 30 stamped frames a second of the
simulated camera's scenes (fresh sensor noise on each, so the encoder has real work) into
a `LatestFrame`; the kiosk's own track (`kiosk.remote.media.CameraTrack`) hands aiortc
each new frame; the receiving peer reads the stamp off every decoded frame. Its CPU
figure is both peers (encoding and decoding) over the measured window; its call setup is
from the first offer to the first decoded frame.

The full figure: the kiosk peer in its own process (`kiosk call`, on the simulated camera
with stamps), a real `district serve`, and headless Chromium playing the agent in the
console's call page (/console/call): the page takes the call, and a script added to it
reads the stamp of each frame `requestVideoFrameCallback` reports shown on the resident's
video (drawn into a canvas), with the page's own clock. The kiosk's CPU is read from
/proc/PID/stat (user + system time over the measured window). Call setup is from the
agent's click on "take" to the first frame shown. `full_measurement` names every piece it
needs; while one is missing it says which on stderr and prints no figure for it.

Prints `video_glass_to_glass_ms` (median), `video_fps`, `video_kiosk_cpu_cores` and
`video_call_setup_ms`, each against its floor. Targets (the issue's): glass to glass
median ≤ 150 ms and within 3× the floor, ≥ 25 fps, kiosk CPU ≤ 1 core, call setup
≤ 1.5 s. Exits 1 when a target is missed or a figure could not be measured.
Options: --seconds (measured window, default 15), --floor-only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.common import report
from kiosk.devices.camera.frames import LatestFrame
from kiosk.devices.camera.scene import SceneKind, add_noise, render
from kiosk.remote import stamp

WIDTH, HEIGHT = 1280, 720
CAMERA_FPS = 30
WARMUP_S = 3.0  # the encoder's bitrate ramps up first (REMB)
TARGET_GLASS_MS = 150.0
TARGET_GLASS_RATIO = 3.0
TARGET_FPS = 25.0
TARGET_CPU_CORES = 1.0
TARGET_SETUP_MS = 1500.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class BenchFailure(RuntimeError):
    """Something the benchmark cannot go on from: said plainly, and the run fails."""


# -- the stamp --------------------------------------------------------------------------


# Both ends draw and read `stamp.clock()` (wall-clock time in 4 ms ticks, as `kiosk call
# --stamp` draws it); a frame's age is `stamp.age_ms` (half a tick is the mean error).


# The same reading in the agent's page (kiosk.remote.stamp's JavaScript): each frame the
# browser shows is drawn into a canvas and its stamp read, with the time it was shown on the
# page's clock (performance.timeOrigin + the frame's presentation time: wall-clock ms, like
# the kiosk's). Samples go to window.doorstepBench.
READ_STAMPS_JS = """
const video = document.getElementById("remote-video");
const canvas = document.createElement("canvas");
const context = canvas.getContext("2d", { willReadFrequently: true });
const seen = window.doorstepBench = { samples: [], unreadable: 0, first: null };
const readStamp = STAMP_READER;
const read = () => {
  const W = video.videoWidth, S = Math.floor(W / 40);
  if (canvas.width !== W) { canvas.width = W; canvas.height = 2 * S; }
  context.drawImage(video, 0, 0, W, 2 * S, 0, 0, W, 2 * S);
  return readStamp(context.getImageData(0, 0, W, 2 * S).data, W);
};
const onFrame = (now, metadata) => {
  const shown = performance.timeOrigin + (metadata.presentationTime || now);
  if (seen.first === null) seen.first = shown;
  const counter = read();
  if (counter === null) seen.unreadable++; else seen.samples.push([counter, shown]);
  video.requestVideoFrameCallback(onFrame);
};
video.requestVideoFrameCallback(onFrame);
""".replace("STAMP_READER", stamp.READ_JS)


# -- the camera and the kiosk's track ---------------------------------------------------


def scenes(count: int = 6) -> list[np.ndarray]:
    """Frames of the simulated camera's scenes at 1280×720."""
    kinds = [SceneKind.CARD, SceneKind.FACE, SceneKind.PAGE]
    return [render(kinds[n % len(kinds)], seed=n, size=(WIDTH, HEIGHT))[0] for n in range(count)]


class StampedCamera:
    """A thread putting CAMERA_FPS stamped frames a second into a LatestFrame, as the
    camera service's thread does: each a scene (one per second) with fresh noise."""

    def __init__(self, slot: LatestFrame) -> None:
        self.slot = slot
        self._scenes = scenes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-camera", daemon=True)
        self.put = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        rng = np.random.default_rng(7)
        noise = [add_noise(np.zeros((HEIGHT, WIDTH, 3), np.uint8) + 128, rng) for _ in range(8)]
        started = time.monotonic()
        n = 0
        while not self._stop.is_set():
            scene = self._scenes[(n // CAMERA_FPS) % len(self._scenes)]
            image = scene + (noise[n % len(noise)] - 128).astype(np.uint8)  # wraps: it's noise
            stamp.draw(image, stamp.clock())
            self.slot.put(image)
            self.put += 1
            n += 1
            self._stop.wait(max(0.0, started + n / CAMERA_FPS - time.monotonic()))


# -- figures ----------------------------------------------------------------------------


@dataclass
class Figures:
    glass_ms: list[float] = field(default_factory=list)
    fps: float = 0.0
    cpu_cores: float = 0.0
    setup_ms: float = 0.0
    unreadable: int = 0

    @property
    def glass_median_ms(self) -> float:
        return statistics.median(self.glass_ms) if self.glass_ms else float("nan")

    def describe(self, label: str) -> str:
        if not self.glass_ms:
            return f"{label}: no frame read"
        ordered = sorted(self.glass_ms)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return (
            f"{label}: {len(ordered)} frames, glass to glass median "
            f"{self.glass_median_ms:.1f} ms, p95 {p95:.1f} ms, {self.fps:.1f} fps, "
            f"CPU {self.cpu_cores:.2f} cores, setup {self.setup_ms:.0f} ms, "
            f"{self.unreadable} stamps unreadable"
        )


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process so far (/proc/PID/stat; psutil is not needed)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def frames_per_second(samples: list[tuple[int, float]]) -> float:
    """Distinct stamps per second over the span of `samples` ((stamp, seen at) pairs)."""
    if len(samples) < 2:
        return 0.0
    span = samples[-1][1] - samples[0][1]
    distinct = len({stamp for stamp, _ in samples})
    return (distinct - 1) / span if span > 0 else 0.0


# -- the floor --------------------------------------------------------------------------


async def measure_floor(seconds: float) -> Figures:
    from aiortc import RTCConfiguration, RTCPeerConnection

    from kiosk.remote.media import CameraTrack

    slot = LatestFrame()
    camera = StampedCamera(slot)
    camera.start()
    lan = RTCConfiguration(iceServers=[])  # never aiortc's default public STUN server
    kiosk, agent = RTCPeerConnection(lan), RTCPeerConnection(lan)
    figures = Figures()
    try:
        while slot.latest() is None:
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        kiosk.addTransceiver(CameraTrack(slot), direction="sendonly")
        await kiosk.setLocalDescription(await kiosk.createOffer())
        await agent.setRemoteDescription(kiosk.localDescription)
        await agent.setLocalDescription(await agent.createAnswer())
        await kiosk.setRemoteDescription(agent.localDescription)
        (track,) = [t.receiver.track for t in agent.getTransceivers()]

        samples: list[tuple[int, float]] = []  # (stamp, decoded at, wall ms)
        first = True
        window_start = window_cpu = 0.0
        end = float("inf")
        while True:
            frame = await asyncio.wait_for(track.recv(), 30)
            decoded = time.time()
            if first:
                figures.setup_ms = (time.perf_counter() - started) * 1000
                first = False
                end = decoded + WARMUP_S + seconds
                window_start = decoded + WARMUP_S
            if decoded >= end:
                break
            luma = frame.to_ndarray()[:HEIGHT]  # yuv420p: the Y plane comes first
            counter = stamp.read(luma)
            if decoded < window_start:
                window_cpu = cpu_seconds()
                continue
            if counter is None:
                figures.unreadable += 1
                continue
            figures.glass_ms.append(stamp.age_ms(counter, decoded))
            samples.append((counter, decoded))
        figures.cpu_cores = (cpu_seconds() - window_cpu) / seconds
        figures.fps = frames_per_second(samples)
    finally:
        await kiosk.close()
        await agent.close()
        camera.stop()
    return figures


# -- the full call ----------------------------------------------------------------------


def missing_pieces() -> list[str]:
    """What the full measurement needs that is not in this tree yet."""
    import importlib.util

    root = Path(__file__).resolve().parent.parent
    missing = []
    if importlib.util.find_spec("district.signaling") is None:
        missing.append("district/signaling.py (the call WebSockets)")
    elif "signaling" not in (root / "district" / "app.py").read_text(encoding="utf-8"):
        missing.append("district/app.py serving district.signaling's WebSockets")
    if importlib.util.find_spec("kiosk.remote.headless") is None:
        missing.append("the `kiosk call` command (kiosk/remote/headless.py)")
    if not (root / "district" / "static" / "call.js").exists():
        missing.append("the console's call page (district/static/call.js)")
    return missing


GROUP = "bench"
AGENT = "bench.agent"
AGENT_PASSWORD = "bench video agent password 7"  # a made-up account of the benchmark
ITEM = ("MI-001", "医保参保登记", "medical_insurance")
KIOSK_CONFIG = f"""
[devices]
camera = "simulator"

[camera]
width = {WIDTH}
height = {HEIGHT}
fps = {CAMERA_FPS}
"""
CHROMIUM_ARGUMENTS = (
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
)
# Click "take the next call" and say when, on the page's clock (wall-clock ms).
TAKE_JS = """
const take = document.getElementById("take-next");
if (take.disabled) return null;
const at = performance.timeOrigin + performance.now();
take.click();
return at;
"""


def _wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(0.02)
    raise BenchFailure(f"{what}: not within {timeout:.0f} s")


class KioskCall:
    """`kiosk call --stamp` in a process of its own; its JSON lines gathered by a thread."""

    def __init__(self, data_dir: Path) -> None:
        kiosk = str(Path(sys.executable).with_name("kiosk"))
        code, title, category = ITEM
        self.events: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [
                kiosk,
                "--data-dir",
                str(data_dir),
                "call",
                "--item",
                code,
                "--title",
                title,
                "--category",
                category,
                "--stamp",
                "--seconds",
                "600",
            ],
            stdout=subprocess.PIPE,
            stderr=(data_dir / "call.err").open("wb"),
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def state(self) -> str:
        states = [e.get("state", "") for e in self.events if e.get("event") == "state"]
        return states[-1] if states else ""

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def full_measurement(seconds: float) -> Figures:
    """The kiosk in its own process → a real district → the agent's Chromium page."""
    missing = missing_pieces()
    if missing:
        raise BenchFailure("the full call cannot be measured yet; missing: " + "; ".join(missing))
    work = Path(tempfile.mkdtemp(prefix="doorstep-bench-video-"))
    try:
        return _full_call(work, seconds)
    except AssertionError as failure:  # the tests' helpers say what went wrong this way
        raise BenchFailure(str(failure)[-2000:]) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _full_call(work: Path, seconds: float) -> Figures:
    from tests.browser.chromium_driver import Chromium
    from tests.district.test_sync_e2e import DistrictServer

    district = DistrictServer(
        f"sqlite:///{work / 'district.sqlite3'}", work / "server.key", work / "district.log"
    )
    catalog = Path(__file__).resolve().parent.parent / "assets/catalog/sample-catalog.toml"
    district.cli("catalog", "import", str(catalog))
    district.cli(
        "user",
        "add",
        AGENT,
        "--role",
        "agent",
        "--station-group",
        GROUP,
        "--password-stdin",
        stdin=AGENT_PASSWORD + "\n",
    )
    station = district.cli("station", "add", "Bench Street", "--group", GROUP, "--json")
    kiosk_dir = work / "kiosk"
    kiosk_dir.mkdir()
    (kiosk_dir / "kiosk.toml").write_text(KIOSK_CONFIG, encoding="utf-8")
    district.start()
    browser: Chromium | None = None
    call: KioskCall | None = None
    try:
        subprocess.run(
            [
                str(Path(sys.executable).with_name("kiosk")),
                "--data-dir",
                str(kiosk_dir),
                "enroll",
                "--server",
                district.base,
                "--code",
                station["enrollment_code"],
            ],  # type: ignore[index]
            check=True,
            capture_output=True,
            timeout=120,
        )
        browser = Chromium("en", CHROMIUM_ARGUMENTS)
        browser.open(f"{district.base}/console/login")
        browser.type_into("#name", AGENT)
        browser.type_into("#password", AGENT_PASSWORD)
        browser.click_and_wait(browser.find("form[action$='/login'] button[type=submit]"))
        browser.open(f"{district.base}/console/call")
        driver = browser.driver
        driver.execute_script(READ_STAMPS_JS)
        _wait(
            "the agent's call socket",
            lambda: driver.execute_script(
                "return window.doorstepCall && window.doorstepCall.state === 'available'"
            ),
        )

        call = KioskCall(kiosk_dir)
        _wait(
            "the kiosk's call in the agent's queue",
            lambda: (
                call.state() == "unavailable"
                or driver.execute_script("return !document.getElementById('take-next').disabled")
            ),
        )
        if call.state() == "unavailable":
            raise BenchFailure(f"the district said the call is unavailable: {call.events}")
        taken_at = _wait("taking the call", lambda: driver.execute_script(TAKE_JS))
        first = _wait(
            "the first frame shown",
            lambda: driver.execute_script("return window.doorstepBench.first"),
        )
        figures = Figures(setup_ms=first - taken_at)

        time.sleep(WARMUP_S)
        window_start, cpu_start = time.time() * 1000, cpu_seconds(call.process.pid)
        time.sleep(seconds)
        window_end, cpu_end = time.time() * 1000, cpu_seconds(call.process.pid)
        seen = driver.execute_script("return window.doorstepBench")
        samples = [(c, at) for c, at in seen["samples"] if window_start <= at <= window_end]
        figures.glass_ms = [stamp.age_ms(c, at / 1000) for c, at in samples]
        figures.fps = frames_per_second([(c, at / 1000) for c, at in samples])
        figures.cpu_cores = (cpu_end - cpu_start) / ((window_end - window_start) / 1000)
        figures.unreadable = int(seen["unreadable"])
        if call.state() != "connected":
            raise BenchFailure(f"the kiosk's call is {call.state() or 'not started'}")
        return figures
    finally:
        if call is not None:
            call.end()
        if browser is not None:
            browser.quit()
        district.stop()


# -- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--floor-only", action="store_true")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    say(f"floor: two aiortc peers in one process, {WIDTH}×{HEIGHT}, {args.seconds:.0f} s")
    floor = asyncio.run(measure_floor(args.seconds))
    say(floor.describe("floor"))
    if not floor.glass_ms:
        print("bench/video.py: FAILED: the floor read no frame", file=sys.stderr, flush=True)
        return 1
    if args.floor_only:
        for name, value, unit in floor_lines(floor):
            report(name, value, value, unit, "(the floor itself)")
        return 0
    try:
        full = full_measurement(args.seconds)
    except BenchFailure as failure:
        for name, value, unit in floor_lines(floor):
            report(name, value, value, unit, "(the floor itself)")
        print(f"bench/video.py: FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    say(full.describe("full call"))
    return 0 if report_full(full, floor) else 1


def floor_lines(floor: Figures) -> list[tuple[str, float, str]]:
    return [
        ("video_floor_glass_to_glass_ms", floor.glass_median_ms, "ms"),
        ("video_floor_fps", floor.fps, "fps"),
        ("video_floor_cpu_cores", floor.cpu_cores, "cores"),
        ("video_floor_call_setup_ms", floor.setup_ms, "ms"),
    ]


def report_full(full: Figures, floor: Figures) -> bool:
    """Print the four figures against the floor; whether every target was met."""
    checks: list[tuple[str, float, float, str, str, Callable[[float, float], bool]]] = [
        (
            "video_glass_to_glass_ms",
            full.glass_median_ms,
            floor.glass_median_ms,
            "ms",
            f"median ≤ {TARGET_GLASS_MS:.0f} ms and ratio ≤ {TARGET_GLASS_RATIO:.0f}",
            lambda v, f: v <= TARGET_GLASS_MS and v <= TARGET_GLASS_RATIO * f,
        ),
        (
            "video_fps",
            full.fps,
            floor.fps,
            "fps",
            f"≥ {TARGET_FPS:.0f} fps",
            lambda v, _f: v >= TARGET_FPS,
        ),
        (
            "video_kiosk_cpu_cores",
            full.cpu_cores,
            floor.cpu_cores,
            "cores",
            f"≤ {TARGET_CPU_CORES:.0f} core",
            lambda v, _f: v <= TARGET_CPU_CORES,
        ),
        (
            "video_call_setup_ms",
            full.setup_ms,
            floor.setup_ms,
            "ms",
            f"≤ {TARGET_SETUP_MS:.0f} ms",
            lambda v, _f: v <= TARGET_SETUP_MS,
        ),
    ]
    met = True
    for name, value, floor_value, unit, target, good in checks:
        report(name, value, floor_value, unit, target)
        if not good(value, floor_value):
            say(f"{name} missed its target ({target})")
            met = False
    return met


if __name__ == "__main__":
    sys.exit(main())
