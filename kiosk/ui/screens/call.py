"""The video call with a district agent (远程视频协办), as the resident sees it.

The call's state is shown in large words and spoken: asking ("正在呼叫坐席…", with the
headline "请出示医保卡，对准镜头，等待连接"), waiting (the place in the queue and the
estimated wait, updated whenever the district sends them), connecting, connected, ended;
or unavailable (offline, no agent, calls switched off), which says so plainly and offers
a call-back request. Before an agent is on, the resident sees their own picture large (as
in a pre-join lobby); once connected, the agent's video is large and their own small in a
corner. "End call" (结束通话) is one tap away in every state a call is under way in.

Beside the video, a chat panel in large text: the agent's lines and the resident's, and
ready phrases to tap (我听不清 / 请再说一遍 / 好的 / 请稍等): residents do not type.

When the agent asks for a capture (`CaptureAsked`), their words are shown and spoken and
the capture runs in the call screen itself, so the end-call button and the agent's video
(small, in the corner) stay there: a page under the document camera and the card held to
the camera are taken by themselves when they hold still (capture.py's `PageTracker`, the
identify screen's `CardWatcher`), a photo when the resident presses "take photo" and it
passes capture.py's checks. The resident sees the picture and sends it or takes it again;
a sent picture goes to the agent (`CallClient.send_capture`) and is handed to the window
(`captured`), which adds it to the visit's materials. What the visit had captured before
the call goes to the agent once, when the call first connects (kind "material").

A supervisor who joins the call (`SupervisorWatching`) is named at the top of the chat
panel ("组长 X 也在看本次通话") and announced aloud, and the line goes when they leave: the
resident always knows who sees them.

The agent's decision (`DecisionMade`) is shown in the resident's words and handed to the
window (`decided`), which prints the receipt when the application was accepted.

Decisions made here: chat lines the district echoes back with the resident as sender are
not shown again (the screen shows the resident's own line when it is sent); the agent's
chat lines are spoken only when the station has no call audio (`speak_chat`), so the
speech never talks over the agent's voice; a capture request is honoured only while an
agent is on the call, and a second one replaces the first. The capture runs here, not on
capture.py's `CaptureScreen` (whose page tracker, page and photo takers and JPEG encoding
it uses, with the identify screen's `CardWatcher` for a card): that screen has no card
mode, and showing it would hide the agent and the end-call button.

Threads: the call client's events come through the `Bridge` as queued signals (`handle`).
A 25 fps timer on the main thread takes the newest frame from each latest-frame slot and
paints it (a QImage over the frame's own buffer, scaled by the painter); the analysis and
encoding of captures run on `TaskManager` workers, one at a time, and their results are
dropped when the screen has moved on. Nothing here waits on the network or a device.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.devices.camera.frames import Frame
from kiosk.devices.vision.card import CardWatcher
from kiosk.devices.vision.faces import PhotoVerdict
from kiosk.remote.events import (
    CallEvent,
    CallRequestInfo,
    CallState,
    CaptureAsked,
    ChatLine,
    DecisionMade,
    StateChanged,
    SupervisorWatching,
)
from kiosk.ui import theme
from kiosk.ui.screens.capture import (
    PAGE_JPEG_QUALITY,
    FrameSlot,
    PageSight,
    PageTracker,
    PhotoTake,
    Shot,
    encode_jpeg,
    take_page_now,
    take_photo,
)
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import TextButton, WrappedLabel, button, touch_scroll_area

logger = logging.getLogger(__name__)

T = TypeVar("T")

FRAME_INTERVAL_MS = 40  # 25 frames a second
INSET_FRACTION = 0.28  # the small picture's width, of the video's
VIDEO_BACKGROUND = "#1a1a1a"
VIDEO_TEXT = "#ffffff"
CARD_STEADY_FRAMES = 3
PHRASES = ("call_phrase_cannot_hear", "call_phrase_again", "call_phrase_ok", "call_phrase_wait")
#: The states a call is under way in (the idle wipe waits; "end call" is shown).
ACTIVE = frozenset({CallState.ASKING, CallState.WAITING, CallState.CONNECTING, CallState.CONNECTED})
#: The states an agent is on the call in (chat phrases and capture requests).
WITH_AGENT = frozenset({CallState.CONNECTING, CallState.CONNECTED})
ENDED_KEYS = {
    "resident": "call_ended_resident",
    "agent": "call_ended_agent",
    "gone": "call_ended_lost",
    "media": "call_ended_lost",
}
UNAVAILABLE_KEYS = {
    "no_agents": "call_unavailable_no_agents",
    "closed": "call_unavailable_closed",
    "disabled": "call_unavailable_disabled",
}
CAPTURE_HINTS = {"card": "call_capture_card", "page": "call_capture_page"}
CHAT_KEYS = {
    "agent": "call_chat_agent",
    "supervisor": "call_chat_supervisor",
    "resident": "call_chat_me",
}


class CallClient(Protocol):
    """What the screen needs of `kiosk.remote.client.CallClient`: every method is
    thread-safe and returns at once (the work is scheduled on the network loop), and the
    client reports through the `Bridge`'s `on_call_event`."""

    def start(self, info: CallRequestInfo) -> str: ...

    def answer(self, call_id: str, info: CallRequestInfo) -> str: ...

    def end(self) -> None: ...

    def send_chat(self, text: str) -> None: ...

    def send_capture(self, request: str, kind: str, jpeg_bytes: bytes, label: str = "") -> None: ...

    @property
    def remote_frames(self) -> FrameSlot: ...


