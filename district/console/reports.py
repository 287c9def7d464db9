"""The day and month reports for admins (every station) and supervisors (their group's
stations): a page with charts, and the same figures as a CSV and a PDF download.

The figures come from `district.reporting`, computed once per request over the viewer's
`station_scope()`, so the page, the CSV and the PDF cannot disagree or show another
group's stations. Parameters (the same on the three addresses): `kind` (`day` or
`month`), `day` (YYYY-MM-DD) or `month` (YYYY-MM), and optionally `station` and `item`
(codes). Anything else is a 400 page.

Charts are inline SVG drawn here, without script: horizontal bars with their figure
written at the end of each bar, a `<title>` and `<desc>` naming what the chart shows,
and the same figures in a table beside it, so no one needs to read a colour or a length.

The CSV (UTF-8 with a byte order mark, so Excel opens the Chinese correctly) is one table
per figure, one after another: a row naming the figure, its header row, its rows, and an
empty row. Durations are in hours with two decimals; a cell a spreadsheet would read as
a formula (a comment starting with `=`, `+`, `-`, `@`) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from district import reporting
from district.errors import Refused
from district.reporting import Report

from .deps import CONSOLE, ConsoleError, Viewer, database, page, render
from .inbox import local_time
from .strings import register, text

router = APIRouter(include_in_schema=False)
ROLES = ("admin", "supervisor")

Parameter = Annotated[str | None, Query(max_length=40)]


register(
    {
        "reports_title": ("统计报表", "Reports"),
        "reports_choose": ("选择报表", "Choose a report"),
        "reports_kind": ("报表类型", "Report of"),
        "reports_kind_day": ("日报", "a day"),
        "reports_kind_month": ("月报", "a month"),
        "reports_day": ("日期（日报）", "Day (for a day report)"),
        "reports_month": ("月份（月报）", "Month (for a month report)"),
        "reports_station": ("服务站", "Station"),
        "reports_item": ("办理事项", "Item"),
        "reports_all_stations": ("全部服务站", "All stations"),
        "reports_all_items": ("全部事项", "All items"),
        "reports_show": ("查看报表", "Show the report"),
        "reports_download": ("下载", "Download"),
        "reports_csv": ("CSV 表格", "CSV table"),
        "reports_pdf": ("PDF 文件", "PDF document"),
        "reports_heading_day": ("{day} 日报", "Day report, {day}"),
        "reports_heading_month": ("{month} 月报", "Month report, {month}"),
        "reports_scope_all": ("范围：全部服务站", "Covers: every station"),
        "reports_scope_group": (
            "范围：{group} 组的服务站", "Covers: the stations of group {group}"
        ),
        "reports_filtered": ("筛选：{what}", "Only: {what}"),
        "reports_total": ("收到申请 {count} 件", "{count} applications received"),
        "reports_by_state": ("申请按状态", "Applications by state"),
        "reports_by_item": ("申请按事项", "Applications by item"),
        "reports_by_station": ("申请按服务站", "Applications by station"),
        "reports_chart_desc": (
            "横向条形图，每条末端写有数量；相同数据见旁边的表格。",
            "Horizontal bars with the figure written at each bar's end; the table beside "
            "it holds the same figures.",
        ),
        "reports_state": ("状态", "State"),
        "reports_count": ("件数", "Count"),
        "reports_code": ("编码", "Code"),
        "reports_name": ("名称", "Name"),
        "reports_none": ("本期没有数据。", "Nothing in this period."),
        "reports_time": ("从提交到首次处理的时间", "Time from submission to the first decision"),
        "reports_time_note": (
            "从区级收到申请到受理员第一次作出决定；中位数为一半申请快于此时间，"
            "90% 分位为九成申请快于此时间。",
            "From the district receiving an application to an agent's first decision on it. "
            "Half the applications were decided faster than the median, nine in ten faster "
            "than the 90th percentile.",
        ),
        "reports_time_overall": ("全部事项", "All items"),
        "reports_decided": ("已处理件数", "Decided"),
        "reports_median": ("中位数", "Median"),
        "reports_p90": ("90% 分位", "90th percentile"),
        "reports_median_by_item": ("各事项处理时间中位数（小时）", "Median time by item (hours)"),
        "reports_minutes": ("{n} 分钟", "{n} min"),
        "reports_hours": ("{n} 小时", "{n} h"),
        "reports_days": ("{n} 天", "{n} days"),
        "reports_ratings": ("好差评", "Ratings"),
        "reports_ratings_total": (
            "评价 {count} 条，平均 {average} 分", "{count} ratings, average {average}"
        ),
        "reports_score_column": ("评分", "Score"),
        "reports_ratings_none": ("本期没有评价。", "No ratings in this period."),
        "reports_score": ("{n} 分", "{n} stars"),
        "reports_scores": ("各分值评价数", "Ratings by score"),
        "reports_average": ("平均分", "Average"),
        "reports_ratings_by_station": ("评价按服务站", "Ratings by station"),
        "reports_ratings_by_item": ("评价按事项", "Ratings by item"),
        "reports_ratings_by_month": ("近 12 个月评价", "Ratings over twelve months"),
        "reports_month_column": ("月份", "Month"),
        "reports_no_item": ("（未关联事项）", "(no item)"),
        "reports_comments": ("评价留言", "Comments"),
        "reports_comments_count": (
            "共 {count} 条留言，显示最新 {shown} 条。",
            "{count} comments; the newest {shown} are shown.",
        ),
        "reports_rated_at": ("评价时间", "Rated"),
        "reports_comment": ("留言", "Comment"),
        "reports_bad_parameters": (
            "报表参数不正确：日期写作 2026-11-24，月份写作 2026-11，服务站和事项请从列表中选择。",
            "The report's parameters are not right: a day is written 2026-11-24, a month "
            "2026-11, and the station and the item come from the lists.",
        ),
        "reports_generated": ("生成时间：{at}", "Made: {at}"),
    }
)


# -- the parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    """A report's parameters, checked."""

    period: reporting.Period
    station: str | None
    item: str | None

    def query(self) -> str:
        fields = {"kind": self.period.kind, self.period.kind: self.period.label}
        if self.station:
            fields["station"] = self.station
        if self.item:
            fields["item"] = self.item
        return urlencode(fields)


