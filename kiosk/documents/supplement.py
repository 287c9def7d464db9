"""The supplement notice (补正通知): printed at the station for a resident whose
application the district asked more for, when they come back (from "my applications",
or by staff). It says what is missing in the agent's words, which application it is
about (the reference, also as a QR code, and the item), the masked applicant, and what
to bring; on A4, or on the 80 mm roll, with the receipt's layout and fonts
(kiosk.documents.layout, kiosk.documents.receipt).
"""

from __future__ import annotations

from datetime import datetime

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from kiosk.config import StationSettings
from kiosk.documents.build import supplement_from_store
from kiosk.documents.data import Lang, SupplementData
from kiosk.documents.layout import (
    A4,
    Paper,
    QrCode,
    Rule,
    Styles,
    a4_furniture,
    build_pdf,
    para,
    plain_table,
    ruled_table,
    spaced_title,
    story_height,
)
from kiosk.documents.receipt import ROLL_PRINTED_WIDTH, ROLL_WIDTH, centered, separator
from kiosk.documents.text import format_datetime, t, with_code
from kiosk.store.db import Store


def render_supplement(data: SupplementData, *, roll: bool = False) -> bytes:
    """The supplement notice as PDF bytes: A4, or the 80 mm roll when `roll`."""
    return _roll(data) if roll else _a4(data)


def supplement_pdf(
    store: Store,
    application_id: str,
    station: StationSettings,
    *,
    roll: bool,
    lang: Lang,
    now: datetime,
) -> tuple[bytes, str]:
    """The notice for a stored application waiting for more, and its reference: what the
    resident's "my applications" and staff mode send to the printer (off the main
    thread)."""
    data = supplement_from_store(store, application_id, station, now=now, lang=lang)
    return render_supplement(data, roll=roll), data.reference


def _rows(data: SupplementData) -> list[tuple[str, str]]:
    lang = data.lang
    return [
        (t("reference", lang), data.reference),
        (t("item", lang), with_code(data.item_name, data.item_code)),
        (t("applicant", lang), data.applicant),
        (t("applicant_id", lang), data.applicant_id),
        (t("station", lang), with_code(data.station.name, data.station.code)),
        (t("printed_at", lang), format_datetime(data.printed_at, lang)),
    ]


def _title(data: SupplementData) -> str:
    return f"{t('supplement_title', data.lang)} {data.reference}"


def _a4(data: SupplementData) -> bytes:
    lang = data.lang
    s = Styles.make(size=10.5, title_size=24)
    width = A4.frame_width
    label_width = 30 * mm if lang == "zh" else 34 * mm
    qr_size = 32 * mm
    story: list[Flowable] = [
        para(data.station.name, s.subtitle),
        Spacer(1, 2 * mm),
        para(spaced_title(t("supplement_title", lang), lang), s.title),
        Spacer(1, 6 * mm),
        para(t("supplement_intro", lang), s.body),
        Spacer(1, 4 * mm),
        ruled_table(
            [[para(name, s.label), para(value, s.cell)] for name, value in _rows(data)],
            [label_width, width - label_width],
            label_columns=(0,),
            padding=5,
        ),
        para(t("supplement_missing", lang), s.heading),
        ruled_table([[para(data.missing, s.strong)]], [width], padding=8),
        Spacer(1, 6 * mm),
        ruled_table(
            [
                [
                    [QrCode(data.reference, qr_size), para(data.reference, s.small_center)],
                    [
                        para(t("follow_text", lang), s.body),
                        Spacer(1, 2 * mm),
                        para(
                            f"{t('station_phone', lang)}{separator(lang)}{data.station.phone}",
                            s.strong,
                        ),
                    ],
                ]
            ],
            [qr_size + 10 * mm, width - qr_size - 10 * mm],
            padding=6,
            extra=[("ALIGN", (0, 0), (0, 0), "CENTER"), ("LEFTPADDING", (1, 0), (1, 0), 4 * mm)],
        ),
    ]
    decorate = a4_furniture(
        f"{t('supplement_printed', lang)} · {t('supplement_keep', lang)}",
        f"{t('supplement_title', lang)} · {data.reference}",
        lang,
    )
    return build_pdf(
        story, A4, title=_title(data), author=data.station.name, subject=data.item_name,
        lang=lang, decorate=decorate,
    )


def _roll(data: SupplementData) -> bytes:
    lang = data.lang
    s = Styles.make(size=8.5, title_size=14, hang=True)
    width = ROLL_PRINTED_WIDTH
    label_width = 15 * mm if lang == "zh" else 19 * mm
    story: list[Flowable] = [
        para(data.station.name, s.cell_center),
        Spacer(1, 1 * mm),
        para(t("supplement_title", lang), s.title),
        Rule(width=0.8),
        para(t("supplement_intro", lang), s.small),
        Spacer(1, 1 * mm),
        plain_table(
            [
                [para(name, s.small.clone("roll_label", rightIndent=0)), para(value, s.cell)]
                for name, value in _rows(data)
            ],
            [label_width, width - label_width],
        ),
        Rule(dash=(2, 2)),
        para(t("supplement_missing", lang), s.heading.clone("roll_heading", spaceBefore=2,
                                                            spaceAfter=2)),
        para(data.missing, s.strong),
        Rule(dash=(2, 2)),
        Spacer(1, 1 * mm),
        centered(QrCode(data.reference, 30 * mm), width),
        para(data.reference, s.cell_center),
        Spacer(1, 1 * mm),
        para(f"{t('station_phone', lang)}{separator(lang)}{data.station.phone}", s.small_center),
        Spacer(1, 2 * mm),
        para(t("supplement_keep", lang), s.small_center),
    ]
    top, bottom = 5 * mm, 6 * mm
    side = (ROLL_WIDTH - ROLL_PRINTED_WIDTH) / 2
    height = story_height(story, width) + top + bottom + 4 * mm
    paper = Paper(ROLL_WIDTH, height, left=side, right=side, top=top, bottom=bottom)
    return build_pdf(
        story, paper, title=_title(data), author=data.station.name, subject=data.item_name,
        lang=lang, decorate=lambda canvas, page, pages: None,
    )
