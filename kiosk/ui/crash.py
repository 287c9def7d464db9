"""Crash reports: when the kiosk dies of an error nobody caught, a report is left in
`<data>/crash/` for staff to see and a technician to read, and the kiosk exits non-zero so
that systemd starts it again.

`install_crash_reporter(folder)` sets `sys.excepthook` (the main thread, and every
exception a Qt slot or event handler lets out, which PySide hands to that hook) and
`threading.excepthook` (any other thread). An unhandled exception then:

1. is written as a JSON report, `crash-<time>-<pid>.json`: the time, Doorstep's version,
   the thread, and each exception of the chain (cause or context) with its type and its
   traceback's frames as file, line and function — no local variables, no source lines;
2. is logged at CRITICAL (logger "kiosk.crash") with the same traceback;
3. ends the program: with a Qt event loop running, `QCoreApplication.exit(70)` (so the
   window, the services and the store close as usual and `kiosk run` exits 70); without
   one, an exception on another thread exits at once with 70, and one on the main thread
   ends the interpreter as Python always does (status 1). If the program has not ended
   `EXIT_GRACE_S` seconds later, it is ended hard with 70.

Exception messages are left out — of every exception that is not a `DoorstepError`,
whose messages are written for staff and hold no personal data (kiosk/errors.py). Any
other message may quote what it failed on (a name, an ID number), so the report says only
that a message was withheld. Python's default hooks, which print the message to stderr
(and so into the journal), are not called.

A crash Python cannot catch (a segmentation fault, an abort) is written by
`faulthandler` into `fatal-<time>-<pid>.txt`, opened when the reporter is installed and
removed when the program ends normally; faulthandler writes only files, lines and
function names. `sys.unraisablehook` (errors in `__del__` and the like, which do not end
the program) logs the same scrubbed traceback at WARNING.

For the staff screen, `pending_crash_reports(folder)` lists the reports not yet seen,
oldest first, and `acknowledge(report)` moves one to `acknowledged/` (the newest
`KEEP_ACKNOWLEDGED` are kept there). A report that cannot be read is still listed, as
"unreadable", so a crash is never hidden by a damaged file.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TextIO

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

from kiosk import __version__
from kiosk.errors import DoorstepError

logger = logging.getLogger("kiosk.crash")

CRASH_FOLDER_NAME: Final = "crash"
ACKNOWLEDGED_FOLDER_NAME: Final = "acknowledged"
CRASH_EXIT_CODE: Final = 70  # EX_SOFTWARE: systemd's Restart=on-failure starts the kiosk again
EXIT_GRACE_S: Final = 10.0
KEEP_ACKNOWLEDGED: Final = 50
REPORT_FORMAT: Final = 1
MAX_REPORTS_PER_RUN: Final = 5
MAX_CHAIN: Final = 5
MAX_FRAMES: Final = 100

_REPORT_PREFIX = "crash-"
_FATAL_PREFIX = "fatal-"
_FATAL_HEADER = "Doorstep {version}, process {pid}, started {at}\n"
_WITHHELD = "message withheld: it may hold personal data"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def crash_folder(data_dir: Path) -> Path:
    """Where the kiosk whose data folder is `data_dir` keeps its crash reports."""
    return data_dir / CRASH_FOLDER_NAME


@dataclass(frozen=True)
class CrashReport:
    """One crash, as the staff screen shows it: when, what (an exception's type, or the
    kind of fatal error; never a message), which version, and the file it is saved as."""

    path: Path
    at: datetime
    kind: str  # "exception", "fatal" or "unreadable"
    summary: str
    version: str | None

    @property
    def name(self) -> str:
        return self.path.name


def describe_exception(error: BaseException) -> list[dict[str, Any]]:
    """The exception and the chain that led to it (outermost first), scrubbed: each one's
    type, its frames, and its message only if it is a DoorstepError."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        kind = type(current)
        keep = isinstance(current, DoorstepError)
        chain.append(
            {
                "type": f"{kind.__module__}.{kind.__qualname__}",
                "message": str(current) if keep else None,
                "message_withheld": not keep,
                "frames": _frames(current.__traceback__),
            }
        )
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def format_chain(chain: list[dict[str, Any]]) -> str:
    """A scrubbed chain as a traceback reads, for the log."""
    parts: list[str] = []
    for number, entry in enumerate(reversed(chain)):
        if number:
            parts.append("which led to:")
        parts.append("Traceback (most recent call last):")
        parts += [
            f'  File "{frame["file"]}", line {frame["line"]}, in {frame["function"]}'
            for frame in entry["frames"]
        ]
        message = entry["message"] if entry["message"] is not None else f"({_WITHHELD})"
        parts.append(f"{entry['type']}: {message}")
    return "\n".join(parts)


