"""The kiosk's WebRTC peer (kiosk.remote.media) against an aiortc answerer in the same
process, over the loopback of this machine: frames recognised by their stamps."""

from __future__ import annotations

import asyncio
import fractions
import subprocess
import sys

import av
import numpy as np
import pytest
from aiortc.rtcicetransport import RTCIceGatherer

from kiosk.config import RemoteSettings
from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import stamp
from kiosk.remote.media import CameraTrack, Peer
from tests.remote.agent import AGENT_BASE, KIOSK_SIZE, Answerer, feed, stamped, wait_for


@pytest.fixture(autouse=True)
def no_public_stun(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc's default STUN server must never be asked for."""

    def refuse(cls: type) -> list:
        raise AssertionError("aiortc's default ICE servers were used")

    monkeypatch.setattr(RTCIceGatherer, "getDefaultIceServers", classmethod(refuse))


def test_frames_flow_both_ways_and_are_recognised() -> None:
    async def call() -> None:
        camera, remote = LatestFrame(), LatestFrame()
        feeding = asyncio.ensure_future(feed(camera, KIOSK_SIZE))
        states: list[str] = []
        firsts: list[bool] = []
        peer = Peer(
            camera,
            remote,
            RemoteSettings(),
            on_state=states.append,
            on_first_frame=lambda: firsts.append(True),
        )
        agent = Answerer()
        try:
            offer = await peer.create_offer([], "all")
            await peer.accept_answer(await agent.answer(offer))
            # the agent reads the kiosk's counters (1 …), the kiosk the agent's (40001 …)
            await wait_for(
                lambda: len({n for n in agent.seen if n < AGENT_BASE}) >= 10,
                what="the kiosk's frames at the agent",
            )

            def kiosk_sees_agent() -> bool:
                frame = remote.latest()
                return frame is not None and (stamp.read(frame.image) or 0) > AGENT_BASE

            await wait_for(kiosk_sees_agent, what="the agent's frames at the kiosk")
            assert remote.latest().size == (640, 360)
            assert "connected" in states and firsts == [True]
            stats = await peer.stats()
            assert stats.state == "connected"
            assert stats.frames_sent > 0 and stats.frames_decoded > 0
            assert stats.fps_sent > 0 and stats.fps_received > 0
            assert stats.as_json()["frames_decoded"] == stats.frames_decoded
        finally:
            feeding.cancel()
            await peer.close()
            await agent.close()
        assert peer.state == "closed"
        await peer.close()  # closing twice is harmless

    asyncio.run(call())


def test_audio_devices_that_fail_leave_video_and_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = RemoteSettings(microphone="no-such-mic", speaker="no-such-speaker")

    async def call() -> None:
        camera, remote = LatestFrame(), LatestFrame()
        feeding = asyncio.ensure_future(feed(camera, KIOSK_SIZE))
        peer = Peer(camera, remote, settings)
        agent = Answerer()
        try:
            offer = await peer.create_offer([], "all")
            assert "m=audio" in offer  # the station has a speaker: it receives audio
            await peer.accept_answer(await agent.answer(offer))
            await wait_for(lambda: any(n < AGENT_BASE for n in agent.seen), what="video out")
            await wait_for(lambda: remote.latest() is not None, what="video in")
            await wait_for(
                lambda: "speaker" in caplog.text and "microphone" in caplog.text,
                what="both devices reported",
            )
        finally:
            feeding.cancel()
            await peer.close()
            await agent.close()

    asyncio.run(call())


def test_the_camera_track_sends_the_newest_frame() -> None:
    async def run() -> None:
        camera = LatestFrame()
        track = CameraTrack(camera)
        for counter in (1, 2, 3):
            camera.put(stamped(counter, (640, 360)))
        first = await track.recv()
        assert stamp.read(first.to_ndarray(format="bgr24")) == 3
        # nothing newer yet: recv waits on the loop (other work goes on) until one comes
        later = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.1)
        assert not later.done()
        for counter in (4, 5):
            camera.put(stamped(counter, (640, 360)))
        second = await asyncio.wait_for(later, 10)
        assert stamp.read(second.to_ndarray(format="bgr24")) == 5
        assert second.pts > first.pts
        track.stop()

    asyncio.run(run())


def test_a_station_without_a_camera_sends_a_placeholder() -> None:
    async def run() -> None:
        track = CameraTrack(None)
        frame = await asyncio.wait_for(track.recv(), 10)
        assert (frame.width, frame.height) == (640, 360)
        track.stop()

    asyncio.run(run())


def test_no_ice_servers_gathers_host_candidates_only() -> None:
    async def run() -> str:
        peer = Peer(LatestFrame(), LatestFrame(), RemoteSettings())
        try:
            return await peer.create_offer([], "all")
        finally:
            await peer.close()

    sdp = asyncio.run(run())
    candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
    assert candidates
    assert all(" typ host" in line for line in candidates)
    assert "m=video" in sdp and "m=audio" not in sdp  # a station without audio


def test_importing_the_client_does_not_load_aiortc() -> None:
    code = (
        "import sys, kiosk.remote.client; "
        "assert 'aiortc' not in sys.modules and 'av' not in sys.modules, 'loaded'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("size", [(1280, 720), (640, 360)])
def test_a_stamp_survives_vp8(size: tuple[int, int]) -> None:
    width, height = size
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.bit_rate = 500_000  # aiortc's starting VP8 bitrate
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("vp8", "r")
    rng = np.random.default_rng(18)
    sent, read = [], []
    for index in range(30):
        counter = 65_530 + index  # across the wrap
        image = rng.integers(0, 255, (height, width, 3), np.uint8)  # noise: hard to code
        stamp.draw(image, counter)
        sent.append(counter % stamp.MODULUS)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = index
        for packet in encoder.encode(frame):
            for decoded in decoder.decode(packet):
                read.append(stamp.read(decoded.to_ndarray(format="bgr24")))
    for packet in encoder.encode(None):
        for decoded in decoder.decode(packet):
            read.append(stamp.read(decoded.to_ndarray(format="bgr24")))
    assert read == sent


def test_a_frame_without_a_stamp_reads_as_none() -> None:
    assert stamp.read(np.full((720, 1280, 3), 128, np.uint8)) is None
    image = stamp.draw(np.zeros((720, 1280, 3), np.uint8), 1234)
    assert stamp.read(image) == 1234
    size = stamp.cell_size(1280)
    for cell in (2 + 5, 2 + 16 + 5):  # bit 5 and its inverse made equal
        image[size : 2 * size, size + cell * size : size + (cell + 1) * size] = 255
    assert stamp.read(image) is None


def test_the_clock_stamp_gives_a_frames_age() -> None:
    counter = stamp.clock(1000.0)
    assert stamp.age_ms(counter, 1000.1) == pytest.approx(100, abs=stamp.TICK_MS)
    late = 65_530 * stamp.TICK_MS / 1000 + 0.0001  # a few ticks before the wrap
    assert stamp.clock(late) == 65_530
    assert stamp.age_ms(stamp.clock(late), late + 0.1) == pytest.approx(100, abs=stamp.TICK_MS)
