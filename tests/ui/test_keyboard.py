"""The on-screen keyboard of the catalog search, tapped the way a resident taps it: on a
real kiosk window, with mouse clicks on the keys, in Chinese and English, at both screen
sizes and with large text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from kiosk.ui import theme
from kiosk.ui.keyboard import BACKSPACE, CLEAR, SPACE, OnScreenKeyboard, key_specs
from kiosk.ui.screens.catalog import CatalogScreen
from kiosk.ui.window import MainWindow
from tests.ui.kit import tap

MakeWindow = Callable[..., MainWindow]

MIN_TARGET_PX = 60
SIZES = [(1920, 1080), (1366, 768)]
KEY_VALUES = [spec.value for spec in key_specs()]



def tap_keys(qtbot: QtBot, screen: CatalogScreen, values: list[str] | str) -> None:
    for value in values:
        tap(qtbot, screen.keyboard.key(value))


def open_catalog(qtbot: QtBot, window: MainWindow) -> CatalogScreen:
    """Go to the catalog and open the keyboard by touching the search field."""
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert not screen.keyboard.isVisible()
    tap(qtbot, screen.search)
    assert screen.keyboard.isVisible()
    return screen


def row_names(screen: CatalogScreen) -> list[str]:
    return [row.text() for row in screen.rows()]


def test_tapping_jyjl_finds_the_medical_record_book(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    typed: list[str] = []
    screen.keyboard.typed.connect(typed.append)

    tap_keys(qtbot, screen, "jyjl")

    assert screen.search.text() == "jyjl"
    assert typed == ["j", "y", "j", "l"]
    assert row_names(screen) == ["就医记录册申领"]
    assert screen.list_heading.plain_text == "查找“jyjl”：共 1 项"
    tap(qtbot, screen.rows()[0])
    assert window.stack.currentWidget() is window.guide_screen
    assert window.guide_screen.heading.plain_text == "就医记录册申领"


def test_a_quick_second_tap_on_the_search_field_opens_the_keyboard(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    """Qt makes a tap soon after another, near it, a double click (a resident tapping
    "Start" and then the search field quickly): it still opens the keyboard."""
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    qtbot.mouseDClick(screen.search, Qt.MouseButton.LeftButton)
    assert screen.keyboard.isVisible()


def test_backspace_takes_off_one_letter_and_clear_empties_the_field(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    tap_keys(qtbot, screen, "jyjlx")
    assert row_names(screen) == []
    assert screen.no_results.isVisible()

    tap_keys(qtbot, screen, [BACKSPACE])
    assert screen.search.text() == "jyjl"
    assert row_names(screen) == ["就医记录册申领"]

    tap_keys(qtbot, screen, [CLEAR])
    assert screen.search.text() == ""
    assert screen.tile_area.isVisible()
    tap_keys(qtbot, screen, [BACKSPACE, CLEAR])
    assert screen.search.text() == ""


def test_keys_type_at_the_cursor_and_the_hardware_keyboard_still_types(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    qtbot.keyClicks(screen.search, "jjl")
    screen.search.setCursorPosition(1)
    tap_keys(qtbot, screen, "y")
    assert screen.search.text() == "jyjl"
    assert screen.search.cursorPosition() == 2
    tap_keys(qtbot, screen, [BACKSPACE])
    assert screen.search.text() == "jjl"
    assert all(key.focusPolicy() == Qt.FocusPolicy.NoFocus for key in screen.keyboard.key_buttons())


def test_words_with_a_space_narrow_the_search(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    tap_keys(qtbot, screen, "yb")
    assert row_names(screen) == ["就医记录册申领", "医保关系转移接续"]
    tap_keys(qtbot, screen, [SPACE, *"0002"])
    assert screen.search.text() == "yb 0002"
    assert row_names(screen) == ["医保关系转移接续"]


def test_the_keyboard_button_opens_and_closes_it_and_home_closes_it(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    tap(qtbot, window.start_screen.start_button)
    screen = window.catalog_screen
    assert screen.keyboard_button.text() == "键盘"
    width = screen.search.width()

    tap(qtbot, screen.keyboard_button)
    assert screen.keyboard.isVisible()
    assert screen.keyboard_button.text() == "收起键盘"
    tap_keys(qtbot, screen, "jyjl")
    qtbot.waitUntil(lambda: screen.search.width() == width)

    tap(qtbot, screen.keyboard_button)
    assert not screen.keyboard.isVisible()
    assert screen.keyboard_button.text() == "键盘"
    assert screen.search.text() == "jyjl"

    tap(qtbot, screen.keyboard_button)
    tap(qtbot, window.top_bar.home_button)
    tap(qtbot, window.start_screen.start_button)
    assert not screen.keyboard.isVisible()
    assert screen.search.text() == ""


def test_no_keyboard_while_the_catalog_loads(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    screen.set_loading()
    assert not screen.keyboard.isVisible()
    assert not screen.keyboard_button.isEnabled()
    assert window.catalog is not None
    screen.set_catalog(window.catalog)
    assert screen.keyboard.isVisible()


def test_the_keyboard_in_english(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(language="en")
    screen = open_catalog(qtbot, window)
    keyboard = screen.keyboard
    assert [keyboard.key(v).text() for v in (BACKSPACE, CLEAR, SPACE)] == [
        "Delete",
        "Clear",
        "Space",
    ]
    assert screen.keyboard_button.text() == "Hide keyboard"

    tap_keys(qtbot, screen, [*"medical", SPACE, *"book"])
    assert screen.search.text() == "medical book"
    assert row_names(screen) == ["Applying for a medical record book"]
    tap_keys(qtbot, screen, [CLEAR, *"jyjl"])
    assert row_names(screen) == ["Applying for a medical record book"]

    tap(qtbot, window.top_bar.language_button)
    assert keyboard.key(BACKSPACE).text() == "删除"
    assert row_names(screen) == ["就医记录册申领"]


@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_key_is_large_enough(
    qtbot: QtBot, make_window: MakeWindow, size: tuple[int, int], large_text: bool
) -> None:
    window = make_window(size=size, large_text=large_text)
    screen = open_catalog(qtbot, window)
    tap_keys(qtbot, screen, "jyjl")
    least = MIN_TARGET_PX if size == (1366, 768) else 80
    keys = screen.keyboard.key_buttons()
    assert len(keys) == 26 + 10 + 3
    for key in keys:
        assert key.isVisible()
        assert key.width() >= least and key.height() >= least, (key.text(), key.size())
        caption = key.caption
        assert caption.fontMetrics().horizontalAdvance(key.text()) <= caption.width()
    # Every key stays inside the keyboard, and the keyboard inside the window.
    keyboard_rect = screen.keyboard.rect()
    assert all(keyboard_rect.contains(key.geometry()) for key in keys)
    corner = screen.keyboard.mapTo(window, QPoint(keyboard_rect.width(), keyboard_rect.height()))
    assert window.rect().contains(corner - QPoint(1, 1))
    # The results stay beside the keyboard, wide enough to read.
    assert screen.rows()[0].isVisible()
    assert screen.rows()[0].width() >= 300


def test_a_pressed_key_shows_a_thicker_border(qtbot: QtBot, make_window: MakeWindow) -> None:
    """Pressed is not shown by colour alone: the border grows from 3 to 6 px."""
    window = make_window()
    screen = open_catalog(qtbot, window)
    key = screen.keyboard.key("j")
    inside_thin_border = QPoint(theme.BORDER_PX + 1, key.height() // 2)

    def colour_at_edge() -> QColor:
        return key.grab().toImage().pixelColor(inside_thin_border)

    assert colour_at_edge() == QColor(theme.SURFACE)
    key.setDown(True)
    assert colour_at_edge() == QColor(theme.ACCENT)
    key.setDown(False)
    assert colour_at_edge() == QColor(theme.SURFACE)


def test_typed_fires_even_without_a_target_and_a_disabled_field_is_left_alone(
    qtbot: QtBot,
) -> None:
    keyboard = OnScreenKeyboard()
    qtbot.addWidget(keyboard)
    typed: list[str] = []
    keyboard.typed.connect(typed.append)
    keyboard.press("a")
    field = QLineEdit("x")
    keyboard.set_target(field)
    field.setEnabled(False)
    keyboard.press("b")
    keyboard.press(BACKSPACE)
    field.setEnabled(True)
    keyboard.press("c")
    assert typed == ["a", "b", BACKSPACE, "c"]
    assert field.text() == "xc"


def expected_text(values: list[str]) -> str:
    shown = ""
    for value in values:
        if value == BACKSPACE:
            shown = shown[:-1]
        elif value == CLEAR:
            shown = ""
        else:
            shown += value
    return shown


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(st.sampled_from(KEY_VALUES), max_size=12))
def test_any_taps_type_exactly_what_was_tapped(
    qtbot: QtBot, make_window: MakeWindow, values: list[str]
) -> None:
    window = make_window()
    screen = open_catalog(qtbot, window)
    tap_keys(qtbot, screen, values)
    assert screen.search.text() == expected_text(values)
    if screen.search.text().strip():
        assert screen.list_area.isVisible()
    else:
        assert screen.tile_area.isVisible()
