"""Staff mode on the screen: the PIN pad (by mouse clicks), its lockout across a rebuilt
screen, and the dashboard over a real local store — the queue, rejected applications,
device checks, reprint, the day report and the settings staff change — each within the
ageing-friendly floor at 1920×1080 and 1366×768."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import delete

from kiosk.config import DeviceBackend, DeviceSettings, Paths, Settings, UiSettings, load_settings
from kiosk.core.applications import Applications, State
from kiosk.core.catalog import parse_catalog
from kiosk.core.ratings import Ratings
from kiosk.core.staff import LOCK_S, StaffLock, set_pin
from kiosk.devices.discovery import FAMILIES
from kiosk.devices.health import KitChecks
from kiosk.devices.printer.jobs import JobKind, PrintQueue
from kiosk.store.db import Store
from kiosk.store.models import OutboxEntry
from kiosk.ui import theme
from kiosk.ui.fonts import load_font
from kiosk.ui.screens.staff import Section, StaffPinScreen, StaffScreen
from kiosk.ui.strings import LANGUAGES, Language
from kiosk.ui.tasks import TaskManager
from kiosk.ui.widgets import WrappedLabel
from tests.catalog_files import VALID
from tests.personal import RESIDENT
from tests.ui.kit import tap
from tests.ui.test_ageing_floor import settled

PIN = "246810"
SIZES = ((1920, 1080), (1366, 768))
TOP_BAR_PX = 140  # the kiosk window's top bar stays above the staff screens
ITEM = parse_catalog(VALID).get("MI-001")
REASON = "户口簿复印件看不清，请重新拍摄后再提交。"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Checks:
    """Device checks that answer at once: every device fine but the printer."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def health(self, family: str, lang: str) -> tuple[bool, str]:
        self.asked.append(("health", family))
        return family != "printer", f"{family} looked at"

    def self_test(self, family: str, lang: str) -> tuple[bool, str]:
        self.asked.append(("self_test", family))
        return family != "printer", f"{family} tested"


class Frame(QMainWindow):
    """A screen as the kiosk window holds it: in a stack under the top bar (here a
    stand-in of its height), with the window's fixed size limits and style sheet."""

    def __init__(self, screen: QWidget, size: tuple[int, int], large_text: bool) -> None:
        super().__init__()
        assert load_font()
        bar = QWidget()
        bar.setFixedHeight(TOP_BAR_PX)
        self.stack = QStackedWidget()
        self.stack.addWidget(screen)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.setMinimumSize(*theme.SMALLEST_WINDOW_PX)
        self.setStyleSheet(theme.style_sheet(large_text))
        self.resize(*size)


@pytest.fixture
def paths(data_dir: Path) -> Paths:
    return Paths(data_dir)


@pytest.fixture
def pin_set(paths: Paths) -> Paths:
    set_pin(paths, PIN, cost=2)
    return paths


MakePin = Callable[..., StaffPinScreen]


@pytest.fixture
def make_pin(qtbot: QtBot, tasks: TaskManager, paths: Paths) -> MakePin:
    windows: list[QMainWindow] = []  # kept alive until the test ends

    def make(
        *,
        wall: Clock | None = None,
        steady: Clock | None = None,
        size: tuple[int, int] = SIZES[1],
        large_text: bool = False,
        lang: Language = "zh",
    ) -> StaffPinScreen:
        lock = StaffLock(paths, clock=wall or Clock(1_800_000_000.0))
        screen = StaffPinScreen(lock, tasks, clock=steady or Clock(1000.0))
        screen.retranslate(lang)
        window = Frame(screen, size, large_text)
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return screen

    return make


def ready(qtbot: QtBot, screen: StaffPinScreen) -> None:
    qtbot.waitUntil(lambda: not screen.checking)


def type_pin(qtbot: QtBot, screen: StaffPinScreen, pin: str) -> None:
    for digit in pin:
        tap(qtbot, screen.digit_buttons[digit])
    tap(qtbot, screen.ok_button)


