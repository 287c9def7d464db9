"""The station's end-of-day report for staff (服务站日报): how many applications the day
had, by state (a table and a bar chart) and by service item, where the upload to the
district stands, and what the devices of the kit reported. It holds no personal data. A
QR code carries the report's own reference (`DayReportData.reference`).
"""

from __future__ import annotations

from datetime import datetime

from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from kiosk.documents.data import DayReportData
from kiosk.documents.layout import (
    A4,
    MUTED,
    RULE,
    SHADE,
    QrCode,
    Styles,
    a4_furniture,
    bar_chart,
    build_pdf,
    para,
    plain_table,
    ruled_table,
)
from kiosk.documents.text import format_date, format_datetime, local, t, with_code


def render_day_report(data: DayReportData) -> bytes:
    """The day report as PDF bytes (A4)."""
    lang = data.lang
    s = Styles.make(size=10, title_size=18)
    width = A4.frame_width

    story: list[Flowable] = [_title_block(data, s, width), Spacer(1, 5 * mm), _summary(data, s)]

    story.append(para(t("by_state", lang), s.heading))
    story.append(_by_state(data, s, width))

    story.append(para(t("by_item", lang), s.heading))
    story.append(_by_item(data, s, width))

    story.append(KeepTogether([para(t("sync", lang), s.heading), _sync(data, s, width)]))
    story.append(para(t("faults", lang), s.heading))
    story.append(_faults(data, s, width))

    report = t("report_title", lang)
    decorate = a4_furniture(
        f"{data.station.name} · {report} · {data.reference}", f"{report} · {data.reference}", lang
    )
    return build_pdf(
        story,
        A4,
        title=f"{t('report_title', lang)} {data.reference}",
        author=data.station.name,
        subject=t("report_title", lang),
        lang=lang,
        decorate=decorate,
    )


def _title_block(data: DayReportData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    sep = "：" if lang == "zh" else ": "
    qr_size = 24 * mm
    left = [
        para(
            with_code(data.station.name, data.station.code),
            s.body.clone("report_station", textColor=MUTED),
        ),
        Spacer(1, 2 * mm),
        para(t("report_title", lang), s.title.clone("report_title", alignment=0)),
        Spacer(1, 1 * mm),
        para(f"{t('day', lang)}{sep}{format_date(data.day, lang)}", s.strong),
        para(
            f"{t('generated_at', lang)}{sep}{format_datetime(data.generated_at, lang)} · "
            f"{t('internal', lang)}",
            s.small,
        ),
    ]
    right = [QrCode(data.reference, qr_size), para(data.reference, s.small_center)]
    table = plain_table([[left, right]], [width - qr_size - 16 * mm, qr_size + 16 * mm], padding=0)
    table.setStyle(
        [
            ("VALIGN", (0, 0), (0, 0), "BOTTOM"),
            ("ALIGN", (1, 0), (1, 0), "CENTER"),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("LINEBELOW", (0, 0), (-1, 0), 1.2, RULE),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 3 * mm),
        ]
    )
    return table


def _summary(data: DayReportData, s: Styles) -> Flowable:
    lang = data.lang
    figure = s.title.clone("figure", fontSize=18, leading=23)
    figures = [
        (t("total", lang), data.total),
        (t("waiting", lang), data.sync.waiting),
        (t("rejected", lang), data.sync.rejected),
        (t("faults", lang), len(data.faults)),
    ]
    cells = [[para(label, s.small_center), para(str(value), figure)] for label, value in figures]
    return ruled_table([cells], [A4.frame_width / 4] * 4, padding=4)


def _by_state(data: DayReportData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    table_width = 62 * mm
    rows: list[list[object]] = [
        [para(t("state", lang), s.cell), para(t("count", lang), s.cell_right)]
    ]
    rows += [[para(e.label, s.cell), para(str(e.count), s.cell_right)] for e in data.by_state]
    rows.append([para(t("total", lang), s.cell), para(str(data.total), s.cell_right)])
    table = ruled_table(
        rows,
        [table_width - 20 * mm, 20 * mm],
        header=True,
        padding=1.8,
        extra=[("BACKGROUND", (0, -1), (-1, -1), SHADE)],
    )
    chart = _chart(data, width - table_width - 6 * mm, 56 * mm)
    layout = plain_table(
        [[table, chart]], [table_width + 6 * mm, width - table_width - 6 * mm], padding=0
    )
    layout.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])
    return layout


def _chart(data: DayReportData, width: float, height: float) -> Drawing:
    """Applications by state as horizontal bars, first state on top, counts at the ends."""
    return bar_chart(
        [entry.label for entry in data.by_state],
        [entry.count for entry in data.by_state],
        width,
        height,
        label_room=34 * mm if data.lang == "en" else 26 * mm,
    )


def _by_item(data: DayReportData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    if not data.by_item:
        return para(t("no_applications", lang), s.body)
    rows: list[list[object]] = [
        [
            para(t("no", lang), s.cell_center),
            para(t("item_code", lang), s.cell),
            para(t("item", lang), s.cell),
            para(t("count", lang), s.cell_right),
            para(t("share", lang), s.cell_right),
        ]
    ]
    total = data.total or 1
    for number, entry in enumerate(data.by_item, 1):
        rows.append(
            [
                para(str(number), s.cell_center),
                para(entry.code, s.cell),
                para(entry.name, s.cell),
                para(str(entry.count), s.cell_right),
                para(f"{entry.count / total:.0%}", s.cell_right),
            ]
        )
    widths = [12 * mm, 24 * mm, width - 12 * mm - 24 * mm - 36 * mm, 18 * mm, 18 * mm]
    return ruled_table(rows, widths, header=True, padding=1.8)


def _sync(data: DayReportData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    sync = data.sync

    def when(moment: datetime | None) -> str:
        return format_datetime(moment, lang) if moment is not None else t("never", lang)

    rows = [
        [
            para(t("waiting", lang), s.label),
            para(str(sync.waiting), s.cell),
            para(t("oldest_waiting", lang), s.label),
            para(when(sync.oldest_waiting), s.cell),
        ],
        [
            para(t("rejected", lang), s.label),
            para(str(sync.rejected), s.cell),
            para(t("last_success", lang), s.label),
            para(when(sync.last_success), s.cell),
        ],
    ]
    label = 46 * mm if lang == "en" else 34 * mm
    value = (width - 2 * label) / 2
    return ruled_table(rows, [label, value, label, value], label_columns=(0, 2), padding=2.5)


def _faults(data: DayReportData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    if not data.faults:
        return para(t("no_faults", lang), s.body)
    rows: list[list[object]] = [
        [
            para(t("time", lang), s.cell),
            para(t("device", lang), s.cell),
            para(t("problem", lang), s.cell),
        ]
    ]
    rows += [
        [
            para(f"{local(fault.at):%H:%M}", s.cell),
            para(fault.device, s.cell),
            para(fault.problem, s.cell),
        ]
        for fault in data.faults
    ]
    return ruled_table(rows, [20 * mm, 34 * mm, width - 54 * mm], header=True, padding=1.8)
