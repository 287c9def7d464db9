"""A resident's whole visit, tapped through the kiosk window on the simulated kit and the
real local store: from the start screen to the printed receipt and back, with the card
errors, the voucher, the offline banner, "my applications" and the idle wipe."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import sys
import types

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from kiosk.core.applications import State
from kiosk.core.identity import Identity
from kiosk.devices.card.errors import CardExpired, CardMute, CardRemoved, NotSocialSecurityCard
from kiosk.devices.card.simulator import SimulatedCardReader, sample_identity
from kiosk.sync.service import SyncStatus
from kiosk.ui import theme
from kiosk.ui.screens.staff import Section, StaffScreen
from kiosk.ui.screens.visit import RATINGS
from kiosk.ui.strings import text
from kiosk.ui.widgets import TextButton, WrappedLabel
from kiosk.ui.window import MainWindow
from tests.pdfcheck import text_of
from tests.ui.kit import MakeKiosk, tap

WAIT_MS = 15_000
NAME = "张三丰"
SSN = "310101195001011236"


def go_to_item(qtbot: QtBot, window: MainWindow, name: str) -> None:
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    screen.search.setText(name)
    row = next(row for row in screen.rows() if row.text() == name)
    tap(qtbot, row)
    assert window.stack.currentWidget() is window.guide_screen


def shown_texts(root: QWidget) -> list[str]:
    out = []
    for widget in [root, *root.findChildren(QWidget)]:
        if isinstance(widget, WrappedLabel):
            out.append(widget.plain_text)
        if isinstance(widget, QLabel | QLineEdit):
            out.append(widget.text())
        elif isinstance(widget, TextButton):
            out.append(widget.text() + widget.detail)
    return out


def reachable_personal_data(root: object, stop_at: tuple[type, ...]) -> list[str]:
    """What of the resident's name and ID number can still be reached from `root`, by
    following Python references (the card still in the simulated reader is the
    resident's own: `stop_at` it)."""
    # Module globals are code, not the visit's data (this test's own NAME is one).
    seen: set[int] = {id(vars(module)) for module in list(sys.modules.values())}
    queue = [root]
    found = []
    while queue:
        item = queue.pop()
        if id(item) in seen or isinstance(item, (*stop_at, type, types.ModuleType)):
            continue
        seen.add(id(item))
        if isinstance(item, Identity) and item.name == NAME:
            found.append(f"an Identity ({type(item).__name__})")
        elif isinstance(item, str) and (NAME in item or SSN in item):
            found.append(f"text {item[:3]}…")
        elif isinstance(item, bytes | bytearray) and SSN.encode() in item:
            found.append("bytes")
        else:
            queue.extend(gc.get_referents(item))
    return found


def test_a_whole_visit_from_start_to_printed_receipt_and_back(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    go_to_item(qtbot, window, "居住证卡片补领")
    tap(qtbot, window.guide_screen.apply_button)
    assert window.stack.currentWidget() is window.identify_screen

    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.identify_screen.continue_button.isVisible(), timeout=WAIT_MS)
    status = window.identify_screen.status_text
    assert "张*丰" in status and NAME not in status
    tap(qtbot, window.identify_screen.continue_button)

    review = window.review_screen
    assert window.stack.currentWidget() is review
    lines = [line.plain_text for line in review.lines]
    assert lines[0] == "办理事项：居住证卡片补领"
    assert "310***********1236" in lines[1] and SSN not in lines[1]
    tap(qtbot, review.submit_button)

    done = window.done_screen
    qtbot.waitUntil(lambda: window.stack.currentWidget() is done, timeout=WAIT_MS)
    reference = done.reference.plain_text.split("：")[1]
    assert reference.startswith("DEMO01-")
    qtbot.waitUntil(lambda: len(kiosk.pdfs()) == 1, timeout=WAIT_MS)

    views = kiosk.kit.applications.views()
    assert [(v.reference, v.item_code, v.state) for v in views] == [
        (reference, "HJ-0001", State.QUEUED)
    ]
    assert kiosk.kit.applications.resident(views[0].id)["ssn"] == SSN
    assert kiosk.kit.applications.outbox() == [views[0].id]

    tap(qtbot, done.rating_buttons[5])
    assert done.rating_heading.plain_text == "谢谢您的评价！"
    assert done.rating_buttons[5].text().startswith("✔")  # not colour alone
    tap(qtbot, done.rating_buttons[4])  # a change of mind, before the visit ends
    assert done.rating_buttons[4].text().startswith("✔")
    assert kiosk.kit.ratings.queued() == 0  # stored when the visit ends

    tap(qtbot, done.finish_button)
    # Stored (and queued for the district) on a worker: no resident in it.
    qtbot.waitUntil(lambda: kiosk.kit.ratings.queued() == 1, timeout=WAIT_MS)
    [rating] = kiosk.kit.ratings.on_day(dt.datetime.now().astimezone())
    assert (rating.score, rating.application_id, rating.item_code) == (4, views[0].id, "HJ-0001")
    assert not (kiosk.paths.data_dir / "ratings.jsonl").exists()
    assert window.stack.currentWidget() is window.start_screen
    assert window.visit.resident is None and window.visit.item is None
    assert not any(NAME in t or "张*丰" in t or SSN in t for t in shown_texts(window))
    assert reachable_personal_data(window, stop_at=(SimulatedCardReader,)) == []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (CardMute("mute"), "芯片朝上"),
        (NotSocialSecurityCard("bank card"), "不是社会保障卡"),
        (CardExpired("expired"), "已过有效期"),
        (CardRemoved("removed"), "读完前请不要取卡"),
    ],
)
def test_every_card_error_is_explained_and_spoken(
    qtbot: QtBot, make_kiosk: MakeKiosk, error: Exception, words: str
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    go_to_item(qtbot, window, "居住证卡片补领")
    tap(qtbot, window.guide_screen.apply_button)
    kiosk.kit.card.insert(error)
    qtbot.waitUntil(lambda: words in window.identify_screen.status_text, timeout=WAIT_MS)
    assert not window.identify_screen.continue_button.isVisible()
    assert any(words in said for said, _ in kiosk.kit.speaker.said)
    # the resident tries again with the right card, the right way round
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.identify_screen.continue_button.isVisible(), timeout=WAIT_MS)


