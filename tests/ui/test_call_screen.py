"""The video call as a resident goes through it, on the simulated kit and the real store,
with a call client at the UI boundary (tests/ui/fake_calls.py) that reports the real
events from another thread through the bridge: every state from the guide's button to the
end, "End call", the idle wipe held off during the call and back after it, a capture the
agent asks for (taken by itself, sent, and kept with the visit), the agent's decision and
its receipt, the chat, and "unavailable" with the call-back request (bad numbers refused,
a good one queued in the store). Screenshots of each state are saved to
build/screenshots/call/ to look at."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytestqt.qtbot import QtBot

from kiosk.core import phone as phones
from kiosk.core.callbacks import Callbacks
from kiosk.remote.events import (
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    IncomingCall,
    RingEnded,
    SupervisorWatching,
)
from kiosk.ui.idle import IdleWatcher
from kiosk.ui.screens.call import CaptureStep
from kiosk.ui.strings import text
from tests.ui.fake_calls import FakeCalls
from tests.ui.kit import KioskUnderTest, MakeKiosk, tap

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "call"
CAPTURE_WAIT_MS = 60_000  # the simulated cameras on a slow machine
WAIT_MS = 10_000


def shot(kiosk: KioskUnderTest, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert kiosk.window.grab().save(str(SCREENSHOTS / f"{name}.png"), "PNG")


def calling(make_kiosk: MakeKiosk, **options: object) -> tuple[KioskUnderTest, FakeCalls]:
    kiosk = make_kiosk(**options)
    calls = FakeCalls(kiosk.window.bridge)
    kiosk.kit.calls = calls
    return kiosk, calls


def from_guide(qtbot: QtBot, kiosk: KioskUnderTest, code: str = "YB-0002") -> None:
    window = kiosk.window
    item = window.catalog.get(code)
    window.show_guide(item)
    tap(qtbot, window.guide_screen.call_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.call_screen)


def said(kiosk: KioskUnderTest) -> list[str]:
    return [words for words, _ in kiosk.kit.speaker.said]  # type: ignore[union-attr]


def test_a_call_from_the_guide_through_every_state(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    item = window.catalog.get("HJ-0001")
    window.show_guide(item)
    assert not window.guide_screen.call_button.isVisible()  # not a remote-assisted item
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    assert [info.item_code for info in calls.started] == ["YB-0002"]
    assert calls.started[0].source == "guide"
    assert screen.state is CallState.ASKING
    assert screen.heading.text() and text("call_asking_heading", "zh") in screen.heading.text()
    assert text("say_call_asking", "zh") in said(kiosk)
    assert screen.end_button.isVisible()
    assert window.idle.suspended
    qtbot.waitUntil(lambda: screen.video.shows_main, timeout=WAIT_MS)
    shot(kiosk, "01-asking")

    qtbot.waitUntil(lambda: screen.video.shows_main, timeout=WAIT_MS)  # their own picture
    calls.state(CallState.WAITING, position=3, wait_s=240)
    qtbot.waitUntil(lambda: screen.state is CallState.WAITING)
    assert text("call_waiting_ahead", "zh", ahead=2) in screen.detail.text()
    assert text("call_wait_minutes", "zh", minutes=4) in screen.detail.text()
    shot(kiosk, "02-waiting")
    calls.state(CallState.WAITING, position=1, wait_s=30)
    qtbot.waitUntil(lambda: text("call_waiting_next", "zh") in screen.detail.text())
    assert any(text("call_waiting_next", "zh") in words for words in said(kiosk))

    calls.state(CallState.CONNECTING, agent="王坐席")
    qtbot.waitUntil(lambda: screen.state is CallState.CONNECTING)
    assert "王坐席" in screen.detail.text()
    calls.state(CallState.CONNECTED, agent="王坐席")
    calls.agent_picture()
    qtbot.waitUntil(lambda: screen.video.shows_main and screen.video.shows_inset, timeout=WAIT_MS)
    assert text("say_call_connected", "zh") in said(kiosk)
    assert window.idle.suspended
    shot(kiosk, "03-connected")

    tap(qtbot, screen.end_button)
    assert calls.ended == 1
    assert screen.state is CallState.ENDED
    assert not screen.end_button.isVisible()
    assert not window.idle.suspended
    assert text("say_call_ended", "zh") in said(kiosk)
    shot(kiosk, "04-ended")
    calls.state(CallState.ENDED, reason="resident")  # the client's own report comes after
    tap(qtbot, screen.leave_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.guide_screen)


def connected(qtbot: QtBot, kiosk: KioskUnderTest, calls: FakeCalls) -> None:
    calls.state(CallState.CONNECTED, agent="王坐席")
    qtbot.waitUntil(lambda: kiosk.window.call_screen.state is CallState.CONNECTED)


def test_the_idle_watcher_holds_off_while_suspended_and_counts_again_after(
    qtbot: QtBot,
) -> None:
    watcher = IdleWatcher(0.05, 1)
    warnings: list[int] = []
    watcher.warning.connect(warnings.append)
    watcher.arm()
    watcher.suspend()
    assert watcher.suspended
    qtbot.wait(300)  # six warning periods: nothing may come while suspended
    assert warnings == [] and not watcher.warning_shown
    with qtbot.waitSignal(watcher.expired, timeout=WAIT_MS):
        watcher.resume()
    assert warnings and not watcher.suspended


def test_a_suspension_hides_a_warning_already_shown(qtbot: QtBot) -> None:
    watcher = IdleWatcher(0.05, 30)
    watcher.arm()
    qtbot.waitUntil(lambda: watcher.warning_shown)
    with qtbot.waitSignal(watcher.resumed):
        watcher.suspend()
    assert not watcher.warning_shown


def test_the_idle_wipe_never_fires_during_a_call_and_does_after_it(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk, idle_warning_s=1, idle_timeout_s=1)
    window = kiosk.window
    window.idle.install()
    window.idle.arm()  # as the start screen's button does
    from_guide(qtbot, kiosk)
    connected(qtbot, kiosk, calls)
    qtbot.wait(3000)  # past the warning and the timeout: the call goes on
    assert window.stack.currentWidget() is window.call_screen
    assert not window.idle_overlay.isVisible()
    assert window.call_screen.active
    calls.state(CallState.ENDED, reason="agent")
    qtbot.waitUntil(lambda: window.call_screen.state is CallState.ENDED)
    assert text("call_ended_agent", "zh") in window.call_screen.message.text()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.start_screen, timeout=WAIT_MS)
    assert window.visit.item is None and window.call_screen.state is None


def test_the_agent_asks_for_a_page_and_it_joins_the_visit(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    from_guide(qtbot, kiosk, "MZ-0001")
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    words = "请把收入证明放在高拍仪下"
    calls.emit(CaptureAsked(calls.call, "req-1", "page", words))
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.LIVE)
    assert words in said(kiosk)
    assert screen.end_button.isVisible()  # still one tap away
    qtbot.waitUntil(lambda: screen.video.shows_main, timeout=WAIT_MS)
    shot(kiosk, "05-capture-live")
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.REVIEW, timeout=CAPTURE_WAIT_MS)
    shot(kiosk, "06-capture-review")
    tap(qtbot, screen.send_button)
    assert [(c.request, c.kind) for c in calls.captures] == [("req-1", "page")]
    assert calls.captures[0].content.startswith(b"\xff\xd8")  # a JPEG
    pages = window.visit.pages
    assert len(pages) == 1 and bytes(pages[0].content) == calls.captures[0].content
    assert screen.capture_step is CaptureStep.NONE
    assert text("call_capture_sent", "zh") in said(kiosk)


def test_the_card_held_to_the_camera_is_taken_by_itself(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk, camera_scenes=("card",))
    window = kiosk.window
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    calls.emit(CaptureAsked(calls.call, "req-3", "card", "请把医保卡正面对准镜头"))
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.REVIEW, timeout=CAPTURE_WAIT_MS)
    tap(qtbot, screen.send_button)
    assert [(c.request, c.kind) for c in calls.captures] == [("req-3", "card")]
    assert [c.kind for c in window.visit.captures] == ["card"]


def test_what_the_visit_captured_goes_to_the_agent_when_the_call_connects(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    window.visit.add(b"\x89PNG card face", media_type="image/png", kind="card")
    window.visit.add(b"\xff\xd8 a page", media_type="image/jpeg", kind="page", label="户口簿")
    from_guide(qtbot, kiosk)
    calls.state(CallState.CONNECTING, agent="王坐席")
    qtbot.wait(200)
    assert calls.captures == []  # not before the agent is on
    connected(qtbot, kiosk, calls)
    qtbot.waitUntil(lambda: len(calls.captures) == 2, timeout=WAIT_MS)
    assert [(c.request, c.kind, c.label, c.content) for c in calls.captures] == [
        ("", "material", "card", b"\x89PNG card face"),
        ("", "material", "户口簿", b"\xff\xd8 a page"),
    ]
    calls.state(CallState.CONNECTING, agent="王坐席")  # a lost path, offered again
    connected(qtbot, kiosk, calls)
    qtbot.wait(200)
    assert len(calls.captures) == 2  # once per call


def test_a_photo_for_the_agent_is_taken_at_the_residents_word(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk, camera_hold_s=1)  # a new scene every second
    window = kiosk.window
    from_guide(qtbot, kiosk, "YL-0001")
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    calls.emit(CaptureAsked(calls.call, "req-2", "photo", ""))
    qtbot.waitUntil(lambda: screen.capture_step is CaptureStep.LIVE)
    for _ in range(30):  # a face off-centre is refused, with the reason: try the next scene
        tap(qtbot, screen.take_button)
        qtbot.waitUntil(lambda: screen.capture_step is not CaptureStep.WORKING, timeout=WAIT_MS)
        if screen.capture_step is CaptureStep.REVIEW:
            break
        assert screen.capture_hint.text()  # why, in the resident's words
        qtbot.wait(1100)
    assert screen.capture_step is CaptureStep.REVIEW
    tap(qtbot, screen.send_button)
    assert [(c.request, c.kind) for c in calls.captures] == [("req-2", "photo")]
    assert window.visit.photo is not None


def test_the_agents_decision_shows_and_the_receipt_prints(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    calls.emit(DecisionMade(calls.call, "app-1", "accepted", ""))
    qtbot.waitUntil(lambda: text("call_decision_accepted", "zh") in screen.decision.text())
    qtbot.waitUntil(lambda: kiosk.pdfs() != [], timeout=WAIT_MS * 3)
    qtbot.waitUntil(lambda: text("call_receipt_printing", "zh") in screen.decision.text())
    shot(kiosk, "07-decided")
    tap(qtbot, screen.end_button)
    tap(qtbot, screen.leave_button)  # the visit is over: back to the start
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.start_screen)


def test_the_resident_is_told_and_shown_when_a_supervisor_watches(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    calls.emit(SupervisorWatching(calls.call, "王组长", True))
    watching = text("call_supervisor", "zh", name="王组长")
    qtbot.waitUntil(lambda: watching in screen.watching.text() and screen.watching.isVisible())
    assert text("say_call_supervisor", "zh", name="王组长") in said(kiosk)
    shot(kiosk, "08-supervisor")
    calls.emit(SupervisorWatching(calls.call, "", False))
    qtbot.waitUntil(lambda: not screen.watching.isVisible())
    assert said(kiosk)[-1] == text("say_call_supervisor_left", "zh")
    assert screen.state is CallState.CONNECTED


def test_chat_both_ways_in_large_text(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    connected(qtbot, kiosk, calls)
    calls.emit(ChatLine(calls.call, "请把医保卡正面对准镜头", "agent"))
    qtbot.waitUntil(lambda: len(screen.chat_lines) == 1)
    assert "请把医保卡正面对准镜头" in screen.chat_lines[0].text()
    assert screen.chat_lines[0].font().pointSizeF() >= 18
    tap(qtbot, screen.phrase_buttons["call_phrase_again"])
    assert calls.chats == [text("call_phrase_again", "zh")]
    assert screen.chat == [
        ("agent", "请把医保卡正面对准镜头"),
        ("resident", text("call_phrase_again", "zh")),
    ]
    calls.emit(ChatLine(calls.call, text("call_phrase_again", "zh"), "resident"))  # an echo
    qtbot.wait(100)
    assert len(screen.chat_lines) == 2
    shot(kiosk, "08-chat")


def test_no_call_client_is_unavailable_at_once(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    window.show_guide(window.catalog.get("YB-0002"))
    tap(qtbot, window.guide_screen.call_button)
    screen = window.call_screen
    assert screen.state is CallState.UNAVAILABLE
    assert text("call_unavailable_offline", "zh") in screen.message.text()
    assert screen.callback_button.isVisible() and not window.idle.suspended


def test_staff_and_review_start_calls_for_the_visit(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    window._staff_call()
    assert [info.source for info in calls.started] == ["staff"]
    assert window.stack.currentWidget() is window.call_screen
    calls.state(CallState.UNAVAILABLE, reason="closed")
    qtbot.waitUntil(lambda: window.call_screen.state is CallState.UNAVAILABLE)
    assert not window.call_screen.callback_button.isVisible()  # no item: no call-back
    tap(qtbot, window.call_screen.leave_button)
    window.visit.item = window.catalog.get("YB-0001")
    window._show_review()
    tap(qtbot, window.review_screen.call_button)
    assert [info.source for info in calls.started] == ["staff", "review"]
    assert calls.started[1].item_code == "YB-0001"


def test_unavailable_offers_a_call_back_that_refuses_bad_numbers_and_queues_a_good_one(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    from_guide(qtbot, kiosk)
    screen = window.call_screen
    calls.state(CallState.UNAVAILABLE, reason="no_agents")
    qtbot.waitUntil(lambda: screen.state is CallState.UNAVAILABLE)
    assert text("call_unavailable_no_agents", "zh") in screen.message.text()
    assert not window.idle.suspended
    shot(kiosk, "09-unavailable")
    tap(qtbot, screen.callback_button)
    form = window.callback_screen
    assert window.stack.currentWidget() is form
    assert "医保关系转移接续" in form.item_line.text()
    store = kiosk.kit.store
    assert store is not None

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(st.text(alphabet="0123456789", max_size=12))
    def refused(typed: str) -> None:
        try:
            phones.normalize(typed)
        except phones.PhoneProblem:
            pass
        else:
            return  # a real number: kept below, not here
        form.clear_digits()
        for digit in typed:
            form.press(digit)
        form.choose("today")
        form.submit()
        assert not form.saved
        assert form.status.isVisible() and form.status.text()
        assert Callbacks(store).queued() == 0

    refused()
    shot(kiosk, "10-callback-refused")
    form.clear_digits()
    for digit in "13800138000":
        tap(qtbot, form.digit_buttons[digit])
    tap(qtbot, form.time_buttons["tomorrow_am"])
    tap(qtbot, form.submit_button)
    qtbot.waitUntil(lambda: form.saved, timeout=WAIT_MS)
    assert Callbacks(store).queued() == 1
    assert "138****8000" in form.phone.text() and "13800138000" not in form.phone.text()
    shot(kiosk, "11-callback-saved")
    tap(qtbot, form.done_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.guide_screen)


def ringing(code: str = "YB-0002") -> IncomingCall:
    return IncomingCall("ring-1", "王坐席", code, "城乡居民医保参保登记", "cb-1")


def test_an_agents_call_back_rings_at_the_idle_station_and_is_answered(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.start_screen)
    calls.emit(ringing())
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ring_screen)
    screen = window.ring_screen
    assert "王坐席" in screen.detail.text() and "城乡居民医保参保登记" in screen.detail.text()
    assert text("say_ring", "zh", agent="王坐席", item="城乡居民医保参保登记") in said(kiosk)
    shot(kiosk, "09-ringing")
    tap(qtbot, screen.answer_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.call_screen)
    ((call_id, info),) = calls.answered
    assert (call_id, info.item_code, info.source) == ("ring-1", "YB-0002", "callback")
    assert window.visit.item is not None and window.visit.item.code == "YB-0002"
    calls.state(CallState.CONNECTED, agent="王坐席")
    qtbot.waitUntil(lambda: window.call_screen.state is CallState.CONNECTED)


def test_a_call_back_declined_or_rung_out_goes_back_to_the_start(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    calls.emit(ringing())
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ring_screen)
    tap(qtbot, window.ring_screen.decline_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.start_screen)
    assert calls.declined == [("ring-1", "declined")]
    calls.emit(ringing())
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.ring_screen)
    calls.emit(RingEnded("ring-1", "no_answer"))
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.start_screen)
    assert calls.answered == []


def test_a_call_back_never_interrupts_a_resident_in_a_visit(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk, calls = calling(make_kiosk)
    window = kiosk.window
    window.show_catalog()
    calls.emit(ringing())
    qtbot.waitUntil(lambda: calls.declined == [("ring-1", "busy")])
    assert window.stack.currentWidget() is window.catalog_screen
