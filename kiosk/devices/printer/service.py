"""The print service: one thread that owns the printer and works through the print queue.

Each pass (`step`) looks at the jobs still to print, oldest first, printer by printer:

- a job the print system holds is only watched: done → `done`; still waiting while the
  printer reports a fault → `failed` with that fault (the print system keeps it and prints
  it when the printer is back, and the job becomes `done` then); lost by the print system
  (cancelled, or gone with a deleted queue) → `failed`, and its print-system id is cleared
  so that it is sent again once the printer is back. A job is never sent while the print
  system still holds it, so it never prints twice;
- a job not sent yet (or lost) is sent when the printer is ready, in queue order; while
  the printer is not ready it is `failed` with the reason, and waits.

The thread never dies: an error nobody expected is logged (never with personal data: job
titles are kinds and references) and the pass is tried again. It polls every `poll_s`
while jobs are open, backs off to `fault_poll_cap_s` while the printer is in a fault,
and otherwise sleeps until `wake()` (a job was queued here) or `idle_poll_s` (one queued by
another process, such as `kiosk print reprint` while the kiosk runs).

Only one process may drive the printer: the service holds an exclusive lock on
`printer.lock` in the data folder while it runs (`PrinterBusy` if another process has it;
that process will print what this one queues).

Events (`PrintEvent`) go to a plain callback on the service's thread, as with the other
devices; the Qt side turns them into signals in ui/bridge.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

from kiosk.devices.backoff import Backoff
from kiosk.devices.printer.backends import PrinterBackend, PrinterStatus, Progress
from kiosk.devices.printer.errors import PrinterError
from kiosk.devices.printer.jobs import KEEP, JobState, PrintJobView, PrintQueue
from kiosk.errors import DoorstepError

log = logging.getLogger(__name__)


class PrinterBusy(DoorstepError):
    """Another process (the running kiosk) is driving the printer."""

    action = "Nothing to do: the running kiosk prints the job."


class PrintEventKind(StrEnum):
    QUEUED = "queued"  # a job was sent to the print system
    DONE = "done"
    FAILED = "failed"  # a job cannot print now; `error` says why; it will be retried
    PRINTER_READY = "printer_ready"
    PRINTER_FAULT = "printer_fault"
    STOPPED = "stopped"


@dataclass(frozen=True)
class PrintEvent:
    kind: PrintEventKind
    job: PrintJobView | None = None
    error: PrinterError | None = None
    printer: str = ""
    at: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        what = f"job {self.job.id[:8]} ({self.job.title})" if self.job else self.printer
        return f"{what}: {self.kind.value}" + (f": {self.error}" if self.error else "")


@dataclass(frozen=True)
class PrinterHealth:
    running: bool
    ready: bool | None  # None: not asked yet
    problem: str | None  # a reason code
    detail: str | None
    open_jobs: int
    last_done: float | None  # monotonic time of the last finished job


BackendFactory = Callable[[str | None], PrinterBackend]


class PrinterService:
    def __init__(
        self,
        queue: PrintQueue,
        backend_for: BackendFactory,
        *,
        spool: Path,
        on_event: Callable[[PrintEvent], None] | None = None,
        poll_s: float = 1.0,
        fault_poll_cap_s: float = 10.0,
        idle_poll_s: float = 5.0,
    ) -> None:
        self.queue = queue
        self._backend_for = backend_for
        self._backends: dict[str | None, PrinterBackend] = {}
        self._spool = Path(spool)
        self._on_event = on_event
        self._poll_s = poll_s
        self._idle_poll_s = idle_poll_s
        self._backoff = Backoff(poll_s, fault_poll_cap_s)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[bytes] | None = None
        self._status: dict[str | None, PrinterStatus | PrinterError] = {}
        self._open_jobs = 0
        self._last_done: float | None = None
        self._health_lock = threading.Lock()

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Take the printer lock and start the thread (PrinterBusy if another has it)."""
        self._spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_file = _take_lock(self._spool / "printer.lock")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> PrinterService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self) -> None:
        """Look at the queue now (call after queueing a job)."""
        self._wake.set()

    def print_document(
        self, document: bytes, *, kind: str, title: str, reference: str | None = None
    ) -> PrintJobView:
        """Queue a PDF (safe on disk when this returns) and wake the thread."""
        job = self.queue.add(document, kind=kind, title=title, reference=reference)
        self.wake()
        return job

    def health(self) -> PrinterHealth:
        with self._health_lock:
            status = self._status.get(None)
            if status is None and self._status:
                status = next(iter(self._status.values()))
            problem: PrinterError | None
            if isinstance(status, PrinterError):
                problem = status
            else:
                problem = status.problem if status is not None else None
            return PrinterHealth(
                running=self._thread is not None and self._thread.is_alive(),
                ready=None if status is None else problem is None,
                problem=problem.reason if problem else None,
                detail=str(problem) if problem else None,
                open_jobs=self._open_jobs,
                last_done=self._last_done,
            )

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                open_jobs, fault = self.step()
            except Exception:  # never die; the next pass tries again
                log.exception("print service pass failed")
                open_jobs, fault = 1, True
            if not open_jobs:
                self._backoff.reset()
                delay = self._idle_poll_s
            elif fault:
                delay = self._backoff.next()
            else:
                self._backoff.reset()
                delay = self._poll_s
            self._wake.wait(delay)
            self._wake.clear()
        self._emit(PrintEvent(PrintEventKind.STOPPED))

    def step(self) -> tuple[int, bool]:
        """One pass over the open jobs; returns how many are open and whether a printer
        is in a fault. Called by the thread; tests may call it directly instead."""
        jobs = self.queue.jobs(active_only=True)
        with self._health_lock:
            self._open_jobs = len(jobs)
        fault = False
        by_printer: dict[str | None, list[PrintJobView]] = {}
        for job in jobs:
            by_printer.setdefault(job.printer, []).append(job)
        for printer, waiting in by_printer.items():
            fault |= self._work_printer(printer, waiting)
        return len(jobs), fault

    def _work_printer(self, printer: str | None, jobs: list[PrintJobView]) -> bool:
        backend = self._backends.get(printer)
        if backend is None:
            backend = self._backends[printer] = self._backend_for(printer)
        problem = self._check(printer, backend)
        may_send = problem is None
        for job in jobs:
            if job.backend_job is not None:
                self._watch(job, backend, problem)
                continue
            if not may_send:
                assert problem is not None
                self._failed(job, problem)
                continue
            try:
                self._send(job, backend)
            except PrinterError as error:
                # Keep the order: nothing after a job that could not be sent goes first.
                may_send = False
                problem = error
                self._failed(job, error, attempted=True)
        return problem is not None

    def _check(self, printer: str | None, backend: PrinterBackend) -> PrinterError | None:
        try:
            status: PrinterStatus | PrinterError = backend.status()
        except PrinterError as error:
            status = error
        problem = status if isinstance(status, PrinterError) else status.problem
        with self._health_lock:
            before = self._status.get(printer)
            self._status[printer] = status
        was = (
            before if isinstance(before, PrinterError) else before.problem if before else None
        )
        if (was is None) != (problem is None) or (
            was is not None and problem is not None and was.reason != problem.reason
        ) or before is None:
            name = backend.name
            if problem is None:
                log.info("printer %s is ready", name)
                self._emit(PrintEvent(PrintEventKind.PRINTER_READY, printer=name))
            else:
                log.warning("printer %s: %s: %s", name, problem.reason, problem)
                self._emit(PrintEvent(PrintEventKind.PRINTER_FAULT, printer=name, error=problem))
        return problem

    def _send(self, job: PrintJobView, backend: PrinterBackend) -> None:
        with self._staged(job) as path:
            backend_job = backend.submit(path, job.title)
        updated = self.queue.mark(
            job.id, JobState.PRINTING, backend_job=backend_job, attempted=True
        )
        log.info("job %s (%s) sent to %s as %s", job.id[:8], job.title, backend.name, backend_job)
        self._emit(PrintEvent(PrintEventKind.QUEUED, job=updated, printer=backend.name))

    def _watch(
        self, job: PrintJobView, backend: PrinterBackend, problem: PrinterError | None
    ) -> None:
        assert job.backend_job is not None
        try:
            progress = backend.job(job.backend_job)
        except PrinterError as error:
            self._failed(job, error)  # cannot ask now: keep the job as it is in CUPS
            return
        if progress.progress is Progress.DONE:
            updated = self.queue.mark(job.id, JobState.DONE, detail=progress.detail or None)
            with self._health_lock:
                self._last_done = time.monotonic()
            log.info("job %s (%s) printed", job.id[:8], job.title)
            self._emit(PrintEvent(PrintEventKind.DONE, job=updated, printer=backend.name))
        elif progress.progress is Progress.LOST:
            error = problem or PrinterError(f"the print system dropped the job: {progress.detail}")
            self._failed(job, error, lost=True)
        elif problem is not None:
            self._failed(job, problem)
        elif job.state is not JobState.PRINTING:
            self.queue.mark(job.id, JobState.PRINTING)

    def _failed(
        self, job: PrintJobView, error: PrinterError, *, attempted: bool = False, lost: bool = False
    ) -> None:
        """Record that a job cannot print now. A job the print system still holds keeps its
        print-system id (it prints when the printer is back); a `lost` one loses it, so
        that it is sent again."""
        unchanged = job.state is JobState.FAILED and job.reason == error.reason
        if unchanged and not attempted and not (lost and job.backend_job is not None):
            return  # nothing new to record
        updated = self.queue.mark(
            job.id,
            JobState.FAILED,
            reason=error.reason,
            detail=str(error),
            backend_job=None if lost else KEEP,
            attempted=attempted,
        )
        log.warning("job %s (%s) not printed: %s: %s", job.id[:8], job.title, error.reason, error)
        self._emit(PrintEvent(PrintEventKind.FAILED, job=updated, error=error))

    @contextlib.contextmanager
    def _staged(self, job: PrintJobView) -> Iterator[Path]:
        """The job's PDF as a private file for the print system to read, removed after."""
        path = self._spool / f"{job.id}.pdf"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(self.queue.document(job.id))
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _emit(self, event: PrintEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("a print event listener failed")


def _take_lock(path: Path) -> IO[bytes]:
    """An exclusive lock on `path`, held as long as the returned file stays open."""
    stream = path.open("ab")
    try:
        if os.name == "nt":  # pragma: no cover - the Windows backend is not written yet
            import msvcrt

            msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise PrinterBusy("another process is driving the printer") from None
    return stream