@dataclass(frozen=True)
class CallCameras:
    """The station's two cameras' latest-frame slots (None: not there)."""

    camera: FrameSlot | None = None
    document_camera: FrameSlot | None = None


@dataclass(frozen=True)
class Material:
    """One of the visit's captures, to show the agent when the call connects."""

    content: bytes
    label: str


Materials = Callable[[], list[Material]]


class CaptureStep(StrEnum):
    NONE = "none"
    LIVE = "live"
    WORKING = "working"
    REVIEW = "review"


# -- the work done on worker threads (no Qt) ---------------------------------------------


def card_shot(watcher: CardWatcher, image: np.ndarray) -> Shot | None:
    """The card's face once it has held still and sharp in front of the camera."""
    capture = watcher.feed(image)
    if capture is None:
        return None
    face = np.ascontiguousarray(capture.face)
    return Shot(face, encode_jpeg(face, PAGE_JPEG_QUALITY))


def whole_picture(image: np.ndarray) -> Shot:
    """The camera's whole picture, taken at the resident's word."""
    return Shot(image, encode_jpeg(image, PAGE_JPEG_QUALITY))


# -- the widgets -------------------------------------------------------------------------


def frame_image(image: np.ndarray) -> QImage:
    """A QImage over a BGR or greyscale `uint8` array's own buffer (keep the array)."""
    height, width = image.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if image.ndim == 2 else QImage.Format.Format_BGR888
    return QImage(image.data, width, height, image.strides[0], fmt)


