"""Making the documents' data from the application's data: the catalog item, the station,
the resident, the captured materials, and the local store that holds them.

`receipt_data` / `form_data` / `day_report_data` take plain values (the samples use them
directly); `receipt_from_store`, `supplement_from_store`, `form_from_store` and
`day_report_from_store` read an application, or a day's applications, from the local
store first. The receipt and the supplement notice mask the resident here, so they never
hold more than 张*丰 and 310***********1236.

Captured materials are matched to the item's materials by their label (the material's
Chinese or English name); a capture with another label is listed under that label (or its
kind, when it has none) as an image. Nothing here logs personal data.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from kiosk.config import StationSettings
from kiosk.core.applications import Applications, ApplicationView, State
from kiosk.core.catalog import ServiceItem
from kiosk.core.identity import ETHNICITIES, Sex, mask_digits, mask_name, mask_ssn
from kiosk.documents.data import (
    Attachment,
    DayReportData,
    DeviceFault,
    Entry,
    FormData,
    ItemCount,
    Lang,
    MaterialLine,
    ReceiptData,
    StateCount,
    Station,
    SupplementData,
    SyncSummary,
)
from kiosk.documents.text import state_label, t
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.store.models import Application, OutboxEntry
from kiosk.store.models import Material as StoredMaterial


class DocumentError(DoorstepError):
    """A document cannot be made from the data given."""

    action = "This is a program error; report it with the application reference."


@dataclass(frozen=True)
class Capture:
    """A captured material of an application: its kind, label and (for the form) content."""

    kind: str
    label: str
    media_type: str = ""
    content: bytes = field(default=b"", repr=False)


def station_of(settings: StationSettings, lang: Lang) -> Station:
    return Station(
        code=settings.code,
        name=settings.name_en if lang == "en" else settings.name_zh,
        phone=settings.phone,
    )


def material_lines(
    item: ServiceItem, captures: Sequence[Capture] | None, lang: Lang
) -> tuple[MaterialLine, ...]:
    """The materials received. None: every material of the item, as its guide lists it
    (form and copies); otherwise the item's materials that were captured, each with the
    number of captures, then any other captures by label."""
    if captures is None:
        return tuple(
            MaterialLine(m.name(lang), m.form.label(lang), m.copies) for m in item.materials
        )
    counts = Counter(capture.label or t(_kind_key(capture.kind), lang) for capture in captures)
    lines = []
    for material in item.materials:
        names = {material.name_zh, material.name_en} - {""}
        count = sum(counts.pop(name, 0) for name in names)
        if count:
            lines.append(MaterialLine(material.name(lang), material.form.label(lang), count))
    image = t("form.image", lang)
    lines += [MaterialLine(label, image, count) for label, count in counts.items()]
    return tuple(lines)


def _kind_key(kind: str) -> str:
    return f"kind.{kind}" if kind in ("page", "card", "photo") else "kind.other"


def masked_applicant(resident: Mapping[str, Any] | None, lang: Lang) -> tuple[str, str]:
    """(name, ID) for the receipt, masked: 张*丰 and 310***********1236; a voucher shows
    its masked code; an unread field shows a dash."""
    dash = t("not_read", lang)
    if not resident:
        return t("id.none", lang), dash
    if resident.get("kind") == "voucher" or "code" in resident:
        code = str(resident.get("code") or "")
        return t("id.voucher", lang), mask_digits(code, 3, 4) if code else dash
    name = str(resident.get("name") or "")
    ssn = str(resident.get("ssn") or "")
    card = str(resident.get("card_number") or "")
    shown_id = mask_ssn(ssn) if ssn else (mask_digits(card, 1, 2) if card else dash)
    return (mask_name(name) if name else dash), shown_id


def applicant_entries(resident: Mapping[str, Any] | None, lang: Lang) -> tuple[Entry, ...]:
    """The resident in full, labelled, for the application form."""
    dash = t("not_read", lang)
    if not resident:
        return (Entry(t("applicant", lang), t("id.none", lang)),)
    if resident.get("kind") == "voucher" or "code" in resident:
        return (
            Entry(t("id.voucher", lang), str(resident.get("code") or dash)),
            Entry(t("id.province", lang), str(resident.get("province") or dash)),
            Entry(t("state", lang), t("id.partial", lang)),
        )

    def value(key: str) -> str:
        raw = resident.get(key)
        if raw in (None, ""):
            return dash
        if key == "sex":
            try:
                return Sex(raw).label(lang)
            except ValueError:
                return str(raw)
        if key == "ethnicity":
            return ETHNICITIES.get(str(raw), str(raw))
        return str(raw)

    keys = ("name", "sex", "ssn", "birth_date", "ethnicity", "card_number")
    entries = [Entry(t(f"id.{key}", lang), value(key)) for key in keys]
    if resident.get("missing"):
        entries.append(Entry(t("state", lang), t("id.partial", lang)))
    return tuple(entries)


def detail_entries(form: Mapping[str, Any] | None) -> tuple[Entry, ...]:
    """What the resident filled in, in the order given."""
    if not form:
        return ()
    entries = []
    for key, raw in form.items():
        if isinstance(raw, str):
            shown = raw
        elif isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
            shown = "、".join(raw)
        else:
            shown = json.dumps(raw, ensure_ascii=False)
        entries.append(Entry(str(key), shown))
    return tuple(entries)


def next_steps(item: ServiceItem, station: StationSettings, lang: Lang) -> tuple[str, ...]:
    """What happens after the receipt, in order."""
    steps = []
    if item.promised_days == 0:
        steps.append(t("step.on_the_spot", lang))
    else:
        steps.append(
            t("step.forwarded", lang, body=item.responsible_body(lang), limit=item.time_limit(lang))
        )
    steps.append(t("step.supplement", lang))
    steps.append(t("step.follow", lang, phone=station.phone))
    if item.promised_days:
        steps.append(t("step.collect", lang))
    return tuple(steps)


def receipt_data(
    item: ServiceItem,
    station: StationSettings,
    *,
    reference: str,
    accepted_at: datetime,
    resident: Mapping[str, Any] | None,
    captures: Sequence[Capture] | None,
    lang: Lang = "zh",
) -> ReceiptData:
    """The receipt for an application of `item` (see `material_lines` for `captures`)."""
    applicant, applicant_id = masked_applicant(resident, lang)
    return ReceiptData(
        lang=lang,
        station=station_of(station, lang),
        reference=reference,
        item_code=item.code,
        item_name=item.name(lang),
        responsible_body=item.responsible_body(lang),
        accepted_at=accepted_at,
        applicant=applicant,
        applicant_id=applicant_id,
        materials=material_lines(item, captures, lang),
        time_limit=item.time_limit(lang),
        next_steps=next_steps(item, station, lang),
        enquiry_phone=item.phone,
    )


def form_data(
    item: ServiceItem,
    station: StationSettings,
    *,
    reference: str,
    application_id: str,
    created_at: datetime,
    printed_at: datetime,
    state: State,
    resident: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None,
    captures: Sequence[Capture],
    lang: Lang = "zh",
) -> FormData:
    """The application form, with every capture as an attachment."""
    numbered: Counter[str] = Counter()
    attachments = []
    for capture in captures:
        name = capture.label or t(_kind_key(capture.kind), lang)
        numbered[name] += 1
        attachments.append(
            Attachment(
                caption=f"{name} · {numbered[name]}",
                kind=capture.kind,
                media_type=capture.media_type,
                content=capture.content,
            )
        )
    return FormData(
        lang=lang,
        station=station_of(station, lang),
        reference=reference,
        application_id=application_id,
        item_code=item.code,
        item_name=item.name(lang),
        category=item.category.label(lang),
        responsible_body=item.responsible_body(lang),
        created_at=created_at,
        printed_at=printed_at,
        state=state_label(state.value, lang),
        applicant=applicant_entries(resident, lang),
        details=detail_entries(details),
        materials=material_lines(item, captures, lang),
        attachments=tuple(attachments),
    )


def day_report_data(
    station: StationSettings,
    day: date,
    *,
    generated_at: datetime,
    applications: Iterable[tuple[str, str, str]],
    sync: SyncSummary,
    faults: Sequence[DeviceFault] = (),
    lang: Lang = "zh",
) -> DayReportData:
    """The day report from the day's applications as (item code, item name, state)."""
    by_item: Counter[tuple[str, str]] = Counter()
    by_state: Counter[str] = Counter()
    for code, name, state in applications:
        by_item[(code, name)] += 1
        by_state[state] += 1
    items = sorted(by_item.items(), key=lambda entry: (-entry[1], entry[0][0]))
    return DayReportData(
        lang=lang,
        station=station_of(station, lang),
        day=day,
        generated_at=generated_at,
        by_item=tuple(ItemCount(code, name, count) for (code, name), count in items),
        by_state=tuple(StateCount(state_label(s.value, lang), by_state[s.value]) for s in State),
        sync=sync,
        faults=tuple(sorted(faults, key=lambda fault: fault.at)),
    )


