"""What the documents share: paper, type styles, ruled tables, bar charts, the QR code,
page furniture (header, footer, "page x of y") and the build that turns a story into PDF bytes.

The look is a plain government form: black on white, one typeface, ruled tables with
shaded label cells, generous line spacing; grey only for secondary text.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from reportlab.graphics.barcode import qrencoder
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from kiosk import __version__
from kiosk.documents.data import Lang
from kiosk.documents.fonts import FONT, RENDER_LOCK, fonts
from kiosk.documents.text import t

INK = colors.black
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#222222")
SHADE = colors.HexColor("#EEEEEE")
BAR = colors.HexColor("#4A4A4A")
HAIRLINE = 0.5

#: The language tag written into each PDF (screen readers, search).
PDF_LANG = {"zh": "zh-CN", "en": "en"}


@dataclass(frozen=True)
class Styles:
    """The paragraph styles of one document, for one language and one base size."""

    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    label: ParagraphStyle
    cell: ParagraphStyle
    cell_center: ParagraphStyle
    cell_right: ParagraphStyle
    small: ParagraphStyle
    small_center: ParagraphStyle
    strong: ParagraphStyle
    step: ParagraphStyle  # a numbered item: "1. " hangs, its lines align after it

    @classmethod
    @cache
    def make(cls, size: float = 10.5, title_size: float = 22, *, hang: bool = False) -> Styles:
        """`hang`: keep room at the right for punctuation that hangs past the line's end
        (Chinese line breaking never starts a line with 。，）and lets it hang instead), for
        paper with no margin to hang into (the roll)."""

        def style(name: str, **kw: Any) -> ParagraphStyle:
            base: dict[str, Any] = {
                "fontName": FONT,
                "fontSize": size,
                "leading": size * 1.45,
                "textColor": INK,
                "wordWrap": "CJK",  # breaks between ideographs, and between Latin words
                "splitLongWords": True,
            }
            base.update(kw)
            if hang:
                base["rightIndent"] = base["fontSize"]
                if base.get("alignment") == TA_CENTER:
                    base["leftIndent"] = base["fontSize"]
            return ParagraphStyle(name, **base)

        small = size * 0.82
        return cls(
            title=style(
                "title", fontSize=title_size, leading=title_size * 1.3, alignment=TA_CENTER
            ),
            subtitle=style(
                "subtitle", fontSize=size * 1.2, leading=size * 1.6, alignment=TA_CENTER
            ),
            heading=style(
                "heading",
                fontSize=size * 1.15,
                leading=size * 1.5,
                spaceBefore=size * 1.1,
                spaceAfter=size * 0.45,
                keepWithNext=True,
            ),
            body=style("body"),
            label=style("label", textColor=INK),
            cell=style("cell", leading=size * 1.35),
            cell_center=style("cell_center", leading=size * 1.35, alignment=TA_CENTER),
            cell_right=style("cell_right", leading=size * 1.35, alignment=TA_RIGHT),
            small=style("small", fontSize=small, leading=small * 1.4, textColor=MUTED),
            small_center=style(
                "small_center",
                fontSize=small,
                leading=small * 1.4,
                textColor=MUTED,
                alignment=TA_CENTER,
            ),
            strong=style("strong", fontSize=size * 1.25, leading=size * 1.6, alignment=TA_LEFT),
            step=style("step", leftIndent=size * 1.2, firstLineIndent=-size * 1.2, spaceAfter=2),
        )


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped; characters the shipped font lacks in a fallback)."""
    return Paragraph(fonts().markup(text), style)


def spaced_title(text: str, lang: Lang) -> str:
    """A short Chinese title letter-spaced the way forms print it (受 理 回 执)."""
    if lang == "zh" and len(text) <= 6:
        return "\u2002".join(text)
    return text


