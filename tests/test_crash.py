"""Crash reports: a program that dies of an unhandled exception — on the main thread, on
another thread, or in a Qt slot — leaves a report with the exception's type and frames but
none of the personal data its message held, and exits non-zero; a hard crash leaves
faulthandler's file; staff list and acknowledge reports, and a damaged file is listed
rather than breaking the list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from kiosk import __version__
from kiosk.ui.crash import (
    ACKNOWLEDGED_FOLDER_NAME,
    CRASH_EXIT_CODE,
    acknowledge,
    crash_folder,
    install_crash_reporter,
    pending_crash_reports,
    write_report,
)

ROOT = Path(__file__).resolve().parent.parent
NAME = "张三丰"
ID_NUMBER = "310101194501011234"
SECRET_MESSAGE = f"resident {NAME} {ID_NUMBER} not found"


def run_child(folder: Path, body: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh Python with the crash reporter installed into `folder`."""
    script = (
        "import logging, sys, threading\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from pathlib import Path\n"
        "from kiosk.ui.crash import install_crash_reporter\n"
        f"install_crash_reporter(Path({str(folder)!r}))\n" + textwrap.dedent(body)
    )
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
    )


def only_report(folder: Path) -> dict[str, object]:
    (path,) = folder.glob("crash-*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def assert_no_personal_data(folder: Path, child: subprocess.CompletedProcess[str]) -> None:
    for text in (child.stdout, child.stderr, *(p.read_text() for p in folder.iterdir())):
        assert NAME not in text
        assert ID_NUMBER not in text


def test_an_unhandled_exception_leaves_a_report_without_its_message(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        f"""
        def look_up_resident():
            raise LookupError({SECRET_MESSAGE!r})

        def serve():
            try:
                look_up_resident()
            except LookupError as error:
                raise RuntimeError("serving failed: " + str(error)) from error

        serve()
        """,
    )
    assert child.returncode != 0
    report = only_report(tmp_path)
    assert report["version"] == __version__
    assert report["thread"] == "MainThread"
    outer, cause = report["exceptions"]
    assert outer["type"] == "builtins.RuntimeError"
    assert cause["type"] == "builtins.LookupError"
    assert outer["message"] is None and outer["message_withheld"]
    assert [frame["function"] for frame in cause["frames"]][-2:] == ["serve", "look_up_resident"]
    assert all(set(frame) == {"file", "line", "function"} for frame in cause["frames"])
    assert "the kiosk stopped: unhandled builtins.RuntimeError" in child.stderr
    assert "look_up_resident" in child.stderr
    assert_no_personal_data(tmp_path, child)
    (pending,) = pending_crash_reports(tmp_path)
    assert pending.kind == "exception"
    assert pending.summary == "builtins.RuntimeError in thread MainThread"
    assert pending.version == __version__
    assert not list(tmp_path.glob("fatal-*"))  # ended normally enough to tidy up


def test_a_doorstep_error_keeps_its_message(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        """
        from kiosk.errors import CatalogError
        raise CatalogError("line 12: item code missing")
        """,
    )
    assert child.returncode != 0
    (entry,) = only_report(tmp_path)["exceptions"]
    assert entry["type"] == "kiosk.errors.CatalogError"
    assert entry["message"] == "line 12: item code missing"


def test_an_exception_on_another_thread_ends_the_program(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        f"""
        def work():
            raise ValueError({SECRET_MESSAGE!r})

        threading.Thread(target=work, name="card-reader").start()
        threading.Event().wait()  # the main thread would wait for ever
        """,
    )
    assert child.returncode == CRASH_EXIT_CODE
    report = only_report(tmp_path)
    assert report["thread"] == "card-reader"
    assert report["exceptions"][0]["type"] == "builtins.ValueError"
    assert_no_personal_data(tmp_path, child)


def test_an_exception_in_a_qt_slot_ends_the_event_loop(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        f"""
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        def on_card():
            raise KeyError({SECRET_MESSAGE!r})

        app = QApplication([])
        QTimer.singleShot(0, on_card)
        code = app.exec()
        print("event loop ended with", code)
        sys.exit(code)
        """,
    )
    assert child.returncode == CRASH_EXIT_CODE
    assert f"event loop ended with {CRASH_EXIT_CODE}" in child.stdout
    report = only_report(tmp_path)
    assert report["exceptions"][0]["type"] == "builtins.KeyError"
    assert report["exceptions"][0]["frames"][-1]["function"] == "on_card"
    assert_no_personal_data(tmp_path, child)


def test_an_exception_on_a_worker_thread_ends_the_event_loop(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        """
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        def work():
            raise OSError("printer gone")

        app = QApplication([])
        QTimer.singleShot(0, lambda: threading.Thread(target=work, name="printer").start())
        code = app.exec()
        print("event loop ended with", code)
        sys.exit(code)
        """,
    )
    assert child.returncode == CRASH_EXIT_CODE
    assert f"event loop ended with {CRASH_EXIT_CODE}" in child.stdout
    assert only_report(tmp_path)["thread"] == "printer"


def test_a_hard_crash_leaves_faulthandlers_report(tmp_path: Path) -> None:
    child = run_child(
        tmp_path,
        """
        import faulthandler

        def read_card():
            faulthandler._sigsegv()

        read_card()
        """,
    )
    assert child.returncode != 0
    (report,) = pending_crash_reports(tmp_path)
    assert report.kind == "fatal"
    assert "Segmentation fault" in report.summary
    assert report.version == __version__
    assert "read_card" in report.path.read_text()


def test_a_clean_exit_leaves_nothing(tmp_path: Path) -> None:
    child = run_child(tmp_path, "print('fine')\n")
    assert child.returncode == 0
    assert list(tmp_path.iterdir()) == []
    assert pending_crash_reports(tmp_path) == []


def test_the_files_of_killed_processes_are_tidied_away(tmp_path: Path) -> None:
    stale = tmp_path / "fatal-20250101T000000-999999999.txt"
    stale.write_text("Doorstep 0.0.1, process 999999999, started 2025-01-01T00:00:00\n")
    assert pending_crash_reports(tmp_path) == []
    assert run_child(tmp_path, "pass\n").returncode == 0
    assert not stale.exists()


def raise_with_data() -> None:
    raise ValueError(SECRET_MESSAGE)


def test_pending_reports_and_acknowledging(tmp_path: Path) -> None:
    folder = crash_folder(tmp_path)
    assert pending_crash_reports(folder) == []
    paths = []
    for hour in (14, 9):
        try:
            raise_with_data()
        except ValueError as error:
            at = datetime(2026, 3, 1, hour, 2).astimezone()
            paths.append(write_report(folder, error, thread="MainThread", at=at))
    first, second = pending_crash_reports(folder)
    assert (first.path, second.path) == (paths[1], paths[0])  # oldest first
    assert first.at.hour == 9
    assert first.name.startswith("crash-20260301T090200")
    acknowledge(first)
    assert pending_crash_reports(folder) == [second]
    assert (folder / ACKNOWLEDGED_FOLDER_NAME / first.name).is_file()
    acknowledge(first)  # twice is harmless
    acknowledge(second)
    assert pending_crash_reports(folder) == []


@pytest.mark.parametrize(
    "content",
    [
        b"{ not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'{"at": "yesterday", "version": "1", "exceptions": []}',
        b'{"at": "2026-01-01T10:00:00", "version": "1", "exceptions": ["x"]}',
        b"",
    ],
)
def test_a_damaged_report_is_listed_as_unreadable(tmp_path: Path, content: bytes) -> None:
    try:
        raise_with_data()
    except ValueError as error:
        good = write_report(tmp_path, error, thread="MainThread")
    bad = tmp_path / "crash-20260101T000000-1.json"
    bad.write_bytes(content)
    (tmp_path / "notes.txt").write_text("not a report")
    reports = {report.path: report for report in pending_crash_reports(tmp_path)}
    assert set(reports) == {good, bad}
    assert reports[bad].kind == "unreadable"
    assert reports[good].kind == "exception"
    acknowledge(reports[bad])
    assert [report.path for report in pending_crash_reports(tmp_path)] == [good]


def test_installing_and_uninstalling_restores_the_hooks(tmp_path: Path) -> None:
    hooks = (sys.excepthook, __import__("threading").excepthook, sys.unraisablehook)
    reporter = install_crash_reporter(tmp_path)
    try:
        assert sys.excepthook != hooks[0]
    finally:
        reporter.uninstall()
    assert (sys.excepthook, __import__("threading").excepthook, sys.unraisablehook) == hooks
    assert list(tmp_path.glob("fatal-*")) == []
