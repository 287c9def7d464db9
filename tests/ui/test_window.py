"""The kiosk window driven the way a resident uses it: touch to start, pick a category or
search, read a service guide, go back, switch language; and a catalog that loads slowly
or not at all."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kiosk.config import Settings, UiSettings
from kiosk.core.catalog import Catalog
from kiosk.errors import DoorstepError
from kiosk.ui.idle import IdleWatcher
from kiosk.ui.kit import Kit
from kiosk.ui.strings import text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.window import MainWindow
from tests.ui.kit import tap

MakeWindow = Callable[..., MainWindow]


class CatalogOffline(DoorstepError):
    resident_zh = "服务事项暂时无法显示，请稍后再试。"
    resident_en = "The services cannot be shown just now. Please try again later."



def current(window: MainWindow) -> QWidget:
    return window.stack.currentWidget()


def test_touching_the_start_screen_anywhere_goes_to_the_catalog(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    assert current(window) is window.start_screen
    tap(qtbot, window.start_screen, QPoint(40, 40))
    assert current(window) is window.catalog_screen


def test_start_button_goes_to_the_catalog(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    assert current(window) is window.catalog_screen


def test_category_then_item_then_guide_and_back(
    qtbot: QtBot, make_window: MakeWindow, catalog: Catalog
) -> None:
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert [tile.text() for tile in screen.tiles()] == [
        "医疗保障",
        "养老服务",
        "民政救助",
        "户籍与居住证",
    ]
    assert screen.tiles()[0].detail == "共 2 项"

    tap(qtbot, screen.tiles()[0])
    assert [row.text() for row in screen.rows()] == ["就医记录册申领", "医保关系转移接续"]
    assert screen.list_heading.plain_text == "医疗保障（共 2 项）"
    assert "即办" in screen.rows()[0].detail

    tap(qtbot, screen.rows()[1])
    guide = window.guide_screen
    assert current(window) is guide
    assert guide.heading.plain_text == "医保关系转移接续"
    bodies = {key: body.plain_text for key, body in guide.section_bodies.items()}
    assert bodies["section_materials"] == "1. 参保凭证（复印件，1 份，必须提供）"
    assert bodies["section_time_limit"] == "5个工作日"
    assert bodies["section_handling"] == "远程视频协办\n工作人员代办"
    assert bodies["section_phone"] == "12345（本站电话）"
    assert not guide.section_titles["section_conditions"].isVisible()

    tap(qtbot, guide.back_button)
    assert current(window) is screen
    assert [row.text() for row in screen.rows()] == ["就医记录册申领", "医保关系转移接续"]
    tap(qtbot, screen.back_button)
    assert screen.tile_area.isVisible()
    tap(qtbot, screen.back_button)
    assert current(window) is window.start_screen


def test_search_by_pinyin_initials(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    qtbot.keyClicks(screen.search, "jyjl")
    assert [row.text() for row in screen.rows()] == ["就医记录册申领"]
    assert screen.list_heading.plain_text == "查找“jyjl”：共 1 项"

    tap(qtbot, screen.rows()[0])
    guide = window.guide_screen
    assert guide.heading.plain_text == "就医记录册申领"
    assert guide.section_bodies["section_materials"].plain_text == (
        "1. 社会保障卡（原件，1 份，必须提供）\n2. 户口簿（原件及复印件，2 份，可选）"
    )
    assert guide.section_bodies["section_time_limit"].plain_text == "即办"
    assert guide.section_bodies["section_fee"].plain_text == "不收费"
    assert guide.section_bodies["section_phone"].plain_text == "021-12345678"
    assert guide.section_bodies["section_conditions"].isVisible()


def test_search_with_no_match_says_so_and_clear_returns_to_the_tiles(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert not screen.clear_button.isEnabled()
    qtbot.keyClicks(screen.search, "zzzz")
    assert screen.rows() == []
    assert screen.no_results.isVisible()
    tap(qtbot, screen.clear_button)
    assert screen.search.text() == ""
    assert screen.tile_area.isVisible()


def test_search_by_english_name_and_code(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(language="en")
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    qtbot.keyClicks(screen.search, "residence permit")
    assert [row.text() for row in screen.rows()] == ["Replacing a lost residence permit card"]
    screen.search.clear()
    qtbot.keyClicks(screen.search, "mz-0001")
    assert [row.text() for row in screen.rows()] == ["Applying for the minimum living allowance"]


def test_home_button_returns_to_start_and_forgets_the_search(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    assert not window.top_bar.home_button.isVisible()
    tap(qtbot, window.start_screen.start_button)
    qtbot.keyClicks(window.catalog_screen.search, "jyjl")
    tap(qtbot, window.catalog_screen.rows()[0])
    tap(qtbot, window.top_bar.home_button)
    assert current(window) is window.start_screen
    tap(qtbot, window.start_screen.start_button)
    assert window.catalog_screen.search.text() == ""
    assert window.catalog_screen.tile_area.isVisible()


def test_language_switch_relabels_every_screen_at_once(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    switch = window.top_bar.language_button
    start, screen, guide = window.start_screen, window.catalog_screen, window.guide_screen
    assert switch.text() == "English"
    assert start.start_button.text() == "开始办事"

    tap(qtbot, switch)
    assert window.language == "en"
    assert switch.text() == "中文"
    assert start.heading.plain_text == "Welcome!"
    assert start.instruction.plain_text == "Touch the screen to begin"
    assert start.start_button.text() == "Start"
    assert window.top_bar.station_name.plain_text == "Sample Street Service Station"

    tap(qtbot, start.start_button)
    assert screen.heading.plain_text == "Choose a service"
    assert screen.back_button.text() == "← Back"
    assert screen.search.placeholderText().startswith("Type a service name")
    assert [tile.text() for tile in screen.tiles()][:2] == ["Medical insurance", "Elderly care"]
    tap(qtbot, screen.tiles()[0])
    assert screen.rows()[0].text() == "Applying for a medical record book"
    assert screen.rows()[0].detail == "Time limit: On the spot · Done here"

    tap(qtbot, switch)
    assert screen.rows()[0].text() == "就医记录册申领"
    assert screen.list_heading.plain_text == "医疗保障（共 2 项）"
    tap(qtbot, screen.rows()[0])
    assert guide.section_titles["section_materials"].text() == "需要带的材料"

    tap(qtbot, switch)
    assert guide.heading.plain_text == "Applying for a medical record book"
    assert guide.section_titles["section_materials"].text() == "Materials to bring"
    assert guide.section_bodies["section_materials"].plain_text.startswith(
        "1. Social security card (original, copies: 1, required)"
    )
    assert guide.section_bodies["section_time_limit"].plain_text == "On the spot"
    assert guide.section_bodies["section_responsible"].plain_text == (
        "District Medical Insurance Affairs Centre"
    )
    assert window.top_bar.home_button.text() == "Home"

    tap(qtbot, switch)
    assert guide.heading.plain_text == "就医记录册申领"
    assert window.top_bar.home_button.text() == "首页"
    assert switch.text() == "English"


def test_catalog_loads_off_the_main_thread(
    qtbot: QtBot, make_window: MakeWindow, catalog: Catalog
) -> None:
    loaded_on: list[int] = []
    release = threading.Event()

    def slow_loader() -> Catalog:
        loaded_on.append(threading.get_ident())
        assert release.wait(10)
        return catalog

    window = make_window(loader=lambda: catalog)
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    window.load_catalog(slow_loader)
    # The loader is blocked, yet the window answers touches and shows that it is loading.
    assert screen.status.isVisible()
    assert screen.status.plain_text == text("loading", "zh")
    assert not screen.search.isEnabled()
    tap(qtbot, window.top_bar.language_button)
    assert screen.status.plain_text == text("loading", "en")

    with qtbot.waitSignal(window.catalog_settled):
        release.set()
    assert loaded_on and loaded_on[0] != threading.main_thread().ident
    assert window.catalog is catalog
    assert screen.tile_area.isVisible()


def test_a_failing_loader_shows_the_resident_message_and_the_kiosk_goes_on(
    qtbot: QtBot, make_window: MakeWindow, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def flaky_loader() -> Catalog:
        attempts.append(1)
        if len(attempts) == 1:
            raise CatalogOffline("catalog table missing")
        return catalog

    with caplog.at_level(logging.ERROR, logger="kiosk.ui"):
        window = make_window(loader=flaky_loader)
    assert "catalog table missing" in caplog.text
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert screen.status.plain_text == CatalogOffline.resident_zh
    assert screen.retry_button.isVisible()
    tap(qtbot, window.top_bar.language_button)
    assert screen.status.plain_text == CatalogOffline.resident_en

    with qtbot.waitSignal(window.catalog_settled):
        tap(qtbot, screen.retry_button)
    assert len(attempts) == 2
    assert screen.tile_area.isVisible()
    assert len(screen.tiles()) == 4


def test_an_unexpected_loader_error_is_logged_and_shown_calmly(
    make_window: MakeWindow, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_loader() -> Catalog:
        raise RuntimeError("database is locked")

    with caplog.at_level(logging.ERROR, logger="kiosk.ui"):
        window = make_window(loader=broken_loader)
    assert "database is locked" in caplog.text
    window.show_catalog()
    assert window.catalog_screen.status.plain_text == text("catalog_unavailable", "zh")
    assert window.catalog is None


def test_the_sample_catalog_can_be_browsed(
    qtbot: QtBot, make_window: MakeWindow, sample_catalog: Catalog
) -> None:
    sample = sample_catalog
    window = make_window(loader=lambda: sample)
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert [tile.text() for tile in screen.tiles()] == [c.label("zh") for c in sample.categories()]
    tap(qtbot, screen.tiles()[0])
    first = sample.in_category(sample.categories()[0])
    assert [row.text() for row in screen.rows()] == [item.name_zh for item in first]
    tap(qtbot, screen.rows()[0])
    assert window.guide_screen.heading.plain_text == first[0].name_zh


def test_the_start_screen_is_drawn_before_the_other_screens_are_made(
    qtbot: QtBot, tasks: TaskManager, catalog: Catalog
) -> None:
    window = MainWindow(Settings(ui=UiSettings(language="en", fullscreen=False)), tasks)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    # Only the start screen until one of the others is first needed (the catalog load
    # after the first paint, in `kiosk run`): their making and styling wait.
    assert window.stack.count() == 1
    assert current(window) is window.start_screen
    window.wipe()  # nothing to wipe on screens not made yet; and nothing made for it
    assert window.stack.count() == 1

    with qtbot.waitSignal(window.catalog_settled):
        window.load_catalog(lambda: catalog)
    screens = [
        window.catalog_screen,
        window.guide_screen,
        window.identify_screen,
        window.review_screen,
        window.done_screen,
        window.mine_screen,
    ]
    assert window.stack.count() == 1 + len(screens)
    assert all(window.stack.indexOf(screen) > 0 for screen in screens)
    assert current(window) is window.start_screen
    # Made late, they still speak the window's language.
    assert window.catalog_screen.heading.plain_text == "Choose a service"
    tap(qtbot, window.start_screen.start_button)
    assert current(window) is window.catalog_screen


def test_the_idle_watcher_sees_input_only_while_a_visit_is_under_way(qtbot: QtBot) -> None:
    class Counting(IdleWatcher):
        seen = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            self.seen += 1
            return super().eventFilter(watched, event)

    target = QPushButton("x")
    qtbot.addWidget(target)
    target.show()
    qtbot.waitExposed(target)
    watcher = Counting(60, 20)
    watcher.install()
    tap(qtbot, target)
    assert watcher.seen == 0  # the start screen's events never go through it
    watcher.arm()
    tap(qtbot, target)
    assert watcher.seen > 0 and watcher.armed
    watcher.disarm()
    watcher.seen = 0
    tap(qtbot, target)
    assert watcher.seen == 0
    watcher.arm()
    watcher.uninstall()
    tap(qtbot, target)
    assert watcher.seen == 0


def test_a_kit_attached_later_is_used_from_then_on(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()  # no kit yet: `kiosk run` brings it up after the first paint
    guide, identify = window.guide_screen, window.identify_screen
    assert guide.apply_button.isHidden() and identify.demo_box.isHidden()

    class Speaker:
        muted = True

        def say(self, text: str, lang: str) -> None:
            raise AssertionError("muted")

    window.attach_kit(Kit(applications=cast(Any, object()), demo=True, speaker=Speaker()))
    assert not guide.apply_button.isHidden() and not identify.demo_box.isHidden()
    assert window.top_bar.sound_button.text() == text("unmute", "zh")