def _chosen(
    kind: Parameter = None,
    day: Parameter = None,
    month: Parameter = None,
    station: Parameter = None,
    item: Parameter = None,
) -> Chosen:
    """The report asked for (the query of the page, the CSV and the PDF alike)."""
    try:
        if kind is None and not day and not month:
            period = reporting.this_month()
        else:
            period = reporting.parse_period(kind or ("day" if day else "month"), day, month)
        return Chosen(period, reporting.check_code(station), reporting.check_code(item))
    except Refused:
        raise ConsoleError(400, "reports_bad_parameters") from None


def _report(request: Request, viewer: Viewer, chosen: Chosen) -> Report:
    try:
        return reporting.build(
            database(request), viewer.station_scope(), chosen.period,
            station=chosen.station, item=chosen.item, language=viewer.language,
        )
    except Refused:
        raise ConsoleError(400, "reports_bad_parameters") from None


# -- wording shared by the page, the CSV and the PDF -------------------------------------


def labels(language: str) -> Callable[..., str]:
    def t(key: str, **fields: object) -> str:
        return text(language, key, **fields)  # type: ignore[arg-type]

    return t


def state_label(language: str, state: str) -> str:
    """The inbox's name of a state (the state itself if it is not one of ours)."""
    if state not in reporting.STATES:
        return state
    return text(language, f"inbox_state_{state}")  # type: ignore[arg-type]


def duration(language: str, seconds: float | None) -> str:
    """A duration as staff read it: minutes under an hour, hours under two days, days."""
    if seconds is None:
        return "—"
    t = labels(language)
    if seconds < 3600:
        return t("reports_minutes", n=round(seconds / 60))
    if seconds < 48 * 3600:
        return t("reports_hours", n=f"{seconds / 3600:.1f}")
    return t("reports_days", n=f"{seconds / 86400:.1f}")


def average(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def heading(report: Report) -> str:
    t = labels(report.language)
    if report.period.kind == "day":
        return t("reports_heading_day", day=report.period.label)
    return t("reports_heading_month", month=report.period.label)


def scope_line(viewer: Viewer) -> str:
    t = labels(viewer.language)
    if viewer.role == "admin":
        return t("reports_scope_all")
    return t("reports_scope_group", group=viewer.account.station_group)


# -- the charts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str  # the figure written at the bar's end
    y: float
    width: float


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart's geometry, in SVG user units."""

    title: str
    description: str
    bars: list[Bar]
    width: float
    height: float
    label_width: float
    bar_height: float
    room: float  # the bars' longest length


ROW = 26.0
CHART_WIDTH = 640.0


def bar_chart(
    title: str, description: str, rows: Sequence[tuple[str, float, str]]
) -> Chart | None:
    """Bars for (label, value, shown) rows; None when there is nothing to draw."""
    if not rows:
        return None
    label_width = min(260.0, max(60.0, 8.0 + 13.0 * max(_text_width(r[0]) for r in rows)))
    room = CHART_WIDTH - label_width - 70.0
    top = max((value for _, value, _ in rows), default=0.0) or 1.0
    bars = [
        Bar(label, shown, 6.0 + index * ROW, max(0.0, value) / top * room)
        for index, (label, value, shown) in enumerate(rows)
    ]
    return Chart(title, description, bars, CHART_WIDTH, 12.0 + len(rows) * ROW, label_width,
                 ROW - 8.0, room)


def _text_width(label: str) -> float:
    """The label's width in ems, roughly: ideographs 1, other characters 0.55."""
    return sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in label)


