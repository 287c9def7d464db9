"""The figures of the console's day and month reports, computed once and shown three ways:
the page (`district.console.reports`), the CSV and the PDF (`district.report_pdf`).

A report covers one day or one month in the server's local time zone (the district's
office clock: a day is local midnight to midnight), optionally for one station and one
item, and only over the stations the viewer may see (the caller passes
`Viewer.station_scope()`, a condition on `Station`). It holds no personal data: counts,
durations, scores and the comments residents typed with their ratings.

- applications received in the period, by state, by item and by station (SQL `GROUP BY`);
- the time from receipt (`applications.received_at`) to the first decision
  (`decisions.at`) of each application received in the period that has one: median and
  90th percentile, overall and per item. The database gives each application's duration
  in seconds (one aggregate query; only the subtraction is written per dialect), Python
  takes the percentiles by linear interpolation between the closest ranks, as
  PostgreSQL's `percentile_cont` does, so both databases agree to the second;
- ratings given in the period, per station and per item (count, average, how many of each
  score 1-5), and per month over the twelve months up to the period's end; the newest
  comments (at most `MAX_COMMENTS`) with their station, item and score.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Float, Select, and_, case, cast, func, select

from district.applications import STATES
from district.console import worklist
from district.db import Database
from district.errors import Refused
from district.models import Application, Decision, Rating, Station

Kind = Literal["day", "month"]
SCORES = (1, 2, 3, 4, 5)
MAX_COMMENTS = 200
TREND_MONTHS = 12
FIRST_YEAR, LAST_YEAR = 2000, 2199  # what a report may ask for (anything else is a typo)

_DAY = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_CODE = re.compile(r"^[A-Za-z0-9-]{1,16}$")


@dataclass(frozen=True)
class Period:
    """A day or a month; `start` and `end` are the local-time bounds, as aware UTC times."""

    kind: Kind
    first_day: date

    @property
    def label(self) -> str:
        """`2026-11-24` or `2026-11`: what the report's parameters and file names say."""
        if self.kind == "day":
            return self.first_day.isoformat()
        return f"{self.first_day.year:04d}-{self.first_day.month:02d}"

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        if self.kind == "day":
            return _local_midnight(self.first_day + timedelta(days=1))
        return _local_midnight(_next_month(self.first_day))


def parse_period(kind: str, day: str | None, month: str | None) -> Period:
    """The period a report's parameters name (`kind=day&day=2026-11-24` or
    `kind=month&month=2026-11`). Raises Refused for anything else."""
    if kind == "day":
        found = _DAY.match(day or "")
        if found is None:
            raise Refused("a day is written YYYY-MM-DD")
        try:
            first = date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            raise Refused("there is no such day") from None
    elif kind == "month":
        found = _MONTH.match(month or "")
        if found is None:
            raise Refused("a month is written YYYY-MM")
        if not 1 <= int(found[2]) <= 12:
            raise Refused("there is no such month")
        first = date(int(found[1]), int(found[2]), 1)
    else:
        raise Refused("a report is of a day or of a month")
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise Refused(f"a report's year is between {FIRST_YEAR} and {LAST_YEAR}")
    return Period(kind, first)  # type: ignore[arg-type]


def this_month() -> Period:
    today = datetime.now().astimezone().date()
    return Period("month", today.replace(day=1))


def check_code(value: str | None) -> str | None:
    """A station or item code from a report's parameters ("" is none)."""
    if not value:
        return None
    if _CODE.match(value) is None:
        raise Refused("a station or item code is letters, digits and '-'")
    return value


@dataclass(frozen=True)
class Count:
    key: str  # a state, an item code or a station code
    name: str  # the item's or the station's name ("" for a state: the page names it)
    count: int


@dataclass(frozen=True)
class Durations:
    """How long applications waited for their first decision, in seconds."""

    key: str
    name: str
    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Ratings:
    key: str  # a station code, an item code ("" for ratings of no item) or a month
    name: str
    distribution: tuple[int, int, int, int, int]  # how many of each score 1..5

    @property
    def count(self) -> int:
        return sum(self.distribution)

    @property
    def average(self) -> float | None:
        if not self.count:
            return None
        return sum(s * n for s, n in zip(SCORES, self.distribution, strict=True)) / self.count


@dataclass(frozen=True)
class Comment:
    rated_at: datetime
    station: str
    station_name: str
    item: str
    item_name: str
    score: int
    text: str


