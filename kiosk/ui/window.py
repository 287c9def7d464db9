"""The kiosk window: a top bar that is always there (station name — or, when the district
cannot be reached, a calm "offline: you can still apply" — sound, home, language) and the
screens a resident moves
through.

A visit goes: start (touch, or a face in front of the camera wakes it and says how to
begin) → catalog (tiles, or search on the on-screen keyboard) → service guide → "apply
here" → identify (card, voucher on the scanner gun or the camera, or the card shown to
the camera; skipped when a card was inserted earlier in the visit) → the materials under
the document camera → the photo when the item needs one → review → done (reference,
receipt, what happens next, a one-tap rating, stored with the application's id when the
visit ends) → start. "My applications" on the start
screen asks for the card and lists the states known from the last sync; an application
the district asked more for (补正) prints its supplement notice there.

The window owns the resident's `Visit` and wipes it — every screen cleared, every image
zeroed — when the visit ends, when the idle timer runs out and when staff take over.
Devices report through the `Bridge`; the disk, the store and the vision work run on the
`TaskManager`'s threads; the main thread only draws and handles input.

Staff mode: five taps on the station's name within four seconds (the hidden gesture),
then the staff PIN.

A video call with a district agent (kiosk/ui/screens/call.py) starts from the guide of a
remote-assisted item, from the review screen ("ask an agent") and from staff mode (an
assisted session with a call); it belongs to the visit: the request carries the item, the
masked identity as shown on screen and the visit's application id when it has one, what
the agent captures joins the visit's materials, and wiping the visit ends the call. The
idle wipe is suspended while the call is under way and counts again after it. When no call
can be made, the call screen offers a call-back request (kiosk/ui/screens/callback.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from kiosk.config import Settings, StationSettings
from kiosk.core.catalog import UnknownItem
from kiosk.core.identity import Identity
from kiosk.core.visit import Capture, Submitted, Visit, submit
from kiosk.core.voucher import Voucher, VoucherInvalid, parse_voucher
from kiosk.devices.card.errors import CardError
from kiosk.devices.card.events import CardEvent, EventKind
from kiosk.errors import DoorstepError
from kiosk.ui import theme
from kiosk.ui.bridge import Bridge
from kiosk.ui.idle import IdleOverlay, IdleWatcher
from kiosk.ui.kit import Kit
from kiosk.ui.screens.start import StartScreen
from kiosk.ui.strings import Language, text
from kiosk.ui.tasks import TaskManager
from kiosk.ui.theme import ButtonKind, TextRole
from kiosk.ui.widgets import WrappedLabel, button

if TYPE_CHECKING:
    # The catalog's models load with the catalog, and the screens past the start screen
    # are made, after the first paint (MainWindow._make_screens).
    from kiosk.core.catalog import Catalog, ServiceItem
    from kiosk.ui.screens.catalog import CatalogScreen
    from kiosk.ui.screens.guide import GuideScreen
    from kiosk.ui.screens.visit import (
        DoneScreen,
        IdentifyScreen,
        MyApplicationsScreen,
        ReviewScreen,
    )

logger = logging.getLogger(__name__)

STAFF_TAPS = 5
STAFF_WARNING_S = 30  # before staff mode ends (kiosk.core.staff.SESSION_IDLE_S)
STAFF_TAP_WINDOW_S = 4.0
CAMERA_LOOK_MS = 400  # how often the identify screen looks at the camera
PRESENCE_LOOK_MS = 1000  # how often the start screen looks for someone in front
DEMO_VOUCHER = "4243754826492874240001310000"  # made up: Shanghai (31)


class TopBar(QWidget):
    """The station's name (five taps: staff), the sound switch, home and language."""

    staff_gesture = Signal()

    def __init__(self, station: StationSettings) -> None:
        super().__init__()
        self.setObjectName("topBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self._station = station
        self._taps: list[float] = []
        self.station_name = WrappedLabel(TextRole.SUBHEADING)
        self.station_name.installEventFilter(self)
        # Offline, this takes the station name's place: a calm word, not a red light.
        self.offline = WrappedLabel(TextRole.SUBHEADING)
        self.offline.setObjectName("offlineNote")
        self.offline.hide()
        self.sound_button = button(ButtonKind.TOP_BAR)
        self.home_button = button(ButtonKind.TOP_BAR)
        self.language_button = button(ButtonKind.TOP_BAR)
        layout = QHBoxLayout(self)
        margin = theme.SPACING_PX
        layout.setContentsMargins(theme.PAGE_MARGIN_PX, margin, theme.PAGE_MARGIN_PX, margin)
        layout.setSpacing(theme.SPACING_PX)
        layout.addWidget(self.station_name, 1)
        layout.addWidget(self.offline, 1)
        layout.addWidget(self.sound_button)
        layout.addWidget(self.home_button)
        layout.addWidget(self.language_button)

    def retranslate(self, lang: Language, *, muted: bool) -> None:
        name = self._station.name_en if lang == "en" else self._station.name_zh
        self.station_name.set_plain_text(name)
        self.sound_button.setText(text("unmute" if muted else "mute", lang))
        self.home_button.setText(text("home", lang))
        self.language_button.setText(text("switch_language", lang))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.station_name and event.type() == QEvent.Type.MouseButtonRelease:
            now = time.monotonic()
            self._taps = [t for t in self._taps if now - t < STAFF_TAP_WINDOW_S] + [now]
            if len(self._taps) >= STAFF_TAPS:
                self._taps.clear()
                self.staff_gesture.emit()
        return False


class MainWindow(QMainWindow):
    """The window residents use. `catalog_settled` fires when a catalog load has ended,
    whether it gave a catalog or a failure; `visit_wiped` when a visit's data is gone."""

    catalog_settled = Signal()
    visit_wiped = Signal()
    submitted = Signal(object)  # Submitted
    quit_requested = Signal()  # staff asked the kiosk program to end

    def __init__(
        self,
        settings: Settings,
        tasks: TaskManager,
        kit: Kit | None = None,
        bridge: Bridge | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._tasks = tasks
        self._kit = Kit()  # until attach_kit, below
        self.bridge = bridge or Bridge(tasks, self)
        self._lang: Language = settings.ui.language
        self._catalog: Catalog | None = None
        self._loader: Callable[[], Catalog] | None = None
        self.visit = Visit(lang=self._lang)
        self._done: Submitted | None = None  # the visit's application, once stored
        self._offline = False
        self._looking = False  # a camera look is running on a worker
        self._card_watcher: Any = None
        self._present_since: float | None = None
        self._greeted = False
        self._muted = not settings.ui.speech
        self._staff_pin: Any = None  # made at the first staff gesture
        self._staff: Any = None  # made at the first unlock
        self._crash_reports: list[Any] = []
        self.scanner_gun: Any = None  # the ScannerGun the key filter feeds (kiosk/ui/app.py)

        self.top_bar = TopBar(settings.station)
        self.offline_banner = self.top_bar.offline
        self.start_screen = StartScreen()
        self._made = False  # the screens past the start screen (see _make_screens)
        self._capture: Any = None  # the CaptureScreen, made when first needed (OpenCV)
        self._call: Any = None  # the CallScreen, made when first needed
        self._callback: Any = None  # the CallbackScreen, made when first needed
        self._ring: Any = None  # the RingScreen (an agent calling back), when first needed
        self._call_source = "guide"  # where the call was started from
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_screen)
        # The stack's own smallest size, not the largest of its screens': the window's
        # size limits then never move while it is shown. Each screen is checked to fit
        # the window by itself (tests/ui/test_ageing_floor.py).
        self.stack.setMinimumSize(1, 1)

        bar = self.top_bar
        bar.language_button.clicked.connect(self.toggle_language)
        bar.home_button.clicked.connect(self.end_visit)
        bar.sound_button.clicked.connect(self.toggle_sound)
        bar.staff_gesture.connect(self.show_staff)
        self.start_screen.start_requested.connect(self.show_catalog)
        self.start_screen.mine_requested.connect(self.show_mine)
        self.bridge.card_event.connect(self._card_event)
        self.bridge.sync_status.connect(self._sync_status)
        self.bridge.call_event.connect(self._call_event)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.top_bar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.idle_overlay = IdleOverlay(central)
        self.idle = IdleWatcher(settings.ui.idle_warning_s, settings.ui.idle_timeout_s, self)
        self.idle.warning.connect(self.idle_overlay.show_countdown)
        self.idle.resumed.connect(self.idle_overlay.hide)
        self.idle.expired.connect(self._idle_expired)
        self.idle_overlay.continue_requested.connect(self.idle.touched)
        self.idle.install()

        self._look_timer = QTimer(self)
        self._look_timer.timeout.connect(self._look)
        # A fixed smallest size, so the window's size limits never change while it is
        # shown (the layouts would otherwise keep moving them with the content).
        self.setMinimumSize(*theme.SMALLEST_WINDOW_PX)
        self.setStyleSheet(theme.style_sheet(settings.ui.large_text))
        self.set_language(self._lang)
        self.attach_kit(kit or Kit())
        self.show_start()

    def attach_kit(self, kit: Kit) -> None:
        """Work with `kit`'s devices and services from now on. `kiosk run` brings them up
        (the store opened and migrated, the printer, sync, the card reader, the cameras)
        on a worker thread once the start screen has been painted, and attaches them
        then; until that, the window has an empty kit and leaves out what needs one."""
        self._kit = kit
        if kit.speaker is not None:
            self._muted = kit.speaker.muted
        self.top_bar.retranslate(self._lang, muted=self._muted)
        self.bridge.watch_sync(kit.sync)
        self._show_what_the_kit_allows()
        self._update_look_timer()

    def _show_what_the_kit_allows(self) -> None:
        """The "Apply here" button when there is a store to queue in; the demo buttons with
        a simulated kit."""
        if self._made:
            self._guide_screen.set_can_apply(self._kit.applications is not None)
            self._identify_screen.set_demo(self._kit.demo)

    # -- the basics ---------------------------------------------------------------------

    @property
    def language(self) -> Language:
        return self._lang

    @property
    def catalog(self) -> Catalog | None:
        return self._catalog

    @property
    def offline(self) -> bool:
        return self._offline

    @property
    def capture_screen(self) -> Any:
        """The materials screen (document camera and photo), made on first use: it brings
        OpenCV, which the start screen does not need to be drawn."""
        if self._capture is None:
            from kiosk.ui.screens.capture import CaptureScreen

            screen = CaptureScreen(self._tasks)
            screen.pages_done.connect(self._pages_done)
            screen.photo_done.connect(self._photo_done)
            screen.cancelled.connect(self._capture_cancelled)
            screen.activity.connect(self.idle.touched)
            self.stack.addWidget(screen)  # first: retranslate measures with the style sheet
            screen.retranslate(self._lang)
            self._capture = screen
        return self._capture

    @property
    def call_screen(self) -> Any:
        """The video call screen, made on first use."""
        if self._call is None:
            from kiosk.ui.screens.call import CallScreen

            screen = CallScreen(self._tasks, speak_chat=not self._settings.remote.speaker)
            screen.spoken.connect(self.say_words)
            screen.active_changed.connect(self._call_active)
            screen.captured.connect(self._call_captured)
            screen.decided.connect(self._call_decided)
            screen.callback_requested.connect(self.show_callback)
            screen.left.connect(self._call_left)
            self.stack.addWidget(screen)
            screen.retranslate(self._lang)
            self._call = screen
        return self._call

    @property
    def ring_screen(self) -> Any:
        """The screen that rings when an agent calls the station back, made on first use."""
        if self._ring is None:
            from kiosk.ui.screens.ring import RingScreen

            screen = RingScreen()
            screen.answered.connect(self._answer_ring)
            screen.declined.connect(self._decline_ring)
            self.stack.addWidget(screen)
            screen.retranslate(self._lang)
            self._ring = screen
        return self._ring

    @property
    def callback_screen(self) -> Any:
        """The call-back request screen, made on first use."""
        if self._callback is None:
            from kiosk.ui.screens.callback import CallbackScreen

            screen = CallbackScreen(self._tasks, self._kit.store)
            screen.spoken.connect(self.say_words)
            screen.back_requested.connect(self._callback_back)
            screen.done.connect(lambda: self._call_left(False))
            self.stack.addWidget(screen)
            screen.retranslate(self._lang)
            self._callback = screen
        return self._callback

    # The screens past the start screen. The first use of any makes them all: the first
    # catalog load does, right after the window's first paint (kiosk/ui/app.py), so that
    # the start screen is drawn without waiting for them, their modules and their style.

    @property
    def catalog_screen(self) -> CatalogScreen:
        self._make_screens()
        return self._catalog_screen

    @property
    def guide_screen(self) -> GuideScreen:
        self._make_screens()
        return self._guide_screen

    @property
    def identify_screen(self) -> IdentifyScreen:
        self._make_screens()
        return self._identify_screen

    @property
    def review_screen(self) -> ReviewScreen:
        self._make_screens()
        return self._review_screen

    @property
    def done_screen(self) -> DoneScreen:
        self._make_screens()
        return self._done_screen

    @property
    def mine_screen(self) -> MyApplicationsScreen:
        self._make_screens()
        return self._mine_screen

    def _make_screens(self) -> None:
        if self._made:
            return
        self._made = True
        from kiosk.ui.screens.catalog import CatalogScreen
        from kiosk.ui.screens.guide import GuideScreen
        from kiosk.ui.screens.visit import (
            DoneScreen,
            IdentifyScreen,
            MyApplicationsScreen,
            ReviewScreen,
        )

        self._catalog_screen = CatalogScreen()
        self._guide_screen = GuideScreen(self._settings.station.phone)
        self._identify_screen = IdentifyScreen()
        self._review_screen = ReviewScreen()
        self._review_screen.set_offline(self._offline)
        self._done_screen = DoneScreen()
        self._mine_screen = MyApplicationsScreen()
        self._catalog_screen.back_requested.connect(self.end_visit)
        self._catalog_screen.item_chosen.connect(self.show_guide)
        self._catalog_screen.retry_requested.connect(self._reload)
        self._catalog_screen.keyboard.typed.connect(self.idle.touched)
        self._guide_screen.back_requested.connect(self.show_catalog)
        self._guide_screen.apply_requested.connect(self.apply)
        self._guide_screen.call_requested.connect(self._call_from_guide)
        self._identify_screen.back_requested.connect(self._identify_back)
        self._identify_screen.continue_requested.connect(self._after_identify)
        self._identify_screen.demo_card.connect(self._demo_card)
        self._identify_screen.demo_voucher.connect(self._demo_voucher)
        self._review_screen.back_requested.connect(self._review_back)
        self._review_screen.submit_requested.connect(self._submit)
        self._review_screen.call_requested.connect(lambda: self.start_call("review"))
        self._done_screen.rated.connect(self._rated)
        self._done_screen.finished.connect(self.end_visit)
        self._mine_screen.back_requested.connect(self.end_visit)
        self._mine_screen.slip_requested.connect(self._print_supplement)
        for screen in self._visit_screens():
            # In the window first: labels measured in retranslate need its style sheet.
            self.stack.addWidget(screen)
            screen.retranslate(self._lang)
        self._show_what_the_kit_allows()

    def _visit_screens(self) -> list[Any]:
        """The screens past the start screen, as far as they have been made."""
        if not self._made:
            return []
        return [
            self._catalog_screen,
            self._guide_screen,
            self._identify_screen,
            self._review_screen,
            self._done_screen,
            self._mine_screen,
        ]

    def _screens(self) -> list[QWidget]:
        """Every screen made so far."""
        return [
            self.start_screen,
            *self._visit_screens(),
            *(
                s
                for s in (
                    self._capture,
                    self._call,
                    self._callback,
                    self._ring,
                    self._staff_pin,
                    self._staff,
                )
                if s is not None
            ),
        ]

    def set_language(self, lang: Language) -> None:
        """Show every screen in `lang` at once."""
        self._lang = lang
        self.visit.lang = lang
        self.setWindowTitle(text("window_title", lang))
        self.top_bar.retranslate(lang, muted=self._muted)
        self.offline_banner.set_plain_text(text("offline_banner", lang))
        for screen in self._screens():
            retranslate = getattr(screen, "retranslate", None)
            if retranslate is not None:
                retranslate(lang)
        if hasattr(self, "idle_overlay"):
            self.idle_overlay.retranslate(lang)

    def toggle_language(self) -> None:
        self.set_language("en" if self._lang == "zh" else "zh")

    def toggle_sound(self) -> None:
        self._set_muted(not self._muted)

    def _set_muted(self, muted: bool) -> None:
        self._muted = muted
        if self._kit.speaker is not None:
            self._kit.speaker.muted = muted
        self.top_bar.retranslate(self._lang, muted=muted)

    def _back_to_station_defaults(self) -> None:
        """The next resident starts in the station's language, with its sound setting,
        whatever the last one chose."""
        ui = self._settings.ui
        self._set_muted(not ui.speech)
        if self._lang != ui.language:
            self.set_language(ui.language)

    def _settings_saved(self, settings: Settings) -> None:
        """Staff saved the settings a station may change: the text size changes now; the
        language, the sound and the idle times from the next visit on."""
        if settings.ui.large_text != self._settings.ui.large_text:
            self.setStyleSheet(theme.style_sheet(settings.ui.large_text))
        self._settings = settings

    def say(self, key: str) -> None:
        """Speak the prompt `key` in the current language (unless muted)."""
        if self._kit.speaker is not None and not self._muted:
            self._kit.speaker.say(text(key, self._lang), self._lang)

    def say_words(self, words: str) -> None:
        """Speak `words` (already in the current language) unless muted."""
        if self._kit.speaker is not None and not self._muted and words:
            self._kit.speaker.say(words, self._lang)

    def _show(self, screen: QWidget, *, home: bool = True) -> None:
        self.stack.setCurrentWidget(screen)
        self.top_bar.home_button.setVisible(home)
        self._update_look_timer()

    # -- navigation ---------------------------------------------------------------------

    def show_start(self) -> None:
        if self._made:
            self._catalog_screen.reset()
        self.idle.disarm()
        self.idle.set_times(self._settings.ui.idle_warning_s, self._settings.ui.idle_timeout_s)
        self.idle_overlay.hide()
        self._show(self.start_screen, home=False)

    def show_catalog(self) -> None:
        self.idle.arm()
        self._show(self.catalog_screen)

    def show_guide(self, item: ServiceItem) -> None:
        self.guide_screen.show_item(item)
        self._show(self.guide_screen)

    def show_mine(self) -> None:
        self.idle.arm()
        self.mine_screen.clear()
        self._show(self.mine_screen)
        self.say("say_identify")

    def apply(self, item: ServiceItem) -> None:
        """The resident wants to apply for `item` here."""
        if self._kit.applications is None:
            return
        self.visit.item = item
        if self.visit.identified or _has_card_face(self.visit):
            self._after_identify()
        else:
            self.identify_screen.clear()
            self._show(self.identify_screen)
            self.say("say_identify")

    def _identify_back(self) -> None:
        if self.visit.item is not None:
            self.show_guide(self.visit.item)
        else:
            self.show_catalog()

    def _after_identify(self) -> None:
        item = self.visit.item
        if item is None:
            self.show_catalog()
            return
        if item.materials and not self.visit.pages and self._capture_pages(item):
            return
        if item.needs_photo and self.visit.photo is None and self._capture_photo():
            return
        self._show_review()

    def _capture_pages(self, item: ServiceItem) -> bool:
        camera = self._kit.document_camera
        if camera is None:
            return False
        self.capture_screen.begin_pages(camera.frames, [m.name(self._lang) for m in item.materials])
        self._show(self.capture_screen)
        return True

    def _capture_photo(self) -> bool:
        camera = self._kit.camera
        if camera is None:
            return False
        self.capture_screen.begin_photo(camera.frames)
        self._show(self.capture_screen)
        return True

    def _pages_done(self, pages: list[Any]) -> None:
        for page in pages:
            self.visit.add(page.content, media_type=page.media_type, kind="page", label=page.label)
        item = self.visit.item
        needs_photo = item is not None and item.needs_photo and self.visit.photo is None
        if needs_photo and self._capture_photo():
            return
        self._show_review()

    def _photo_done(self, photo: bytes) -> None:
        from kiosk.ui.screens.capture import PHOTO_MEDIA_TYPE

        self.visit.add(photo, media_type=PHOTO_MEDIA_TYPE, kind="photo")
        self._show_review()

    def _capture_cancelled(self) -> None:
        if self._capture is not None:
            self._capture.stop()
        if self.visit.item is not None:
            self.show_guide(self.visit.item)
        else:
            self.show_catalog()

    def _show_review(self) -> None:
        if self._capture is not None:
            self._capture.stop()
        self.review_screen.show_visit(self.visit, offline=self._offline)
        self._show(self.review_screen)

    def _review_back(self) -> None:
        for capture in list(self.visit.captures):
            if capture.kind != "card":
                self.visit.remove(capture)
        if self.visit.item is not None:
            self.show_guide(self.visit.item)
        else:
            self.show_catalog()

    def _submit(self) -> None:
        applications = self._kit.applications
        if applications is None or self.visit.item is None:
            return
        visit = self.visit
        printer = self._kit.printer
        roll = self._settings.printer.paper == "roll80"

        def print_receipt(pdf: bytes, reference: str) -> None:
            printer.print_document(pdf, kind="receipt", title="receipt", reference=reference)

        self._tasks.run_in_background(
            lambda: submit(
                visit,
                applications,
                self._settings.station,
                roll=roll,
                print_receipt=print_receipt if printer is not None else None,
            ),
            self._submitted,
            self._submit_failed,
        )

    def _submitted(self, result: Submitted) -> None:
        from kiosk.documents.build import next_steps

        item = self.visit.item
        steps = (
            {lang: next_steps(item, self._settings.station, lang) for lang in ("zh", "en")}
            if item is not None
            else {}
        )
        self._done = result
        self.done_screen.show_result(result.reference, result.receipt_queued, steps)
        self._show(self.done_screen)
        self.bridge.kick_sync()
        self.submitted.emit(result)

    def _submit_failed(self, error: BaseException) -> None:
        logger.error("the application could not be stored: %s", type(error).__name__)
        self.review_screen.set_failed()

    def _rated(self, value: int) -> None:
        """The resident chose a rating (they may change their mind until the visit ends,
        when it is stored: see `_store_rating`)."""
        self.visit.rating = value

    def _store_rating(self) -> None:
        """Store the visit's rating, if it has one, with the application it was about,
        and queue it for the district (kiosk.core.ratings), on a worker."""
        ratings, score, done = self._kit.ratings, self.visit.rating, self._done
        if ratings is None or score is None:
            return
        application_id = done.application_id if done is not None else None
        item_code = done.item_code if done is not None else None

        def store() -> None:
            ratings.add(score, application_id=application_id, item_code=item_code)

        self._tasks.run_in_background(
            store, lambda _: self.bridge.kick_sync(), _log_failure("rating")
        )

    # -- video calls ----------------------------------------------------------------------

    def _call_from_guide(self, item: ServiceItem) -> None:
        self.visit.item = item
        self.start_call("guide")

    def start_call(self, source: str, *, answer: str | None = None) -> None:
        """Ask for an agent about the visit (from the guide, review or staff mode), or
        take the agent's call `answer` (a call-back ringing at the station)."""
        from kiosk.remote.events import CallRequestInfo
        from kiosk.ui.screens.call import CallCameras

        item, done = self.visit.item, self._done
        info = CallRequestInfo(
            item_code=item.code if item is not None else "",
            item_title=item.name("zh") if item is not None else "",
            category=item.category.value if item is not None else "",
            application=done.application_id if done is not None else None,
            identity=_masked_identity(self.visit),
            source=source,
        )
        kit = self._kit
        cameras = CallCameras(
            camera=kit.camera.frames if kit.camera is not None else None,
            document_camera=kit.document_camera.frames if kit.document_camera else None,
        )
        self._call_source = source
        screen = self.call_screen
        self._show(screen, home=False)
        screen.begin(
            kit.calls,
            info,
            cameras,
            self._call_materials,
            can_call_back=item is not None,
            answer=answer,
        )

    def _call_materials(self) -> list[Any]:
        from kiosk.ui.screens.call import Material

        return [Material(bytes(c.content), _material_label(c)) for c in self.visit.captures]

    def _call_event(self, event: Any) -> None:
        from kiosk.remote.events import IncomingCall, RingEnded

        if isinstance(event, IncomingCall):
            self._incoming(event)
        elif isinstance(event, RingEnded):
            ringing = self._ring.incoming if self._ring is not None else None
            if ringing is not None and ringing.call == event.call:
                self._ring.clear()
                self.show_start()
        elif self._call is not None:
            self._call.handle(event)

    def _incoming(self, incoming: Any) -> None:
        """An agent calls the station back: it rings if the station is idle, else the
        district hears it is busy (a resident in a visit is never interrupted)."""
        calls = self._kit.calls
        if calls is None:
            return
        if self.stack.currentWidget() is not self.start_screen or self.in_call:
            calls.decline(incoming.call, "busy")
            return
        screen = self.ring_screen
        screen.ring(incoming)
        self._show(screen, home=False)
        self.say_words(screen.words(self._lang))

    def _answer_ring(self, incoming: Any) -> None:
        catalog = self._catalog
        if catalog is not None and incoming.item_code:
            with contextlib.suppress(UnknownItem):
                self.visit.item = catalog.get(incoming.item_code)
        self.start_call("callback", answer=incoming.call)

    def _decline_ring(self, incoming: Any) -> None:
        if self._kit.calls is not None:
            self._kit.calls.decline(incoming.call)
        self.show_start()

    def _call_active(self, active: bool) -> None:
        """No idle wipe while a call is under way; counting again from its end."""
        if active:
            self.idle.suspend()
            self.idle_overlay.hide()
        else:
            self.idle.resume()

    @property
    def in_call(self) -> bool:
        return self._call is not None and self._call.active

    def _call_captured(self, kind: str, jpeg: bytes, label: str) -> None:
        self.visit.add(jpeg, media_type="image/jpeg", kind=kind, label=label)  # type: ignore[arg-type]

    def _call_decided(self, decision: Any) -> None:
        """The agent decided the call's application: the receipt prints when accepted."""
        if decision.state != "accepted":
            return
        item, printer, applications = self.visit.item, self._kit.printer, self._kit.applications
        if item is None or printer is None:
            self.call_screen.show_receipt(False)
            return
        from kiosk.documents.build import Capture as DocumentCapture
        from kiosk.documents.build import receipt_data
        from kiosk.documents.receipt import render_receipt

        station, lang = self._settings.station, self._lang
        roll = self._settings.printer.paper == "roll80"
        resident = self.visit.resident_wire()
        captures = [DocumentCapture(c.kind, c.label) for c in self.visit.captures]
        done = self._done

        def print_receipt() -> None:
            reference = self._decided_reference(applications, decision.application, done)
            data = receipt_data(
                item,
                station,
                reference=reference,
                accepted_at=datetime.now(UTC),
                resident=resident,
                captures=captures,
                lang=lang,
            )
            pdf = render_receipt(data, roll=roll)
            printer.print_document(pdf, kind="receipt", title="receipt", reference=reference)

        def failed(error: BaseException) -> None:
            logger.error(
                "the receipt of a call's decision was not printed: %s", type(error).__name__
            )
            if self._call is not None:
                self._call.show_receipt(False)

        self._tasks.run_in_background(
            print_receipt, lambda _: self.call_screen.show_receipt(True), failed
        )

    @staticmethod
    def _decided_reference(applications: Any, application_id: str, done: Any) -> str:
        """The reference of the decided application, on a worker: the visit's own, one in
        the local store, or (made by the district during the call) its id."""
        if done is not None and done.application_id == application_id:
            return str(done.reference)
        if applications is not None:
            from kiosk.core.applications import ApplicationNotFound

            try:
                return str(applications.get(application_id).reference)
            except ApplicationNotFound:
                pass
        return application_id

    def _call_left(self, visit_over: bool) -> None:
        """The resident leaves the ended call: back to where it was started from (the
        visit is over when the agent decided its application)."""
        if visit_over:
            self.end_visit()
            return
        item = self.visit.item
        if self._call_source == "review" and item is not None:
            self._show_review()
        elif self._call_source == "guide" and item is not None:
            self.show_guide(item)
        else:
            self.show_catalog()

    def show_callback(self) -> None:
        screen = self.callback_screen
        screen.begin(self.visit.item)
        self._show(screen)

    def _callback_back(self) -> None:
        if self._call is not None and self._call.state is not None:
            self._show(self._call, home=False)
        else:
            self._call_left(False)

    def end_visit(self) -> None:
        """The visit is over (finished, home, or left alone): forget it, back to start."""
        self.wipe()
        self._back_to_station_defaults()
        self.show_start()

    def wipe(self) -> None:
        """Drop every trace of the resident: identity, images, half-done screens (their
        rating, which holds nothing of them, is stored first)."""
        self._store_rating()
        self._done = None
        if self._call is not None:
            self._call.clear()  # ends a call under way
        if self._callback is not None:
            self._callback.clear()
        self.visit.wipe()
        self._card_watcher = None
        if self._capture is not None:
            self._capture.wipe()
        if self._made:
            for screen in (
                self._identify_screen,
                self._review_screen,
                self._done_screen,
                self._mine_screen,
            ):
                screen.clear()
            self._catalog_screen.reset()
        self.visit_wiped.emit()

    def _idle_expired(self) -> None:
        logger.info("a visit was left alone: wiped")
        self.idle_overlay.hide()
        self.end_visit()

    # -- devices ------------------------------------------------------------------------

    def _card_event(self, event: CardEvent) -> None:
        screen = self.stack.currentWidget()
        if event.kind is EventKind.CARD_INSERTED:
            self.idle.touched()
            if screen is self.identify_screen:
                self.identify_screen.show_reading()
        elif event.kind is EventKind.CARD_READ and event.identity is not None:
            self.idle.touched()
            self._identified(event.identity)
        elif event.kind is EventKind.READ_FAILED and event.error is not None:
            self._card_failed(event.error)

    def _identified(self, identity: Identity | Voucher) -> None:
        screen = self.stack.currentWidget()
        if screen is self.mine_screen:
            self._find_mine(identity)
            return
        if screen in (self.review_screen, self.done_screen) or (
            screen is not None and screen in (self._capture, self._call, self._callback)
        ):
            if not self.visit.identified and screen is self._call:
                self.visit.resident = identity  # shown to the agent; the call goes on
            return  # the visit already has its resident; a second card is ignored
        self.visit.resident = identity
        if screen is self.start_screen:
            self.show_catalog()
        elif screen is self.identify_screen:
            self.identify_screen.show_identified(self.visit)

    def _card_failed(self, error: CardError) -> None:
        screen = self.stack.currentWidget()
        if screen is self.identify_screen:
            self.identify_screen.show_message(error.resident_zh, error.resident_en)
        elif screen is self.mine_screen:
            self.mine_screen.show_message(error.resident_zh, error.resident_en)
        if self._kit.speaker is not None and not self._muted:
            self._kit.speaker.say(error.resident_message(self._lang), self._lang)

    def voucher_scanned(self, voucher: Voucher) -> None:
        """The scanner gun (or the camera) read a voucher code."""
        self.idle.touched()
        if self.in_staff_mode:
            return  # a staff self-test of the scanner
        self._identified(voucher)

    def scan_failed(self, error: DoorstepError) -> None:
        if self.stack.currentWidget() is self.identify_screen:
            zh, en = text("identify_voucher_bad", "zh"), text("identify_voucher_bad", "en")
            self.identify_screen.show_message(zh, en)

    def _find_mine(self, identity: Identity | Voucher) -> None:
        applications = self._kit.applications
        if applications is None:
            return
        ssn = getattr(identity, "ssn", None)
        card = getattr(identity, "card_number", None)
        self._tasks.run_in_background(
            lambda: applications.for_resident(ssn=ssn, card_number=card),
            self.mine_screen.show_views,
            _log_failure("my applications"),
        )

    def _print_supplement(self, application_id: str) -> None:
        """Print the supplement notice (补正通知) of the resident's application."""
        from kiosk.devices.printer.jobs import JobKind
        from kiosk.documents.supplement import supplement_pdf

        printer, store = self._kit.printer, self._kit.store
        if printer is None or store is None:
            self.mine_screen.show_slip_result("mine_slip_failed")
            return
        station, lang = self._settings.station, self._lang
        roll = self._settings.printer.paper == "roll80"

        def print_slip() -> None:
            pdf, reference = supplement_pdf(
                store, application_id, station, roll=roll, lang=lang, now=datetime.now(UTC)
            )
            printer.print_document(
                pdf, kind=JobKind.SUPPLEMENT, title="supplement", reference=reference
            )

        def failed(error: BaseException) -> None:
            logger.error("the supplement notice was not printed: %s", type(error).__name__)
            self.mine_screen.show_slip_result("mine_slip_failed")

        self._tasks.run_in_background(
            print_slip, lambda _: self.mine_screen.show_slip_result("mine_slip_printing"), failed
        )

    def _demo_card(self, which: str) -> None:
        card = self._kit.card
        if card is None or not hasattr(card, "insert"):
            return
        if which == "bad":
            from kiosk.devices.card.errors import NotSocialSecurityCard

            card.insert(NotSocialSecurityCard("a bank card (demo)"))
        else:
            card.insert()

    def _demo_voucher(self) -> None:
        try:
            self.voucher_scanned(parse_voucher(DEMO_VOUCHER, source="scanner"))
        except VoucherInvalid as error:
            self.scan_failed(error)

    def _sync_status(self, status: Any) -> None:
        offline = status.online is False
        if offline != self._offline:
            self._offline = offline
            self.top_bar.station_name.setVisible(not offline)
            self.top_bar.offline.setVisible(offline)
            if self._made:
                self._review_screen.set_offline(offline)

    # -- the cameras, looked at off the main thread -------------------------------------

    def _update_look_timer(self) -> None:
        screen = self.stack.currentWidget()
        if self._kit.camera is None:
            self._look_timer.stop()
        elif screen is self.identify_screen:
            self._look_timer.start(CAMERA_LOOK_MS)
        elif screen is self.start_screen:
            self._look_timer.start(PRESENCE_LOOK_MS)
        else:
            self._look_timer.stop()

    def _look(self) -> None:
        camera = self._kit.camera
        if camera is None or self._looking:
            return
        frame = camera.frames.latest()
        if frame is None:
            return
        self._looking = True
        if self.stack.currentWidget() is self.start_screen:
            from kiosk.devices.vision.faces import someone_present

            self._tasks.run_in_background(
                lambda: someone_present(frame.image), self._presence, self._look_failed
            )
        else:
            if self._card_watcher is None:
                from kiosk.devices.vision.card import CardWatcher

                self._card_watcher = CardWatcher(steady_frames=3)
            watcher = self._card_watcher
            self._tasks.run_in_background(
                lambda: _look_for_identity(frame.image, watcher), self._seen, self._look_failed
            )

    def _look_failed(self, error: BaseException) -> None:
        self._looking = False
        logger.warning("the camera look failed: %s", type(error).__name__)

    def _presence(self, present: bool) -> None:
        self._looking = False
        if not present:
            self._greeted = False
            return
        if not self._greeted and self.stack.currentWidget() is self.start_screen:
            self._greeted = True
            self.say("say_welcome")

    def _seen(self, seen: tuple[str, Any] | None) -> None:
        self._looking = False
        if seen is None or self.stack.currentWidget() is not self.identify_screen:
            return
        kind, value = seen
        if kind == "voucher":
            self.voucher_scanned(value)
        elif kind == "card" and not self.visit.identified and not _has_card_face(self.visit):
            self.visit.add(value, media_type="image/png", kind="card", label="card")
            self.identify_screen.show_identified(self.visit)

    # -- staff --------------------------------------------------------------------------

    def show_staff(self) -> None:
        """The hidden gesture: the visit is wiped and the staff PIN asked for."""
        if self._kit.paths is None or self._kit.store is None:
            return  # a window without a data folder has no staff mode
        from kiosk.core.staff import StaffLock
        from kiosk.ui.screens.staff import StaffPinScreen

        self.wipe()
        if self._staff_pin is None:
            self._staff_pin = StaffPinScreen(StaffLock(self._kit.paths), self._tasks)
            self._staff_pin.unlocked.connect(self._staff_unlocked)
            self._staff_pin.cancelled.connect(self.end_visit)
            self.stack.addWidget(self._staff_pin)
            self._staff_pin.retranslate(self._lang)
        self.idle.set_times(self._settings.ui.idle_warning_s, self._settings.ui.idle_timeout_s)
        self.idle.arm()
        self._show(self._staff_pin)

    @property
    def in_staff_mode(self) -> bool:
        screen = self.stack.currentWidget()
        return screen is not None and screen in (self._staff_pin, self._staff)

    def _staff_unlocked(self) -> None:
        from kiosk.ui.screens.staff import StaffScreen

        kit = self._kit
        assert kit.paths is not None and kit.store is not None
        if self._staff is None:
            from kiosk.devices.health import KitChecks

            named = (("camera", kit.camera), ("document_camera", kit.document_camera))
            cameras = {name: camera for name, camera in named if camera is not None}
            checks = KitChecks(
                self._settings,
                kit.paths,
                store=kit.store,
                card=kit.card,
                cameras=cameras,
                printer=kit.printer,
                scanner=self.scanner_gun,
            )
            self._staff = StaffScreen(
                kit.store,
                kit.paths,
                self._settings,
                self._tasks,
                checks,
                sync_status=kit.sync.status if kit.sync is not None else None,
            )
            self._staff.closed.connect(self.end_visit)
            self._staff.assisted_session_requested.connect(self._assisted_session)
            self._staff.call_requested.connect(self._staff_call)
            if kit.printer is not None:
                self._staff.print_queued.connect(kit.printer.wake)
            self._staff.sync_requested.connect(self.bridge.kick_sync)
            self._staff.crashes_acknowledged.connect(self._crashes_seen)
            self._staff.settings_changed.connect(self._settings_saved)
            self._staff.quit_requested.connect(self.quit_requested)
            self.stack.addWidget(self._staff)
            self._staff.retranslate(self._lang)
        # Staff work longer between touches than residents; still time-limited.
        from kiosk.core.staff import SESSION_IDLE_S

        self.idle.set_times(SESSION_IDLE_S - STAFF_WARNING_S, STAFF_WARNING_S)
        self.idle.arm()
        self._show(self._staff)
        self._tasks.run_in_background(
            self._pending_crashes, self._show_crashes, _log_failure("reading the crash reports")
        )

    def _assisted_session(self) -> None:
        """Staff help a resident: a fresh visit, on the catalog, with staff at the screen."""
        logger.info("staff started an assisted session")
        self.wipe()
        self.show_catalog()

    def _staff_call(self) -> None:
        """Staff start a video call for the resident they help: an assisted session."""
        logger.info("staff started a video call for a resident")
        self.wipe()
        self.idle.set_times(self._settings.ui.idle_warning_s, self._settings.ui.idle_timeout_s)
        self.idle.arm()
        self.start_call("staff")

    def _pending_crashes(self) -> list[Any]:
        from kiosk.ui.crash import crash_folder, pending_crash_reports

        assert self._kit.paths is not None
        return pending_crash_reports(crash_folder(self._kit.paths.data_dir))

    def _show_crashes(self, reports: list[Any]) -> None:
        self._crash_reports = reports
        if self._staff is not None:
            self._staff.show_crashes([r.at.strftime("%m-%d %H:%M") for r in reports])

    def _crashes_seen(self) -> None:
        from kiosk.ui.crash import acknowledge

        reports, self._crash_reports = self._crash_reports, []

        def acknowledge_all() -> None:
            for report in reports:
                acknowledge(report)

        self._tasks.run_in_background(
            acknowledge_all, lambda _: None, _log_failure("acknowledging the crash reports")
        )

    # -- the catalog --------------------------------------------------------------------

    def load_catalog(self, loader: Callable[[], Catalog]) -> None:
        """Run `loader` on a worker thread; show the catalog, or a calm message, when done."""
        self._loader = loader
        self._catalog = None
        self.catalog_screen.set_loading()
        self._tasks.run_in_background(
            lambda: _ready_for_search(loader()), self._catalog_loaded, self._catalog_failed
        )

    def _reload(self) -> None:
        if self._loader is not None:
            self.load_catalog(self._loader)

    def _catalog_loaded(self, catalog: Catalog) -> None:
        logger.info("catalog %s loaded: %d items", catalog.header.version, len(catalog))
        self._catalog = catalog
        self.catalog_screen.set_catalog(catalog)
        self.catalog_settled.emit()

    def _catalog_failed(self, error: BaseException) -> None:
        if isinstance(error, DoorstepError):
            logger.error(
                "catalog could not be loaded: %s: %s (action: %s)",
                error.name,
                error.staff_message,
                error.action,
            )
        else:
            logger.error("catalog could not be loaded", exc_info=error)
        self.catalog_screen.set_failure(error)
        self.catalog_settled.emit()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.idle.uninstall()
        self._look_timer.stop()
        super().closeEvent(event)


def _ready_for_search(catalog: Catalog) -> Catalog:
    # On the worker thread, not when a resident types the first letter.
    catalog.prepare_search()
    return catalog


def _has_card_face(visit: Visit) -> bool:
    return any(c.kind == "card" for c in visit.captures)


def _look_for_identity(image: Any, watcher: Any) -> tuple[str, Any] | None:
    """On a worker: a voucher QR code, or a steady card face (as PNG), in a camera frame."""
    import cv2

    from kiosk.devices.vision.pipeline import analyse

    found = analyse(image, codes=True, card=True, document=False, faces=False)
    for code in found.codes:
        try:
            return "voucher", parse_voucher(code.data, source="camera")
        except VoucherInvalid:
            continue
    capture = watcher.feed(image, found.card)
    if capture is None:
        return None
    ok, png = cv2.imencode(".png", capture.face)
    return ("card", png.tobytes()) if ok else None


def _masked_identity(visit: Visit) -> str:
    """Who the resident is, masked as the screens show it (张*丰 310***********1236)."""
    shown = visit.resident_display()
    if shown is None:
        return ""
    if isinstance(visit.resident, Voucher):
        return str(shown.get("code") or "")
    parts = (shown.get("name"), shown.get("ssn") or shown.get("card_number"))
    return " ".join(str(part) for part in parts if part)[:80]


def _material_label(capture: Capture) -> str:
    return capture.label or capture.kind


def _log_failure(what: str) -> Callable[[BaseException], None]:
    def failed(error: BaseException) -> None:
        logger.error("%s failed: %s", what, type(error).__name__)

    return failed