def ruled_table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    label_columns: Sequence[int] = (),
    header: bool = False,
    padding: float = 4,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A table with a black grid; `label_columns` (and a header row) shaded."""
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),  # for empty cells: no unembedded Helvetica
        ("GRID", (0, 0), (-1, -1), HAIRLINE, RULE),
        ("BOX", (0, 0), (-1, -1), 1, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), padding),
        ("BOTTOMPADDING", (0, 0), (-1, -1), padding + 1),
        ("LEFTPADDING", (0, 0), (-1, -1), padding + 1),
        ("RIGHTPADDING", (0, 0), (-1, -1), padding + 1),
    ]
    for column in label_columns:
        commands.append(("BACKGROUND", (column, 0), (column, -1), SHADE))
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    commands.extend(extra)
    table = Table(
        [list(row) for row in rows],
        colWidths=list(widths),
        repeatRows=1 if header else 0,
        hAlign="LEFT",
    )
    table.setStyle(TableStyle(commands))
    return table


def plain_table(
    rows: Sequence[Sequence[Any]], widths: Sequence[float], *, padding: float = 1.5
) -> Table:
    """A table without rules: things side by side, or the roll's labels and values."""
    table = Table([list(row) for row in rows], colWidths=list(widths), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), padding),
                ("BOTTOMPADDING", (0, 0), (-1, -1), padding),
            ]
        )
    )
    return table


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    width: float,
    height: float,
    *,
    label_room: float,
) -> Drawing:
    """Counts as horizontal bars, the first on top, each count written at its bar's end;
    `label_room` is the width kept at the left for the labels."""
    drawing = Drawing(width, height, initialFontName=FONT)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_room, 8 * mm
    chart.width, chart.height = width - label_room - 8 * mm, height - 16 * mm
    chart.data = [values]
    chart.bars[0].fillColor = BAR
    chart.bars[0].strokeColor = None
    chart.barWidth = 6
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.reverseDirection = True
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.categoryAxis.labels.dx = -3
    chart.categoryAxis.strokeColor = INK
    chart.categoryAxis.strokeWidth = HAIRLINE
    top = max(values, default=0)
    step = max(1, -(-top // 5))
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(step * 5, 1)
    chart.valueAxis.valueStep = step
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7.5
    chart.valueAxis.labelTextFormat = "%d"
    chart.valueAxis.strokeWidth = HAIRLINE
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#DDDDDD")
    chart.valueAxis.gridStrokeWidth = HAIRLINE
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 8
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


class QrCode(Flowable):
    """A QR code of `value`, `size` points square including its quiet zone (4 modules),
    error correction M: at the sizes used (≥ 24 mm for a reference) a module is ≥ 0.7 mm,
    which a phone, the scanner gun and a 150 dpi scan all read.

    The matrix comes from reportlab's encoder; it is drawn as one filled path of runs in
    module units, a third of the time reportlab's barcode widget takes to draw it.
    """

    QUIET_ZONE = 4

    def __init__(self, value: str, size: float) -> None:
        super().__init__()
        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(value)
        code.make()
        self.value, self.size = value, size
        self.width = self.height = size
        self._modules: list[list[bool]] = code.modules

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        count, quiet = len(self._modules), self.QUIET_ZONE
        runs = []
        for row_number, row in enumerate(self._modules):
            y = count - 1 - row_number + quiet
            column = quiet
            for dark, group in itertools.groupby(row):
                length = sum(1 for _ in group)
                if dark:
                    runs.append(f"{column} {y} {length} 1 re")
                column += length
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(INK)
        unit = self.size / (count + 2 * quiet)
        canvas.scale(unit, unit)
        canvas.addLiteral("\n".join(runs) + "\nf")
        canvas.restoreState()


class Rule(Flowable):
    """A horizontal line across the frame (solid or dashed)."""

    def __init__(
        self, *, width: float = HAIRLINE, dash: Sequence[float] | None = None, space: float = 3
    ) -> None:
        super().__init__()
        self.line_width, self.dash, self.space = width, dash, space
        self._frame_width = 0.0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self._frame_width = available_width
        return available_width, self.line_width + 2 * self.space

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(self.line_width)
        if self.dash:
            canvas.setDash(list(self.dash))
        y = self.space + self.line_width / 2
        canvas.line(0, y, self._frame_width, y)
        canvas.restoreState()


def draw_text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    align: str = "left",
    color: colors.Color = MUTED,
) -> None:
    """Draw one line of text on the canvas (header and footer), fallbacks included."""
    font_set = fonts()
    width = font_set.width(text, size)
    if align == "right":
        x -= width
    elif align == "center":
        x -= width / 2
    canvas.saveState()
    canvas.setFillColor(color)
    for font, piece in font_set.pieces(text):
        canvas.setFont(font, size)
        canvas.drawString(x, y, piece)
        x += canvas.stringWidth(piece, font, size)
    canvas.restoreState()


#: Draws a page's furniture: (canvas, page number, page count).
Decorate = Callable[[Canvas, int, int], None]


def a4_furniture(note: str, header: str, lang: Lang) -> Decorate:
    """A4 page furniture: a rule, `note` and "page x of y" at the foot of every page;
    `header` (what the document is) at the top of every page after the first."""

    def decorate(canvas: Canvas, page: int, pages: int) -> None:
        paper = A4
        y = paper.bottom - 10 * mm
        canvas.saveState()
        canvas.setStrokeColor(MUTED)
        canvas.setLineWidth(HAIRLINE)
        canvas.line(paper.left, y + 4 * mm, paper.width - paper.right, y + 4 * mm)
        canvas.restoreState()
        draw_text(canvas, paper.left, y, note, 8)
        page_of = t("page_of", lang, page=page, pages=pages)
        draw_text(canvas, paper.width - paper.right, y, page_of, 8, align="right")
        if page > 1:
            top = paper.height - paper.top + 6 * mm
            draw_text(canvas, paper.width - paper.right, top, header, 8, align="right")

    return decorate


class _NumberedCanvas(Canvas):
    """A canvas that holds its pages back until the end, so each page's furniture can
    say "page x of y"."""

    def __init__(self, *args: Any, decorate: Decorate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decorate = decorate
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            self._decorate(self, self._pageNumber, pages)
            super().showPage()
        super().save()


@dataclass(frozen=True)
class Paper:
    """A page size and its margins, in points."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float

    @property
    def frame_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def frame_height(self) -> float:
        return self.height - self.top - self.bottom


A4 = Paper(210 * mm, 297 * mm, left=20 * mm, right=20 * mm, top=20 * mm, bottom=22 * mm)


def build_pdf(
    story: list[Flowable],
    paper: Paper,
    *,
    title: str,
    author: str,
    subject: str,
    lang: Lang,
    decorate: Decorate,
) -> bytes:
    """Lay `story` out on `paper` and return the PDF. Renders one document at a time
    (see `fonts.RENDER_LOCK`)."""
    output = io.BytesIO()
    frame = Frame(
        paper.left,
        paper.bottom,
        paper.frame_width,
        paper.frame_height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    document = BaseDocTemplate(
        output,
        pagesize=(paper.width, paper.height),
        pageTemplates=[PageTemplate(id="page", frames=[frame])],
        title=title,
        author=author,
        subject=subject,
        creator=f"Doorstep {__version__}",
        producer="Doorstep (reportlab)",
        lang=PDF_LANG[lang],
        initialFontName=FONT,
        invariant=True,
    )
    with RENDER_LOCK:
        fonts()
        document.build(story, canvasmaker=partial(_NumberedCanvas, decorate=decorate))
    return output.getvalue()


def story_height(story: Sequence[Flowable], width: float) -> float:
    """The height `story` takes in a frame `width` wide (an upper bound: the frame lets a
    flowable's space before overlap the previous one's space after)."""
    total = 0.0
    for flowable in story:
        _, height = flowable.wrap(width, 1e6)
        total += height + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total
