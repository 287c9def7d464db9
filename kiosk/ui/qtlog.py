"""Qt's own messages (layout, font, style-sheet and platform warnings) go to Python
logging, under the logger "kiosk.qt", so they land in the kiosk's log with everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

logger = logging.getLogger("kiosk.qt")

MessageHandler = Callable[[QtMsgType, QMessageLogContext, str], None]

_LEVELS: dict[QtMsgType, int] = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def log_qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Log one Qt message at the matching level, naming its Qt category if it has one."""
    category = context.category if context.category not in (None, "", "default") else None
    level = _LEVELS.get(kind, logging.WARNING)
    if category:
        logger.log(level, "%s: %s", category, message)
    else:
        logger.log(level, "%s", message)


@contextmanager
def qt_messages_to_logging() -> Iterator[None]:
    """Route Qt's messages into logging while the block runs, then restore the handler
    that was there before. A handler already installed (pytest-qt's, in the tests) still
    sees every message."""
    previous: MessageHandler | None = None

    def handle(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
        log_qt_message(kind, context, message)
        if previous is not None:
            previous(kind, context, message)

    previous = qInstallMessageHandler(handle)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)
