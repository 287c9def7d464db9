"""The kiosk's look in one place: colours, text sizes and touch-target sizes, and the Qt
style sheet built from them.

The numbers sit above the national ageing-friendly floor (适老化): body text at least
18 pt, main headings at least 30 pt, touch targets at least 60×60 px, text contrast at
least 4.5:1, line spacing at least 1.3. Every (text, background) colour pair the style
sheet uses is listed in `TEXT_PAIRS` so tests can check each one. States never rely on
colour alone: pressed buttons also change their border, disabled ones get a dashed
border. The `large_text` setting scales every text size by `LARGE_TEXT_SCALE`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

FONT_FAMILY = "WenQuanYi Micro Hei"

# Colours: dark text on warm off-white, one deep-blue accent with white text.
TEXT = "#1a1a1a"
TEXT_MUTED = "#404040"
BACKGROUND = "#f7f5f0"
SURFACE = "#ffffff"
SURFACE_PRESSED = "#dce6f2"
ACCENT = "#0b4f8a"
ACCENT_PRESSED = "#083a69"
ON_ACCENT = "#ffffff"
NOTICE = "#fff3d6"
BORDER = "#5c5c5c"
DISABLED_TEXT = "#595959"
DISABLED_SURFACE = "#eeeeee"
SCROLL_TRACK = "#e4e1d8"


class ColourPair(NamedTuple):
    """Text drawn in `foreground` on `background`, and where the style sheet does that."""

    where: str
    foreground: str
    background: str


TEXT_PAIRS: tuple[ColourPair, ...] = (
    ColourPair("body text on the page", TEXT, BACKGROUND),
    ColourPair("secondary text on the page", TEXT_MUTED, BACKGROUND),
    ColourPair("text on a button, tile or row", TEXT, SURFACE),
    ColourPair("secondary text on a tile or row, and the search hint", TEXT_MUTED, SURFACE),
    ColourPair("text on a pressed button", TEXT, SURFACE_PRESSED),
    ColourPair("secondary text on a pressed tile or row", TEXT_MUTED, SURFACE_PRESSED),
    ColourPair("text on a primary button and the top bar", ON_ACCENT, ACCENT),
    ColourPair("text on a pressed primary button", ON_ACCENT, ACCENT_PRESSED),
    ColourPair("text on a top-bar button", ACCENT, SURFACE),
    ColourPair("text of a notice", TEXT, NOTICE),
    ColourPair("text on a disabled button", DISABLED_TEXT, DISABLED_SURFACE),
    ColourPair("button borders on the page", BORDER, BACKGROUND),
)


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio (1 to 21) of two `#rrggbb` colours."""
    lighter, darker = sorted(
        (_relative_luminance(foreground), _relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def _relative_luminance(colour: str) -> float:
    digits = colour.removeprefix("#")
    if len(digits) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    red, green, blue = (_linear(int(digits[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


class TextRole(StrEnum):
    """What a piece of text is; widgets carry it as their dynamic property "role"."""

    BODY = "body"
    BUTTON = "button"
    SUBHEADING = "subheading"
    HEADING = "heading"
    TITLE = "title"


HEADING_ROLES = frozenset({TextRole.HEADING, TextRole.TITLE})

TEXT_PT: dict[TextRole, float] = {
    TextRole.BODY: 20,
    TextRole.BUTTON: 22,
    TextRole.SUBHEADING: 24,
    TextRole.HEADING: 34,
    TextRole.TITLE: 46,
}
LARGE_TEXT_SCALE = 1.25

# Proportional line height of multi-line text (Qt rich text, percent of the font's own
# line height). With this face that gives about 1.5 times the font size.
LINE_HEIGHT_PERCENT = 125

SMALLEST_WINDOW_PX = (1024, 600)
READING_WIDTH_PX = 1200
TARGET_PX = 72
TILE_COLUMNS = 3
PRIMARY_TARGET_PX = 120
TILE_MIN_HEIGHT_PX = 132
SCROLL_BAR_PX = 60
BORDER_PX = 3
PRESSED_BORDER_PX = 6
RADIUS_PX = 14
PAGE_MARGIN_PX = 32
SPACING_PX = 20
BUTTON_PADDING_PX = (10, 28)
TEXT_BUTTON_MARGINS_PX = (28, 18, 28, 18)


class ButtonKind(StrEnum):
    """How a button looks; buttons carry it as their dynamic property "kind"."""

    NORMAL = "normal"
    PRIMARY = "primary"
    # The main key of a keypad (the staff PIN's OK): a primary button's colours and
    # type, with the padding of the keys beside it, so the keypad leaves room for text.
    PRIMARY_KEY = "primarykey"
    TOP_BAR = "topbar"
    TILE = "tile"
    ROW = "row"


def text_pt(role: TextRole, large_text: bool) -> float:
    """The point size of text in `role`, scaled up in large-text mode."""
    size = TEXT_PT[role] * (LARGE_TEXT_SCALE if large_text else 1)
    return round(size, 1)


def style_sheet(large_text: bool) -> str:
    """The whole style sheet of the kiosk window."""

    def pt(role: TextRole) -> str:
        return f"{text_pt(role, large_text):g}pt"

    bold_roles = "\n".join(
        f'QLabel[role="{role}"] {{ font-size: {pt(role)}; font-weight: bold; }}'
        for role in (TextRole.SUBHEADING, TextRole.HEADING, TextRole.TITLE, TextRole.BUTTON)
    )
    vertical, horizontal = BUTTON_PADDING_PX
    return f"""
QWidget {{
    font-family: "{FONT_FAMILY}";
    font-size: {pt(TextRole.BODY)};
    color: {TEXT};
}}
QMainWindow {{
    background: {BACKGROUND};
}}
{bold_roles}
QLabel[muted="true"] {{
    color: {TEXT_MUTED};
}}
QLabel[notice="true"] {{
    background: {NOTICE};
    border: {BORDER_PX}px solid {BORDER};
    border-radius: {RADIUS_PX}px;
    padding: 24px;
}}
QWidget#topBar {{
    background: {ACCENT};
}}
QWidget#idlePanel {{
    background: {SURFACE};
    border: {PRESSED_BORDER_PX}px solid {ACCENT};
    border-radius: {RADIUS_PX}px;
}}
QWidget#topBar QLabel {{
    color: {ON_ACCENT};
}}
QPushButton {{
    font-size: {pt(TextRole.BUTTON)};
    min-width: {TARGET_PX}px;
    min-height: {TARGET_PX}px;
    padding: {vertical}px {horizontal}px;
    color: {TEXT};
    background: {SURFACE};
    border: {BORDER_PX}px solid {BORDER};
    border-radius: {RADIUS_PX}px;
}}
QPushButton:pressed {{
    background: {SURFACE_PRESSED};
    border: {PRESSED_BORDER_PX}px solid {ACCENT};
}}
QPushButton:disabled {{
    color: {DISABLED_TEXT};
    background: {DISABLED_SURFACE};
    border-style: dashed;
}}
QPushButton[kind="primary"], QPushButton[kind="primarykey"] {{
    font-size: {pt(TextRole.HEADING)};
    font-weight: bold;
    min-height: {PRIMARY_TARGET_PX}px;
    padding: {vertical}px {horizontal * 3}px;
    color: {ON_ACCENT};
    background: {ACCENT};
    border-color: {ACCENT_PRESSED};
}}
QPushButton[kind="primarykey"] {{
    padding: {vertical}px {horizontal}px;
}}
QPushButton[kind="primary"]:pressed, QPushButton[kind="primarykey"]:pressed {{
    background: {ACCENT_PRESSED};
    border: {PRESSED_BORDER_PX}px solid {TEXT};
}}
QPushButton[kind="topbar"] {{
    color: {ACCENT};
    border-color: {SURFACE};
    font-weight: bold;
}}
QPushButton[kind="topbar"]:pressed {{
    background: {SURFACE_PRESSED};
    border: {PRESSED_BORDER_PX}px solid {TEXT};
}}
QAbstractButton[kind="tile"], QAbstractButton[kind="row"] {{
    background: {SURFACE};
    border: {BORDER_PX}px solid {BORDER};
    border-radius: {RADIUS_PX}px;
}}
QAbstractButton[kind="tile"]:pressed, QAbstractButton[kind="row"]:pressed {{
    background: {SURFACE_PRESSED};
    border: {PRESSED_BORDER_PX}px solid {ACCENT};
}}
QLineEdit {{
    font-size: {pt(TextRole.BUTTON)};
    min-height: {TARGET_PX}px;
    padding: 4px 16px;
    color: {TEXT};
    placeholder-text-color: {TEXT_MUTED};
    background: {SURFACE};
    border: {BORDER_PX}px solid {BORDER};
    border-radius: {RADIUS_PX}px;
}}
QLineEdit:focus {{
    border: {PRESSED_BORDER_PX - 1}px solid {ACCENT};
}}
QLineEdit:disabled {{
    color: {DISABLED_TEXT};
    background: {DISABLED_SURFACE};
    border-style: dashed;
}}
QScrollArea, QScrollArea > QWidget > QWidget {{
    background: transparent;
    border: none;
}}
QScrollBar:vertical {{
    width: {SCROLL_BAR_PX}px;
    background: {SCROLL_TRACK};
    border-radius: {RADIUS_PX}px;
    margin: 0;
}}
QScrollBar::handle:vertical {{
    min-height: {SCROLL_BAR_PX}px;
    background: {BORDER};
    border: 10px solid {SCROLL_TRACK};
    border-radius: {RADIUS_PX}px;
}}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{
    height: 0;
}}
QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{
    background: none;
}}
"""