def device_name(family: str, lang: Lang) -> str:
    """A device family of the kit ("card_reader" …) by its name in `lang`."""
    try:
        return t(f"device.{family}", lang)
    except KeyError:
        return family


# --- from the local store ----------------------------------------------------------------


def _captures(store: Store, application_id: str, *, content: bool) -> list[Capture]:
    with store.read() as session:
        rows = session.scalars(
            select(StoredMaterial)
            .where(StoredMaterial.application_id == application_id)
            .order_by(StoredMaterial.id)
        ).all()
        found = [(row.kind, row.label, row.blob.media_type, row.blob_sha256) for row in rows]
    return [
        Capture(kind, label, media_type, store.blobs.get(sha256) if content else b"")
        for kind, label, media_type, sha256 in found
    ]


def _application(
    store: Store, station: StationSettings, application_id: str, item: ServiceItem
) -> tuple[Applications, ApplicationView]:
    applications = Applications(store, station.code)
    view = applications.get(application_id)
    if view.item_code != item.code:
        raise DocumentError(
            f"application {view.reference} is for item {view.item_code}, not {item.code}"
        )
    return applications, view


def receipt_from_store(
    store: Store,
    application_id: str,
    item: ServiceItem,
    station: StationSettings,
    *,
    now: datetime,
    lang: Lang = "zh",
) -> ReceiptData:
    """The receipt for a stored application of `item`, accepted `now`."""
    applications, view = _application(store, station, application_id, item)
    return receipt_data(
        item,
        station,
        reference=view.reference,
        accepted_at=now,
        resident=applications.resident(application_id),
        captures=_captures(store, application_id, content=False),
        lang=lang,
    )


