"""The five-piece kit and the services the kiosk window works with, started for it.

`Kit` is what `MainWindow` is given: the local store (and its `Applications` and
`Ratings`), the card reader (PC/SC or the simulator), the two cameras' services (frames
in latest-frame slots), the scanner gun's key filter, the printer and sync services, and
the speaker, and the video-call client (`calls`, kiosk.remote.client) when the station
can make calls. Any of them may be missing (a window for tests, a station without a
printer): the window then leaves out what needs it and says so where a resident would
look for it.

`start_kit` first takes a `ratings.jsonl` left by an older kiosk into the store (once),
then builds each device from the settings (`[devices]`: real or simulator), wires
its callbacks to the `Bridge`, starts it, and returns the kit; `Kit.stop()` stops all in
reverse order. Nothing here runs on the main thread after start-up but the key filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.config import DeviceBackend, Paths, Settings
from kiosk.ui.bridge import Bridge

if TYPE_CHECKING:
    from kiosk.core.applications import Applications
    from kiosk.core.ratings import Ratings
    from kiosk.store.db import Store

log = logging.getLogger(__name__)


class CardReader(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class Speaker(Protocol):
    muted: bool

    def say(self, text: str, lang: str) -> None: ...


@dataclass
class Kit:
    store: Store | None = None
    applications: Applications | None = None
    ratings: Ratings | None = None
    card: Any = None  # CardReaderService or SimulatedCardReader
    camera: Any = None  # CameraService (the resident-facing camera)
    document_camera: Any = None  # CameraService (the document camera, 高拍仪)
    printer: Any = None  # PrinterService
    sync: Any = None  # SyncService
    speaker: Speaker | None = None
    calls: Any = None  # kiosk.remote.client.CallClient, or None (no calls from here)
    demo: bool = False  # simulated devices: show the demo controls
    paths: Paths | None = None
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            try:
                stop()
            except Exception:
                log.exception("a kit service did not stop cleanly")
        self._stoppers.clear()


def start_kit(
    settings: Settings,
    paths: Paths,
    store: Store,
    bridge: Bridge,
    *,
    printer: Any = None,
    sync: Any = None,
) -> Kit:
    """Start the card reader, the cameras and the speaker for the window; the printer
    and sync services are started by the caller (they also run without a window)."""
    from kiosk.core.applications import Applications
    from kiosk.core.ratings import Ratings, import_ratings_file
    from kiosk.devices.camera.service import CameraService
    from kiosk.devices.camera.sources import open_source

    import_ratings_file(store, paths.data_dir)  # once: what kiosks kept before the store did
    devices = settings.devices
    kit = Kit(
        store=store,
        applications=Applications(store, settings.station.code),
        ratings=Ratings(store),
        printer=printer,
        sync=sync,
        paths=paths,
        demo=DeviceBackend(devices.card_reader) is DeviceBackend.SIMULATOR,
    )
    if DeviceBackend(devices.card_reader) is DeviceBackend.SIMULATOR:
        from kiosk.devices.card.simulator import SimulatedCardReader

        kit.card = SimulatedCardReader(bridge.on_card_event)
    else:
        from kiosk.devices.card.service import CardReaderService

        kit.card = CardReaderService(bridge.on_card_event)
    kit.card.start()
    kit._stoppers.append(kit.card.stop)

    for name, camera_settings, backend in (
        ("camera", settings.camera, devices.camera),
        ("document_camera", settings.document_camera, devices.document_camera),
    ):
        service = CameraService(name, lambda s=camera_settings, b=backend: open_source(s, b))
        service.start()
        kit._stoppers.append(service.stop)
        setattr(kit, name, service)

    kit.speaker = make_speaker(settings)
    kit.calls = make_calls(settings, paths, store, bridge, kit.camera, sync)
    if kit.calls is not None and hasattr(kit.calls, "stop"):
        kit._stoppers.append(kit.calls.stop)
    return kit


def make_calls(
    settings: Settings, paths: Paths, store: Store, bridge: Bridge, camera: Any, sync: Any = None
) -> Any:
    """The video-call client, or None when the station cannot make calls: remote
    assistance switched off, the station not enrolled with a district, or a kiosk built
    without kiosk.remote.client. Its module (not aiortc: the client imports that when the
    first call starts) is imported here, on the kit's worker thread, not at start-up.
    The client runs on the sync service's network loop (`SyncService.submit`: one
    asyncio loop for the network, DESIGN.md "Threads"); without a sync service, on a loop
    thread of its own. It keeps the station's standby socket open (`listen`), so that an
    agent can call the station back.

    A client that cannot be made is logged and left out: the call screens then say
    plainly that no call can be made and offer a call-back request."""
    if not settings.remote.enabled:
        return None
    from kiosk.sync.client import enrollment

    if enrollment(store) is None:
        log.info("video calls are off: the station is not enrolled with a district")
        return None
    try:
        from kiosk.remote.client import CallClient
    except ImportError:
        log.info("video calls are off: this kiosk has no call client")
        return None
    try:
        client = CallClient(
            settings.remote,
            paths=paths,
            store=store,
            camera=camera.frames if camera is not None else None,
            on_event=bridge.on_call_event,
            runner=sync.submit if sync is not None else None,
        )
    except Exception:
        log.exception("the video-call client could not be made: video calls are off")
        return None
    client.listen()  # the standby socket: an agent can call the station back
    return client


def make_speaker(settings: Settings) -> Speaker | None:
    try:
        from kiosk.core.speech import Speaker as EspeakSpeaker
    except ImportError:
        return None
    speaker = EspeakSpeaker()
    speaker.muted = not settings.ui.speech
    return speaker
