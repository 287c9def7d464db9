"""The fonts every document is set in, embedded as subsets so that every printer and viewer
shows the same thing.

All text is set in the CJK font the kiosk ships, WenQuanYi Micro Hei
(`assets/fonts/wqy-microhei.ttc`, first face, Apache 2.0): it covers Latin text and the
~21,000 unified ideographs of the basic block, so one font serves Chinese and English.

A character the shipped font lacks is never dropped. Names in particular may hold rare
characters (刘䶮: U+4DAE, CJK Extension A), so each character is set in the first font that
has it, and the text is drawn as runs of one font each:

1. the shipped font;
2. the TrueType fallbacks found on this machine, in this order (`FALLBACK_FILES`):
   Droid Sans Fallback (Debian `fonts-droid-fallback`; WenQuanYi Micro Hei is derived from
   it, so it matches, and it adds Extension A), then HanaMin A and HanaMin B (Debian
   `fonts-hanazono`: between them Extensions A to F, in a Mincho style). reportlab embeds TrueType
   outlines only, so OpenType/CFF fonts such as Noto CJK cannot serve here;
3. otherwise the character is printed as its code point, `[U+4DAE]`, in the shipped font:
   visible, and exact enough for staff to look it up. A warning (without the text) is
   logged once per process so the technician installs `fonts-hanazono`.

Variation selectors (U+FE00–FE0F, U+E0100–E01EF) are left out: they choose a glyph form,
and none of these fonts has alternative forms to choose.

Fonts are loaded and registered with reportlab once per process, on first use, under a
lock. reportlab keeps per-document state inside each font object ("you cannot use the
same TTFont object for different documents at the same time"), so documents are rendered
one at a time: `RENDER_LOCK`.

reportlab writes a supplementary-plane character (Extension B and later) into a font's
ToUnicode map as five hex digits, which PDF readers misread, so copying or searching the
text gives a wrong character; this module installs a one-line correction that writes
such characters as UTF-16 surrogate pairs, as the PDF specification says.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics, ttfonts

from kiosk.config import assets_dir
from kiosk.errors import DoorstepError

log = logging.getLogger(__name__)

SHIPPED_FONT_FILE = "wqy-microhei.ttc"
#: The name documents use for the shipped font.
FONT = "DoorstepSans"

#: TrueType fonts tried, in order, for characters the shipped font lacks (see above).
FALLBACK_FILES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),
    Path("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"),
)

#: Held while a document is rendered (reportlab's font objects are per-document stateful).
RENDER_LOCK = threading.RLock()


class FontMissing(DoorstepError):
    """The font the kiosk ships cannot be read, so no document can be made."""

    action = (
        "Reinstall Doorstep (the font ships with it in assets/fonts), or point "
        "KIOSK_ASSETS_DIR at the assets folder."
    )


_SPACE = frozenset("\t\n\r\v\f\u2028\u2029")


def _is_variation_selector(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def substitute(char: str) -> str:
    """What is printed for a character no available font has."""
    return f"[U+{ord(char):04X}]"


@dataclass(frozen=True)
class Run:
    """A stretch of text set in one font; `font` is None for a printed substitute."""

    font: str | None
    text: str


class FontSet:
    """The shipped font and the fallbacks found, registered with reportlab."""

    def __init__(self, primary: ttfonts.TTFont, fallbacks: Sequence[ttfonts.TTFont]) -> None:
        self.primary = primary.fontName
        self._fonts = [(font.fontName, font.face.charToGlyph) for font in (primary, *fallbacks)]
        self._warned = False

    @classmethod
    def load(cls, fallback_files: Sequence[Path] = FALLBACK_FILES) -> FontSet:
        """Register the shipped font and every readable fallback in `fallback_files`."""
        shipped = assets_dir() / "fonts" / SHIPPED_FONT_FILE
        try:
            primary = _register(FONT, shipped, subfont=0)
        except (OSError, ttfonts.TTFError) as exc:
            raise FontMissing(f"cannot read the kiosk's font {shipped}: {exc}") from None
        fallbacks = []
        for path in fallback_files:
            if not path.is_file():
                continue
            try:
                fallbacks.append(_register(f"{FONT}-{path.stem}", path))
            except Exception:  # a damaged or unsupported file: skip it, keep the rest
                log.warning("cannot use fallback font %s; skipped", path, exc_info=True)
        return cls(primary, fallbacks)

    @property
    def names(self) -> list[str]:
        """The registered font names, shipped font first."""
        return [name for name, _ in self._fonts]

    def font_for(self, char: str) -> str | None:
        """The first font that has `char`, or None."""
        code = ord(char)
        for name, cmap in self._fonts:
            if code in cmap:
                return name
        return None

    def runs(self, text: str) -> list[Run]:
        """`text` as runs of one font each; substitutes for characters no font has."""
        shown: list[tuple[str | None, str]] = []
        for char in text:
            if _is_variation_selector(ord(char)):
                continue
            if char in _SPACE:
                shown.append((self.primary, " "))
            else:
                font = self.font_for(char)
                shown.append((font, char if font else substitute(char)))
        if not self._warned and any(font is None for font, _ in shown):
            self._warned = True
            log.warning(
                "a document holds characters that no available font has; they are printed "
                "as their code points ([U+XXXX]). Install the Debian package fonts-hanazono."
            )
        return [
            Run(font, "".join(piece for _, piece in group))
            for font, group in itertools.groupby(shown, key=itemgetter(0))
        ]

    def markup(self, text: str) -> str:
        """`text` as reportlab paragraph markup: escaped, each run in its font."""
        parts = []
        for run in self.runs(text):
            escaped = escape(run.text)
            if run.font is None or run.font == self.primary:
                parts.append(escaped)
            else:
                parts.append(f'<font name="{run.font}">{escaped}</font>')
        return "".join(parts)

    def pieces(self, text: str) -> Iterator[tuple[str, str]]:
        """(font, text) pairs for drawing `text` on a canvas directly."""
        for run in self.runs(text):
            yield (run.font or self.primary), run.text

    def width(self, text: str, size: float) -> float:
        """The width of `text` set at `size` points."""
        return sum(pdfmetrics.stringWidth(part, font, size) for font, part in self.pieces(text))


def _register(name: str, path: Path, subfont: int = 0) -> ttfonts.TTFont:
    """The font in `path` registered as `name` (the one registered already, if so)."""
    if name in pdfmetrics.getRegisteredFontNames():
        font = pdfmetrics.getFont(name)
        if isinstance(font, ttfonts.TTFont) and font.face.filename == str(path):
            return font
    font = ttfonts.TTFont(name, str(path), subfontIndex=subfont)
    pdfmetrics.registerFont(font)
    # <b> and <i> in paragraph markup keep the same face rather than failing.
    pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
    return font


_loaded: FontSet | None = None
_load_lock = threading.Lock()


def fonts() -> FontSet:
    """The process's font set, loaded on first use (thread-safe)."""
    global _loaded
    if _loaded is None:
        with _load_lock:
            if _loaded is None:
                _loaded = FontSet.load()
    return _loaded


# --- reportlab's ToUnicode map for characters beyond the basic plane ---------------------

_WIDE_ENTRY = re.compile(r"^(<[0-9A-F]{2}>) <([0-9A-F]{5,6})>$", re.MULTILINE)


def _surrogate_pair(match: re.Match[str]) -> str:
    code = int(match[2], 16) - 0x10000
    high, low = 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)
    return f"{match[1]} <{high:04X}{low:04X}>"


def _fixed_to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    return _WIDE_ENTRY.sub(_surrogate_pair, _reportlab_to_unicode_cmap(fontname, subset))


# The original, also when this module is imported a second time (importlib.reload).
_reportlab_to_unicode_cmap = getattr(
    ttfonts.makeToUnicodeCMap, "__wrapped__", ttfonts.makeToUnicodeCMap
)
_fixed_to_unicode_cmap.__wrapped__ = _reportlab_to_unicode_cmap  # type: ignore[attr-defined]
ttfonts.makeToUnicodeCMap = _fixed_to_unicode_cmap