def test_the_right_pin_unlocks(qtbot: QtBot, pin_set: Paths, make_pin: MakePin) -> None:
    screen = make_pin()
    ready(qtbot, screen)
    for digit in PIN[:3]:
        tap(qtbot, screen.digit_buttons[digit])
    assert screen.dots.text() == "● ● ●" and screen.typed.plain_text == "已输入 3 位"
    assert PIN[:3] not in screen.dots.text()
    tap(qtbot, screen.delete_button)
    assert screen.typed.plain_text == "已输入 2 位"
    tap(qtbot, screen.clear_button)
    assert screen.typed.plain_text == "已输入 0 位"
    with qtbot.waitSignal(screen.unlocked):
        type_pin(qtbot, screen, PIN)
    assert screen.typed.plain_text == "已输入 0 位"


def test_cancel_leaves(qtbot: QtBot, pin_set: Paths, make_pin: MakePin) -> None:
    screen = make_pin()
    with qtbot.waitSignal(screen.cancelled):
        tap(qtbot, screen.cancel_button)


def test_five_wrong_pins_lock_with_a_countdown_in_words(
    qtbot: QtBot, pin_set: Paths, make_pin: MakePin
) -> None:
    steady = Clock(1000.0)
    screen = make_pin(steady=steady)
    ready(qtbot, screen)
    type_pin(qtbot, screen, "111111")
    ready(qtbot, screen)
    assert "还可以再试 4 次" in screen.status.plain_text
    for _ in range(4):
        type_pin(qtbot, screen, "111111")
        ready(qtbot, screen)
    assert "已锁定" in screen.status.plain_text and "5 分钟" in screen.status.plain_text
    assert not screen.ok_button.isEnabled()
    assert not any(key.isEnabled() for key in screen.digit_buttons.values())
    steady.now += 90
    qtbot.waitUntil(lambda: "3 分 30 秒" in screen.status.plain_text)
    screen.retranslate("en")
    assert "Try again in 3 min 30 s" in screen.status.plain_text


def test_a_lockout_survives_rebuilding_the_screen(
    qtbot: QtBot, pin_set: Paths, make_pin: MakePin
) -> None:
    wall = Clock(1_800_000_000.0)
    first = make_pin(wall=wall)
    for _ in range(5):
        ready(qtbot, first)
        type_pin(qtbot, first, "111111")
    ready(qtbot, first)
    first.window().close()
    wall.now += 60
    again = make_pin(wall=wall)
    ready(qtbot, again)
    assert "4 分钟" in again.status.plain_text
    assert not again.ok_button.isEnabled()
    wall.now += LOCK_S
    after = make_pin(wall=wall)
    ready(qtbot, after)
    with qtbot.waitSignal(after.unlocked):
        type_pin(qtbot, after, PIN)


def test_without_a_pin_the_pad_says_how_to_set_one(
    qtbot: QtBot, paths: Paths, make_pin: MakePin
) -> None:
    screen = make_pin(lang="en")
    ready(qtbot, screen)
    assert "kiosk staff set-pin" in screen.status.plain_text
    assert not screen.digit_buttons["1"].isEnabled()


@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_the_pin_pad_meets_the_floor(
    qtbot: QtBot, pin_set: Paths, make_pin: MakePin, size: tuple[int, int], large_text: bool
) -> None:
    problems = []
    for lang in LANGUAGES:
        screen = make_pin(size=size, large_text=large_text, lang=lang)
        ready(qtbot, screen)
        for digit in "2468":
            screen.press(digit)
        problems += [f"{lang}, typing: {p}" for p in settled(qtbot, screen.window(), size)]
        for _ in range(5):
            type_pin(qtbot, screen, "111111")
            ready(qtbot, screen)
        problems += [f"{lang}, locked: {p}" for p in settled(qtbot, screen.window(), size)]
        screen.window().close()
        pin_set.staff_lockout.unlink()
    assert problems == []


# -- the dashboard -------------------------------------------------------------------------


@pytest.fixture
def filled(store: Store) -> Store:
    """A store with a queued application, a rejected one, a printed receipt and a
    rating."""
    applications = Applications(store, "DEMO01")
    for reason in (None, REASON):
        made = applications.create(ITEM, RESIDENT, today=date.today())
        applications.transition(made.id, State.READY)
        applications.transition(made.id, State.QUEUED)
        if reason:
            applications.transition(made.id, State.REJECTED, reason=reason)
            with store.write() as session:  # as the sync does once the district decided
                session.execute(delete(OutboxEntry).where(OutboxEntry.application_id == made.id))
    PrintQueue(store).add(
        b"%PDF-1.4 receipt", kind=JobKind.RECEIPT, title="receipt", reference="DEMO01-0001"
    )
    Ratings(store).add(2, item_code=ITEM.code)
    return store


