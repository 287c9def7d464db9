"""Printer backends: one small interface, CUPS behind it on Linux, a folder for the demo.

A backend answers three questions and does one thing:

- `status()`: can the printer print now? (`PrinterStatus`, or a `PrinterError` when the
  printer or the print system cannot even be asked);
- `submit(path, title)`: hand a PDF to the print system; returns the system's job id;
- `job(job_id)`: where that job is (`JobProgress`): waiting or printing, done, or lost
  (cancelled, aborted, gone with a deleted queue: it will not print unless sent again);
- `destinations()`: the printers the print system knows.

`CupsBackend` talks IPP to CUPS through pycups (libcups), on the machine's CUPS or on the
one named by `server` (a host or a socket path, as `lp -h` takes). CUPS keeps a job it
accepted, across a printer running out of paper or being paused, and prints it when the
printer is back: the print service therefore sends a job once and then only watches it,
unless CUPS says it lost it. Printer state reasons (RFC 8011 / PWG 5100.9 keywords) are
mapped to our reasons: media-empty → out of paper, media-jam → paper jam, and so on.

`FolderBackend` is the simulated printer of the demo: a job is a PDF written into a
folder. Faults can be set by creating a file named after the fault's reason in the
folder (`offline`, `out_of_paper`, …), so the demo and the UI can show a broken printer.

The Windows print spooler is the next backend for this interface; it is not written yet
(stations run Linux), see the README.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from kiosk.config import DeviceBackend, Paths, Settings
from kiosk.devices.printer.errors import (
    REASONS,
    CoverOpen,
    DocumentRefused,
    OutOfInk,
    OutOfPaper,
    PaperJam,
    PrinterError,
    PrinterOffline,
    PrintSystemDown,
    UnknownPrinter,
)


@dataclass(frozen=True)
class PrinterStatus:
    """Whether the printer can print now; if not, the error that says why."""

    name: str
    problem: PrinterError | None = None

    @property
    def ready(self) -> bool:
        return self.problem is None


class Progress(StrEnum):
    WAITING = "waiting"  # accepted, not printing yet (or held while the printer is stopped)
    PRINTING = "printing"
    DONE = "done"
    LOST = "lost"  # will not print: cancelled, aborted, or gone with its queue


@dataclass(frozen=True)
class JobProgress:
    progress: Progress
    detail: str = ""


class PrinterBackend(Protocol):
    """What the print service needs of a printer."""

    @property
    def name(self) -> str: ...

    def status(self) -> PrinterStatus: ...

    def submit(self, document: Path, title: str) -> str: ...

    def job(self, job_id: str) -> JobProgress: ...

    def destinations(self) -> list[str]: ...


# -- CUPS -------------------------------------------------------------------------------

# IPP printer-state
_IDLE, _PROCESSING, _STOPPED = 3, 4, 5
# IPP job-state
_JOB_PENDING, _JOB_HELD, _JOB_PROCESSING, _JOB_STOPPED = 3, 4, 5, 6
_JOB_CANCELED, _JOB_ABORTED, _JOB_COMPLETED = 7, 8, 9

# printer-state-reasons keywords (without their -error/-warning/-report suffix), in the
# order they are reported when several hold: the most useful to staff first.
_STATE_REASONS: tuple[tuple[str, type[PrinterError]], ...] = (
    ("media-empty", OutOfPaper),
    ("media-needed", OutOfPaper),
    ("media-jam", PaperJam),
    ("cover-open", CoverOpen),
    ("door-open", CoverOpen),
    ("interlock-open", CoverOpen),
    ("toner-empty", OutOfInk),
    ("marker-supply-empty", OutOfInk),
    ("offline", PrinterOffline),
    ("shutdown", PrinterOffline),
    ("connecting-to-device", PrinterOffline),
    ("timed-out", PrinterOffline),
)

_IPP_NOT_FOUND = 0x0406  # client-error-not-found
_IPP_NOT_POSSIBLE = 0x0404  # client-error-not-possible
_IPP_DOCUMENT_FORMAT = 0x040A  # client-error-document-format-not-supported
_HTTP_ERRORS = {
    # libcups reports a scheduler it cannot reach as one of these
    "server-error-service-unavailable",
}


def problem_from_reasons(
    state: int, reasons: list[str], accepting: bool, message: str = ""
) -> PrinterError | None:
    """The error a printer's IPP state stands for, or None when it can print.

    A reason counts when it is an error (no suffix or `-error`, RFC 8011 §5.4.12) or the
    printer is stopped; `offline` counts with any suffix, as CUPS's backends report a
    printer that does not answer with `offline-report`.
    """
    severity: dict[str, bool] = {}
    for reason in reasons:
        keyword, suffix = _split_reason(reason)
        severe = suffix in ("", "-error") or keyword == "offline" or state == _STOPPED
        severity[keyword] = severity.get(keyword, False) or severe
    for keyword, error in _STATE_REASONS:
        if severity.get(keyword):
            return error(_printer_words(keyword, message))
    if state == _STOPPED or "paused" in severity:
        return PrinterOffline(_printer_words("stopped", message))
    if not accepting:
        return PrinterOffline(_printer_words("not accepting jobs", message))
    return None


def _split_reason(reason: str) -> tuple[str, str]:
    """A printer-state-reasons keyword and its severity suffix ("" when it has none)."""
    for suffix in ("-error", "-warning", "-report"):
        if reason.endswith(suffix):
            return reason.removesuffix(suffix), suffix
    return reason, ""


def _printer_words(what: str, message: str) -> str:
    return f"printer {what}" + (f": {message}" if message else "")


class CupsBackend:
    """A CUPS queue, through pycups. One instance per thread (libcups is not shared)."""

    def __init__(self, printer: str | None = None, server: str | None = None) -> None:
        self._printer = printer or None
        self._server = server or None

    @property
    def name(self) -> str:
        return self._printer or "(default printer)"

    def _connect(self) -> Any:
        try:
            import cups  # pycups: only on systems with CUPS
        except ImportError as exc:  # pragma: no cover - a Windows or broken install
            raise PrintSystemDown(f"pycups cannot be loaded: {exc}") from None
        try:
            if self._server:
                return cups.Connection(host=self._server)
            return cups.Connection()
        except RuntimeError as exc:  # pycups: "failed to connect to server"
            raise PrintSystemDown(f"CUPS is not answering: {exc}") from None

    def _queue(self, connection: Any) -> str:
        if self._printer:
            return self._printer
        default = connection.getDefault()
        if not default:
            raise UnknownPrinter("no printer is named in the settings and CUPS has no default")
        return str(default)

    def status(self) -> PrinterStatus:
        connection = self._connect()
        queue = self._queue(connection)
        try:
            attributes = connection.getPrinterAttributes(
                queue,
                requested_attributes=[
                    "printer-state",
                    "printer-state-reasons",
                    "printer-state-message",
                    "printer-is-accepting-jobs",
                ],
            )
        except Exception as exc:
            raise _cups_error(exc, queue) from None
        reasons = attributes.get("printer-state-reasons") or []
        if isinstance(reasons, str):
            reasons = [reasons]
        problem = problem_from_reasons(
            int(attributes.get("printer-state", _IDLE)),
            [str(r) for r in reasons],
            bool(attributes.get("printer-is-accepting-jobs", True)),
            str(attributes.get("printer-state-message") or "")[:200],
        )
        return PrinterStatus(queue, problem)

    def submit(self, document: Path, title: str) -> str:
        connection = self._connect()
        queue = self._queue(connection)
        try:
            job_id = connection.printFile(queue, str(document), title, media_options(document))
        except Exception as exc:
            raise _cups_error(exc, queue) from None
        return str(job_id)

    def job(self, job_id: str) -> JobProgress:
        connection = self._connect()
        try:
            attributes = connection.getJobAttributes(
                int(job_id), requested_attributes=["job-state", "job-state-reasons"]
            )
        except Exception as exc:
            error = _cups_error(exc, self.name)
            if isinstance(error, UnknownPrinter):  # the job itself is unknown: purged
                return JobProgress(Progress.LOST, "the print system no longer has the job")
            raise error from None
        state = int(attributes.get("job-state", _JOB_PENDING))
        reasons = attributes.get("job-state-reasons") or ""
        detail = ",".join(reasons) if isinstance(reasons, list) else str(reasons)
        if state == _JOB_COMPLETED:
            return JobProgress(Progress.DONE, detail)
        if state in (_JOB_CANCELED, _JOB_ABORTED):
            return JobProgress(Progress.LOST, f"job {job_id} {detail or 'cancelled'}")
        if state == _JOB_PROCESSING:
            return JobProgress(Progress.PRINTING, detail)
        return JobProgress(Progress.WAITING, detail)

    def destinations(self) -> list[str]:
        connection = self._connect()
        try:
            return sorted(connection.getPrinters())
        except Exception as exc:
            raise _cups_error(exc, self.name) from None


_MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
_SHEETS = ((595.28, 841.89), (612.0, 792.0))  # A4, Letter: the printer's own media


def media_options(document: Path) -> dict[str, str]:
    """CUPS job options that print `document` (a PDF) on paper of its own size when that is
    not a sheet (A4, Letter): an 80 mm roll receipt then comes out 80 mm wide and as long as
    it is, not shrunk onto A4. A PDF whose size cannot be read gets no options."""
    try:
        with document.open("rb") as stream:
            head = stream.read(1 << 20)
    except OSError:
        return {}
    match = _MEDIA_BOX.search(head)
    if match is None:
        return {}
    x0, y0, x1, y1 = (float(v) for v in match.groups())
    width, height = abs(x1 - x0), abs(y1 - y0)
    if width <= 0 or height <= 0:
        return {}
    for sheet in _SHEETS:
        if abs(width - sheet[0]) < 2 and abs(height - sheet[1]) < 2:
            return {}
    millimetres = 25.4 / 72
    return {"media": f"Custom.{width * millimetres:.1f}x{height * millimetres:.1f}mm"}


def _cups_error(exc: Exception, queue: str) -> PrinterError:
    """A pycups exception as one of our errors."""
    try:
        import cups
    except ImportError:  # pragma: no cover
        return PrinterError(str(exc))
    if isinstance(exc, cups.IPPError):
        status, message = exc.args if len(exc.args) == 2 else (0, str(exc))
        if status == _IPP_NOT_FOUND:
            return UnknownPrinter(f"CUPS has no printer {queue!r} ({message})")
        if status == _IPP_DOCUMENT_FORMAT:
            return DocumentRefused(f"CUPS refused the document: {message}")
        if status == _IPP_NOT_POSSIBLE:
            return PrinterOffline(f"printer {queue!r} is not accepting jobs: {message}")
        if message in _HTTP_ERRORS or status in (-1, 0) or status >= 0x0500 or status < 0x0400:
            return PrintSystemDown(f"CUPS did not answer properly: {message or status}")
        return DocumentRefused(f"CUPS refused the job: {message} ({status:#06x})")
    if isinstance(exc, RuntimeError):
        return PrintSystemDown(f"CUPS is not answering: {exc}")
    return PrinterError(f"printing failed: {type(exc).__name__}: {exc}")


# -- the folder printer (simulator) -----------------------------------------------------


class FolderBackend:
    """A simulated printer that "prints" by writing the PDF into `folder`.

    A file named after a reason (`offline`, `out_of_paper`, `paper_jam`, `cover_open`,
    `out_of_ink`) in the folder makes the printer report that fault; a job sent while it
    is there waits, and prints when the file is removed.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def name(self) -> str:
        return f"folder {self.folder}"

    def status(self) -> PrinterStatus:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnknownPrinter(f"cannot use the printer folder {self.folder}: {exc}") from None
        for reason in ("offline", "out_of_paper", "paper_jam", "cover_open", "out_of_ink"):
            if (self.folder / reason).exists():
                return PrinterStatus(self.name, REASONS[reason](f"simulated: {reason}"))
        return PrinterStatus(self.name)

    def submit(self, document: Path, title: str) -> str:
        self.status()  # the folder must exist
        job_id = secrets.token_hex(6)
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", title)[:60]
        # Held as a hidden file until the simulated printer can print it, as CUPS would
        # hold it; the folder is the only state, so a restarted kiosk finds it again.
        temporary = self.folder / f".{job_id}.tmp"
        shutil.copyfile(document, temporary)
        temporary.replace(self.folder / f".{job_id}.{safe}.pending")
        self._flush()
        return job_id

    def job(self, job_id: str) -> JobProgress:
        self._flush()
        if any(self.folder.glob(f".{job_id}.*.pending")):
            return JobProgress(Progress.WAITING, "printer not ready")
        if any(self.folder.glob(f"*-{job_id}.pdf")):
            return JobProgress(Progress.DONE)
        return JobProgress(Progress.LOST, "the simulated printer has no such job")

    def destinations(self) -> list[str]:
        return [self.name]

    def _flush(self) -> None:
        if not self.status().ready:
            return
        for held in sorted(self.folder.glob(".*.pending"), key=lambda p: p.stat().st_mtime_ns):
            job_id, safe = held.name[1:].removesuffix(".pending").split(".", 1)
            with contextlib.suppress(FileNotFoundError):
                held.replace(self.folder / f"{safe}-{job_id}.pdf")


def backends_from_settings(
    settings: Settings, paths: Paths
) -> Callable[[str | None], PrinterBackend]:
    """What the print service uses to get the backend for a job's printer (None: the
    configured one): CUPS for a real printer, the folder for the simulated one."""
    config = settings.printer
    if settings.devices.printer is DeviceBackend.SIMULATOR:
        folder = Path(config.folder).expanduser() if config.folder else paths.printed
        return lambda printer: FolderBackend(folder)
    return lambda printer: CupsBackend(printer or config.name or None, config.server or None)
