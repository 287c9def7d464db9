"""A video call without the screens: what `kiosk call` runs, so the browser tests and
`bench/video.py` have the kiosk's peer in a process of its own (whose CPU can be read).

The configured camera (the simulated one on a test station) feeds the call; each event
is printed as one JSON line on stdout (`{"event": "state", "state": "waiting", ...}`,
`chat`, `capture_asked`, `capture_sent`, `decision`, `stats`), flushed at once. What is
printed holds nothing of a resident: a command-line call has no identity, and a capture
is reported by its size. With `answer_captures`, a capture the agent asks for is taken
from the camera the kind needs (a page from the document camera, a card or a photo from
the camera) and sent as a JPEG. With `stamp`, each camera frame is copied and the wall-clock time
drawn into it (`kiosk.remote.stamp.clock()`, 4 ms ticks) before it is sent, so the far
end can measure glass to glass.

With `standby`, no call is made: the station waits on its standby socket for an agent's
call (a call-back, `incoming`), answers it and runs it like its own (`seconds` counting
from the answer).

The call ends after `seconds`, when the district or the agent ends it, or on SIGTERM or
SIGINT (the call is ended cleanly: the district hears `end`). Exit status 0 when the call
ended, 1 when it was unavailable (not enrolled, offline, nobody to take it).
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import sys
import threading
import time
from dataclasses import asdict, replace
from typing import Any

from kiosk.config import Paths, Settings
from kiosk.devices.camera.frames import LatestFrame
from kiosk.remote import stamp
from kiosk.remote.events import (
    CallEvent,
    CallRequestInfo,
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    IncomingCall,
    RingEnded,
    StateChanged,
    SupervisorWatching,
)
from kiosk.store.db import Store

log = logging.getLogger(__name__)

END_WAIT_S = 10.0  # after asking to end: how long the last state may take
STATS_S = 1.0
SNAPSHOT_S = 5.0  # to wait for a camera's frame for a capture


def _print(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def describe(event: CallEvent) -> dict[str, Any]:
    """The JSON line for an event."""
    match event:
        case StateChanged():
            return {"event": "state", **asdict(event), "state": event.state.value}
        case ChatLine():
            return {"event": "chat", **asdict(event)}
        case CaptureAsked():
            return {"event": "capture_asked", **asdict(event)}
        case DecisionMade():
            return {"event": "decision", **asdict(event)}
        case SupervisorWatching():
            return {"event": "supervisor", **asdict(event)}
        case IncomingCall():
            return {"event": "incoming", **asdict(event)}
        case RingEnded():
            return {"event": "ring_ended", **asdict(event)}
    return {"event": type(event).__name__}


class _Stamper:
    """Copies each new camera frame, draws the time into it and puts it in `slot`."""

    def __init__(self, source: LatestFrame) -> None:
        self.slot = LatestFrame()
        self._source = source
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="call-stamp", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            frame = self._source.wait_newer(seq, timeout=0.5)
            if frame is None:
                continue
            seq = frame.seq
            image = frame.image.copy()
            stamp.draw(image, stamp.clock())
            self.slot.put(image, frame.timestamp)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def run_call(
    settings: Settings,
    paths: Paths,
    store: Store,
    info: CallRequestInfo,
    *,
    chat: str | None = None,
    answer_captures: bool = False,
    seconds: float | None = None,
    with_stamp: bool = False,
    with_stats: bool = False,
    standby: bool = False,
) -> int:
    from kiosk.devices.camera.service import CameraService
    from kiosk.devices.camera.sources import open_source
    from kiosk.remote.client import CallClient

    cameras: dict[str, CameraService] = {}
    wanted = ("camera", "document_camera") if answer_captures else ("camera",)
    for name in wanted:
        section, backend = getattr(settings, name), getattr(settings.devices, name)
        cameras[name] = CameraService(name, lambda s=section, b=backend: open_source(s, b))
        cameras[name].start()
    stamper = _Stamper(cameras["camera"].frames) if with_stamp else None
    events: queue.Queue[CallEvent] = queue.Queue()
    client = CallClient(
        settings.remote,
        paths=paths,
        store=store,
        camera=stamper.slot if stamper is not None else cameras["camera"].frames,
        on_event=events.put,
    )
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    status = 0
    try:
        if standby:  # wait for an agent's call, and answer it
            client.listen()
        else:
            client.start(info)
        deadline = None if seconds is None or standby else time.monotonic() + seconds
        ending_since: float | None = None
        chatted = False
        next_stats = time.monotonic() + STATS_S
        while True:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                event = None
            if event is not None:
                _print(describe(event))
                if isinstance(event, IncomingCall):
                    client.answer(event.call, replace(info, item_code=event.item_code,
                                                      item_title=event.item_title))
                    if seconds is not None:
                        deadline = time.monotonic() + seconds
                elif isinstance(event, StateChanged):
                    if event.state is CallState.UNAVAILABLE:
                        status = 1
                        break
                    if event.state is CallState.ENDED:
                        break
                    if event.state is CallState.CONNECTED and chat and not chatted:
                        client.send_chat(chat)
                        chatted = True
                elif isinstance(event, CaptureAsked) and answer_captures:
                    _answer_capture(client, cameras, event)
            now = time.monotonic()
            if with_stats and now >= next_stats and client.state is CallState.CONNECTED:
                next_stats = now + STATS_S
                _print_stats(client)
            if ending_since is None and (stopping.is_set() or (deadline and now >= deadline)):
                ending_since = now
                client.end()
            if ending_since is not None and now - ending_since > END_WAIT_S:
                log.warning("the call did not end in time")
                break
    finally:
        client.stop()
        if stamper is not None:
            stamper.stop()
        for service in cameras.values():
            service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _print_stats(client: Any) -> None:
    try:
        stats = client.stats().result(2)
    except Exception:  # a figure missed is no reason to stop a call
        log.debug("no stats", exc_info=True)
        return
    if stats is not None:
        _print({"event": "stats", **stats.as_json()})


def _answer_capture(client: Any, cameras: dict[str, Any], asked: CaptureAsked) -> None:
    import cv2

    service = cameras.get("document_camera" if asked.kind == "page" else "camera")
    service = service or cameras["camera"]
    frame = service.frames.wait_newer(0, timeout=SNAPSHOT_S)
    if frame is None:
        log.warning("no frame for the capture asked")
        return
    ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        log.warning("the capture could not be encoded")
        return
    data = encoded.tobytes()
    client.send_capture(asked.request, asked.kind, data)
    _print(
        {
            "event": "capture_sent",
            "call": asked.call,
            "request": asked.request,
            "kind": asked.kind,
            "bytes": len(data),
        }
    )