SIMULATED = Settings(
    ui=UiSettings(fullscreen=False),
    devices=DeviceSettings(**{family: DeviceBackend.SIMULATOR for family in FAMILIES}),
)

MakeStaff = Callable[..., StaffScreen]

# The dashboard's tests click at 1920×1080, where each section's content fits its scroll
# area: where it does not, the scroll area's QScroller holds a press back to tell a tap
# from a drag, and the offscreen platform loses the held press (it cannot find the widget
# at a global position), so the click would never arrive.
CLICK_SIZE = SIZES[0]


@pytest.fixture
def make_staff(qtbot: QtBot, tasks: TaskManager, paths: Paths, filled: Store) -> MakeStaff:
    windows: list[QMainWindow] = []  # kept alive until the test ends

    def make(
        *,
        checks: object = None,
        settings: Settings = SIMULATED,
        size: tuple[int, int] = CLICK_SIZE,
        large_text: bool = False,
        lang: Language = "zh",
    ) -> StaffScreen:
        screen = StaffScreen(filled, paths, settings, tasks, checks or Checks())  # type: ignore[arg-type]
        screen.retranslate(lang)
        window = Frame(screen, size, large_text)
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return screen

    return make



def open_section(qtbot: QtBot, screen: StaffScreen, section: Section) -> None:
    if screen.section is not None:
        tap(qtbot, screen.pages[screen.section].back_button)
    screen.tile_area.ensureWidgetVisible(screen.tiles[section])  # as staff would scroll
    tap(qtbot, screen.tiles[section])
    assert screen.section is section


def shown_once(qtbot: QtBot, page: QWidget, wanted: str) -> list[str]:
    """The texts `page` shows, once one of them holds `wanted` (a row added to a shown
    layout is shown a turn of the event loop later)."""

    def shown() -> list[str]:
        return [label.plain_text for label in page.findChildren(WrappedLabel) if label.isVisible()]

    qtbot.waitUntil(lambda: any(wanted in line for line in shown()))
    return shown()


def test_the_overview_counts_what_waits_and_what_was_rejected(
    qtbot: QtBot, make_staff: MakeStaff
) -> None:
    screen = make_staff()
    qtbot.waitUntil(lambda: "排队待上传 1 份" in screen.tiles[Section.QUEUE].detail)
    assert screen.tiles[Section.REJECTED].detail == "被退回 1 份"


def test_the_queue_shows_a_queued_application_and_the_sync_state(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.QUEUE)
    queued = next(v for v in Applications(filled, "DEMO01").views() if v.state is State.QUEUED)
    page = screen.queue_page
    shown = shown_once(qtbot, page, queued.reference)
    assert "排队中的申请（1 份）" in shown
    assert f"{queued.reference}　·　{ITEM.name_zh}" in shown
    assert "本站还没有在区中心登记" in page.summary.plain_text
    assert "被退回：1 份" in page.summary.plain_text
    assert RESIDENT["name"] not in "".join(shown)
    with qtbot.waitSignal(screen.sync_requested):
        tap(qtbot, page.sync_button)


def test_rejected_applications_show_their_reasons(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.REJECTED)
    rejected = next(v for v in Applications(filled, "DEMO01").views() if v.state is State.REJECTED)
    page = screen.rejected_page
    shown = shown_once(qtbot, page, REASON)
    assert "被退回的申请（1 份）" in shown
    assert f"{rejected.reference}　·　{ITEM.name_zh}" in shown
    assert f"退回原因：{REASON}" in shown


