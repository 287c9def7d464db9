"""The printer test page (`kiosk print test-page`): proof that the printer, its paper and
the whole path from the kiosk through the print system work.

It shows the station, the printer's name, the time, a line of Chinese and of English in
the documents' font, a scale of greys, a 10 cm ruler (to check the printer does not scale
the page) and a QR code the scanner gun can read back. It holds no personal data.
"""

from __future__ import annotations

from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from kiosk.config import StationSettings
from kiosk.documents.fonts import FONT
from kiosk.documents.layout import A4, INK, QrCode, Rule, Styles, a4_furniture, build_pdf, para

#: What the test page's QR code says, before the time: `DOORSTEP-TEST <station> <time>`.
CODE_PREFIX = "DOORSTEP-TEST"


def test_page_code(station_code: str, moment: datetime) -> str:
    return f"{CODE_PREFIX} {station_code} {moment:%Y%m%dT%H%M%S}"


def render_test_page(station: StationSettings, printer: str, moment: datetime) -> bytes:
    """The test page as PDF bytes (A4)."""
    s = Styles.make()
    code = test_page_code(station.code, moment)
    story: list[Flowable] = [
        para(f"{station.name_zh} ({station.code})", s.subtitle),
        para("打印测试页 · Printer test page", s.title),
        Rule(width=1.2, space=6),
        para(f"打印机 Printer: {printer}", s.body),
        para(f"时间 Time: {moment:%Y-%m-%d %H:%M:%S %z}", s.body),
        para(f"服务站电话 Station phone: {station.phone}", s.body),
        Spacer(1, 6 * mm),
        para("中文：受理回执、社会保障卡、医疗保险，字迹应清晰完整。", s.strong),
        para("English: every letter should be sharp and complete, 0123456789.", s.strong),
        Spacer(1, 6 * mm),
        _greys(A4.frame_width),
        Spacer(1, 6 * mm),
        _Ruler(),
        para("此线应为 10 厘米 · This line should measure 10 cm", s.small),
        Spacer(1, 8 * mm),
        QrCode(code, 40 * mm),
        para(code, s.small),
    ]
    return build_pdf(
        story,
        A4,
        title="打印测试页 Printer test page",
        author=station.name_zh,
        subject=code,
        lang="zh",
        decorate=a4_furniture(f"{station.name_zh} · {CODE_PREFIX}", "test page", "zh"),
    )


def _greys(width: float) -> Table:
    levels = [0.0, 0.2, 0.4, 0.6, 0.8, 0.95]
    table = Table(
        [[""] * len(levels)], colWidths=[width / len(levels)] * len(levels), rowHeights=[12 * mm]
    )
    table.setStyle(
        TableStyle(
            [("BACKGROUND", (i, 0), (i, 0), _grey(level)) for i, level in enumerate(levels)]
            + [("BOX", (0, 0), (-1, -1), 0.5, INK), ("FONTNAME", (0, 0), (-1, -1), FONT)]
        )
    )
    return table


def _grey(level: float) -> colors.Color:
    return colors.Color(level, level, level)


class _Ruler(Flowable):
    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 100 * mm, 6 * mm

    def draw(self) -> None:
        canvas = self.canv
        canvas.setLineWidth(0.8)
        canvas.line(0, 0, 100 * mm, 0)
        for centimetre in range(11):
            x = centimetre * 10 * mm
            canvas.line(x, 0, x, 5 * mm if centimetre % 5 == 0 else 3 * mm)


