"""The console's day or month report as a PDF (A4), from the figures of
`district.reporting`: the same tables as the page, with bar charts drawn by reportlab.

It is set with the kiosk's document kit (`kiosk.documents.layout` and `fonts`: the shipped
CJK font embedded as a subset, the ruled tables, the bar chart, the page furniture with
"page x of y"), so the district's reports look like the stations' day reports. The words
come from the console's texts (`district.console.strings`), in the viewer's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from district.console.inbox import local_time
from district.console.reports import average, duration, heading, labels, state_label
from district.reporting import SCORES, Ratings, Report
from kiosk.documents.layout import (
    A4,
    Rule,
    Styles,
    a4_furniture,
    bar_chart,
    build_pdf,
    para,
    plain_table,
    ruled_table,
)


def render_report(report: Report, scope: str) -> bytes:
    """The report as PDF bytes; `scope` says which stations it covers."""
    lang = "en" if report.language == "en" else "zh"
    t = labels(lang)
    s = Styles.make(size=9.5, title_size=17)
    width = A4.frame_width
    title = heading(report)

    generated = report.generated_at.astimezone().strftime("%Y-%m-%d %H:%M")
    filters = " ".join(part for part in (report.station, report.item) if part)
    story: list[Flowable] = [
        para(t("reports_title"), s.small),
        para(title, s.title.clone("report_title", alignment=0)),
        para(scope + (f" · {t('reports_filtered', what=filters)}" if filters else ""), s.body),
        para(t("reports_generated", at=generated), s.small),
        Spacer(1, 2 * mm),
        Rule(width=1.2),
        para(t("reports_total", count=report.total), s.strong),
    ]

    def counts(title_key: str, rows: Sequence[tuple[str, str, int]],
               header_key: str = "reports_name") -> None:
        """A table of (name, chart label, count) rows beside their bar chart."""
        story.append(para(t(title_key), s.heading))
        if not rows:
            story.append(para(t("reports_none"), s.body))
            return
        table_width = 78 * mm
        table = ruled_table(
            [[para(t(header_key), s.cell), para(t("reports_count"), s.cell_right)]]
            + [[para(label, s.cell), para(str(n), s.cell_right)] for label, _, n in rows],
            [table_width - 18 * mm, 18 * mm],
            header=True,
            padding=1.6,
        )
        chart = bar_chart(
            [label for _, label, _ in rows],
            [n for _, _, n in rows],
            width - table_width - 6 * mm,
            (len(rows) * 5 + 16) * mm,
            label_room=38 * mm,
        )
        layout = plain_table([[table, chart]], [table_width + 6 * mm, width - table_width - 6 * mm],
                             padding=0)
        layout.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])
        story.append(layout)

    def short(label: str) -> str:
        return label if len(label) <= 10 else label[:9] + "…"

    counts("reports_by_state", [(state_label(lang, e.key), state_label(lang, e.key), e.count)
                                for e in report.by_state], "reports_state")
    counts("reports_by_item", [(f"{e.name or e.key}（{e.key}）", e.key, e.count)
                               for e in report.by_item])
    counts("reports_by_station",
           [(f"{e.name or e.key}（{e.key}）", short(e.name or e.key), e.count)
            for e in report.by_station])

    story.append(para(t("reports_time"), s.heading))
    story.append(para(t("reports_time_note"), s.small))
    story.append(Spacer(1, 1.5 * mm))
    rows: list[list[object]] = [[
        para(t("reports_item"), s.cell), para(t("reports_decided"), s.cell_right),
        para(t("reports_median"), s.cell_right), para(t("reports_p90"), s.cell_right),
    ]]
    for entry in [report.decision_time, *report.decision_time_by_item]:
        name = (f"{entry.name or entry.key}（{entry.key}）" if entry.key
                else t("reports_time_overall"))
        rows.append([para(name, s.cell), para(str(entry.count), s.cell_right),
                     para(duration(lang, entry.median), s.cell_right),
                     para(duration(lang, entry.p90), s.cell_right)])
    story.append(ruled_table(rows, [width - 90 * mm, 26 * mm, 32 * mm, 32 * mm], header=True,
                             padding=1.6))

    story.append(para(t("reports_ratings"), s.heading))
    if report.ratings.count:
        story.append(para(t("reports_ratings_total", count=report.ratings.count,
                            average=average(report.ratings.average)), s.body))
        counts("reports_scores", [(t("reports_score", n=score), t("reports_score", n=score), n)
                                  for score, n in zip(SCORES, report.ratings.distribution,
                                                      strict=True)], "reports_score_column")
        story.append(_ratings(t("reports_ratings_by_station"), report.ratings_by_station, s,
                              width, t))
        story.append(_ratings(t("reports_ratings_by_item"), report.ratings_by_item, s, width, t))
    else:
        story.append(para(t("reports_ratings_none"), s.body))
    story.append(_ratings(t("reports_ratings_by_month"), report.ratings_by_month, s, width, t,
                          months=True))
    if report.comments:
        story.append(para(t("reports_comments"), s.heading))
        story.append(para(t("reports_comments_count", count=report.comment_count,
                            shown=len(report.comments)), s.small))
        rows = [[para(t("reports_rated_at"), s.cell), para(t("reports_station"), s.cell),
                 para(t("reports_score_column"), s.cell_right),
                 para(t("reports_comment"), s.cell)]]
        rows += [[para(local_time(c.rated_at), s.cell),
                  para(c.station_name or c.station, s.cell), para(str(c.score), s.cell_right),
                  para(c.text, s.cell)] for c in report.comments]
        story.append(ruled_table(rows, [30 * mm, 40 * mm, 14 * mm, width - 84 * mm],
                                 header=True, padding=1.6))

    decorate = a4_furniture(f"{t('reports_title')} · {title}", title, lang)
    return build_pdf(story, A4, title=title, author=scope, subject=t("reports_title"),
                     lang=lang, decorate=decorate)


def _ratings(
    title: str, rows: Sequence[Ratings], s: Styles, width: float, t: Callable[..., str], *,
    months: bool = False,
) -> Flowable:
    header: list[object] = [para(t("reports_month_column") if months else t("reports_name"),
                                 s.cell),
                            para(t("reports_count"), s.cell_right),
                            para(t("reports_average"), s.cell_right)]
    header += [para(t("reports_score", n=score), s.cell_right) for score in SCORES]
    body: list[list[object]] = [header]
    for row in rows:
        name = row.key if months else (
            f"{row.name or row.key}（{row.key}）" if row.key else t("reports_no_item")
        )
        body.append([para(name, s.cell), para(str(row.count), s.cell_right),
                     para(average(row.average), s.cell_right),
                     *[para(str(n), s.cell_right) for n in row.distribution]])
    number = 15 * mm
    table = ruled_table(body, [width - 7 * number, *[number] * 7], header=True, padding=1.4)
    parts: list[Flowable] = [para(title, s.heading), table]
    if months:
        parts.append(bar_chart([row.key for row in rows], [row.count for row in rows], width,
                               70 * mm, label_room=22 * mm))
    return KeepTogether(parts)