class VideoView(QWidget):
    """A picture fitted into its room on a dark ground, and a second, small one in the
    bottom-right corner; or a line of text when there is no picture. It asks the layout
    for no room of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(theme.TARGET_PX, theme.TARGET_PX)
        self._main: tuple[np.ndarray, QImage, bool] | None = None
        self._inset: tuple[np.ndarray, QImage, bool] | None = None
        self._words = ""

    @property
    def shows_main(self) -> bool:
        return self._main is not None

    @property
    def shows_inset(self) -> bool:
        return self._inset is not None

    def set_main(self, image: np.ndarray | None, *, mirrored: bool = False) -> None:
        self._main = None if image is None else (image, frame_image(image), mirrored)
        self.update()

    def set_inset(self, image: np.ndarray | None, *, mirrored: bool = False) -> None:
        self._inset = None if image is None else (image, frame_image(image), mirrored)
        self.update()

    def set_words(self, words: str) -> None:
        """What to show when there is no picture."""
        self._words = words
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        room = QRectF(self.rect())
        painter.fillRect(room, QColor(VIDEO_BACKGROUND))
        if self._main is None:
            font = painter.font()
            font.setPointSizeF(theme.TEXT_PT[TextRole.SUBHEADING])
            painter.setFont(font)
            painter.setPen(QColor(VIDEO_TEXT))
            painter.drawText(
                room, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._words
            )
        else:
            _draw(painter, self._main, _fit(self._main[1], room))
        if self._inset is not None:
            width = room.width() * INSET_FRACTION
            image = self._inset[1]
            height = width * image.height() / max(1, image.width())
            margin = theme.SPACING_PX / 2
            corner = QRectF(
                room.right() - width - margin, room.bottom() - height - margin, width, height
            )
            _draw(painter, self._inset, corner)
            painter.setPen(QPen(QColor(VIDEO_TEXT), theme.BORDER_PX))
            painter.drawRect(corner)


def _fit(image: QImage, room: QRectF) -> QRectF:
    scale = min(room.width() / max(1, image.width()), room.height() / max(1, image.height()))
    width, height = image.width() * scale, image.height() * scale
    return QRectF(room.center().x() - width / 2, room.center().y() - height / 2, width, height)


def _draw(painter: QPainter, shown: tuple[np.ndarray, QImage, bool], target: QRectF) -> None:
    _, image, mirrored = shown
    if mirrored:
        painter.save()
        painter.translate(target.right() + target.left(), 0)
        painter.scale(-1, 1)
        painter.drawImage(target, image)
        painter.restore()
    else:
        painter.drawImage(target, image)


class CallScreen(QWidget):
    """One call at a time: `begin` starts it (or shows it unavailable without a client),
    `handle` takes the call's events, `end_call` ends it.

    Signals: `spoken` (words to say, in the screen's language), `active_changed` (a call
    is under way, or no longer: the window suspends the idle wipe meanwhile), `captured`
    (kind, JPEG bytes, label: a picture the agent got, for the visit's materials),
    `decided` (the `DecisionMade`), `callback_requested` and `left` (the resident leaves
    the ended call; True when the agent decided the application, so the visit is over)."""

    spoken = Signal(str)
    active_changed = Signal(bool)
    captured = Signal(str, bytes, str)
    decided = Signal(object)
    callback_requested = Signal()
    left = Signal(bool)  # the resident leaves the ended call (True: the visit is over)

    def __init__(self, tasks: TaskManager, *, speak_chat: bool = True) -> None:
        super().__init__()
        self._tasks = tasks
        self._speak_chat = speak_chat
        self._lang: Language = "zh"
        self._client: CallClient | None = None
        self._call = ""
        self._state: CallState | None = None
        self._event = StateChanged("", CallState.ASKING)
        self._cameras = CallCameras()
        self._materials: Materials = list
        self._materials_sent = False
        self._can_call_back = True
        self._chat: list[tuple[str, str]] = []  # (sender, text)
        self._decision: DecisionMade | None = None
        self._supervisor = ""  # the supervisor watching the call, when one joined
        self._receipt = ""  # the string key of what came of printing it
        self._seqs: dict[str, int] = {}
        # The capture the agent asked for.
        self._asked: CaptureAsked | None = None
        self._step = CaptureStep.NONE
        self._shot: Shot | None = None
        self._capture_notice = ""
        self._generation = 0
        self._analysing = False
        self._tracker = PageTracker()
        self._watcher = CardWatcher(steady_frames=CARD_STEADY_FRAMES)
        self._verdict: PhotoVerdict | None = None  # why the last photo was refused

        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)

        self.heading = WrappedLabel(TextRole.HEADING)
        self.detail = WrappedLabel(TextRole.SUBHEADING)
        self.end_button = button(ButtonKind.PRIMARY)
        self.end_button.clicked.connect(self.end_call)
        self.video = VideoView()

        # After the call (ended or unavailable): what happened, and the ways on.
        self.message = WrappedLabel(TextRole.SUBHEADING)
        self.message_decision = WrappedLabel(notice=True)
        self.callback_button = button(ButtonKind.PRIMARY)
        self.callback_button.clicked.connect(self.callback_requested)
        self.leave_button = button(ButtonKind.PRIMARY)
        self.leave_button.clicked.connect(self._leave)

        # The chat panel.
        self.chat_heading = WrappedLabel(TextRole.SUBHEADING)
        self.decision = WrappedLabel(notice=True)
        self.watching = WrappedLabel(notice=True)  # a supervisor sees the call too
        self.chat_empty = WrappedLabel(muted=True)
        self.chat_lines: list[WrappedLabel] = []
        self.phrase_buttons: dict[str, TextButton] = {}

        # The capture panel.
        self.capture_heading = WrappedLabel(TextRole.SUBHEADING)
        self.capture_words = WrappedLabel(notice=True)
        self.capture_hint = WrappedLabel()
        self.take_button = button()
        self.take_button.clicked.connect(self._take)
        self.cancel_capture_button = button()
        self.cancel_capture_button.clicked.connect(self._cancel_capture)
        self.retake_button = button()
        self.retake_button.clicked.connect(self._retake)
        self.send_button = button(ButtonKind.PRIMARY)
        self.send_button.clicked.connect(self._send_shot)
        self._build()
        self._refresh()

    def _build(self) -> None:
        titles = QVBoxLayout()
        titles.setSpacing(4)
        titles.addWidget(self.heading)
        titles.addWidget(self.detail)
        header = QHBoxLayout()
        header.setSpacing(theme.SPACING_PX)
        header.addLayout(titles, 1)
        header.addWidget(self.end_button, 0, Qt.AlignmentFlag.AlignTop)

        # Left: the video, or what became of the call.
        after = QWidget()
        after_content = QWidget()
        after_column = QVBoxLayout(after_content)
        after_column.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        after_column.setSpacing(theme.SPACING_PX)
        after_column.addWidget(self.message)
        after_column.addWidget(self.message_decision)
        after_buttons = QHBoxLayout()
        after_buttons.setSpacing(theme.SPACING_PX)
        after_buttons.addWidget(self.callback_button)
        after_buttons.addWidget(self.leave_button)
        after_buttons.addStretch(1)
        after_column.addLayout(after_buttons)
        after_column.addStretch(1)
        after_layout = QVBoxLayout(after)
        after_layout.setContentsMargins(0, 0, 0, 0)
        after_layout.addWidget(touch_scroll_area(after_content), 1)
        self.after_panel = after
        self.main_area = QStackedWidget()
        self.main_area.addWidget(self.video)
        self.main_area.addWidget(after)

        # Right: the chat, or the capture the agent asked for.
        chat = QWidget()
        chat_content = QWidget()
        self._chat_column = QVBoxLayout(chat_content)
        self._chat_column.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        self._chat_column.setSpacing(theme.SPACING_PX // 2)
        self._chat_column.addWidget(self.watching)
        self._chat_column.addWidget(self.decision)
        self._chat_column.addWidget(self.chat_empty)
        self._chat_column.addStretch(1)
        self.chat_area = touch_scroll_area(chat_content)
        phrases = QGridLayout()
        phrases.setSpacing(theme.SPACING_PX // 2)
        for index, key in enumerate(PHRASES):
            phrase = TextButton(ButtonKind.TILE)
            phrase.clicked.connect(lambda _=False, k=key: self.say_phrase(k))
            phrases.addWidget(phrase, index // 2, index % 2)
            self.phrase_buttons[key] = phrase
        chat_layout = QVBoxLayout(chat)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.setSpacing(theme.SPACING_PX // 2)
        chat_layout.addWidget(self.chat_heading)
        chat_layout.addWidget(self.chat_area, 1)
        for column in range(2):  # equal columns: each phrase gets half the panel
            phrases.setColumnStretch(column, 1)
        chat_layout.addLayout(phrases)
        self.chat_panel = chat

        capture = QWidget()
        capture_content = QWidget()
        capture_column = QVBoxLayout(capture_content)
        capture_column.setContentsMargins(0, 0, theme.SPACING_PX, 0)
        capture_column.setSpacing(theme.SPACING_PX)
        for part in (self.capture_heading, self.capture_words, self.capture_hint):
            capture_column.addWidget(part)
        capture_column.addStretch(1)
        capture_buttons = QHBoxLayout()
        capture_buttons.setSpacing(theme.SPACING_PX)
        for part in (self.cancel_capture_button, self.retake_button):
            capture_buttons.addWidget(part, 0, Qt.AlignmentFlag.AlignBottom)
        capture_buttons.addStretch(1)
        for part in (self.take_button, self.send_button):
            capture_buttons.addWidget(part, 0, Qt.AlignmentFlag.AlignBottom)
        capture_layout = QVBoxLayout(capture)
        capture_layout.setContentsMargins(0, 0, 0, 0)
        capture_layout.setSpacing(theme.SPACING_PX)
        capture_layout.addWidget(touch_scroll_area(capture_content), 1)
        capture_layout.addLayout(capture_buttons)
        self.capture_panel = capture
        self.side_area = QStackedWidget()
        self.side_area.addWidget(chat)
        self.side_area.addWidget(capture)

        body = QHBoxLayout()
        body.setSpacing(theme.SPACING_PX)
        body.addWidget(self.main_area, 3)
        body.addWidget(self.side_area, 2)
        layout = QVBoxLayout(self)
        margin = theme.PAGE_MARGIN_PX
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addLayout(header)
        layout.addLayout(body, 1)

    # -- what the window calls -------------------------------------------------------------

    @property
    def state(self) -> CallState | None:
        """The call's state (None: no call since the last `clear`)."""
        return self._state

    @property
    def active(self) -> bool:
        return self._state in ACTIVE

    @property
    def call_id(self) -> str:
        return self._call

    @property
    def capture_step(self) -> CaptureStep:
        return self._step

    @property
    def chat(self) -> list[tuple[str, str]]:
        """The chat so far: (sender, text)."""
        return list(self._chat)

    def begin(
        self,
        client: CallClient | None,
        info: CallRequestInfo,
        cameras: CallCameras,
        materials: Materials = list,
        *,
        can_call_back: bool = True,
        answer: str | None = None,
    ) -> None:
        """Ask for an agent for `info` with `client` (or take the agent's ringing call
        `answer`); without one (offline, not enrolled, no call client in this kiosk),
        show at once that no call can be made. When no call can be made, a call-back is
        offered if `can_call_back` (the visit has an item: a call-back is always about
        one)."""
        self.clear()
        self._client, self._cameras, self._materials = client, cameras, materials
        self._can_call_back = can_call_back
        if client is None:
            self._set_state(StateChanged("", CallState.UNAVAILABLE, reason="offline"))
            return
        try:
            self._call = client.start(info) if answer is None else client.answer(answer, info)
        except Exception as error:
            logger.error("a call could not be started: %s", type(error).__name__)
            self._set_state(StateChanged("", CallState.UNAVAILABLE, reason="offline"))
            return
        logger.info("call %s asked for (%s)", self._call, info.source)
        self._set_state(StateChanged(self._call, CallState.ASKING))

    def handle(self, event: CallEvent) -> None:
        """An event of the call (from the bridge); those of another call are dropped."""
        if not self._call or event.call != self._call or self._state not in ACTIVE:
            return
        if isinstance(event, StateChanged):
            if event.state is CallState.ENDED and event.reason == "unavailable":
                event = StateChanged(event.call, CallState.UNAVAILABLE, reason="no_agents")
            self._set_state(event)
        elif isinstance(event, ChatLine):
            if event.sender != "resident":
                self._add_chat(event.sender, event.text)
                if self._speak_chat:
                    self.spoken.emit(event.text)
        elif isinstance(event, CaptureAsked):
            if self._state in WITH_AGENT:
                self._start_capture(event)
        elif isinstance(event, SupervisorWatching):
            before, self._supervisor = self._supervisor, event.name if event.watching else ""
            self._refresh()
            if self._supervisor:
                self.spoken.emit(text("say_call_supervisor", self._lang, name=self._supervisor))
            elif before:
                self.spoken.emit(text("say_call_supervisor_left", self._lang))
        elif isinstance(event, DecisionMade):
            self._decision, self._receipt = event, ""
            self._refresh()
            self.spoken.emit(self._decision_words(self._lang))
            self.decided.emit(event)

    def show_receipt(self, printed: bool) -> None:
        """What came of printing the decided application's receipt."""
        self._receipt = "call_receipt_printing" if printed else "call_receipt_failed"
        self._refresh()
        self.spoken.emit(text(self._receipt, self._lang))

    def end_call(self) -> None:
        """The resident (or the window, when the visit ends) ends the call."""
        if self._state not in ACTIVE:
            return
        if self._client is not None:
            try:
                self._client.end()
            except Exception as error:
                logger.error("the call could not be ended cleanly: %s", type(error).__name__)
        self._set_state(StateChanged(self._call, CallState.ENDED, reason="resident"))

    def say_phrase(self, key: str) -> None:
        """Send a ready phrase to the agent."""
        words = text(key, self._lang)
        if self._client is None or self._state not in WITH_AGENT:
            return
        self._client.send_chat(words)
        self._add_chat("resident", words)

    def clear(self) -> None:
        """End any call and forget it: its chat, pictures and decision (the idle wipe)."""
        self.end_call()
        self._timer.stop()
        self._client, self._call, self._state = None, "", None
        self._event = StateChanged("", CallState.ASKING)
        self._cameras, self._materials, self._materials_sent = CallCameras(), list, False
        self._chat.clear()
        self._clear_chat_lines()
        self._decision, self._receipt, self._supervisor = None, "", ""
        self._seqs.clear()
        self._stop_capture()
        self.video.set_main(None)
        self.video.set_inset(None)
        self._refresh()

    def retranslate(self, lang: Language) -> None:
        self._lang = lang
        self._refresh()

    # -- the call's states -----------------------------------------------------------------

    def _set_state(self, event: StateChanged) -> None:
        before, was_active = self._state, self.active
        old = self._event
        self._state, self._event = event.state, event
        if event.state not in WITH_AGENT:
            self._stop_capture()
        if event.state is CallState.CONNECTED and not self._materials_sent:
            self._materials_sent = True
            self._send_materials()
        if event.state in ACTIVE:
            self._timer.start()
        else:
            self._timer.stop()
            self.video.set_main(None)
            self.video.set_inset(None)
            self._supervisor = ""
        self._seqs.clear()
        self._refresh()
        moved = event.state is CallState.WAITING and event.position != old.position
        if event.state is not before or moved:
            self.spoken.emit(self._state_words(self._lang))
        if self.active != was_active:
            self.active_changed.emit(self.active)

    def _state_words(self, lang: Language) -> str:
        state = self._state
        if state is CallState.WAITING:
            return text("say_call_waiting", lang, place=self._place(lang), wait=self._wait(lang))
        key = {
            CallState.ASKING: "say_call_asking",
            CallState.CONNECTING: "say_call_connecting",
            CallState.CONNECTED: "say_call_connected",
            CallState.ENDED: "say_call_ended",
            CallState.UNAVAILABLE: "say_call_unavailable",
        }.get(state or CallState.ENDED, "say_call_ended")
        return text(key, lang)

    def _place(self, lang: Language) -> str:
        position = self._event.position
        if position <= 1:
            return text("call_waiting_next", lang)
        return text("call_waiting_ahead", lang, ahead=position - 1)

    def _wait(self, lang: Language) -> str:
        minutes = math.ceil(self._event.wait_s / 60)
        if minutes <= 1:
            return text("call_wait_soon", lang)
        return text("call_wait_minutes", lang, minutes=minutes)

    def _leave(self) -> None:
        over = self._decision is not None and self._decision.state != "needs_more"
        self.left.emit(over)

    # -- chat ------------------------------------------------------------------------------

    def _add_chat(self, sender: str, words: str) -> None:
        self._chat.append((sender, words))
        line = WrappedLabel(TextRole.SUBHEADING)
        line.setProperty("muted", sender == "resident")
        self._chat_column.insertWidget(self._chat_column.count() - 1, line)
        self.chat_lines.append(line)
        self._fill_chat()
        self.chat_empty.hide()
        QTimer.singleShot(0, self, self._scroll_chat_down)

    def _scroll_chat_down(self) -> None:
        bar = self.chat_area.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _fill_chat(self) -> None:
        for line, (sender, words) in zip(self.chat_lines, self._chat, strict=True):
            line.set_plain_text(
                text(CHAT_KEYS.get(sender, "call_chat_agent"), self._lang, text=words)
            )

    def _clear_chat_lines(self) -> None:
        for line in self.chat_lines:
            line.deleteLater()
        self.chat_lines.clear()

    # -- the picture -----------------------------------------------------------------------

    def _tick(self) -> None:
        """Show the newest frames (the main picture and the corner's)."""
        own = self._cameras.camera
        remote = self._client.remote_frames if self._client is not None else None
        if self._step is not CaptureStep.NONE:
            asked = self._asked
            assert asked is not None
            slot = self._capture_frames()
            mirrored = asked.kind != "page"
            if self._step is CaptureStep.LIVE:
                frame = self._newer("main", slot)
                if frame is not None:
                    self.video.set_main(frame.image, mirrored=mirrored)
                    if asked.kind != "photo" and not self._analysing:
                        self._analyse(frame.image)
            inset = self._newer("inset", remote)
            if inset is not None:
                self.video.set_inset(inset.image)
        elif self._state is CallState.CONNECTED:
            frame = self._newer("main", remote)
            if frame is not None:
                self.video.set_main(frame.image)
            inset = self._newer("inset", own)
            if inset is not None:
                self.video.set_inset(inset.image, mirrored=True)
        else:
            frame = self._newer("main", own)
            if frame is not None:
                self.video.set_main(frame.image, mirrored=True)

    def _newer(self, where: str, slot: FrameSlot | None) -> Frame | None:
        if slot is None:
            return None
        frame = slot.latest()
        if frame is None or frame.seq == self._seqs.get(where):
            return None
        self._seqs[where] = frame.seq
        return frame

    # -- a capture the agent asked for ------------------------------------------------------

    def _capture_frames(self) -> FrameSlot | None:
        if self._asked is None:
            return None
        if self._asked.kind == "page":
            return self._cameras.document_camera
        return self._cameras.camera

    def _start_capture(self, asked: CaptureAsked) -> None:
        self._stop_capture()
        self._asked = asked
        self._tracker = PageTracker()
        self._watcher = CardWatcher(steady_frames=CARD_STEADY_FRAMES)
        self._set_step(CaptureStep.LIVE)
        self.video.set_main(None)
        self.video.set_inset(None)
        self._seqs.clear()
        logger.info("the agent asked for a capture (%s)", asked.kind)
        words = asked.words or text("call_capture_heading", self._lang)
        self.spoken.emit(words)

    def _stop_capture(self) -> None:
        self._generation += 1
        self._asked, self._shot, self._verdict = None, None, None
        self._step = CaptureStep.NONE
        self._capture_notice = ""
        self._analysing = False
        self._seqs.pop("main", None)

    def _set_step(self, step: CaptureStep) -> None:
        self._generation += 1
        self._step = step
        self._refresh()

    def _run(self, task: Callable[[], T], done: Callable[[T], None]) -> None:
        """Run `task` on a worker; `done` gets its outcome only if the capture is still at
        the step it was started in."""
        generation = self._generation

        def success(result: T) -> None:
            if generation == self._generation:
                done(result)

        def failure(error: BaseException) -> None:
            logger.error("a capture for the agent failed: %s", type(error).__name__)
            if generation == self._generation:
                self._capture_notice = "call_capture_failed"
                self._back_to_live()

        self._tasks.run_in_background(task, success, failure)

    def _analyse(self, image: np.ndarray) -> None:
        asked = self._asked
        assert asked is not None
        self._analysing = True
        generation = self._generation
        if asked.kind == "page":
            tracker = self._tracker

            def look() -> Shot | None:
                sight: PageSight = tracker.feed(image)
                return sight.shot
        else:
            watcher = self._watcher

            def look() -> Shot | None:
                return card_shot(watcher, image)

        def seen(shot: Shot | None) -> None:
            if generation != self._generation:
                return
            self._analysing = False
            if shot is not None:
                self._show_shot(shot)

        def failed(error: BaseException) -> None:
            if generation == self._generation:
                self._analysing = False
            logger.warning("looking for the capture failed: %s", type(error).__name__)

        self._tasks.run_in_background(look, seen, failed)

    def _take(self) -> None:
        """ "Take it now" (page, card) or "take photo"."""
        asked, slot = self._asked, self._capture_frames()
        frame = slot.latest() if slot is not None else None
        if asked is None or frame is None or self._step is not CaptureStep.LIVE:
            return
        image = frame.image
        self._capture_notice, self._verdict = "", None
        self._set_step(CaptureStep.WORKING)
        if asked.kind == "photo":
            self._run(lambda: take_photo(image), self._photo_checked)
        elif asked.kind == "page":
            self._run(lambda: take_page_now(image), self._show_shot)
        else:
            self._run(lambda: whole_picture(image), self._show_shot)

    def _photo_checked(self, take: PhotoTake) -> None:
        if take.shot is None:
            self._capture_notice = ""
            self._verdict = take.verdict
            self._back_to_live()
            return
        self._show_shot(take.shot)

    def _show_shot(self, shot: Shot) -> None:
        self._shot = shot
        self.video.set_main(shot.image)
        self._set_step(CaptureStep.REVIEW)

    def _retake(self) -> None:
        if self._step is CaptureStep.REVIEW:
            if self._asked is not None and self._asked.kind == "page" and self._shot is not None:
                self._tracker.hold(self._shot.corners)
            self._shot = None
            self._back_to_live()

    def _back_to_live(self) -> None:
        self._seqs.pop("main", None)
        self._analysing = False
        self._watcher.reset()
        self._set_step(CaptureStep.LIVE)

    def _cancel_capture(self) -> None:
        self._stop_capture()
        self._refresh()

    def _send_shot(self) -> None:
        asked, shot, client = self._asked, self._shot, self._client
        if asked is None or shot is None or self._step is not CaptureStep.REVIEW:
            return
        if client is not None:
            client.send_capture(asked.request, asked.kind, shot.content, "")
        self.captured.emit(asked.kind, shot.content, "")
        self._stop_capture()
        self._add_chat("resident", text("call_capture_sent", self._lang))
        self.spoken.emit(text("call_capture_sent", self._lang))

    def _send_materials(self) -> None:
        """What the visit captured before the call, to the agent (once; on a worker, as
        each is base64-encoded into its message there). PNG (the card face) and JPEG
        both go as they are."""
        client, materials = self._client, self._materials()
        if client is None or not materials:
            return

        def send() -> None:
            for material in materials:
                client.send_capture("", "material", material.content, material.label)

        def failed(error: BaseException) -> None:
            logger.error("the visit's materials did not reach the call: %s", type(error).__name__)

        self._tasks.run_in_background(send, lambda _: None, failed)

    # -- texts and what shows ----------------------------------------------------------------

    def _refresh(self) -> None:
        lang, state = self._lang, self._state
        heading, detail = self._titles(lang)
        self.heading.set_plain_text(heading)
        self.detail.set_plain_text(detail)
        self.detail.setVisible(bool(detail))
        self.end_button.setText(text("call_end", lang))
        self.end_button.setVisible(state in ACTIVE)
        self.callback_button.setText(text("call_callback", lang))
        self.callback_button.setVisible(state is CallState.UNAVAILABLE and self._can_call_back)
        self.leave_button.setText(text("call_leave", lang))
        self.message.set_plain_text(self._after_words(lang))
        decision = self._decision_words(lang)
        for label in (self.decision, self.message_decision):
            label.set_plain_text(decision)
            label.setVisible(bool(decision))
        watching = text("call_supervisor", lang, name=self._supervisor) if self._supervisor else ""
        self.watching.set_plain_text(watching)
        self.watching.setVisible(bool(watching) and state in ACTIVE)
        self.chat_heading.set_plain_text(text("call_chat_heading", lang))
        self.chat_empty.set_plain_text(text("call_chat_empty", lang))
        self.chat_empty.setVisible(not self._chat)
        self._fill_chat()
        for key, phrase in self.phrase_buttons.items():
            phrase.set_texts(text(key, lang), "")
            phrase.setVisible(state in WITH_AGENT)
        self.video.set_words(text("call_no_camera", lang))
        self.main_area.setCurrentWidget(self.video if state in ACTIVE else self.after_panel)
        capturing = self._step is not CaptureStep.NONE
        self.side_area.setCurrentWidget(self.capture_panel if capturing else self.chat_panel)
        self.side_area.setVisible(state in ACTIVE or bool(self._chat) or capturing)
        self._refresh_capture(lang)

    def _titles(self, lang: Language) -> tuple[str, str]:
        state, event = self._state, self._event
        agent = text("call_agent", lang, agent=event.agent) if event.agent else ""
        if state is CallState.ASKING:
            return text("call_asking_heading", lang), text("call_headline", lang)
        if state is CallState.WAITING:
            detail = "\n".join((self._place(lang), self._wait(lang)))
            return text("call_waiting_heading", lang), detail
        if state is CallState.CONNECTING:
            return text("call_connecting_heading", lang), agent
        if state is CallState.CONNECTED:
            return text("call_connected_heading", lang), agent
        if state is CallState.ENDED:
            return text("call_ended_heading", lang), ""
        if state is CallState.UNAVAILABLE:
            return text("call_unavailable_heading", lang), ""
        return "", ""

    def _after_words(self, lang: Language) -> str:
        state, reason = self._state, self._event.reason
        if state is CallState.UNAVAILABLE:
            why = text(UNAVAILABLE_KEYS.get(reason, "call_unavailable_offline"), lang)
            offer = "call_unavailable_offer" if self._can_call_back else "call_unavailable_later"
            return "\n".join((why, text(offer, lang)))
        if state is CallState.ENDED:
            why = text(ENDED_KEYS.get(reason, "call_ended_other"), lang)
            return "\n".join((why, text("call_ended_after", lang)))
        return ""

    def _decision_words(self, lang: Language) -> str:
        decision = self._decision
        if decision is None:
            return ""
        reason = decision.reason or "—"
        if decision.state == "accepted":
            words = text("call_decision_accepted", lang)
        elif decision.state == "needs_more":
            words = text("call_decision_needs_more", lang, reason=reason)
        elif decision.state == "rejected":
            words = text("call_decision_rejected", lang, reason=reason)
        else:
            from kiosk.core.states import State
            from kiosk.ui.screens.visit import STATE_KEYS

            try:
                state = text(STATE_KEYS[State(decision.state)], lang, reason=reason)
            except ValueError:
                state = decision.state
            words = text("call_decision_other", lang, state=state)
        if self._receipt:
            words = f"{words}\n{text(self._receipt, lang)}"
        return words

    def _refresh_capture(self, lang: Language) -> None:
        asked, step = self._asked, self._step
        self.capture_heading.set_plain_text(text("call_capture_heading", lang))
        self.capture_words.set_plain_text(asked.words if asked is not None else "")
        self.capture_words.setVisible(asked is not None and bool(asked.words))
        photo = asked is not None and asked.kind == "photo"
        take = text("call_take_photo" if photo else "call_take_now", lang)
        send, retake = text("call_send", lang), text("call_retake", lang)
        self.take_button.setText(take)
        self.send_button.setText(send)
        self.retake_button.setText(retake)
        self.cancel_capture_button.setText(text("call_capture_cancel", lang))
        slot = self._capture_frames()
        if step is CaptureStep.REVIEW:
            hint = text("call_capture_check", lang, send=send, retake=retake)
        elif step is CaptureStep.WORKING:
            hint = text("call_capture_working", lang)
        elif asked is None:
            hint = ""
        elif slot is None:
            hint = text("call_capture_no_camera", lang)
        elif photo:
            hint = text("call_capture_photo", lang, take=take)
            if self._verdict is not None:
                hint = f"{self._verdict.resident_message(lang)}\n{hint}"
        else:
            hint = text(CAPTURE_HINTS[asked.kind], lang)
        if self._capture_notice:
            hint = f"{text(self._capture_notice, lang)}\n{hint}"
        self.capture_hint.set_plain_text(hint)
        self.take_button.setVisible(step in (CaptureStep.LIVE, CaptureStep.WORKING))
        self.take_button.setEnabled(step is CaptureStep.LIVE and slot is not None)
        self.cancel_capture_button.setVisible(step in (CaptureStep.LIVE, CaptureStep.WORKING))
        self.retake_button.setVisible(step is CaptureStep.REVIEW)
        self.send_button.setVisible(step is CaptureStep.REVIEW)
        if step is CaptureStep.LIVE and slot is None:
            self.video.set_main(None)
