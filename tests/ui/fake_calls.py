"""A call client for the window tests: the screens' side of `kiosk.remote.client.CallClient`
(start, answer, decline, end, send_chat, send_capture, remote_frames), recording what the
screens asked of it, and `emit`, which reports an event the way the real client does:
from another thread, through the bridge's `on_call_event`. The real client is tested in
tests/remote."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote.events import CallEvent, CallRequestInfo, CallState, StateChanged
from kiosk.ui.bridge import Bridge


@dataclass
class SentCapture:
    request: str
    kind: str
    content: bytes
    label: str


@dataclass
class FakeCalls:
    bridge: Bridge
    started: list[CallRequestInfo] = field(default_factory=list)
    ended: int = 0
    chats: list[str] = field(default_factory=list)
    captures: list[SentCapture] = field(default_factory=list)
    remote_frames: LatestFrame = field(default_factory=LatestFrame)
    call: str = ""
    answered: list[tuple[str, CallRequestInfo]] = field(default_factory=list)
    declined: list[tuple[str, str]] = field(default_factory=list)  # (call, reason)

    def start(self, info: CallRequestInfo) -> str:
        self.started.append(info)
        self.call = f"call-{len(self.started)}"
        return self.call

    def answer(self, call_id: str, info: CallRequestInfo) -> str:
        self.answered.append((call_id, info))
        self.call = call_id
        return call_id

    def decline(self, call_id: str, reason: str = "declined") -> None:
        self.declined.append((call_id, reason))

    def end(self) -> None:
        self.ended += 1

    def send_chat(self, text: str) -> None:
        self.chats.append(text)

    def send_capture(self, request: str, kind: str, jpeg_bytes: bytes, label: str = "") -> None:
        self.captures.append(SentCapture(request, kind, jpeg_bytes, label))

    def emit(self, event: CallEvent) -> None:
        """Report `event` from a thread of its own, as the network thread would."""
        thread = threading.Thread(target=self.bridge.on_call_event, args=(event,))
        thread.start()
        thread.join()

    def state(self, state: CallState, **details: object) -> None:
        self.emit(StateChanged(self.call, state, **details))  # type: ignore[arg-type]

    def agent_picture(self) -> None:
        """A frame of the agent's video: a plain picture with a bright square in it."""
        image = np.full((360, 640, 3), (90, 60, 30), np.uint8)
        image[100:260, 240:400] = (230, 230, 230)
        self.remote_frames.put(image)
