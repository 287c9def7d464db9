"""What each document shows: plain, frozen values, already in the document's language.

The renderers (`receipt`, `supplement`, `form`, `report`) only lay these out; what a
document says is decided where these values are made (`build` from the local store,
`samples` for the command line, the tests and the benchmark). A receipt (and a supplement
notice) holds the resident's identity only masked (张*丰, 310***********1236); the
application form, the district's record, holds it in full and is personal data like the
captured images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"a document's language is 'zh' or 'en', not {lang!r}")


@dataclass(frozen=True)
class Station:
    """The station that issues a document."""

    code: str
    name: str
    phone: str


@dataclass(frozen=True)
class MaterialLine:
    """A material handed over: its name, its form (原件, 复印件 …) and how many."""

    name: str
    form: str
    count: int


@dataclass(frozen=True)
class Entry:
    """One labelled value of a form."""

    label: str
    value: str


@dataclass(frozen=True)
class ReceiptData:
    """The acceptance receipt (受理回执) handed to the resident.

    `applicant` and `applicant_id` are masked already; `next_steps` are sentences in
    order; `enquiry_phone` is the item's own enquiry line, shown when there is one.
    """

    lang: Lang
    station: Station
    reference: str
    item_code: str
    item_name: str
    responsible_body: str
    accepted_at: datetime
    applicant: str
    applicant_id: str
    materials: tuple[MaterialLine, ...]
    time_limit: str
    next_steps: tuple[str, ...]
    enquiry_phone: str | None = None

    def __post_init__(self) -> None:
        _check_lang(self.lang)
        if not self.reference:
            raise ValueError("a receipt needs its reference")


@dataclass(frozen=True)
class SupplementData:
    """The supplement notice (补正通知) printed for a resident whose application the
    district asked more for: `missing` is the agent's words for the resident, as the
    district sent them; `applicant` and `applicant_id` are masked already."""

    lang: Lang
    station: Station
    reference: str
    item_code: str
    item_name: str
    applicant: str
    applicant_id: str
    missing: str
    printed_at: datetime

    def __post_init__(self) -> None:
        _check_lang(self.lang)
        if not self.reference or not self.missing:
            raise ValueError("a supplement notice needs its reference and what is missing")


@dataclass(frozen=True)
class Attachment:
    """A captured material: a page, a card face or a photo.

    `kind` is what the kiosk captured ("page", "card", "photo" …): a photo is printed at
    portrait size, anything else as large as the page allows. Content that is not a
    readable image is listed, not drawn.
    """

    caption: str
    kind: str
    media_type: str
    content: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class FormData:
    """The application form (申请表) for the district's file: the application, the
    resident in full, what they filled in, the materials and their captured images."""

    lang: Lang
    station: Station
    reference: str
    application_id: str
    item_code: str
    item_name: str
    category: str
    responsible_body: str
    created_at: datetime
    printed_at: datetime
    state: str
    # Personal data: kept out of repr(), so a form logged by mistake shows none of it.
    applicant: tuple[Entry, ...] = field(repr=False)
    details: tuple[Entry, ...] = field(repr=False)
    materials: tuple[MaterialLine, ...]
    attachments: tuple[Attachment, ...] = field(repr=False)

    def __post_init__(self) -> None:
        _check_lang(self.lang)
        if not self.reference:
            raise ValueError("a form needs its reference")


@dataclass(frozen=True)
class ItemCount:
    """How many applications one service item had."""

    code: str
    name: str
    count: int


@dataclass(frozen=True)
class StateCount:
    """How many applications are in one state (the label in the report's language)."""

    label: str
    count: int


@dataclass(frozen=True)
class SyncSummary:
    """Where the upload to the district stands."""

    waiting: int
    oldest_waiting: datetime | None
    last_success: datetime | None
    rejected: int


@dataclass(frozen=True)
class DeviceFault:
    """A problem one device of the kit reported."""

    at: datetime
    device: str
    problem: str


@dataclass(frozen=True)
class DayReportData:
    """The station's end-of-day report for staff. Holds no personal data."""

    lang: Lang
    station: Station
    day: date
    generated_at: datetime
    by_item: tuple[ItemCount, ...]
    by_state: tuple[StateCount, ...]
    sync: SyncSummary
    faults: tuple[DeviceFault, ...]

    def __post_init__(self) -> None:
        _check_lang(self.lang)

    @property
    def reference(self) -> str:
        """The report's own reference (its QR code carries it): station, day, `DAY`."""
        return f"{self.station.code}-{self.day:%Y%m%d}-DAY"

    @property
    def total(self) -> int:
        return sum(entry.count for entry in self.by_item)
