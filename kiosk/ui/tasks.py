"""Run work off the Qt main thread and come back to it with the outcome.

The main thread only draws and handles input (DESIGN.md, "Threads"). Anything that may
block — reading the disk or the database, say — goes to `TaskManager.run_in_background`:
the callable runs on a worker of a small thread pool, and its result or exception is
handed to a callback on the main thread through a queued Qt signal. The callable must not
touch any widget; the callbacks may. A callback that finds its widget deleted (the window
closed while the task ran) is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

logger = logging.getLogger(__name__)

T = TypeVar("T")


def on_main_thread() -> bool:
    """Whether the caller runs on the Qt main (GUI) thread."""
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() == app.thread()


class TaskManager(QObject):
    """A thread pool whose tasks report back on the main thread."""

    _closure_ready = Signal(object)

    def __init__(self, parent: QObject | None = None, *, max_workers: int = 4) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="kiosk-task"
        )
        self._stopped = False
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._closure_ready.connect(self._run_closure, Qt.ConnectionType.QueuedConnection)

    def run_in_background(
        self,
        task: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: Callable[[BaseException], None],
    ) -> Future[T]:
        """Run `task` on a worker thread; then, on the main thread, call `on_success` with
        its result or `on_failure` with the exception it raised."""
        with self._pending_lock:
            self._pending += 1
        future = self._executor.submit(task)
        future.add_done_callback(
            lambda done: self.run_on_main(partial(self._settle, done, on_success, on_failure))
        )
        return future

    @property
    def pending(self) -> int:
        """How many tasks have not yet come back to the main thread: running, waiting
        for a worker, or with their outcome still on its way to the callback. (After
        `shutdown` outcomes are dropped, and the count no longer falls.)"""
        with self._pending_lock:
            return self._pending

    def run_on_main(self, closure: Callable[[], None]) -> None:
        """Call `closure` on the main thread, from any thread, once the event loop is free."""
        self._closure_ready.emit(closure)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking tasks, drop the ones not yet started, and (by default) wait for the
        running ones. Nothing queued for the main thread runs after this."""
        self._stopped = True
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def _settle(
        self,
        future: Future[T],
        on_success: Callable[[T], None],
        on_failure: Callable[[BaseException], None],
    ) -> None:
        with self._pending_lock:
            self._pending -= 1
        if future.cancelled():
            logger.debug("a background task was cancelled before it ran")
            return
        error = future.exception()
        if error is not None:
            on_failure(error)
        else:
            on_success(future.result())

    def _run_closure(self, closure: Callable[[], None]) -> None:
        if self._stopped:
            return
        try:
            closure()
        except RuntimeError as error:
            # A result that comes back for a widget Qt has already deleted (its window
            # closed while the task ran) has nobody to show it to: dropped.
            if "already deleted" not in str(error):
                raise
            logger.debug("a background result came back for a deleted widget: dropped")

