"""Receipt speed: milliseconds to render the sample receipt to PDF bytes (median of 50).

`receipt_a4_ms` / `receipt_roll_ms`: `render_receipt(sample_receipt("zh"))`, on A4 and on
the 80 mm roll: paragraphs, tables, wrapping, the QR code, page furniture, the fitted roll
height, and the font subset embedded. The floor is a reportlab canvas that draws the same
text, line by line at fixed places, in the same font (so embedding its subset costs the
same), with no layout work at all. Fonts are loaded before timing, in both.

Target: a receipt in under 150 ms, within 3× the floor.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from bench.common import median_seconds, report
from kiosk.documents import ReceiptData, render_receipt, sample_receipt
from kiosk.documents.fonts import FONT, fonts
from kiosk.documents.text import format_datetime, t

REPEATS = 50
TARGET = "< 150 ms and ratio ≤ 3"


def receipt_lines(data: ReceiptData) -> list[str]:
    """Every text the receipt prints, one string each."""
    lang = data.lang
    lines = [
        data.station.name,
        t("receipt_title", lang),
        f"{t('reference', lang)}：{data.reference}",
        f"{t('accepted_at', lang)}：{format_datetime(data.accepted_at, lang)}",
        f"{t('item', lang)} {data.item_name} ({data.item_code})",
        f"{t('applicant', lang)} {data.applicant} {t('applicant_id', lang)} {data.applicant_id}",
        f"{t('responsible_body', lang)} {data.responsible_body}",
        f"{t('time_limit', lang)} {data.time_limit}",
        f"{t('station', lang)} {data.station.name} ({data.station.code})",
        t("materials_received", lang),
        " ".join(t(key, lang) for key in ("no", "material_name", "material_form", "count")),
    ]
    lines += [f"{n} {m.name} {m.form} {m.count}" for n, m in enumerate(data.materials, 1)]
    lines.append(t("next_steps", lang))
    lines += [f"{n}. {step}" for n, step in enumerate(data.next_steps, 1)]
    lines += [
        data.reference,
        t("follow", lang),
        t("follow_text", lang),
        f"{t('station_phone', lang)}：{data.station.phone}",
        f"{t('enquiry_phone', lang)}：{data.enquiry_phone}",
        t("accepted_by", lang),
        t("stamp", lang),
        f"{t('printed_by_kiosk', lang)} · {t('keep_receipt', lang)}",
        t("page_of", lang, page=1, pages=1),
    ]
    return lines


def plain_page(lines: list[str]) -> bytes:
    """The floor: the same text drawn at fixed places on one page, no layout."""
    output = io.BytesIO()
    canvas = Canvas(output, pagesize=A4, initialFontName=FONT, invariant=True)
    canvas.setFont(FONT, 10.5)
    y = A4[1] - 60
    for line in lines:
        canvas.drawString(56, y, line)
        y -= 16
    canvas.showPage()
    canvas.save()
    return output.getvalue()


def main() -> None:
    fonts()  # loaded once per process, before timing
    data = sample_receipt("zh")
    lines = receipt_lines(data)
    floor = median_seconds(lambda: plain_page(lines), REPEATS)
    a4 = median_seconds(lambda: render_receipt(data), REPEATS)
    roll = median_seconds(lambda: render_receipt(data, roll=True), REPEATS)
    report("receipt_a4_ms", a4 * 1000, floor * 1000, "ms", TARGET)
    report("receipt_roll_ms", roll * 1000, floor * 1000, "ms", TARGET)


if __name__ == "__main__":
    main()