def test_an_application_that_needs_more_prints_its_supplement_notice(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    missing = "请补交户口簿复印件"
    applications = Applications(filled, "DEMO01")
    made = applications.create(ITEM, RESIDENT, today=date.today())
    for state in (State.READY, State.QUEUED, State.SUBMITTED):
        applications.transition(made.id, state)
    applications.transition(made.id, State.NEEDS_MORE, reason=missing)
    screen = make_staff()
    printed: list[bool] = []
    screen.print_queued.connect(lambda: printed.append(True))
    open_section(qtbot, screen, Section.REJECTED)
    page = screen.rejected_page
    shown = shown_once(qtbot, page, missing)
    assert "需要补正的申请（1 份）" in shown and f"需要补正：{missing}" in shown
    assert f"退回原因：{REASON}" in shown  # the rejected ones still follow
    [slip] = page.slip_buttons
    assert slip.text() == "打印补正通知"
    tap(qtbot, slip)
    qtbot.waitUntil(lambda: printed == [True], timeout=60_000)  # renders the PDF
    [job] = [j for j in PrintQueue(filled).jobs(limit=10) if j.kind == JobKind.SUPPLEMENT]
    assert job.reference == made.reference
    assert shown_once(qtbot, page, "补正通知已排队打印")


def test_staff_attach_a_comment_to_todays_rating(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.RATINGS)
    page = screen.ratings_page
    shown = shown_once(qtbot, page, "不满意")
    assert "今天的评价（1 条）" in shown and "没有备注" in shown
    assert any(f"不满意　·　{ITEM.code}" in line for line in shown)
    [write] = page.comment_buttons
    assert write.text() == "写备注"
    tap(qtbot, write)
    assert page.editor.isVisible()
    tap(qtbot, page.phrase_buttons["staff_phrase_wait"])
    tap(qtbot, page.keyboard.key("a"))  # the on-screen keys type into the field too
    assert page.comment_field.text() == "等候时间长a"
    page.comment_field.setText("等候时间长")
    tap(qtbot, page.save_button)
    shown = shown_once(qtbot, page, "备注：等候时间长")
    assert "备注已保存，下次同步时送到区中心。" in shown
    assert not page.editor.isVisible()
    [rating] = Ratings(filled).on_day(datetime.now().astimezone())
    assert rating.comment == "等候时间长" and rating.queued


def test_each_device_is_checked_and_self_tested(qtbot: QtBot, make_staff: MakeStaff) -> None:
    checks = Checks()
    screen = make_staff(checks=checks)
    open_section(qtbot, screen, Section.DEVICES)
    rows = screen.devices_page.rows
    qtbot.waitUntil(lambda: all("looked at" in row.state.plain_text for row in rows.values()))
    assert rows["camera"].state.plain_text.startswith("✔ 正常")
    assert rows["printer"].state.plain_text.startswith("✖ 有问题")
    for family in FAMILIES:
        tap(qtbot, rows[family].test_button)
    qtbot.waitUntil(lambda: all("tested" in row.state.plain_text for row in rows.values()))
    assert rows["scanner"].state.plain_text == "✔ 自检通过：scanner tested"
    assert rows["printer"].state.plain_text == "✖ 自检没有通过：printer tested"
    assert [f for kind, f in checks.asked if kind == "self_test"] == list(FAMILIES)


def test_self_tests_on_the_simulated_kit(
    qtbot: QtBot, make_staff: MakeStaff, paths: Paths, filled: Store
) -> None:
    screen = make_staff(checks=KitChecks(SIMULATED, paths, store=filled), lang="en")
    open_section(qtbot, screen, Section.DEVICES)
    rows = screen.devices_page.rows
    for family in ("camera", "printer"):
        qtbot.waitUntil(lambda f=family: rows[f].test_button.isEnabled())
        tap(qtbot, rows[family].test_button)
    qtbot.waitUntil(
        lambda: (
            "picture" in rows["camera"].state.plain_text
            and "test page printed" in rows["printer"].state.plain_text
        ),
        timeout=30_000,
    )
    assert rows["camera"].state.plain_text.startswith("✔ Self-test passed: Took a 1280×720")
    assert list(paths.printed.glob("*.pdf"))


def test_reprint_queues_the_same_document_again(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.PRINTS)
    page = screen.prints_page
    qtbot.waitUntil(lambda: len(page.reprint_buttons) == 1)
    (original,) = PrintQueue(filled).jobs()
    with qtbot.waitSignal(screen.print_queued):
        tap(qtbot, page.reprint_buttons[0])
    again = PrintQueue(filled).jobs()[0]
    assert again.reprint_of == original.id
    assert again.document_sha256 == original.document_sha256
    assert page.notice.plain_text == "已重新排队打印：回执\u3000DEMO01-0001"
    qtbot.waitUntil(lambda: len(page.reprint_buttons) == 2)


def test_the_day_report_is_shown_and_printed(
    qtbot: QtBot, make_staff: MakeStaff, filled: Store
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.REPORT)
    page = screen.report_page
    qtbot.waitUntil(lambda: "共受理 2 份申请" in page.summary.plain_text)
    with qtbot.waitSignal(screen.print_queued):
        tap(qtbot, page.print_button)
    report = PrintQueue(filled).jobs()[0]
    assert report.kind == JobKind.REPORT
    assert report.reference == f"DEMO01-{date.today():%Y%m%d}-DAY"
    assert PrintQueue(filled).document(report.id).startswith(b"%PDF")


def test_settings_staff_change_are_kept(qtbot: QtBot, make_staff: MakeStaff, paths: Paths) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.SETTINGS)
    page = screen.settings_page
    english = dict(page.choices["language"])["en"]
    large_on = dict(page.choices["large_text"])[True]
    speech_off = dict(page.choices["speech"])[False]
    for choice in (english, large_on, speech_off):
        tap(qtbot, choice)
    less, _, more = page.steppers["idle_warning_s"]
    tap(qtbot, more)
    tap(qtbot, more)
    tap(qtbot, less)
    assert english.text() == "✔ English"
    assert page.notice.plain_text == "有更改还没有保存。"
    with qtbot.waitSignal(screen.settings_changed) as changed:
        tap(qtbot, page.save_button)
    ui = changed.args[0].ui
    assert (ui.language, ui.large_text, ui.speech, ui.idle_warning_s) == ("en", True, False, 70)
    assert load_settings(paths.data_dir, env={}).ui == ui
    rebuilt = make_staff(settings=load_settings(paths.data_dir, env={}))
    open_section(qtbot, rebuilt, Section.SETTINGS)
    assert dict(rebuilt.settings_page.choices["language"])["en"].text() == "✔ English"
    assert rebuilt.settings_page.steppers["idle_warning_s"][1].plain_text == "70 秒"


