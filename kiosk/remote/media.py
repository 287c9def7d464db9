"""The kiosk's WebRTC peer for one attempt of a call (aiortc), on the network loop.

This module imports aiortc and PyAV at the top: only `kiosk.remote.client` imports it,
and only when a call starts, so the kiosk's start-up never loads them.

- Video out: `CameraTrack` sends the newest frame of the camera's latest-frame slot (the
  one the preview and the vision pipeline read: the camera is never opened twice). It
  waits for a frame newer than the last one it sent by polling the slot on the loop every
  few milliseconds (never a thread-blocking wait in `recv()`), so it goes at the camera's
  own pace, capped at `max_fps`; each frame's timestamp is its capture time, so the far
  end's jitter buffer sees the camera's real timing. A camera that gives nothing (or a
  station without one) sends its last frame again, or a dark frame, once a second, so
  the far end keeps a picture and the encoder stays alive.
- Video in: the agent's frames are decoded into `remote_frames`, a `LatestFrame` the call
  screen polls like a camera (the slot outlives each attempt's peer).
- Audio only where `RemoteSettings.microphone` / `speaker` name devices: the microphone
  through aiortc's `MediaPlayer` (format `alsa` or `pulse`), the speaker as PCM to the
  same kind of device through PyAV (as aiortc's `MediaRecorder` would, but a device that
  fails mid-call is logged, not an unseen task error). A station without audio (both empty,
  or a device that does not open, which is logged) still has video and the chat panel.
- ICE: `create_offer` always gives aiortc an explicit list of ICE servers, possibly empty
  (a flat LAN: host candidates only, gathered at once). aiortc's default public STUN
  server is never used: an offline or LAN-only station must not wait on it. The policy
  `relay` forces TURN.

aiortc cannot restart ICE, so a `Peer` lives for one attempt: the client closes it when
the path is lost and makes a new one for the next offer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from kiosk.config import RemoteSettings
from kiosk.devices.camera.frames import Frame, LatestFrame

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
POLL_S = 0.004  # how often CameraTrack looks for a newer frame
IDLE_REPEAT_S = 1.0  # a camera that gives nothing: the last frame again this often
FPS_WINDOW_S = 2.0
#: what opening or using an audio device raises (a missing device, a format this build
#: of FFmpeg lacks)
AUDIO_ERRORS = (av.FFmpegError, OSError, ValueError)


class IceServerLike(Protocol):
    """An ICE server as the signaling names it (kiosk.remote.protocol.IceServer)."""

    @property
    def urls(self) -> list[str]: ...
    @property
    def username(self) -> str | None: ...
    @property
    def credential(self) -> str | None: ...


class RateMeter:
    """Counts events and gives their rate over the last `window_s` seconds."""

    def __init__(self, window_s: float = FPS_WINDOW_S) -> None:
        self.count = 0
        self._window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.count += 1
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        return len(self._times) / self._window_s

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self._window_s:
            self._times.popleft()


class CameraTrack(VideoStreamTrack):
    """The camera's newest frames as a WebRTC video track (BGR NumPy → `av.VideoFrame`)."""

    def __init__(
        self,
        frames: LatestFrame | None,
        *,
        max_fps: float = 30.0,
        placeholder_size: tuple[int, int] = (640, 360),
    ) -> None:
        super().__init__()
        self._frames = frames
        self._min_gap_s = 1.0 / max_fps
        self._placeholder = np.full((placeholder_size[1], placeholder_size[0], 3), 32, np.uint8)
        self._start: float | None = None
        self._last_seq = 0
        self._last_time = 0.0  # the capture (or send) time of the frame last sent
        self._last_pts = -1
        self._last_image: np.ndarray | None = None
        self.sent = RateMeter()

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        image, captured = await self._next_image()
        if self._start is None:
            self._start = captured
        pts = max(self._last_pts + 1, int((captured - self._start) * VIDEO_CLOCK))
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = TIME_BASE
        self.sent.tick()
        return frame

    async def _next_image(self) -> tuple[np.ndarray, float]:
        """The next frame to send: a camera frame newer than the last one (and at least
        1/max_fps after it), or the last picture again when the camera gave nothing for
        IDLE_REPEAT_S."""
        while True:
            now = time.monotonic()
            frame: Frame | None = self._frames.latest() if self._frames is not None else None
            if (
                frame is not None
                and frame.seq != self._last_seq
                and frame.timestamp >= self._last_time + self._min_gap_s * 0.9
            ):
                self._last_seq, self._last_time = frame.seq, frame.timestamp
                self._last_image = frame.image
                return frame.image, frame.timestamp
            if now - self._last_time >= IDLE_REPEAT_S:
                self._last_time = now
                image = self._last_image if self._last_image is not None else self._placeholder
                return image, now
            await asyncio.sleep(POLL_S)


