"""Video call speed: glass to glass, frame rate, the kiosk's CPU and call setup, at 1280×720.

Every frame the camera puts into the kiosk's latest-frame slot
(`kiosk.devices.camera.frames.LatestFrame`) carries a stamp drawn into its pixels: the
wall-clock time it was put, in milliseconds (a row of black and white blocks across the
top, see `Stamp`). Whoever decodes the frame reads the stamp back, so glass to glass is
the time of decoding minus the stamp, with no side channel between the processes (they
share this machine's clock). Frames per second are the distinct stamps decoded per
second.

The floor: two aiortc peers in this one process passing the same frames over loopback
(host candidates, no TURN): a camera thread puts 30 stamped frames a second of the
simulated camera's scenes (fresh sensor noise on each, so the encoder has real work) into
a `LatestFrame`; the sending track hands aiortc each new frame as soon as it is there; the
receiving peer reads the stamp off every decoded frame. Its CPU figure is both peers
(encoding and decoding) over the measured window; its call setup is from the first offer
to the first decoded frame.

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
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.common import report
from kiosk.devices.camera.frames import LatestFrame
from kiosk.devices.camera.scene import SceneKind, add_noise, render

WIDTH, HEIGHT = 1280, 720
CAMERA_FPS = 30
WARMUP_S = 3.0  # the encoder's bitrate ramps up first (REMB)
TARGET_GLASS_MS = 150.0
TARGET_GLASS_RATIO = 3.0
TARGET_FPS = 25.0
TARGET_CPU_CORES = 1.0
TARGET_SETUP_MS = 1500.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
VIDEO_TIME_BASE = Fraction(1, 90_000)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class BenchFailure(RuntimeError):
    """Something the benchmark cannot go on from: said plainly, and the run fails."""


# -- the stamp --------------------------------------------------------------------------


class Stamp:
    """A 20-bit number drawn as 40 blocks of 32×32 pixels across the top of a frame: the
    number's bits, high first, then their complement, white for 1. The complement makes a
    misread (a block blurred half way) show instead of giving a wrong number. The blocks
    are large and black or white, so they survive VP8 at its lowest bitrate, and a page
    can read them from a canvas with the same arithmetic (`READ_STAMP_JS`)."""

    BITS = 20
    BLOCK = 32
    MODULO = 1 << BITS

    @classmethod
    def now(cls) -> int:
        """The stamp for this moment: wall-clock milliseconds, modulo 2**20 (17 minutes)."""
        return int(time.time() * 1000) % cls.MODULO

    @classmethod
    def draw(cls, image: np.ndarray, value: int) -> None:
        bits = [(value >> (cls.BITS - 1 - n)) & 1 for n in range(cls.BITS)]
        for n, bit in enumerate(bits + [1 - b for b in bits]):
            x = n * cls.BLOCK
            image[: cls.BLOCK, x : x + cls.BLOCK] = 235 if bit else 16

    @classmethod
    def read_luma(cls, luma: np.ndarray) -> int | None:
        """The number in a frame's luma plane (height × width), or None if unreadable."""
        quarter = cls.BLOCK // 4
        strip = luma[quarter : cls.BLOCK - quarter, : 2 * cls.BITS * cls.BLOCK]
        blocks = strip.reshape(strip.shape[0], 2 * cls.BITS, cls.BLOCK)
        means = blocks[:, :, quarter : cls.BLOCK - quarter].mean(axis=(0, 2))
        bits = (means > 128).astype(int)
        if not np.all(bits[: cls.BITS] + bits[cls.BITS :] == 1):
            return None
        return int("".join(map(str, bits[: cls.BITS])), 2)

    @classmethod
    def age_ms(cls, value: int, now: int) -> int:
        """Milliseconds from stamp `value` to stamp `now` (across the wrap)."""
        return (now - value) % cls.MODULO


