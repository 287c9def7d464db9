"""The theme against the national ageing-friendly floor: contrast, text sizes, target
sizes, line spacing, and states that do not rely on colour alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtGui import QFont
from pytestqt.qtbot import QtBot

from kiosk.ui import theme
from kiosk.ui.fonts import load_font
from kiosk.ui.theme import HEADING_ROLES, TEXT_PAIRS, TextRole, contrast_ratio, text_pt
from kiosk.ui.widgets import WrappedLabel

# The floor, written out here rather than read from the theme it checks.
MIN_CONTRAST = 4.5
MIN_BODY_PT = 18
MIN_HEADING_PT = 30
MIN_TARGET_PX = 60
MIN_LINE_SPACING = 1.3

colours = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)


def test_contrast_ratio_of_known_pairs() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)
    # The classic borderline grey: just under AA for body text.
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@given(colours, colours)
def test_contrast_ratio_is_symmetric_and_bounded(first: str, second: str) -> None:
    ratio = contrast_ratio(first, second)
    assert 1 <= ratio <= 21 + 1e-9
    assert ratio == pytest.approx(contrast_ratio(second, first))


def test_contrast_ratio_refuses_what_is_not_a_colour() -> None:
    with pytest.raises(ValueError, match="rrggbb"):
        contrast_ratio("blue", "#ffffff")


@pytest.mark.parametrize("pair", TEXT_PAIRS, ids=lambda pair: pair.where)
def test_every_text_pair_has_enough_contrast(pair: theme.ColourPair) -> None:
    assert contrast_ratio(pair.foreground, pair.background) >= MIN_CONTRAST


@pytest.mark.parametrize("large_text", [False, True])
def test_style_sheet_draws_text_only_in_listed_colours(large_text: bool) -> None:
    sheet = theme.style_sheet(large_text)
    text_colours = set(re.findall(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", sheet))
    fill_colours = set(re.findall(r"background:\s*(#[0-9a-f]{6})", sheet))
    assert text_colours <= {pair.foreground for pair in TEXT_PAIRS}
    scroll_bar = {theme.SCROLL_TRACK, theme.BORDER}  # no text is drawn on it
    assert fill_colours - scroll_bar <= {pair.background for pair in TEXT_PAIRS}


@pytest.mark.parametrize("large_text", [False, True])
def test_text_sizes_meet_the_floor(large_text: bool) -> None:
    for role in TextRole:
        assert text_pt(role, large_text) >= MIN_BODY_PT
    for role in HEADING_ROLES:
        assert text_pt(role, large_text) >= MIN_HEADING_PT


def test_large_text_is_about_a_quarter_larger() -> None:
    for role in TextRole:
        assert text_pt(role, True) / text_pt(role, False) == pytest.approx(1.25, abs=0.01)


def test_touch_targets_meet_the_floor() -> None:
    assert theme.TARGET_PX >= MIN_TARGET_PX
    assert theme.SCROLL_BAR_PX >= MIN_TARGET_PX
    assert theme.PRIMARY_TARGET_PX >= MIN_TARGET_PX
    assert theme.TILE_MIN_HEIGHT_PX >= MIN_TARGET_PX


def _rules(sheet: str) -> dict[str, str]:
    return {selector.strip(): body for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet)}


@pytest.mark.parametrize("state", [":pressed", ":disabled"])
def test_states_change_more_than_colour(state: str) -> None:
    """Pressed and disabled controls also change their border (width or style)."""
    rules = _rules(theme.style_sheet(large_text=False))
    stated = {selector: body for selector, body in rules.items() if state in selector}
    assert stated
    for selector, body in stated.items():
        assert re.search(r"border(-style)?:", body), selector
        assert "dashed" in body or f"{theme.PRESSED_BORDER_PX}px" in body, selector


@pytest.mark.parametrize("role", [TextRole.BODY, TextRole.HEADING])
@pytest.mark.parametrize("large_text", [False, True])
def test_wrapped_text_has_generous_line_spacing(
    qtbot: QtBot, role: TextRole, large_text: bool
) -> None:
    """Multi-line text: the distance from one line to the next is ≥ 1.3 × the text size."""
    assert load_font()
    label = WrappedLabel(role)
    qtbot.addWidget(label)
    font = QFont(theme.FONT_FAMILY)
    font.setPointSizeF(text_pt(role, large_text))
    label.setFont(font)
    width = 800
    label.set_plain_text("一")
    one_line = label.heightForWidth(width)
    label.set_plain_text("一\n二\n三")
    three_lines = label.heightForWidth(width)
    pitch = (three_lines - one_line) / 2
    text_px = font.pointSizeF() * label.logicalDpiY() / 72
    assert pitch / text_px >= MIN_LINE_SPACING
