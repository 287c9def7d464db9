"""The application form (申请表) for the district's file.

First the form itself: the application (reference, id, item, times, state), the resident
in full, what they filled in, the materials, and the resident's declaration with places
to sign; then every captured image, each captioned, at a size that keeps it legible (a
card at about 1.3 times life size, a photo at passport-photo size, a page as large as the
paper allows). Images are scaled down to 200 dpi at their printed size and embedded as
JPEG, so a form stays a few hundred kilobytes. A capture that is not a readable image is
listed with its type, size and hash instead. The reference is in a QR code at the top and
on every page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Image, KeepTogether, Spacer

from kiosk.documents.data import Attachment, Entry, FormData, Lang
from kiosk.documents.fonts import fonts
from kiosk.documents.layout import (
    A4,
    HAIRLINE,
    MUTED,
    RULE,
    SHADE,
    QrCode,
    Styles,
    a4_furniture,
    build_pdf,
    para,
    plain_table,
    ruled_table,
)
from kiosk.documents.text import format_datetime, t, with_code

#: Resolution images are kept at, at their printed size.
IMAGE_DPI = 200
#: Largest printed size (width, height) by capture kind; anything else is a page.
_PRINTED_SIZE = {"card": (110 * mm, 70 * mm), "photo": (35 * mm, 49 * mm)}
_PAGE_SIZE = (A4.frame_width, 190 * mm)


def render_form(data: FormData) -> bytes:
    """The application form as PDF bytes (A4)."""
    lang = data.lang
    s = Styles.make(size=10, title_size=18)
    width = A4.frame_width
    sep = "：" if lang == "zh" else ": "
    item = with_code(data.item_name, data.item_code)
    station = with_code(data.station.name, data.station.code)

    story: list[Flowable] = [_title_block(data, s, width)]

    story.append(para(t("application_section", lang), s.heading))
    application = [
        Entry(t("reference", lang), data.reference),
        Entry(t("state", lang), data.state),
        Entry(t("item", lang), item),
        Entry(t("category", lang), data.category),
        Entry(t("responsible_body", lang), data.responsible_body),
        Entry(t("created_at", lang), format_datetime(data.created_at, lang)),
        Entry(t("printed_at", lang), format_datetime(data.printed_at, lang)),
        Entry(t("station", lang), station),
        Entry(t("application_id", lang), data.application_id),
    ]
    wide = {t(key, lang) for key in ("item", "station", "application_id")}
    story.append(_entries_table(application, s, width, wide=wide))

    story.append(para(t("applicant_section", lang), s.heading))
    story.append(_entries_table(list(data.applicant), s, width))

    if data.details:
        story.append(para(t("details_section", lang), s.heading))
        story.append(_entries_table(list(data.details), s, width, columns=1))

    story.append(para(t("materials_section", lang), s.heading))
    story.append(_materials(data, s, width))

    story.append(Spacer(1, 6 * mm))
    story.append(
        KeepTogether(
            [
                para(t("declaration", lang), s.body),
                Spacer(1, 10 * mm),
                _signature_line(
                    [f"{t('applicant_signature', lang)}{sep}", f"{t('date', lang)}{sep}"], s, width
                ),
            ]
        )
    )

    story.append(CondPageBreak(80 * mm))
    story.append(para(t("images_section", lang), s.heading))
    if not data.attachments:
        story.append(para(t("no_images", lang), s.body))
    for number, attachment in enumerate(data.attachments, 1):
        story.append(_attachment(number, attachment, s, lang))

    form = t("form_title", lang)
    decorate = a4_furniture(
        f"{data.station.name} · {form} · {data.reference}", f"{form} · {data.reference}", lang
    )
    return build_pdf(
        story,
        A4,
        title=f"{t('form_title', lang)} {data.reference}",
        author=data.station.name,
        subject=data.item_name,
        lang=lang,
        decorate=decorate,
    )


def _title_block(data: FormData, s: Styles, width: float) -> Flowable:
    lang = data.lang
    qr_size = 28 * mm
    left = [
        para(data.station.name, s.body.clone("form_station", textColor=MUTED)),
        Spacer(1, 2 * mm),
        para(
            f"{data.item_name} {t('form_title', lang)}"
            if lang == "zh"
            else f"{t('form_title', lang)}: {data.item_name}",
            s.title.clone("form_title", alignment=0),
        ),
        para(t("form_subtitle", lang), s.body.clone("form_sub", textColor=MUTED)),
    ]
    right = [QrCode(data.reference, qr_size), para(data.reference, s.small_center)]
    table = plain_table([[left, right]], [width - qr_size - 12 * mm, qr_size + 12 * mm], padding=0)
    table.setStyle(
        [
            ("VALIGN", (0, 0), (0, 0), "MIDDLE"),
            ("ALIGN", (1, 0), (1, 0), "CENTER"),
            ("LINEBELOW", (0, 0), (-1, 0), 1.2, RULE),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 3 * mm),
        ]
    )
    return table


def _entries_table(
    entries: list[Entry],
    s: Styles,
    width: float,
    *,
    columns: int = 2,
    wide: set[str] | frozenset[str] = frozenset(),
) -> Flowable:
    """Labelled values, `columns` pairs a row, labels shaded; entries whose label is in
    `wide` (and a last odd one) take the rest of their row."""
    label_width = 30 * mm
    value_width = (width - columns * label_width) / columns
    rows: list[list[object]] = []
    commands: list[tuple[object, ...]] = []
    pending: list[object] = []

    def flush() -> None:
        if not pending:
            return
        row = len(rows)
        rows.append(pending + [""] * (2 * columns - len(pending)))
        commands.extend(
            ("BACKGROUND", (column, row), (column, row), SHADE)
            for column in range(0, len(pending), 2)
        )
        if len(pending) < 2 * columns:
            commands.append(("SPAN", (len(pending) - 1, row), (-1, row)))
        pending.clear()

    for entry in entries:
        if entry.label in wide:
            flush()
        pending.extend([para(entry.label, s.label), para(entry.value, s.cell)])
        if entry.label in wide or len(pending) == 2 * columns:
            flush()
    flush()
    return ruled_table(rows, [label_width, value_width] * columns, padding=4, extra=commands)


def _materials(data: FormData, s: Styles, width: float) -> Flowable:
    lang = data.lang
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
    return ruled_table(rows, [14 * mm, width - 70 * mm, 38 * mm, 18 * mm], header=True, padding=3.5)


def _signature_line(labels: list[str], s: Styles, width: float) -> Flowable:
    """Each label followed by a line to write on, the pairs spread across the width."""
    font_set = fonts()
    label_widths = [font_set.width(label, s.body.fontSize) + 4 for label in labels]
    gap = 12 * mm
    line = (width - sum(label_widths) - gap * (len(labels) - 1)) / len(labels)
    cells: list[object] = []
    widths: list[float] = []
    for index, (label, label_width) in enumerate(zip(labels, label_widths, strict=True)):
        if index:
            cells.append("")
            widths.append(gap)
        cells += [para(label, s.body), ""]
        widths += [label_width, line]
    table = plain_table([cells], widths, padding=0)
    table.setStyle(
        [("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]
        + [("LINEBELOW", (c, 0), (c, 0), HAIRLINE, RULE) for c in range(1, len(cells), 3)]
    )
    return table


@dataclass(frozen=True)
class _Prepared:
    jpeg: bytes
    width: float  # printed, points
    height: float


def _prepare(attachment: Attachment) -> _Prepared | None:
    """The image scaled to IMAGE_DPI at its printed size, as JPEG; None if unreadable."""
    if not attachment.media_type.startswith("image/"):
        return None
    max_width, max_height = _PRINTED_SIZE.get(attachment.kind, _PAGE_SIZE)
    try:
        with PILImage.open(io.BytesIO(attachment.content)) as source:
            image = ImageOps.exif_transpose(source)
            image = image.convert("L" if image.mode in ("1", "L", "I;16", "I") else "RGB")
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None
    scale = min(max_width / image.width, max_height / image.height)
    printed = (image.width * scale, image.height * scale)
    pixels = (
        max(1, round(printed[0] / 72 * IMAGE_DPI)),
        max(1, round(printed[1] / 72 * IMAGE_DPI)),
    )
    if pixels[0] < image.width:
        image = image.resize(pixels, PILImage.Resampling.LANCZOS)
    output = io.BytesIO()
    image.save(output, "JPEG", quality=85, optimize=True)
    return _Prepared(output.getvalue(), *printed)


def _attachment(number: int, attachment: Attachment, s: Styles, lang: Lang) -> Flowable:
    caption = para(f"{number}. {attachment.caption}", s.body.clone("caption", spaceAfter=4))
    prepared = _prepare(attachment)
    if prepared is None:
        note = t(
            "image_unreadable",
            lang,
            media_type=attachment.media_type or "?",
            size=len(attachment.content),
            sha256=attachment.sha256[:16] + "…",
        )
        return KeepTogether([caption, para(note, s.small), Spacer(1, 5 * mm)])
    image = Image(io.BytesIO(prepared.jpeg), width=prepared.width, height=prepared.height)
    image.hAlign = "LEFT"
    framed = plain_table([[image]], [prepared.width], padding=0)
    framed.setStyle(
        [("RIGHTPADDING", (0, 0), (-1, -1), 0), ("BOX", (0, 0), (-1, -1), HAIRLINE, MUTED)]
    )
    return KeepTogether([caption, framed, Spacer(1, 6 * mm)])