# The same reading in the agent's page: each frame the browser shows is drawn into a canvas
# and its stamp read with the page's clock (performance.timeOrigin + the frame's
# presentation time, in wall-clock ms like the kiosk's). Its arguments: Stamp.BITS, BLOCK and
# MODULO.
READ_STAMP_JS = """
const video = document.getElementById("remote-video");
const canvas = document.createElement("canvas");
const [bits, block, modulo] = arguments;
canvas.width = 2 * bits * block; canvas.height = block;
const context = canvas.getContext("2d", { willReadFrequently: true });
const seen = window.doorstepBench = { samples: [], unreadable: 0, first: null };
const onFrame = (now, metadata) => {
  const shown = performance.timeOrigin + (metadata.presentationTime || now);
  context.drawImage(video, 0, 0, canvas.width, block, 0, 0, canvas.width, block);
  const pixels = context.getImageData(0, 0, canvas.width, block).data;
  const quarter = block / 4;
  let value = 0, good = true;
  for (let n = 0; n < bits; n++) {
    const mean = (m) => {
      let sum = 0, count = 0;
      for (let y = quarter; y < block - quarter; y++) {
        for (let x = m * block + quarter; x < (m + 1) * block - quarter; x++) {
          const i = 4 * (y * canvas.width + x);
          sum += 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
          count++;
        }
      }
      return sum / count;
    };
    const bit = mean(n) > 128 ? 1 : 0;
    if (bit + (mean(n + bits) > 128 ? 1 : 0) !== 1) good = false;
    value = value * 2 + bit;
  }
  if (good) {
    if (seen.first === null) seen.first = shown;
    seen.samples.push([value, Math.round(shown) % modulo, shown]);
  } else {
    seen.unreadable++;
  }
  video.requestVideoFrameCallback(onFrame);
};
video.requestVideoFrameCallback(onFrame);
"""


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
            Stamp.draw(image, Stamp.now())
            self.slot.put(image)
            self.put += 1
            n += 1
            self._stop.wait(max(0.0, started + n / CAMERA_FPS - time.monotonic()))


def slot_track(slot: LatestFrame) -> Any:
    """An aiortc video track that sends each new frame of the slot as soon as it is there
    (the newest: a frame the encoder had no time for is skipped, never queued)."""
    import av
    from aiortc import MediaStreamTrack

    class SlotTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._seq = 0
            self._start: float | None = None

        async def recv(self) -> av.VideoFrame:
            frame = slot.latest()
            while frame is None or frame.seq <= self._seq:
                await asyncio.sleep(0.002)
                frame = slot.latest()
            self._seq = frame.seq
            if self._start is None:
                self._start = frame.timestamp
            video = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
            video.pts = int((frame.timestamp - self._start) * 90_000)
            video.time_base = VIDEO_TIME_BASE
            return video

    return SlotTrack()


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
        kiosk.addTransceiver(slot_track(slot), direction="sendonly")
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
            stamp = Stamp.read_luma(luma)
            if decoded < window_start:
                window_cpu = cpu_seconds()
                continue
            if stamp is None:
                figures.unreadable += 1
                continue
            now = int(decoded * 1000) % Stamp.MODULO
            figures.glass_ms.append(Stamp.age_ms(stamp, now))
            samples.append((stamp, decoded))
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
        missing.append("district/signaling.py (the call WebSockets of `district serve`)")
    if importlib.util.find_spec("kiosk.remote.client") is None:
        missing.append("kiosk/remote/client.py (the kiosk's call client)")
    if 'add_parser("call"' not in (root / "kiosk" / "cli.py").read_text(encoding="utf-8"):
        missing.append("the `kiosk call` command")
    if not (root / "district" / "static" / "call.js").exists():
        missing.append("the console's call page (district/static/call.js)")
    return missing


def full_measurement(seconds: float) -> Figures:
    """The kiosk in its own process → a real district → the agent's Chromium page."""
    missing = missing_pieces()
    if missing:
        raise BenchFailure("the full call cannot be measured yet; missing: " + "; ".join(missing))
    raise BenchFailure("the full call measurement is not written yet")


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