@dataclass(frozen=True, slots=True)
class PeerStats:
    """One look at the call's media (`getStats()` and our own counts)."""

    state: str  # the peer connection's state
    rtt_ms: float | None  # round trip, from the far end's receiver reports
    packets_lost: int  # video packets the far end lost (its reports)
    fraction_lost: float | None  # 0…1, in the far end's last report
    jitter_ms: float | None  # of the video we receive
    frames_sent: int
    frames_decoded: int
    fps_sent: float  # over the last FPS_WINDOW_S
    fps_received: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Peer:
    """One RTCPeerConnection: the camera out, the agent's video into `remote_frames`,
    audio where the station has it. Every method runs on the network loop."""

    def __init__(
        self,
        camera: LatestFrame | None,
        remote_frames: LatestFrame,
        settings: RemoteSettings,
        *,
        on_state: Callable[[str], None] | None = None,
        on_first_frame: Callable[[], None] | None = None,
        max_fps: float = 30.0,
    ) -> None:
        self._camera = camera
        self.remote_frames = remote_frames
        self._settings = settings
        self._on_state = on_state
        self._on_first_frame = on_first_frame
        self._max_fps = max_fps
        self._pc: RTCPeerConnection | None = None
        self._track: CameraTrack | None = None
        self._player: MediaPlayer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.decoded = RateMeter()
        self.last_frame_at: float | None = None  # monotonic time of the last agent frame
        self.closed = False

    @property
    def state(self) -> str:
        return self._pc.connectionState if self._pc is not None else "new"

    @property
    def audio(self) -> bool:
        """Whether the station has a microphone or a speaker for calls."""
        return bool(self._settings.microphone or self._settings.speaker)

    async def create_offer(self, ice_servers: Sequence[IceServerLike], policy: str = "all") -> str:
        """Make the peer connection and its offer with every candidate gathered (no
        trickle): the SDP to send. `ice_servers` is used as given, empty on a LAN."""
        if self._pc is not None:
            raise RuntimeError("a Peer makes one offer; make a new Peer to offer again")
        configuration = RTCConfiguration(
            iceServers=[
                RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                for s in ice_servers
            ],
            iceTransportPolicy=(
                RTCIceTransportPolicy.RELAY if policy == "relay" else RTCIceTransportPolicy.ALL
            ),
        )
        pc = self._pc = RTCPeerConnection(configuration)
        pc.on("connectionstatechange", self._state_changed)
        pc.on("track", self._track_arrived)
        self._track = CameraTrack(self._camera, max_fps=self._max_fps)
        pc.addTrack(self._track)
        self._add_audio(pc)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        if self._pc is None:
            raise RuntimeError("no offer was made")
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        """Stop every track, task and device this peer opened (safe to repeat)."""
        if self.closed:
            return
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._player is not None and self._player.audio is not None:
            self._player.audio.stop()
        if self._track is not None:
            self._track.stop()
        if self._pc is not None:
            await self._pc.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stats(self) -> PeerStats:
        rtt: float | None = None
        lost = 0
        fraction: float | None = None
        jitter: float | None = None
        if self._pc is not None and not self.closed:
            report = await self._pc.getStats()
            for entry in report.values():
                if getattr(entry, "kind", "") != "video":
                    continue
                if entry.type == "remote-inbound-rtp":
                    rtt = entry.roundTripTime * 1000 if entry.roundTripTime is not None else rtt
                    lost = entry.packetsLost or 0
                    fraction = entry.fractionLost
                elif entry.type == "inbound-rtp" and entry.jitter is not None:
                    jitter = entry.jitter / VIDEO_CLOCK * 1000
        sent = self._track.sent if self._track is not None else RateMeter()
        return PeerStats(
            state=self.state,
            rtt_ms=rtt,
            packets_lost=lost,
            fraction_lost=fraction,
            jitter_ms=jitter,
            frames_sent=sent.count,
            frames_decoded=self.decoded.count,
            fps_sent=sent.rate(),
            fps_received=self.decoded.rate(),
        )

    # -- inside ---------------------------------------------------------------------------

    def _add_audio(self, pc: RTCPeerConnection) -> None:
        settings = self._settings
        microphone = None
        if settings.microphone:
            try:
                self._player = MediaPlayer(settings.microphone, format=settings.audio_format)
                microphone = self._player.audio
            except AUDIO_ERRORS as error:
                log.warning("the call's microphone did not open (%s): no sound goes out", error)
        if microphone is not None:
            pc.addTrack(microphone)
        elif settings.speaker:
            pc.addTransceiver("audio", direction="recvonly")

    def _state_changed(self) -> None:
        assert self._pc is not None
        state = self._pc.connectionState
        log.info("call media: the peer connection is %s", state)
        if self._on_state is not None:
            self._on_state(state)

    def _track_arrived(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._spawn(self._receive_video(track))
        elif track.kind == "audio" and self._settings.speaker:
            self._spawn(self._play(track))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _receive_video(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            image = frame.to_ndarray(format="bgr24")
            self.remote_frames.put(image)
            self.last_frame_at = time.monotonic()
            first = self.decoded.count == 0
            self.decoded.tick(self.last_frame_at)
            if first and self._on_first_frame is not None:
                self._on_first_frame()

    async def _play(self, track: MediaStreamTrack) -> None:
        """The agent's voice to the speaker (PCM to an ALSA or PulseAudio device). A
        device that does not open, or fails while playing, is logged once; the frames
        are still read (and dropped) so the track never backs up."""
        settings = self._settings
        sink: Any = None
        stream: Any = None
        try:
            sink = av.open(settings.speaker, format=settings.audio_format, mode="w")
            stream = sink.add_stream("pcm_s16le")
        except AUDIO_ERRORS as error:
            log.warning("the call's speaker did not open (%s): no sound is heard", error)
            sink = None
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if sink is None:
                    continue
                try:
                    for packet in stream.encode(frame):
                        sink.mux(packet)
                except AUDIO_ERRORS as error:
                    log.warning("the call's speaker failed (%s): no sound is heard", error)
                    with contextlib.suppress(*AUDIO_ERRORS):
                        sink.close()
                    sink = None
        finally:
            if sink is not None:
                with contextlib.suppress(*AUDIO_ERRORS):
                    sink.close()
