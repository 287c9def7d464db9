"""The acceptance receipt (受理回执) the resident takes home: on A4, or on an 80 mm roll.

Both say the same things: the station, the service item, the reference, when it was
accepted, the materials received (form and count), the masked applicant, the promised
time limit, what happens next, a QR code that carries the reference (printed under it
too), and the station's phone. The A4 receipt adds lines for the staff member's signature
and the station's stamp; it runs on to a second page, with the reference and "page x of
y" on each, only when the content needs it. The roll receipt is 80 mm wide (72 mm printed)
and as long as its content.
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from kiosk.documents.data import Lang, ReceiptData
from kiosk.documents.fonts import fonts
from kiosk.documents.layout import (
    A4,
    HAIRLINE,
    RULE,
    SHADE,
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
from kiosk.documents.text import format_date, format_datetime, local, t, with_code

ROLL_WIDTH = 80 * mm
ROLL_PRINTED_WIDTH = 72 * mm


def render_receipt(data: ReceiptData, *, roll: bool = False) -> bytes:
    """The receipt as PDF bytes: A4, or the 80 mm roll when `roll`."""
    return _roll(data) if roll else _a4(data)


def _item_text(data: ReceiptData) -> str:
    return with_code(data.item_name, data.item_code)


def _station_text(data: ReceiptData) -> str:
    return with_code(data.station.name, data.station.code)


def _phones(data: ReceiptData) -> list[tuple[str, str]]:
    lang = data.lang
    phones = [(t("station_phone", lang), data.station.phone)]
    if data.enquiry_phone and data.enquiry_phone != data.station.phone:
        phones.append((t("enquiry_phone", lang), data.enquiry_phone))
    return phones


def separator(lang: Lang) -> str:
    """Between a label and its value (the supplement notice uses it too)."""
    return "：" if lang == "zh" else ": "


# --- A4 --------------------------------------------------------------------------------


def _a4(data: ReceiptData) -> bytes:
    lang = data.lang
    s = Styles.make(size=10.5, title_size=24)
    width = A4.frame_width

    def label(key: str) -> Flowable:
        return para(t(key, lang), s.label)

    story: list[Flowable] = [
        para(data.station.name, s.subtitle),
        Spacer(1, 2 * mm),
        para(spaced_title(t("receipt_title", lang), lang), s.title),
        Spacer(1, 6 * mm),
        _reference_line(data, s, width),
    ]
    label_width = 26 * mm if lang == "zh" else 32 * mm
    value_width = (width - 2 * label_width) / 2
    story.append(
        ruled_table(
            [
                [label("item"), para(_item_text(data), s.cell), "", ""],
                [
                    label("applicant"),
                    para(data.applicant, s.cell),
                    label("applicant_id"),
                    para(data.applicant_id, s.cell),
                ],
                [
                    label("responsible_body"),
                    para(data.responsible_body, s.cell),
                    label("time_limit"),
                    para(data.time_limit, s.cell),
                ],
                [label("station"), para(_station_text(data), s.cell), "", ""],
            ],
            [label_width, value_width, label_width, value_width],
            label_columns=(0,),
            padding=5,
            extra=[
                ("SPAN", (1, 0), (3, 0)),
                ("SPAN", (1, 3), (3, 3)),
                ("BACKGROUND", (2, 1), (2, 2), SHADE),
            ],
        )
    )

    story.append(para(t("materials_received", lang), s.heading))
    story.append(_materials_table(data, s, width))

    story.append(para(t("next_steps", lang), s.heading))
    story += [para(f"{n}. {step}", s.step) for n, step in enumerate(data.next_steps, 1)]

    story.append(Spacer(1, 5 * mm))
    story.append(
        KeepTogether([_follow_box(data, s, width), Spacer(1, 9 * mm), _signatures(data, s, width)])
    )
    title = f"{t('receipt_title', lang)} {data.reference}"

    decorate = a4_furniture(
        f"{t('printed_by_kiosk', lang)} · {t('keep_receipt', lang)}",
        f"{t('receipt_title', lang)} · {data.reference}",
        lang,
    )
    return build_pdf(
        story,
        A4,
        title=title,
        author=data.station.name,
        subject=data.item_name,
        lang=lang,
        decorate=decorate,
    )


def _reference_line(data: ReceiptData, s: Styles, width: float) -> Flowable:
    """The reference, prominent, on the left; when it was accepted on the right."""
    lang = data.lang
    sep = separator(lang)
    accepted = f"{t('accepted_at', lang)}{sep}{format_datetime(data.accepted_at, lang)}"
    table = plain_table(
        [
            [
                para(f"{t('reference', lang)}{sep}{data.reference}", s.strong),
                para(accepted, s.cell_right),
            ]
        ],
        [width * 0.55, width * 0.45],
        padding=0,
    )
    table.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ]
    )
    return table


def _materials_table(data: ReceiptData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    number_width, count_width = 14 * mm, 18 * mm
    form_width = 34 * mm if lang == "zh" else 38 * mm
    rows: list[list[object]] = [
        [
            para(t("no", lang), s.cell_center),
            para(t("material_name", lang), s.cell),
            para(t("material_form", lang), s.cell_center),
            para(t("count", lang), s.cell_center),
        ]
    ]
    for number, material in enumerate(data.materials, 1):
        rows.append(
            [
                para(str(number), s.cell_center),
                para(material.name, s.cell),
                para(material.form, s.cell_center),
                para(str(material.count), s.cell_center),
            ]
        )
    if not data.materials:
        rows.append(["", para(t("none", lang), s.cell), "", ""])
    return ruled_table(
        rows,
        [number_width, width - number_width - form_width - count_width, form_width, count_width],
        header=True,
        padding=3.5,
    )


def _follow_box(data: ReceiptData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    qr_size = 32 * mm
    sep = separator(lang)
    code_cell = [QrCode(data.reference, qr_size), para(data.reference, s.small_center)]
    text_cell: list[Flowable] = [
        para(t("follow", lang), s.heading.clone("follow", spaceBefore=0)),
        para(t("follow_text", lang), s.body),
        Spacer(1, 2 * mm),
    ]
    text_cell += [para(f"{name}{sep}{number}", s.strong) for name, number in _phones(data)]
    return ruled_table(
        [[code_cell, text_cell]],
        [qr_size + 10 * mm, width - qr_size - 10 * mm],
        padding=6,
        extra=[("ALIGN", (0, 0), (0, 0), "CENTER"), ("LEFTPADDING", (1, 0), (1, 0), 4 * mm)],
    )


def _signatures(data: ReceiptData, s: Styles, width: float) -> Flowable:
    """受理人（签名）：＿＿＿＿  on the left; the stamp's place and the date on the right."""
    lang = data.lang
    day = format_date(local(data.accepted_at).date(), lang)
    label = t("accepted_by", lang) + separator(lang)
    label_width = fonts().width(label, s.body.fontSize) + 4 * mm
    line_width = 48 * mm
    right_width = width - label_width - line_width
    table = plain_table(
        [
            [para(label, s.body), "", para(t("stamp", lang), s.body)],
            ["", "", Spacer(1, 14 * mm)],
            ["", "", para(day, s.body)],
        ],
        [label_width, line_width, right_width],
        padding=0,
    )
    table.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LINEBELOW", (1, 0), (1, 0), HAIRLINE, RULE),
            ("LEFTPADDING", (2, 0), (2, -1), 22 * mm),
        ]
    )
    return table


