"""Background tasks run off the main thread and report back on it."""

from __future__ import annotations

import threading

import pytest
from pytestqt.qtbot import QtBot

from kiosk.ui.tasks import TaskManager, on_main_thread


def test_result_comes_back_on_the_main_thread(qtbot: QtBot, tasks: TaskManager) -> None:
    ran_on: list[int] = []
    results: list[tuple[int, bool]] = []

    def work() -> int:
        ran_on.append(threading.get_ident())
        assert not on_main_thread()
        return 42

    tasks.run_in_background(
        work, lambda value: results.append((value, on_main_thread())), pytest.fail
    )
    qtbot.waitUntil(lambda: bool(results))
    assert results == [(42, True)]
    assert ran_on[0] != threading.main_thread().ident


def test_exception_comes_back_on_the_main_thread(qtbot: QtBot, tasks: TaskManager) -> None:
    failures: list[tuple[BaseException, bool]] = []

    def work() -> None:
        raise OSError("disk unplugged")

    tasks.run_in_background(
        work, pytest.fail, lambda error: failures.append((error, on_main_thread()))
    )
    qtbot.waitUntil(lambda: bool(failures))
    error, on_main = failures[0]
    assert isinstance(error, OSError)
    assert str(error) == "disk unplugged"
    assert on_main


def test_pending_counts_tasks_until_their_outcome_is_delivered(
    qtbot: QtBot, tasks: TaskManager
) -> None:
    release = threading.Event()
    seen_when_delivered: list[int] = []
    assert tasks.pending == 0
    tasks.run_in_background(
        lambda: release.wait(5), lambda _: seen_when_delivered.append(tasks.pending), pytest.fail
    )
    tasks.run_in_background(lambda: 1 / 0, pytest.fail, lambda _: None)
    assert tasks.pending == 2
    qtbot.waitUntil(lambda: tasks.pending == 1)  # the failing one came back
    release.set()
    qtbot.waitUntil(lambda: tasks.pending == 0)
    assert seen_when_delivered == [0]


def test_run_on_main_from_a_worker_thread(qtbot: QtBot, tasks: TaskManager) -> None:
    calls: list[bool] = []
    worker = threading.Thread(
        target=lambda: tasks.run_on_main(lambda: calls.append(on_main_thread()))
    )
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(calls))
    assert calls == [True]


def test_nothing_is_delivered_after_shutdown(qtbot: QtBot) -> None:
    manager = TaskManager()
    release = threading.Event()
    delivered: list[object] = []
    manager.run_in_background(release.wait, delivered.append, delivered.append)
    release.set()
    manager.shutdown()
    qtbot.wait(50)
    assert delivered == []


def test_a_result_for_a_deleted_widget_is_dropped(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLabel
    from shiboken6 import delete

    manager = TaskManager()
    label = QLabel()
    gate = threading.Event()
    done = threading.Event()

    def work() -> str:
        gate.wait(5)
        return "late"

    def show(result: str) -> None:
        done.set()
        label.setText(result)  # the label is gone by now

    manager.run_in_background(work, show, lambda error: None)
    delete(label)
    gate.set()
    qtbot.waitUntil(done.is_set, timeout=5000)
    manager.shutdown()
