"""Every screen of a visit (the video call's among them) against the ageing-friendly
floor, on the simulated kit, at 1920×1080 and 1366×768, in Chinese and English, with
normal and large text; and a screenshot of each, saved to build/screenshots/screens/
(named in the README) to look at.

The checks are those of test_ageing_floor.py (`settled`): touch targets, text sizes, no
text cut off, glyphs in the shipped font, the content fits the window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.core.applications import ApplicationView, State
from kiosk.devices.card.errors import CardRemoved
from kiosk.devices.card.simulator import sample_identity
from kiosk.remote.events import (
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    IncomingCall,
    SupervisorWatching,
)
from kiosk.sync.service import SyncStatus
from kiosk.ui.screens.call import CaptureStep
from kiosk.ui.screens.capture import Step
from kiosk.ui.screens.staff import Section
from kiosk.ui.strings import LANGUAGES
from kiosk.ui.window import MainWindow
from tests.ui.fake_calls import FakeCalls
from tests.ui.kit import MakeKiosk
from tests.ui.test_ageing_floor import SIZES, settled

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "screens"
OFFLINE = SyncStatus(True, "http://district", False, 3, 0, 0, None, "refused", None)
ONLINE = SyncStatus(True, "http://district", True, 0, 0, 0, None, None, None)


def views() -> list[ApplicationView]:
    long_reason = "材料不全：请补交户口簿复印件，并由本人到街道社区事务受理服务中心窗口核验原件"
    return [
        ApplicationView(
            "a",
            "DEMO01-20261124-0001",
            "HJ-0001",
            "居住证卡片补领",
            "Replacing a lost residence permit card",
            State.QUEUED,
            None,
            2,
        ),
        ApplicationView(
            "b",
            "DEMO01-20261120-0003",
            "YB-0002",
            "医保关系转移接续",
            "Transferring medical insurance to or from another city",
            State.REJECTED,
            long_reason,
            1,
        ),
        ApplicationView(
            "c",
            "DEMO01-20261101-0002",
            "YL-0001",
            "老年照护需求评估申请",
            "Applying for a long-term care needs assessment",
            State.READY_FOR_PICKUP,
            None,
            3,
        ),
        ApplicationView(
            "d",
            "DEMO01-20261028-0004",
            "HJ-0001",
            "居住证卡片补领",
            "Replacing a lost residence permit card",
            State.NEEDS_MORE,
            "请补交近期一寸免冠照片两张，并带上户口簿原件核验",
            1,
        ),
    ]


def visit_states(qtbot: QtBot, window: MainWindow) -> Iterator[str]:
    """Put the window in each state of a visit, naming it."""
    catalog = window.catalog
    assert catalog is not None
    item = catalog.get("YB-0002")
    window.bridge.sync_status.emit(OFFLINE)
    window.show_start()
    yield "start, offline"
    window.show_catalog()
    yield "catalog, offline"
    window.bridge.sync_status.emit(ONLINE)
    screen = window.catalog_screen
    screen.show_category(item.category)
    yield "catalog, a category's items"
    screen.set_keyboard_open(True)
    screen.search.setText("yb")
    yield "catalog, search on the keyboard"
    screen.reset()
    window.show_guide(item)
    yield "guide"
    window.visit.item = item
    window.identify_screen.clear()
    window._show(window.identify_screen)
    yield "identify"
    window.identify_screen.show_reading()
    yield "identify, reading the card"
    error = CardRemoved("removed")
    window.identify_screen.show_message(error.resident_zh, error.resident_en)
    yield "identify, card taken out too early"
    window.visit.resident = sample_identity()
    window.identify_screen.show_identified(window.visit)
    yield "identify, done"
    window.visit.add(b"\x89PNG page", media_type="image/png", kind="page")
    window.review_screen.show_visit(window.visit, offline=True)
    window._show(window.review_screen)
    yield "review, offline"
    window.review_screen.set_failed()
    yield "review, could not save"
    from kiosk.documents.build import next_steps

    steps = {lang: next_steps(item, window._settings.station, lang) for lang in ("zh", "en")}
    window.done_screen.show_result("DEMO01-20261124-0001", True, steps)
    window._show(window.done_screen)
    yield "done"
    window.done_screen._rate(5)
    yield "done, rated"
    window.done_screen.show_result("DEMO01-20261124-0001", False, steps)
    yield "done, receipt not printed"
    window.idle_overlay.show_countdown(20)
    yield "idle warning"
    window.idle_overlay.hide()
    window.mine_screen.clear()
    window._show(window.mine_screen)
    yield "my applications, waiting for the card"
    window.mine_screen.show_views(views())
    yield "my applications"
    window.mine_screen.open(views()[3])
    yield "my applications, one that needs more opened"
    window.mine_screen.show_slip_result("mine_slip_printing")
    yield "my applications, its slip printing"
    window.mine_screen.show_views([])
    yield "my applications, none"
    yield from call_states(qtbot, window)
    window.wipe()
    capture = window.capture_screen
    capture.begin_pages(window._kit.document_camera.frames, ["户口簿", "家庭收入证明"])
    window._show(capture)
    qtbot.waitUntil(lambda: capture.step is not Step.LIVE, timeout=60_000)
    qtbot.waitUntil(lambda: capture.step is Step.REVIEW, timeout=60_000)
    yield "materials, a page to check"
    capture.stop()
    capture.begin_photo(window._kit.camera.frames)
    qtbot.waitUntil(capture.take_photo_button.isEnabled, timeout=60_000)
    yield "photo, the live view"
    capture.wipe()
    window.show_staff()
    tasks = window._tasks
    qtbot.waitUntil(lambda: not tasks.pending)  # the lock's state, read on a worker
    yield "staff PIN"
    window._staff_unlocked()
    staff = window._staff
    staff.show_crashes(["11-23 14:02"])
    qtbot.waitUntil(lambda: not tasks.pending)  # the sync state, read on a worker
    yield "staff overview"
    for section in Section:
        staff.show_section(section)
        qtbot.waitUntil(lambda: not tasks.pending)  # each section reads on a worker
        yield f"staff {section.value}"
    window.end_visit()


def call_states(qtbot: QtBot, window: MainWindow) -> Iterator[str]:
    """The video call's screens (kiosk/ui/screens/call.py, callback.py), with a call
    client at the UI boundary reporting the real events."""
    catalog = window.catalog
    assert catalog is not None
    calls = FakeCalls(window.bridge)
    window._kit.calls = calls
    screen = window.call_screen

    def state(wanted: CallState, **details: object) -> None:
        calls.state(wanted, **details)
        qtbot.waitUntil(lambda: screen.state is wanted)

    window.wipe()
    window.visit.item = catalog.get("MZ-0001")
    window.start_call("guide")
    yield "call, asking"
    state(CallState.WAITING, position=4, wait_s=420)
    yield "call, waiting"
    state(CallState.CONNECTING, agent="王坐席")
    yield "call, connecting"
    state(CallState.CONNECTED, agent="王坐席")
    calls.agent_picture()
    words = "您好，请把身份证正面对准镜头，我帮您看一下材料是否齐全。"
    calls.emit(ChatLine(calls.call, words, "agent"))
    qtbot.waitUntil(lambda: bool(screen.chat_lines))
    yield "call, connected, a chat line"
    calls.emit(CaptureAsked(calls.call, "r1", "page", "请把家庭收入证明放在高拍仪下面"))
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.LIVE)
    yield "call, a page asked for"
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.REVIEW, timeout=60_000)
    yield "call, the page to check"
    screen._cancel_capture()
    calls.emit(DecisionMade(calls.call, "app-1", "needs_more", "请补交户口簿复印件"))
    qtbot.waitUntil(lambda: screen.decision.isVisible())
    yield "call, the agent asks for more"
    calls.emit(SupervisorWatching(calls.call, "李组长", True))
    qtbot.waitUntil(lambda: "李组长" in screen.watching.text())
    yield "call, a supervisor watching"
    screen.end_call()
    yield "call, ended"
    window.start_call("guide")
    state(CallState.UNAVAILABLE, reason="no_agents")
    yield "call, unavailable"
    window.show_callback()
    yield "call-back form"
    for digit in "0101234":
        window.callback_screen.press(digit)
    window.callback_screen.submit()
    yield "call-back form, a number refused"
    window.wipe()
    window.show_start()
    calls.emit(IncomingCall("ring-1", "王坐席", "MZ-0001", "城乡低保申请", "cb-1"))
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ring_screen)
    yield "an agent calling back"
    window.ring_screen.decline_button.click()


@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_visit_screen_meets_the_floor(
    qtbot: QtBot, make_kiosk: MakeKiosk, size: tuple[int, int], large_text: bool
) -> None:
    window = make_kiosk(size=size, large_text=large_text).window
    window.idle.uninstall()
    folder = SCREENSHOTS / f"{size[0]}x{size[1]}-{'large' if large_text else 'normal'}"
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    for lang in LANGUAGES:
        window.set_language(lang)
        for number, state in enumerate(visit_states(qtbot, window)):
            problems += [f"{lang}, {state}: {problem}" for problem in settled(qtbot, window, size)]
            name = f"{lang}-{number:02d}-{state.replace(',', '').replace(' ', '-')}.png"
            assert window.grab().save(str(folder / name), "PNG")
    assert problems == []