# --- 80 mm roll ------------------------------------------------------------------------


def _roll(data: ReceiptData) -> bytes:
    lang = data.lang
    s = Styles.make(size=8.5, title_size=14, hang=True)
    width = ROLL_PRINTED_WIDTH
    label_width = 15 * mm if lang == "zh" else 19 * mm

    def pairs(rows: list[tuple[str, str]]) -> Flowable:
        return plain_table(
            [
                [para(name, s.small.clone("roll_label", rightIndent=0)), para(value, s.cell)]
                for name, value in rows
            ],
            [label_width, width - label_width],
        )

    def section(key: str) -> Flowable:
        return para(t(key, lang), s.heading.clone("roll_heading", spaceBefore=2, spaceAfter=2))

    story: list[Flowable] = [
        para(data.station.name, s.cell_center),
        Spacer(1, 1 * mm),
        para(t("receipt_title", lang), s.title),
        Rule(width=0.8),
        para(t("reference", lang), s.small_center),
        para(data.reference, s.subtitle.clone("roll_reference", fontSize=12, leading=15)),
        Spacer(1, 1 * mm),
        pairs(
            [
                (t("accepted_at", lang), format_datetime(data.accepted_at, lang)),
                (t("item", lang), _item_text(data)),
                (t("applicant", lang), data.applicant),
                (t("applicant_id", lang), data.applicant_id),
                (t("responsible_body", lang), data.responsible_body),
                (t("time_limit", lang), data.time_limit),
                (t("station", lang), _station_text(data)),
            ]
        ),
        Rule(dash=(2, 2)),
        section("materials_received"),
    ]
    if data.materials:
        story += [
            para(
                f"{n}. {m.name}（{m.form}）×{m.count}"
                if lang == "zh"
                else f"{n}. {m.name} ({m.form}) ×{m.count}",
                s.step,
            )
            for n, m in enumerate(data.materials, 1)
        ]
    else:
        story.append(para(t("none", lang), s.body))
    story += [Rule(dash=(2, 2)), section("next_steps")]
    story += [para(f"{n}. {step}", s.step) for n, step in enumerate(data.next_steps, 1)]
    story += [
        Rule(dash=(2, 2)),
        Spacer(1, 1 * mm),
        centered(QrCode(data.reference, 36 * mm), width),
        para(data.reference, s.cell_center),
        Spacer(1, 1 * mm),
        para(t("follow_text", lang), s.small_center),
        Spacer(1, 1.5 * mm),
        pairs(_phones(data)),
        Spacer(1, 5 * mm),
        para(t("accepted_by", lang) + separator(lang), s.small),
        Spacer(1, 7 * mm),
        Rule(space=1),
        Spacer(1, 2 * mm),
        para(t("keep_receipt", lang), s.small_center),
    ]
    top, bottom = 5 * mm, 6 * mm
    side = (ROLL_WIDTH - ROLL_PRINTED_WIDTH) / 2
    # The page is as long as the content (plus a little, as the measure is an estimate).
    height = story_height(story, width) + top + bottom + 4 * mm
    paper = Paper(ROLL_WIDTH, height, left=side, right=side, top=top, bottom=bottom)
    title = f"{t('receipt_title', lang)} {data.reference}"
    return build_pdf(
        story,
        paper,
        title=title,
        author=data.station.name,
        subject=data.item_name,
        lang=lang,
        decorate=lambda canvas, page, pages: None,
    )


def centered(flowable: Flowable, width: float) -> Flowable:
    """`flowable` centred across `width` (the supplement notice uses it too)."""
    table = plain_table([[flowable]], [width], padding=0)
    table.setStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("RIGHTPADDING", (0, 0), (-1, -1), 0)])
    return table