@dataclass(frozen=True)
class Report:
    period: Period
    station: str | None
    item: str | None
    language: str
    total: int
    by_state: list[Count]
    by_item: list[Count]
    by_station: list[Count]
    decision_time: Durations
    decision_time_by_item: list[Durations]
    ratings: Ratings
    ratings_by_station: list[Ratings]
    ratings_by_item: list[Ratings]
    ratings_by_month: list[Ratings]
    comments: list[Comment]
    comment_count: int
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Choices:
    """What the report's form offers: the viewer's stations and the catalog's items."""

    stations: list[tuple[str, str]]
    items: list[tuple[str, str]]


def choices(db: Database, scope: ColumnElement[bool], language: str) -> Choices:
    with db.read() as connection:
        stations = connection.execute(
            select(Station.code, Station.name).where(scope).order_by(Station.code)
        ).all()
        names = item_names(connection, language)
    return Choices([(s.code, s.name) for s in stations], sorted(names.items()))


def build(
    db: Database,
    scope: ColumnElement[bool],
    period: Period,
    *,
    station: str | None = None,
    item: str | None = None,
    language: str = "zh",
) -> Report:
    """The report of `period` over the stations `scope` allows. A station the viewer
    may not see is refused exactly like one that does not exist."""
    with db.read() as connection:
        if station is not None and connection.scalar(
            select(Station.id).where(scope, Station.code == station)
        ) is None:
            raise Refused(f"no station {station!r}")
        items = item_names(connection, language)
        stations = dict(connection.execute(select(Station.code, Station.name).where(scope)).all())
        where = _application_filter(scope, period, station, item)

        # one pass over the period's applications, counted by station, item and state
        states: dict[str, int] = defaultdict(int)
        per_item: dict[str, int] = defaultdict(int)
        per_station: dict[str, int] = defaultdict(int)
        grouped = (Station.code, Application.item_code, Application.state)
        for code, item_code, state, count in connection.execute(
            _from_applications(select(*grouped, func.count()), where).group_by(*grouped)
        ).all():
            states[state] += count
            per_item[item_code] += count
            per_station[code] += count
        by_state = [Count(state, "", states.get(state, 0)) for state in STATES]
        by_state += [Count(s, "", n) for s, n in sorted(states.items()) if s not in STATES]
        by_item = _counts(per_item.items(), items)
        by_station = _counts(per_station.items(), stations)

        durations = _durations(db, connection, where)
        overall = _summary("", "", [seconds for _, seconds in durations])
        by_code: dict[str, list[float]] = defaultdict(list)
        for code, seconds in durations:
            by_code[code].append(seconds)
        decision_time_by_item = [
            _summary(code, items.get(code, ""), values) for code, values in sorted(by_code.items())
        ]

        rated = _rating_filter(scope, period.start, period.end, station, item)
        by_rated_station = _ratings(connection, Station.code, rated, stations)
        by_rated_item = _ratings(connection, func.coalesce(Rating.item_code, ""), rated, items)
        ratings_by_month = _ratings_by_month(connection, scope, period, station, item)
        comments, comment_count = _comments(connection, rated, stations, items)

    everything = [0, 0, 0, 0, 0]
    for row in by_rated_station:
        for index, n in enumerate(row.distribution):
            everything[index] += n
    return Report(
        period=period,
        station=station,
        item=item,
        language=language,
        total=sum(states.values()),
        by_state=by_state,
        by_item=by_item,
        by_station=by_station,
        decision_time=overall,
        decision_time_by_item=decision_time_by_item,
        ratings=Ratings("", "", tuple(everything)),  # type: ignore[arg-type]
        ratings_by_station=by_rated_station,
        ratings_by_item=by_rated_item,
        ratings_by_month=ratings_by_month,
        comments=comments,
        comment_count=comment_count,
    )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile of `values` by linear interpolation between the closest
    ranks (PostgreSQL's `percentile_cont`); None for no values."""
    return _ranked(sorted(values), fraction)


def _ranked(ordered: Sequence[float], fraction: float) -> float | None:
    """`percentile` of values already in order."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def item_names(connection: Connection, language: str) -> dict[str, str]:
    """Item code → name in `language`, from the newest published catalog (the inbox's
    cached reading of it)."""
    index = 1 if language == "en" else 0
    names = worklist.newest_catalog(connection).names
    return {code: pair[index] for code, pair in names.items()}


# -- the queries ------------------------------------------------------------------------


def _application_filter(
    scope: ColumnElement[bool], period: Period, station: str | None, item: str | None
) -> ColumnElement[bool]:
    conditions = [scope, Application.received_at >= period.start,
                  Application.received_at < period.end]
    if station is not None:
        conditions.append(Station.code == station)
    if item is not None:
        conditions.append(Application.item_code == item)
    return and_(*conditions)


def _from_applications(query: Select[Any], where: ColumnElement[bool]) -> Select[Any]:
    return query.select_from(Application).join(
        Station, Station.id == Application.station_id
    ).where(where)


def _durations(
    db: Database, connection: Connection, where: ColumnElement[bool]
) -> list[tuple[str, float]]:
    """(item code, seconds from receipt to first decision) of each decided application."""
    first = func.min(Decision.at)
    if db.dialect == "postgresql":
        seconds: ColumnElement[Any] = func.extract("epoch", first - Application.received_at)
    else:
        seconds = (func.julianday(first) - func.julianday(Application.received_at)) * 86400.0
    query = (
        _from_applications(select(Application.item_code, cast(seconds, Float)), where)
        .join(Decision, Decision.application_id == Application.id)
        .group_by(Application.id, Application.item_code, Application.received_at)
    )
    return [(code, max(0.0, value)) for code, value in connection.execute(query).all()]


def _summary(key: str, name: str, values: list[float]) -> Durations:
    values.sort()
    return Durations(key, name, len(values), _ranked(values, 0.5), _ranked(values, 0.9))


def _counts(rows: Iterable[tuple[str, int]], names: dict[str, str]) -> list[Count]:
    """Largest first, then by code."""
    return sorted(
        (Count(key, names.get(key, ""), count) for key, count in rows),
        key=lambda entry: (-entry.count, entry.key),
    )


def _rating_filter(
    scope: ColumnElement[bool],
    start: datetime,
    end: datetime,
    station: str | None,
    item: str | None,
) -> ColumnElement[bool]:
    conditions = [scope, Rating.rated_at >= start, Rating.rated_at < end]
    if station is not None:
        conditions.append(Station.code == station)
    if item is not None:
        conditions.append(Rating.item_code == item)
    return and_(*conditions)


def _from_ratings(query: Select[Any], where: ColumnElement[bool]) -> Select[Any]:
    return query.select_from(Rating).join(Station, Station.id == Rating.station_id).where(where)


def _ratings(
    connection: Connection, column: Any, where: ColumnElement[bool], names: dict[str, str]
) -> list[Ratings]:
    rows = connection.execute(
        _from_ratings(select(column, Rating.score, func.count()), where).group_by(
            column, Rating.score
        )
    )
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for key, score, count in rows:
        if score in SCORES:
            found[key][score - 1] += count
    return [
        Ratings(key, names.get(key, ""), tuple(found[key]))  # type: ignore[arg-type]
        for key in sorted(found)
    ]


def _ratings_by_month(
    connection: Connection,
    scope: ColumnElement[bool],
    period: Period,
    station: str | None,
    item: str | None,
) -> list[Ratings]:
    """The twelve months up to the period's month, oldest first (months with no rating
    included), each bounded in local time: a CASE over the bounds, one query."""
    months = [period.first_day.replace(day=1)]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    bounds = [(m, _local_midnight(_next_month(m))) for m in months]
    label = case(
        *((Rating.rated_at < end, f"{m.year:04d}-{m.month:02d}") for m, end in bounds)
    )
    where = _rating_filter(scope, _local_midnight(months[0]), bounds[-1][1], station, item)
    found = {entry.key: entry for entry in _ratings(connection, label, where, {})}
    return [
        found.get(key, Ratings(key, "", (0, 0, 0, 0, 0)))
        for key in (f"{m.year:04d}-{m.month:02d}" for m in months)
    ]


def _comments(
    connection: Connection,
    where: ColumnElement[bool],
    stations: dict[str, str],
    items: dict[str, str],
) -> tuple[list[Comment], int]:
    where = and_(where, Rating.comment != "")
    count = connection.scalar(_from_ratings(select(func.count()), where)) or 0
    rows = connection.execute(
        _from_ratings(
            select(Rating.rated_at, Station.code, Rating.item_code, Rating.score, Rating.comment),
            where,
        )
        .order_by(Rating.rated_at.desc(), Rating.id)
        .limit(MAX_COMMENTS)
    )
    comments = [
        Comment(
            rated_at=row.rated_at,
            station=row.code,
            station_name=stations.get(row.code, ""),
            item=row.item_code or "",
            item_name=items.get(row.item_code or "", ""),
            score=row.score,
            text=row.comment,
        )
        for row in rows
    ]
    return comments, count


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
