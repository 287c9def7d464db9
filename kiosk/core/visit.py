"""One resident's visit at the kiosk, from identifying to the printed receipt.

A `Visit` holds what the resident has given so far: who they are (a card's `Identity` or
a scanned `Voucher`), the service item, the captured pages, the photo and the card face.
It lives in memory only until the resident confirms; `submit` then stores it as a queued
application (its materials as sealed blobs, the state change and the outbox entry in the
local store) and queues the receipt for the printer. Nothing in it is written anywhere
before that, so a resident who walks away leaves nothing behind.

`wipe()` forgets everything personal: the identity, the images (their buffers are zeroed
where Python lets us: `bytearray`s), the item. The kiosk calls it when a visit ends, when
the idle timer runs out, and when staff start an assisted session, so that no object the
next resident could reach still holds the last one's name or ID number.

Qt-free: the UI runs `submit` on a worker thread (it writes files and the database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from kiosk.core.identity import Identity
from kiosk.core.states import State
from kiosk.core.voucher import Voucher

if TYPE_CHECKING:  # the database and the documents load when a visit is submitted
    from kiosk.config import StationSettings
    from kiosk.core.applications import Applications
    from kiosk.core.catalog import ServiceItem

log = logging.getLogger(__name__)

Lang = Literal["zh", "en"]


@dataclass
class Capture:
    """A captured image: encoded bytes (PNG or JPEG), what it is and its label."""

    content: bytearray
    media_type: str
    kind: Literal["page", "photo", "card"]
    label: str = ""

    def wipe(self) -> None:
        self.content[:] = bytes(len(self.content))
        self.content.clear()


@dataclass
class Visit:
    """What one resident has given the kiosk so far (unmasked, in memory only)."""

    resident: Identity | Voucher | None = None
    item: ServiceItem | None = None
    captures: list[Capture] = field(default_factory=list)
    lang: Lang = "zh"
    rating: int | None = None

    @property
    def identified(self) -> bool:
        return self.resident is not None

    @property
    def pages(self) -> list[Capture]:
        return [c for c in self.captures if c.kind == "page"]

    @property
    def photo(self) -> Capture | None:
        return next((c for c in self.captures if c.kind == "photo"), None)

    def add(self, content: bytes, *, media_type: str, kind: Literal["page", "photo", "card"],
            label: str = "") -> Capture:
        if kind == "photo":
            for old in [c for c in self.captures if c.kind == "photo"]:
                old.wipe()
                self.captures.remove(old)
        capture = Capture(bytearray(content), media_type, kind, label)
        self.captures.append(capture)
        return capture

    def remove(self, capture: Capture) -> None:
        capture.wipe()
        self.captures.remove(capture)

    def resident_wire(self) -> dict[str, Any] | None:
        """The resident as the district needs it (unmasked: for the sealed store only)."""
        return self.resident.to_wire() if self.resident is not None else None

    def resident_display(self) -> dict[str, Any] | None:
        """The resident masked, for the screen."""
        return self.resident.to_display() if self.resident is not None else None

    def wipe(self) -> None:
        """Forget everything this visit holds."""
        for capture in self.captures:
            capture.wipe()
        self.captures.clear()
        self.resident = None
        self.item = None
        self.rating = None


@dataclass(frozen=True)
class Submitted:
    """What the resident is told after confirming: the reference on the receipt, and
    whether the receipt went to the printer's queue."""

    application_id: str
    reference: str
    item_code: str
    receipt_queued: bool
    receipt_error: str | None = None


PrintReceipt = Callable[[bytes, str], None]  # (PDF, reference) → queued, or raises


def submit(
    visit: Visit,
    applications: Applications,
    station: StationSettings,
    *,
    roll: bool,
    print_receipt: PrintReceipt | None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Submitted:
    """Store the visit as a queued application and queue its receipt; on a worker thread.

    The application is made a draft, given its materials, then moved to ready and queued
    (the outbox entry in the same transaction). A receipt that cannot be made or queued
    leaves the application queued: the resident is told to ask staff for a reprint."""
    from kiosk.documents.build import Capture as DocumentCapture
    from kiosk.documents.build import receipt_data
    from kiosk.documents.receipt import render_receipt

    item = visit.item
    if item is None:
        raise ValueError("a visit without a service item cannot be submitted")
    resident = visit.resident_wire()
    draft = applications.create(item, resident)
    try:
        for capture in visit.captures:
            applications.add_material(
                draft.id,
                bytes(capture.content),
                media_type=capture.media_type,
                kind=capture.kind,
                label=capture.label,
            )
        applications.transition(draft.id, State.READY)
        queued = applications.transition(draft.id, State.QUEUED)
    except BaseException:
        applications.discard(draft.id)
        raise
    log.info("application %s queued (%s)", queued.id, queued.reference)
    if print_receipt is None:
        return Submitted(queued.id, queued.reference, item.code, False, "no printer")
    try:
        data = receipt_data(
            item,
            station,
            reference=queued.reference,
            accepted_at=now(),
            resident=resident,
            captures=[DocumentCapture(c.kind, c.label) for c in visit.captures],
            lang=visit.lang,
        )
        print_receipt(render_receipt(data, roll=roll), queued.reference)
    except Exception as error:  # the application is safe; the receipt can be reprinted
        log.exception("the receipt for %s could not be queued", queued.reference)
        return Submitted(queued.id, queued.reference, item.code, False, type(error).__name__)
    return Submitted(queued.id, queued.reference, item.code, True)
