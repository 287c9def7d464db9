"""The agent's end of a call in the tests: an aiortc answerer that sends its own stamped
frames (counters from AGENT_BASE up) and reads the stamps of the frames it receives."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import stamp
from kiosk.remote.media import CameraTrack

AGENT_BASE = 40_000  # the agent's counters; the kiosk's camera counts from 1
KIOSK_SIZE = (1280, 720)
AGENT_SIZE = (640, 360)


def stamped(counter: int, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    image = np.full((height, width, 3), 90, np.uint8)
    image[height // 2 :, :, 1] = 160  # not a flat picture
    return stamp.draw(image, counter)


async def feed(slot: LatestFrame, size: tuple[int, int], base: int = 0, fps: float = 30) -> None:
    """Put stamped frames into a slot at `fps`, like a camera thread (until cancelled)."""
    counter = base
    while True:
        counter += 1
        slot.put(stamped(counter, size))
        await asyncio.sleep(1 / fps)


class Answerer:
    """An agent: answers the kiosk's offer, sends stamped frames, collects what it sees."""

    def __init__(self) -> None:
        self.camera = LatestFrame()
        self.seen: list[int] = []  # stamps read from the kiosk's frames
        self.pc: RTCPeerConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def answer(self, offer_sdp: str) -> str:
        self.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._tasks.append(asyncio.ensure_future(feed(self.camera, AGENT_SIZE, AGENT_BASE)))

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tasks.append(asyncio.ensure_future(self._watch(track)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        pc.addTrack(CameraTrack(self.camera))
        if "m=audio" in offer_sdp:
            pc.addTrack(AudioStreamTrack())  # silence: the kiosk's speaker has a voice to play
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def _watch(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            counter = stamp.read(frame.to_ndarray(format="bgr24"))
            if counter is not None:
                self.seen.append(counter)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.pc is not None:
            await self.pc.close()


async def wait_for(condition, timeout: float = 30.0, what: str = "the condition") -> None:
    """Wait (generously) until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