def test_closing_the_kiosk_program_takes_a_second_tap(
    qtbot: QtBot, make_staff: MakeStaff
) -> None:
    screen = make_staff()
    open_section(qtbot, screen, Section.SETTINGS)
    quit_button = screen.settings_page.quit_button
    assert quit_button.text() == "关闭自助机程序"
    with qtbot.assertNotEmitted(screen.quit_requested):
        tap(qtbot, quit_button)
    assert quit_button.text() == "再点一次，确认关闭"
    with qtbot.waitSignal(screen.quit_requested):
        tap(qtbot, quit_button)
    assert quit_button.text() == "关闭自助机程序"


def test_a_setting_the_technician_fixed_says_so(
    qtbot: QtBot, make_staff: MakeStaff, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    paths.settings_file.write_text('[ui]\nlanguage = "zh"\n', encoding="utf-8")
    screen = make_staff()
    open_section(qtbot, screen, Section.SETTINGS)
    notes = screen.settings_page.fixed_notes
    qtbot.waitUntil(lambda: notes["language"].isVisible())
    assert "技术人员" in notes["language"].plain_text
    assert not notes["speech"].isVisible()


def test_assist_and_exit(qtbot: QtBot, make_staff: MakeStaff) -> None:
    screen = make_staff()
    with qtbot.waitSignal(screen.assisted_session_requested):
        tap(qtbot, screen.assisted_button)
    with qtbot.waitSignal(screen.closed):
        tap(qtbot, screen.exit_button)


def every_section(qtbot: QtBot, screen: StaffScreen) -> Iterator[str]:
    if screen.section is not None:
        screen.show_overview()
    qtbot.waitUntil(lambda: "1" in screen.tiles[Section.QUEUE].detail)
    yield "overview"
    for section in Section:
        open_section(qtbot, screen, section)
        page = screen.pages[section]
        qtbot.waitUntil(lambda p=page: "……" not in p.notice.plain_text)
        if section is Section.DEVICES:
            rows = screen.devices_page.rows
            qtbot.waitUntil(lambda r=rows: all(x.test_button.isEnabled() for x in r.values()))
            screen.devices_page.self_test("scanner")
        yield str(section)


@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_section_meets_the_floor(
    qtbot: QtBot, make_staff: MakeStaff, size: tuple[int, int], large_text: bool
) -> None:
    problems = []
    screen = make_staff(size=size, large_text=large_text)
    for lang in LANGUAGES:
        screen.retranslate(lang)
        for state in every_section(qtbot, screen):
            found = settled(qtbot, screen.window(), size)
            problems += [f"{lang}, {state}: {problem}" for problem in found]
    assert problems == []
