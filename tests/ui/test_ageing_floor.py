"""Every screen against the national ageing-friendly floor (适老化), measured on the live
widgets: at 1920×1080 and 1366×768, in Chinese and English, with normal and large text.

For every state a resident can reach (the catalog with its on-screen keyboard open and
closed among them), each visible widget is checked: touch targets (buttons, keys, the
start screen, the search field, scroll bars) at least 60×60 px; text at
least 18 pt, headings at least 30 pt; no text cut off (one-line text fits its width,
wrapped text fits its height at its width); every character drawn has a glyph in the
shipped font; nothing wider than its scroll area; and the window keeps the size it was
given (its content needs no more room). Colour contrast and line spacing are checked in
test_theme.py."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cache

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QRawFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QStyle,
    QStyleOptionFrame,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kiosk.core.catalog import Catalog
from kiosk.errors import DoorstepError
from kiosk.ui.fonts import font_path
from kiosk.ui.strings import LANGUAGES
from kiosk.ui.theme import HEADING_ROLES
from kiosk.ui.widgets import TextButton, WrappedLabel
from kiosk.ui.window import MainWindow

MakeWindow = Callable[..., MainWindow]

MIN_TARGET_PX = 60
MIN_BODY_PT = 18
MIN_HEADING_PT = 30
SIZES = [(1920, 1080), (1366, 768)]


class CatalogUnavailable(DoorstepError):
    """A failure with the longest resident message the window may have to show."""

    resident_zh = "服务事项暂时无法显示。请稍后再试，或请工作人员帮您查看服务站的网络和电脑。"
    resident_en = (
        "The services cannot be shown just now. Please try again later, or ask a member of "
        "staff to check the station's network and computer."
    )


@cache
def shipped_font() -> QRawFont:
    return QRawFont(str(font_path()), 20)


def describe(widget: QWidget) -> str:
    shown = shown_text(widget)
    return f"{type(widget).__name__} {widget.objectName()!r} {shown[:40]!r} {widget.size()}"


def shown_text(widget: QWidget) -> str:
    if isinstance(widget, WrappedLabel):
        return widget.plain_text
    if isinstance(widget, QLabel | QPushButton):
        return widget.text()
    if isinstance(widget, QLineEdit):
        return widget.text() or widget.placeholderText()
    return ""


def line_edit_text_width(edit: QLineEdit) -> int:
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    rect = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, edit)
    return rect.width()


def text_cut_off(widget: QWidget, shown: str) -> bool:
    metrics = widget.fontMetrics()
    if isinstance(widget, QLabel) and widget.wordWrap():
        return widget.heightForWidth(widget.width()) > widget.height()
    if isinstance(widget, QLabel):
        room = widget.contentsRect()
        return metrics.horizontalAdvance(shown) > room.width() or metrics.height() > room.height()
    if isinstance(widget, QPushButton):
        hint = widget.sizeHint()
        return hint.width() > widget.width() or hint.height() > widget.height()
    if isinstance(widget, QLineEdit):
        return metrics.horizontalAdvance(shown) > line_edit_text_width(widget)
    return False


def floor_problems(window: MainWindow, size: tuple[int, int]) -> list[str]:
    """Everything on the window as shown now that is below the floor."""
    problems = []
    if window.size() != QSize(*size):
        problems.append(f"window is {window.size()}, not {size}")
    screen = window.stack.currentWidget()
    if screen.minimumSizeHint().height() > window.stack.height():
        problems.append("the content needs more height than the window has")
    if screen.minimumSizeHint().width() > window.stack.width():
        problems.append("the content needs more width than the window has")
    for widget in window.findChildren(QWidget):
        if not widget.isVisible():
            continue
        touchable = isinstance(widget, QAbstractButton | QLineEdit) or widget.property("clickable")
        if touchable and (widget.width() < MIN_TARGET_PX or widget.height() < MIN_TARGET_PX):
            problems.append(f"touch target too small: {describe(widget)}")
        if (
            isinstance(widget, QScrollBar)
            and widget.orientation() == Qt.Orientation.Vertical
            and widget.width() < MIN_TARGET_PX
        ):
            problems.append(f"scroll bar too narrow: {describe(widget)}")
        if isinstance(widget, QScrollArea) and widget.widget().width() > widget.viewport().width():
            problems.append(f"content wider than its scroll area: {describe(widget)}")
        shown = shown_text(widget)
        if not shown or isinstance(widget, TextButton):
            continue
        points = widget.font().pointSizeF()
        if points < MIN_BODY_PT:
            problems.append(f"text of {points} pt: {describe(widget)}")
        if widget.property("role") in HEADING_ROLES and points < MIN_HEADING_PT:
            problems.append(f"heading of {points} pt: {describe(widget)}")
        if text_cut_off(widget, shown):
            problems.append(f"text cut off: {describe(widget)}")
        missing = {c for c in shown if not shipped_font().supportsCharacter(ord(c))}
        if missing - {" ", "\n"}:
            problems.append(f"no glyph for {sorted(missing)}: {describe(widget)}")
    return problems


def settled(qtbot: QtBot, window: MainWindow, size: tuple[int, int]) -> list[str]:
    """The problems left once the layouts have settled (they take a few turns of the
    event loop after a change), or after a second if they never do.

    The posted layout requests are delivered first, as they are before a paint on the
    screen: without that, a check that passes on the half-laid-out window (a label just
    shown, still at its size hint) returns at once and the screenshot shows a state no
    resident sees."""
    problems: list[str] = []

    def fine() -> bool:
        QApplication.sendPostedEvents()
        problems[:] = floor_problems(window, size)
        return not problems

    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(fine, timeout=1000)
    return problems


def every_state(qtbot: QtBot, window: MainWindow, catalog: Catalog) -> Iterator[str]:
    """Put the window in each state a resident can reach, naming it."""
    screen = window.catalog_screen
    window.show_start()
    yield "start screen"
    window.show_catalog()
    yield "category tiles"
    for category in catalog.categories():
        screen.show_category(category)
        yield f"items of {category}"
    screen.search.setText("jyjl")
    yield "search results"
    screen.search.setText("no such service at all")
    yield "search without results"
    screen.reset()
    screen.set_keyboard_open(True)
    yield "category tiles beside the keyboard"
    screen.show_category(catalog.categories()[0])
    yield "items of a category beside the keyboard"
    screen.search.setText("jyjl")
    yield "search results beside the keyboard"
    screen.search.setText("no such service at all")
    yield "search without results beside the keyboard"
    screen.reset()
    screen.set_loading()
    yield "catalog loading"
    screen.set_failure(CatalogUnavailable("test"))
    yield "catalog failed"
    screen.set_failure(RuntimeError("test"))
    yield "catalog failed unexpectedly"
    screen.set_catalog(catalog)
    for item in catalog:
        window.show_guide(item)
        yield f"guide of {item.code}"
        bar = window.guide_screen.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())
        yield f"guide of {item.code}, scrolled to the end"


@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_screen_meets_the_floor(
    qtbot: QtBot,
    make_window: MakeWindow,
    catalog: Catalog,
    size: tuple[int, int],
    large_text: bool,
) -> None:
    window = make_window(size=size, large_text=large_text)
    problems = []
    for lang in LANGUAGES:
        window.set_language(lang)
        for state in every_state(qtbot, window, catalog):
            problems += [f"{lang}, {state}: {problem}" for problem in settled(qtbot, window, size)]
    assert problems == []


def test_the_check_finds_text_that_is_cut_off(qtbot: QtBot, make_window: MakeWindow) -> None:
    """The check above is not vacuous: a squeezed label and a tiny button are caught."""
    window = make_window()
    label = window.start_screen.instruction
    label.setWordWrap(False)
    label.setFixedWidth(40)
    tiny = window.top_bar.language_button
    tiny.setFixedSize(40, 40)
    qtbot.wait(1)
    problems = floor_problems(window, (1366, 768))
    assert any("text cut off" in problem and "Label" in problem for problem in problems)
    assert any("touch target too small" in problem for problem in problems)


@pytest.mark.slow
@pytest.mark.parametrize("large_text", [False, True], ids=["normal-text", "large-text"])
def test_every_screen_of_the_sample_catalog_meets_the_floor(
    qtbot: QtBot, make_window: MakeWindow, sample_catalog: Catalog, large_text: bool
) -> None:
    """The real texts, every item's guide, on the smaller screen."""
    size = SIZES[1]
    window = make_window(size=size, large_text=large_text, loader=lambda: sample_catalog)
    problems = []
    for lang in LANGUAGES:
        window.set_language(lang)
        for state in every_state(qtbot, window, sample_catalog):
            problems += [f"{lang}, {state}: {problem}" for problem in settled(qtbot, window, size)]
    assert problems == []
