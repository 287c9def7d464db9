"""The CJK font the kiosk ships, loaded into Qt at start-up so that Chinese text never
shows as boxes, whatever fonts the station PC happens to have."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from PySide6.QtGui import QFontDatabase

from kiosk.config import assets_dir
from kiosk.ui.theme import FONT_FAMILY

logger = logging.getLogger(__name__)

FONT_FILE_NAME = "wqy-microhei.ttc"


def font_path() -> Path:
    """The shipped font file (WenQuanYi Micro Hei, Apache 2.0)."""
    return assets_dir() / "fonts" / FONT_FILE_NAME


@cache
def load_font() -> bool:
    """Add the shipped font to Qt's font database (once; a QGuiApplication must exist).
    False, with an error logged for the technician, if it could not be loaded."""
    path = font_path()
    font_id = QFontDatabase.addApplicationFont(str(path))
    if font_id < 0:
        logger.error("cannot load the kiosk font %s; Chinese text may not show", path)
        return False
    families = QFontDatabase.applicationFontFamilies(font_id)
    if FONT_FAMILY not in families:
        logger.error("font file %s holds %s, not %r", path, families, FONT_FAMILY)
        return False
    return True