def supplement_from_store(
    store: Store,
    application_id: str,
    station: StationSettings,
    *,
    now: datetime,
    lang: Lang = "zh",
) -> SupplementData:
    """The supplement notice (补正通知) for a stored application the district asked more
    for; DocumentError if it is not in that state."""
    applications = Applications(store, station.code)
    view = applications.get(application_id)
    if view.state is not State.NEEDS_MORE or not view.reason:
        raise DocumentError(f"application {view.reference} is not waiting for more materials")
    applicant, applicant_id = masked_applicant(applications.resident(application_id), lang)
    return SupplementData(
        lang=lang,
        station=station_of(station, lang),
        reference=view.reference,
        item_code=view.item_code,
        item_name=view.item_name_en if lang == "en" and view.item_name_en else view.item_name_zh,
        applicant=applicant,
        applicant_id=applicant_id,
        missing=view.reason,
        printed_at=now,
    )


def form_from_store(
    store: Store,
    application_id: str,
    item: ServiceItem,
    station: StationSettings,
    *,
    now: datetime,
    lang: Lang = "zh",
) -> FormData:
    """The application form for a stored application, with its captured images."""
    applications, view = _application(store, station, application_id, item)
    with store.read() as session:
        created_at = session.scalar(
            select(Application.created_at).where(Application.id == application_id)
        )
    return form_data(
        item,
        station,
        reference=view.reference,
        application_id=view.id,
        created_at=created_at,
        printed_at=now,
        state=view.state,
        resident=applications.resident(application_id),
        details=applications.form(application_id),
        captures=_captures(store, application_id, content=True),
        lang=lang,
    )


def day_report_from_store(
    store: Store,
    station: StationSettings,
    day: date,
    *,
    now: datetime,
    faults: Sequence[DeviceFault] = (),
    last_success: datetime | None = None,
    lang: Lang = "zh",
) -> DayReportData:
    """The report of `day` (the station's local day, as in the references) from the store.
    Device faults and the last successful upload come from their owners."""
    prefix = f"{station.code}-{day:%Y%m%d}-"
    name_column = Application.item_name_en if lang == "en" else Application.item_name_zh
    with store.read() as session:
        rows = session.execute(
            select(Application.item_code, name_column, Application.state)
            .where(Application.reference.startswith(prefix, autoescape=True))
            .order_by(Application.reference)
        ).all()
        waiting, oldest = session.execute(
            select(func.count(OutboxEntry.sequence), func.min(OutboxEntry.queued_at))
        ).one()
        rejected = session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.state == State.REJECTED.value)
        )
    sync = SyncSummary(
        waiting=waiting, oldest_waiting=oldest, last_success=last_success, rejected=rejected or 0
    )
    return day_report_data(
        station,
        day,
        generated_at=now,
        applications=[(code, name, state) for code, name, state in rows],
        sync=sync,
        faults=faults,
        lang=lang,
    )