def write_report(
    folder: Path, error: BaseException, *, thread: str, at: datetime | None = None
) -> Path:
    """Write the scrubbed report of `error` into `folder` (made if missing) and return its
    path. The file appears whole or not at all."""
    at = at or datetime.now().astimezone()
    report = {
        "format": REPORT_FORMAT,
        "at": at.isoformat(timespec="seconds"),
        "version": __version__,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
        "thread": thread,
        "exceptions": describe_exception(error),
    }
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_REPORT_PREFIX}{at.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    path = folder / f"{stem}.json"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.json"
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        json.dump(report, file, ensure_ascii=False, indent=2)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return path


class _Exiter(QObject):
    """Ends the Qt event loop from any thread: the request is queued to the main thread."""

    requested = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.requested.connect(self._exit, Qt.ConnectionType.QueuedConnection)

    def _exit(self, code: int) -> None:
        QCoreApplication.exit(code)


class CrashReporter:
    """The installed hooks; `install_crash_reporter` makes one. `uninstall` puts back the
    hooks that were there before (for tests)."""

    def __init__(self, folder: Path, *, exit_code: int = CRASH_EXIT_CODE) -> None:
        self.folder = folder
        self.exit_code = exit_code
        self.reports: list[Path] = []
        self._lock = threading.Lock()
        self._exiter = _Exiter()
        self._stopping = False
        self._fatal_file: TextIO | None = None
        self._previous: tuple[Any, Any, Any] | None = None
        self._faulthandler_was_enabled = False

    def install(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_fatal_files(self.folder)
        self._previous = (sys.excepthook, threading.excepthook, sys.unraisablehook)
        sys.excepthook = self._main_hook
        threading.excepthook = self._thread_hook
        sys.unraisablehook = self._unraisable_hook
        self._faulthandler_was_enabled = faulthandler.is_enabled()
        at = datetime.now().astimezone()
        stamp = at.strftime("%Y%m%dT%H%M%S")
        fatal_path = self.folder / f"{_FATAL_PREFIX}{stamp}-{os.getpid()}.txt"
        self._fatal_file = fatal_path.open("w", encoding="utf-8")
        self._fatal_file.write(
            _FATAL_HEADER.format(
                version=__version__, pid=os.getpid(), at=at.isoformat(timespec="seconds")
            )
        )
        self._fatal_file.flush()
        faulthandler.enable(file=self._fatal_file, all_threads=True)

    def uninstall(self) -> None:
        """Put the previous hooks back and remove the (unused) fatal-error file."""
        if self._previous is not None:
            sys.excepthook, threading.excepthook, sys.unraisablehook = self._previous
            self._previous = None
        if self._fatal_file is not None:
            faulthandler.disable()
            if self._faulthandler_was_enabled:
                faulthandler.enable()
            path = Path(self._fatal_file.name)
            self._fatal_file.close()
            self._fatal_file = None
            if _fatal_error_text(path) is None:
                path.unlink(missing_ok=True)

    def record(self, error: BaseException, thread: str) -> Path | None:
        """Write and log the report of `error`; None if it could not be written."""
        chain = describe_exception(error)
        with self._lock:
            if len(self.reports) >= MAX_REPORTS_PER_RUN:
                logger.critical("another unhandled %s in thread %s", chain[0]["type"], thread)
                return None
            try:
                path: Path | None = write_report(self.folder, error, thread=thread)
            except OSError as problem:
                path = None
                logger.error("the crash report could not be written: %s", problem)
            if path is not None:
                self.reports.append(path)
        logger.critical(
            "the kiosk stopped: unhandled %s in thread %s; report saved as %s\n%s",
            chain[0]["type"],
            thread,
            path,
            format_chain(chain),
        )
        return path

    def _main_hook(
        self,
        kind: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        if error.__traceback__ is None:
            error = error.with_traceback(tb)
        self.record(error, threading.current_thread().name)
        self._stop(on_main_thread=True)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        thread = args.thread.name if args.thread is not None else "unknown thread"
        self.record(args.exc_value, thread)
        self._stop(on_main_thread=threading.current_thread() is threading.main_thread())

    def _unraisable_hook(self, unraisable: Any) -> None:
        error = unraisable.exc_value
        if error is None:
            return
        logger.warning(
            "an error nobody could catch was ignored\n%s",
            format_chain(describe_exception(error)),
        )

    def _stop(self, *, on_main_thread: bool) -> None:
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        watchdog = threading.Timer(EXIT_GRACE_S, self._exit_now)
        watchdog.daemon = True
        watchdog.name = "crash-exit"
        watchdog.start()
        app = QCoreApplication.instance()
        if app is not None and app.thread().loopLevel() > 0:
            self._exiter.requested.emit(self.exit_code)
        elif not on_main_thread:
            self._exit_now()
        # Otherwise the main thread's exception ends the interpreter once this returns.

    def _exit_now(self) -> None:
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(self.exit_code)


def install_crash_reporter(folder: Path, *, exit_code: int = CRASH_EXIT_CODE) -> CrashReporter:
    """Report unhandled exceptions and fatal errors into `folder` and end the program
    with `exit_code` (see the module's docstring). Call it once, early, on the main
    thread. The fatal-error file is removed when the program ends normally."""
    reporter = CrashReporter(folder, exit_code=exit_code)
    reporter.install()
    atexit.register(reporter.uninstall)
    return reporter


def pending_crash_reports(folder: Path) -> list[CrashReport]:
    """The crashes not yet acknowledged, oldest first. Never raises for a bad file."""
    if not folder.is_dir():
        return []
    reports: list[CrashReport] = []
    for path in folder.iterdir():
        if not path.is_file():
            continue
        if path.name.startswith(_REPORT_PREFIX) and path.suffix == ".json":
            reports.append(_read_report(path))
        elif path.name.startswith(_FATAL_PREFIX) and path.suffix == ".txt":
            fatal = _read_fatal(path)
            if fatal is not None:
                reports.append(fatal)
    return sorted(reports, key=lambda report: (report.at, report.name))


def acknowledge(report: CrashReport) -> None:
    """Staff have seen `report`: move it out of the pending list into `acknowledged/`,
    keeping the newest `KEEP_ACKNOWLEDGED` there."""
    seen = report.path.parent / ACKNOWLEDGED_FOLDER_NAME
    seen.mkdir(exist_ok=True)
    try:
        report.path.replace(seen / report.path.name)
    except FileNotFoundError:
        return
    kept = sorted(seen.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in kept[KEEP_ACKNOWLEDGED:]:
        old.unlink(missing_ok=True)


def _frames(tb: TracebackType | None) -> list[dict[str, Any]]:
    frames = [
        {
            "file": _short_path(frame.f_code.co_filename),
            "line": line,
            "function": frame.f_code.co_name,
        }
        for frame, line in traceback.walk_tb(tb)
    ]
    return frames[-MAX_FRAMES:]


def _short_path(filename: str) -> str:
    """A source file's path without the folders above the project or site-packages
    (which can name the station's user)."""
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return path.relative_to(_PACKAGE_ROOT).as_posix()
    parts = path.parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return filename


def _read_report(path: Path) -> CrashReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            at = at.astimezone()
        first = data["exceptions"][0]
        thread = str(data.get("thread", "?"))
        return CrashReport(
            path, at, "exception", f"{first['type']} in thread {thread}", str(data["version"])
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as error:
        logger.warning("crash report %s cannot be read: %s", path.name, type(error).__name__)
        return CrashReport(path, _mtime(path), "unreadable", "unreadable report", None)


def _read_fatal(path: Path) -> CrashReport | None:
    """A fatal-error file as a report, if it holds a fatal error and its process is gone."""
    if _pid_of(path) == os.getpid():
        return None
    text = _fatal_error_text(path)
    if text is None:
        return None
    header, _, _ = _read_text(path).partition("\n")
    words = header.split()
    version = words[1].rstrip(",") if len(words) > 1 and words[0] == "Doorstep" else None
    summary = next((line for line in text.splitlines() if line.strip()), "fatal error")
    return CrashReport(path, _mtime(path), "fatal", summary.strip(), version)


def _fatal_error_text(path: Path) -> str | None:
    """What faulthandler wrote after the header, or None if it wrote nothing."""
    _, _, rest = _read_text(path).partition("\n")
    return rest if rest.strip() else None


def _remove_stale_fatal_files(folder: Path) -> None:
    """Fatal-error files of processes that ended without a fatal error and without
    removing them (killed, or ended with os._exit)."""
    for path in _fatal_files(folder):
        pid = _pid_of(path)
        if (
            pid is not None
            and pid != os.getpid()
            and not _alive(pid)
            and _fatal_error_text(path) is None
        ):
            path.unlink(missing_ok=True)


def _fatal_files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.glob(f"{_FATAL_PREFIX}*.txt") if path.is_file())


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except OSError:
        return datetime.now().astimezone()