def charts(report: Report) -> dict[str, Chart | None]:
    t = labels(report.language)
    desc = t("reports_chart_desc")

    def counts(entries: Sequence[reporting.Count], named: bool) -> list[tuple[str, float, str]]:
        return [
            (entry.name or entry.key if named else state_label(report.language, entry.key),
             entry.count, str(entry.count))
            for entry in entries
        ]

    median_rows = [
        (entry.name or entry.key, (entry.median or 0) / 3600, f"{(entry.median or 0) / 3600:.1f}")
        for entry in report.decision_time_by_item
    ]
    score_rows = [
        (t("reports_score", n=score), n, str(n))
        for score, n in zip(reporting.SCORES, report.ratings.distribution, strict=True)
    ]
    month_rows = [
        (entry.key, entry.average or 0, f"{average(entry.average)} ({entry.count})")
        for entry in report.ratings_by_month
    ]
    return {
        "by_state": bar_chart(t("reports_by_state"), desc, counts(report.by_state, False)),
        "by_item": bar_chart(t("reports_by_item"), desc, counts(report.by_item, True)),
        "by_station": bar_chart(t("reports_by_station"), desc, counts(report.by_station, True)),
        "median": bar_chart(t("reports_median_by_item"), desc, median_rows),
        "scores": bar_chart(t("reports_scores"), desc, score_rows) if report.ratings.count
        else None,
        "months": bar_chart(t("reports_ratings_by_month"), desc, month_rows),
    }


# -- the routes -------------------------------------------------------------------------


@router.get(f"{CONSOLE}/reports")
def reports_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    chosen: Annotated[Chosen, Depends(_chosen)],
) -> Response:
    report = _report(request, viewer, chosen)
    options = reporting.choices(database(request), viewer.station_scope(), viewer.language)
    return render(
        request, "reports.html", viewer=viewer, title_key="reports_title",
        report=report, chosen=chosen, options=options, charts=charts(report),
        heading=heading(report), scope_line=scope_line(viewer), query=chosen.query(),
        state_label=lambda state: state_label(viewer.language, state),
        duration=lambda seconds: duration(viewer.language, seconds),
        average=average, scores=reporting.SCORES, local_time=local_time,
    )


@router.get(f"{CONSOLE}/reports.csv")
def reports_csv(
    request: Request,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    chosen: Annotated[Chosen, Depends(_chosen)],
) -> Response:
    report = _report(request, viewer, chosen)
    return Response(
        report_csv(report).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(report)}.csv"'},
    )


@router.get(f"{CONSOLE}/reports.pdf")
def reports_pdf(
    request: Request,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    chosen: Annotated[Chosen, Depends(_chosen)],
) -> Response:
    from district.report_pdf import render_report

    report = _report(request, viewer, chosen)
    document = render_report(report, scope_line(viewer))
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(report)}.pdf"'},
    )


def _file_name(report: Report) -> str:
    parts = ["report", report.period.label, report.station or "", report.item or ""]
    return "-".join(part for part in parts if part)


# -- the CSV ----------------------------------------------------------------------------


def report_csv(report: Report) -> str:
    """The report as CSV text: one table per figure (see the module's docstring)."""
    language = report.language
    t = labels(language)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows([[_cell(value) for value in row] for row in rows])
        writer.writerow([])

    def hours(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds / 3600:.2f}"

    writer.writerow([heading(report)])
    writer.writerow([t("reports_total", count=report.total)])
    writer.writerow([])
    table(t("reports_by_state"), ["state", t("reports_state"), t("reports_count")],
          [[e.key, state_label(language, e.key), e.count] for e in report.by_state])
    for title, entries in ((t("reports_by_item"), report.by_item),
                           (t("reports_by_station"), report.by_station)):
        table(title, ["code", t("reports_name"), t("reports_count")],
              [[e.key, e.name, e.count] for e in entries])
    durations = [report.decision_time, *report.decision_time_by_item]
    table(t("reports_time"),
          ["item", t("reports_name"), t("reports_decided"), "median_hours", "p90_hours"],
          [[d.key, d.name if d.key else t("reports_time_overall"), d.count, hours(d.median),
            hours(d.p90)] for d in durations])
    score_header = [f"score_{score}" for score in reporting.SCORES]
    for title, ratings in ((t("reports_ratings_by_station"), report.ratings_by_station),
                           (t("reports_ratings_by_item"), report.ratings_by_item),
                           (t("reports_ratings_by_month"), report.ratings_by_month)):
        table(title, ["key", t("reports_name"), t("reports_count"), "average", *score_header],
              [[r.key, r.name, r.count, average(r.average) if r.count else "", *r.distribution]
               for r in ratings])
    table(t("reports_comments"),
          ["rated_at", "station", "item", "score", t("reports_comment")],
          [[local_time(c.rated_at), c.station, c.item, c.score,
            c.text] for c in report.comments])
    return out.getvalue()


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