def test_a_card_past_its_expiry_date_is_refused(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(language="en")
    window = kiosk.window
    go_to_item(qtbot, window, "Replacing a lost residence permit card")
    tap(qtbot, window.guide_screen.apply_button)
    old = sample_identity()
    kiosk.kit.card.insert(dataclasses.replace(old, expiry_date=dt.date(2001, 1, 1)))
    qtbot.waitUntil(lambda: "expired" in window.identify_screen.status_text, timeout=WAIT_MS)
    assert kiosk.kit.speaker.said[-1][1] == "en"


def test_the_voucher_from_the_scanner_gun_identifies(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    go_to_item(qtbot, window, "居住证卡片补领")
    tap(qtbot, window.guide_screen.apply_button)
    window.scan_failed(ValueError("not a voucher"))
    assert "不是医保电子凭证" in window.identify_screen.status_text
    tap(qtbot, window.identify_screen.demo_scan)
    assert window.identify_screen.continue_button.isVisible()
    assert "424*" in window.identify_screen.status_text
    tap(qtbot, window.identify_screen.continue_button)
    assert "424*" in window.review_screen.lines[1].plain_text


def test_a_card_inserted_on_the_start_screen_greets_and_skips_identify(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.catalog_screen, timeout=WAIT_MS)
    screen = window.catalog_screen
    screen.search.setText("居住证卡片补领")
    tap(qtbot, screen.rows()[0])
    tap(qtbot, window.guide_screen.apply_button)
    assert window.stack.currentWidget() is window.review_screen


def test_offline_shows_a_calm_banner_and_the_application_is_still_queued(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    offline = SyncStatus(True, "http://district", False, 3, 0, 0, None, "refused", None)
    window.bridge.sync_status.emit(offline)
    assert window.offline_banner.isVisible()
    assert "离线" in window.offline_banner.plain_text
    go_to_item(qtbot, window, "居住证卡片补领")
    tap(qtbot, window.guide_screen.apply_button)
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.identify_screen.continue_button.isVisible(), timeout=WAIT_MS)
    tap(qtbot, window.identify_screen.continue_button)
    assert window.review_screen.offline_note.isVisible()
    tap(qtbot, window.review_screen.submit_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.done_screen, timeout=WAIT_MS)
    assert len(kiosk.kit.applications.outbox()) == 1
    online = SyncStatus(True, "http://district", True, 0, 0, 0, None, None, None)
    window.bridge.sync_status.emit(online)
    assert not window.offline_banner.isVisible()


def test_my_applications_lists_the_residents_own_only(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    item = window.catalog.get("HJ-0001")
    applications = kiosk.kit.applications
    mine = applications.create(item, sample_identity().to_wire())
    applications.transition(mine.id, State.READY)
    applications.transition(mine.id, State.QUEUED)
    applications.transition(mine.id, State.SUBMITTED)
    applications.transition(mine.id, State.REJECTED, reason="材料不全")
    other = applications.create(item, {"ssn": "11010519491231002X", "name": "李四"})
    applications.transition(other.id, State.READY)
    applications.transition(other.id, State.QUEUED)

    tap(qtbot, window.start_screen.mine_button)
    assert window.stack.currentWidget() is window.mine_screen
    assert "插入医保卡" in window.mine_screen.prompt.plain_text
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: len(window.mine_screen.rows()) == 1, timeout=WAIT_MS)
    row = window.mine_screen.rows()[0]
    assert row.text() == "居住证卡片补领"
    assert "未通过：材料不全" in row.detail and mine.reference in row.detail
    tap(qtbot, row)
    assert "未通过：材料不全" in window.mine_screen.detail.plain_text
    assert not window.mine_screen.slip_button.isVisible()  # only for 补正


def test_an_application_that_needs_more_prints_its_slip(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    applications = kiosk.kit.applications
    mine = applications.create(window.catalog.get("HJ-0001"), sample_identity().to_wire())
    for state in (State.READY, State.QUEUED, State.SUBMITTED):
        applications.transition(mine.id, state)
    applications.transition(mine.id, State.NEEDS_MORE, reason="请补交户口簿复印件")

    tap(qtbot, window.start_screen.mine_button)
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: len(window.mine_screen.rows()) == 1, timeout=WAIT_MS)
    row = window.mine_screen.rows()[0]
    assert "需要补正：请补交户口簿复印件" in row.detail
    screen = window.mine_screen
    assert not screen.slip_button.isVisible()
    tap(qtbot, row)
    assert screen.slip_button.isVisible() and screen.slip_button.text() == "打印补正通知"
    tap(qtbot, screen.slip_button)
    qtbot.waitUntil(lambda: len(kiosk.pdfs()) == 1, timeout=WAIT_MS)
    assert "补正通知正在打印" in screen.detail.plain_text
    assert "请补交户口簿复印件" in text_of(kiosk.pdfs()[0])


def test_left_alone_the_visit_is_warned_about_then_wiped(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk(idle_warning_s=10, idle_timeout_s=5)
    window = kiosk.window
    window.idle.uninstall()  # the test's own clicks are input: count only from the timer
    go_to_item(qtbot, window, "居住证卡片补领")
    tap(qtbot, window.guide_screen.apply_button)
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.identify_screen.continue_button.isVisible(), timeout=WAIT_MS)
    tap(qtbot, window.identify_screen.continue_button)
    assert window.visit.resident is not None

    window.idle._warn()  # the warning time has passed
    assert window.idle_overlay.isVisible()
    assert "5 秒后" in window.idle_overlay.body.plain_text
    tap(qtbot, window.idle_overlay.continue_button)
    assert not window.idle_overlay.isVisible()
    assert window.stack.currentWidget() is window.review_screen

    window.idle._warn()
    for _ in range(5):
        window.idle._count_down()
    assert window.stack.currentWidget() is window.start_screen
    assert not window.idle_overlay.isVisible()
    assert window.visit.resident is None and window.visit.captures == []
    texts = shown_texts(window)
    assert not any(NAME in t or "张*丰" in t or "1236" in t for t in texts)
    leaks = reachable_personal_data(window, stop_at=(SimulatedCardReader,))
    assert leaks == []


def test_the_idle_watcher_counts_real_time(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk(idle_warning_s=10, idle_timeout_s=5)
    window = kiosk.window
    window.idle._warning_ms = 200  # a short warning time for the test
    window.idle._timeout_s = 1
    tap(qtbot, window.start_screen.start_button)
    with qtbot.waitSignal(window.visit_wiped, timeout=WAIT_MS):
        pass
    assert window.stack.currentWidget() is window.start_screen


def test_the_start_screen_says_how_to_begin_when_someone_stands_in_front(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    kiosk = make_kiosk(camera_scenes=("face",))
    welcome = text("say_welcome", "zh")
    qtbot.waitUntil(lambda: (welcome, "zh") in kiosk.kit.speaker.said, timeout=30_000)


def test_sound_can_be_muted(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    kiosk = make_kiosk()
    window = kiosk.window
    tap(qtbot, window.top_bar.sound_button)
    assert kiosk.kit.speaker.muted
    assert window.top_bar.sound_button.text() == "打开语音"
    tap(qtbot, window.start_screen.mine_button)
    assert kiosk.kit.speaker.said == []


def test_ratings_have_five_levels_with_words(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    assert sorted(RATINGS) == [1, 2, 3, 4, 5]
    window = make_kiosk().window
    window.done_screen.show_result("DEMO01-X", True, {})
    labels = [b.text() for b in window.done_screen.rating_buttons.values()]
    assert labels == ["非常满意", "满意", "一般", "不满意", "很不满意"]


def test_the_start_screen_starts_when_touched_anywhere(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    window = make_kiosk().window
    tap(qtbot, window.start_screen, QPoint(30, 30))
    assert window.stack.currentWidget() is window.catalog_screen


def test_the_leak_finder_finds_a_name_left_behind(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    window = make_kiosk().window
    assert reachable_personal_data(window, stop_at=(SimulatedCardReader,)) == []
    window.identify_screen.status.set_plain_text(f"您好，{NAME}")
    assert reachable_personal_data(window, stop_at=(SimulatedCardReader,)) != []
    window.identify_screen.clear()
    window.visit.resident = sample_identity()
    assert reachable_personal_data(window, stop_at=(SimulatedCardReader,)) != []


def type_staff_pin(qtbot: QtBot, window: MainWindow, pin: str) -> StaffScreen:
    """Type `pin` on the staff PIN pad the window shows; the dashboard it opens."""
    pad = window._staff_pin
    qtbot.waitUntil(lambda: pad.digit_buttons[pin[0]].isEnabled(), timeout=WAIT_MS)
    for digit in pin:
        tap(qtbot, pad.digit_buttons[digit])
    tap(qtbot, pad.ok_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window._staff, timeout=WAIT_MS)
    return window._staff


def enter_staff_mode(qtbot: QtBot, window: MainWindow, pin: str) -> StaffScreen:
    """The hidden gesture (five taps on the station's name), then the PIN."""
    for _ in range(5):
        tap(qtbot, window.top_bar.station_name)
    return type_staff_pin(qtbot, window, pin)


def test_the_next_resident_starts_in_the_stations_language_with_sound(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    window = make_kiosk().window
    tap(qtbot, window.top_bar.language_button)
    tap(qtbot, window.top_bar.sound_button)
    assert window.language == "en" and window.top_bar.sound_button.text() == "Sound on"
    tap(qtbot, window.start_screen.start_button)
    tap(qtbot, window.top_bar.home_button)
    assert window.language == "zh"
    assert window.top_bar.sound_button.text() == "关闭语音"


def test_settings_staff_save_take_effect_and_staff_can_close_the_program(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    from kiosk.core.staff import set_pin

    kiosk = make_kiosk(size=(1920, 1080))
    window = kiosk.window
    set_pin(kiosk.paths, "482916", cost=2**4)
    staff = enter_staff_mode(qtbot, window, "482916")
    tap(qtbot, staff.tiles[Section.SETTINGS])
    page = staff.settings_page
    tap(qtbot, dict(page.choices["language"])["en"])
    tap(qtbot, dict(page.choices["large_text"])[True])
    with qtbot.waitSignal(staff.settings_changed):
        tap(qtbot, page.save_button)
    assert window.styleSheet() == theme.style_sheet(large_text=True)  # at once
    assert window.language == "zh"  # the staff session goes on as it was
    tap(qtbot, page.back_button)
    tap(qtbot, staff.exit_button)
    assert window.stack.currentWidget() is window.start_screen
    assert window.language == "en"  # the next visit's

    staff = enter_staff_mode(qtbot, window, "482916")
    tap(qtbot, staff.tiles[Section.SETTINGS])
    tap(qtbot, page.quit_button)
    with qtbot.waitSignal(window.quit_requested):
        tap(qtbot, page.quit_button)


def test_staff_mode_by_the_hidden_gesture_and_the_pin(qtbot: QtBot, make_kiosk: MakeKiosk) -> None:
    from kiosk.core.staff import set_pin
    from kiosk.ui.crash import crash_folder, pending_crash_reports, write_report

    kiosk = make_kiosk(size=(1920, 1080))
    window = kiosk.window
    set_pin(kiosk.paths, "482916", cost=2**4)
    try:
        raise RuntimeError("a crash before this start")
    except RuntimeError as error:
        write_report(crash_folder(kiosk.paths.data_dir), error, thread="MainThread")
    # a resident's visit under way is wiped when staff take over
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.visit.resident is not None, timeout=WAIT_MS)

    for _ in range(4):
        tap(qtbot, window.top_bar.station_name)
    assert window.stack.currentWidget() is window.catalog_screen  # four taps: nothing
    tap(qtbot, window.top_bar.station_name)
    pin = window._staff_pin
    assert window.stack.currentWidget() is pin
    assert window.visit.resident is None
    staff = type_staff_pin(qtbot, window, "482916")
    qtbot.waitUntil(lambda: staff.crash_notice.isVisible(), timeout=WAIT_MS)
    assert "意外停止" in staff.crash_notice.plain_text
    tap(qtbot, staff.crash_ok)
    qtbot.waitUntil(
        lambda: pending_crash_reports(crash_folder(kiosk.paths.data_dir)) == [], timeout=WAIT_MS
    )
    window.scanner_gun = None
    window._demo_voucher()  # a scan while staff test the scanner identifies no one
    assert window.visit.resident is None

    tap(qtbot, staff.assisted_button)
    assert window.stack.currentWidget() is window.catalog_screen
    window.show_staff()
    assert window.stack.currentWidget() is pin
    assert type_staff_pin(qtbot, window, "482916") is staff
    tap(qtbot, staff.exit_button)
    assert window.stack.currentWidget() is window.start_screen


def test_a_visit_with_pages_under_the_document_camera_and_a_photo(
    qtbot: QtBot, make_kiosk: MakeKiosk
) -> None:
    """Pages taken by themselves when steady, checked by the resident; a photo checked
    for a single face; all of it stored with the application and counted on the receipt."""
    from kiosk.ui.screens.capture import Step

    kiosk = make_kiosk(size=(1920, 1080), camera_scenes=("face",), camera_hold_s=1)
    window = kiosk.window
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.catalog_screen, timeout=WAIT_MS)
    go_item = window.catalog.get("YB-0001")
    window.show_guide(go_item)
    tap(qtbot, window.guide_screen.apply_button)
    capture = window.capture_screen
    assert window.stack.currentWidget() is capture
    qtbot.waitUntil(lambda: capture.step is Step.REVIEW, timeout=60_000)  # taken when steady
    tap(qtbot, capture.use_button)
    tap(qtbot, capture.next_button)  # the next material
    qtbot.waitUntil(capture.take_now_button.isEnabled, timeout=WAIT_MS)
    tap(qtbot, capture.take_now_button)
    qtbot.waitUntil(lambda: capture.step is Step.REVIEW, timeout=60_000)
    tap(qtbot, capture.use_button)
    tap(qtbot, capture.next_button)  # done
    assert window.stack.currentWidget() is window.review_screen
    assert window.review_screen.lines[2].plain_text == "材料：已拍摄 2 页"
    tap(qtbot, window.review_screen.submit_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.done_screen, timeout=WAIT_MS)
    (view,) = kiosk.kit.applications.views()
    assert view.material_count == 2
    tap(qtbot, window.done_screen.finish_button)

    # an item that needs a photo: the face scene passes the single-face check
    kiosk.kit.card.insert()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.catalog_screen, timeout=WAIT_MS)
    window.show_guide(window.catalog.get("YL-0001"))
    tap(qtbot, window.guide_screen.apply_button)
    assert window.stack.currentWidget() is capture
    for _ in range(30):  # the simulated resident moves about: a new pose every second
        qtbot.waitUntil(capture.take_photo_button.isEnabled, timeout=WAIT_MS)
        tap(qtbot, capture.take_photo_button)
        qtbot.waitUntil(lambda: capture.step in (Step.REVIEW, Step.LIVE), timeout=WAIT_MS)
        if capture.step is Step.REVIEW:
            break
        qtbot.wait(1000)
    tap(qtbot, capture.use_button)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.review_screen, timeout=WAIT_MS)
    assert window.review_screen.lines[3].plain_text == "照片：已拍摄"
    tap(qtbot, window.review_screen.submit_button)
    qtbot.waitUntil(lambda: len(kiosk.kit.applications.views()) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(kiosk.pdfs()) == 2, timeout=WAIT_MS)
