"""The bridge from the kit's threads to the Qt main thread.

Device services report on their own threads through plain callbacks (DESIGN.md,
"Threads"). `Bridge` is the one QObject those callbacks go to: each callback only emits a
signal, which Qt queues to the main thread, where the screens are connected. Nothing here
waits on a device.

The sync service is not event-driven: `Bridge.poll_sync` asks it for its status on a
worker thread every few seconds (the status reads the local store) and emits
`sync_status` when the answer comes back.

A video call (kiosk.remote.client) reports on the network thread through `on_call_event`;
`call_event` carries each event (kiosk.remote.events) to the call screen.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from kiosk.ui.tasks import TaskManager

if TYPE_CHECKING:  # kept out of the start-up path: the window draws first
    from kiosk.devices.card.events import CardEvent
    from kiosk.devices.printer.service import PrintEvent
    from kiosk.remote.events import CallEvent
    from kiosk.sync.service import SyncStatus

log = logging.getLogger(__name__)

SYNC_POLL_MS = 3000


class SyncSource(Protocol):
    def status(self) -> SyncStatus: ...

    def kick(self) -> None: ...


class Bridge(QObject):
    """Signals on the main thread for what the kit's threads report."""

    card_event = Signal(object)  # CardEvent
    print_event = Signal(object)  # PrintEvent
    sync_status = Signal(object)  # SyncStatus
    call_event = Signal(object)  # CallEvent

    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._sync: SyncSource | None = None
        self._polling = False
        self._timer = QTimer(self)
        self._timer.setInterval(SYNC_POLL_MS)
        self._timer.timeout.connect(self.poll_sync)

    # -- callbacks, called on the services' threads ---------------------------------------

    def on_card_event(self, event: CardEvent) -> None:
        self.card_event.emit(event)

    def on_print_event(self, event: PrintEvent) -> None:
        self.print_event.emit(event)

    def on_call_event(self, event: CallEvent) -> None:
        self.call_event.emit(event)

    # -- sync ------------------------------------------------------------------------------

    def watch_sync(self, source: SyncSource | None) -> None:
        """Poll `source` for its status from now on (None: stop)."""
        self._sync = source
        if source is None:
            self._timer.stop()
        else:
            self._timer.start()
            self.poll_sync()

    def kick_sync(self) -> None:
        if self._sync is not None:
            self._sync.kick()

    def poll_sync(self) -> None:
        source = self._sync
        if source is None or self._polling:
            return
        self._polling = True
        self._tasks.run_in_background(source.status, self._got_status, self._status_failed)

    def _got_status(self, status: SyncStatus) -> None:
        self._polling = False
        self.sync_status.emit(status)

    def _status_failed(self, error: BaseException) -> None:
        self._polling = False
        log.warning("could not read the sync status: %s", type(error).__name__)
