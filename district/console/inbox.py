"""The agents' inbox: the applications of their station group's stations, newest first
or oldest waiting first, filtered by station, item, state and age, with a count of each
state, fifty a page (keyset paging, `district.console.worklist`). The page for people at
/console/inbox and the same data as JSON at /console/api/applications.

A filter that cannot be one (an unknown state, a garbled cursor) gets a 400 page or
problem; nothing here writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from district.applications import STATES

from . import worklist
from .deps import API, CONSOLE, ConsoleError, Viewer, api, database, page, render
from .strings import Language, register, text

router = APIRouter()

Param = Annotated[str | None, Query(max_length=100)]
Size = Annotated[int, Query(ge=1, le=worklist.MAX_PAGE_SIZE)]

register(
    {
        "inbox_title": ("待办申请", "Inbox"),
        "inbox_heading": ("待办申请", "Applications"),
        "inbox_filters": ("筛选申请", "Filter the applications"),
        "inbox_station": ("服务站", "Station"),
        "inbox_item": ("事项", "Item"),
        "inbox_state": ("状态", "State"),
        "inbox_age": ("等待时间", "Waiting"),
        "inbox_sort": ("排序", "Order"),
        "inbox_any": ("全部", "All"),
        "inbox_age_today": ("一天内收到", "Received in the last day"),
        "inbox_age_days": ("超过 {days} 天", "More than {days} days"),
        "inbox_sort_newest": ("最新收到在前", "Newest first"),
        "inbox_sort_oldest": ("等待最久在前", "Oldest waiting first"),
        "inbox_apply": ("筛选", "Filter"),
        "inbox_clear": ("清除筛选", "Clear the filters"),
        "inbox_counts": ("按状态查看", "By state"),
        "inbox_count": ("{state}：{count} 件", "{state}: {count}"),
        "inbox_all_count": ("全部：{count} 件", "All: {count}"),
        "inbox_caption": ("申请列表（共 {count} 件）", "Applications ({count} in all)"),
        "inbox_reference": ("申请编号", "Reference"),
        "inbox_received": ("收到时间", "Received"),
        "inbox_waiting": ("已等待", "Waiting"),
        "inbox_done": ("已办结", "Finished"),
        "inbox_empty": ("没有符合条件的申请。", "No application matches these filters."),
        "inbox_pages": ("翻页", "Pages"),
        "inbox_previous": ("上一页", "Previous page"),
        "inbox_next": ("下一页", "Next page"),
        "inbox_first": ("第一页", "First page"),
        "inbox_bad_filter": (
            "筛选条件无法识别，请清除筛选后重试。",
            "A filter could not be understood. Please clear the filters and try again.",
        ),
        "inbox_minutes": ("{minutes} 分钟", "{minutes} min"),
        "inbox_hours": ("{hours} 小时 {minutes} 分钟", "{hours} h {minutes} min"),
        "inbox_days": ("{days} 天 {hours} 小时", "{days} d {hours} h"),
        "inbox_state_submitted": ("待受理", "submitted"),
        "inbox_state_needs_more": ("待补正", "needs more"),
        "inbox_state_accepted": ("已受理", "accepted"),
        "inbox_state_ready_for_pickup": ("待领取", "ready for pickup"),
        "inbox_state_completed": ("已办结", "completed"),
        "inbox_state_rejected": ("不予受理", "rejected"),
    }
)


def local_time(moment: datetime) -> str:
    """A time as people at the district read it: the server's local time, to the minute."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def waited(language: Language, span: timedelta | None) -> str:
    if span is None:
        return text(language, "inbox_done")
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return text(language, "inbox_minutes", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return text(language, "inbox_hours", hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return text(language, "inbox_days", days=days, hours=hours)


def parse_inbox(
    station: str | None, item: str | None, state: str | None, age: str | None,
    sort: str | None, after: str | None, before: str | None,
) -> tuple[worklist.Filters, worklist.Cursor | None, worklist.Cursor | None]:
    """The filters and cursors asked for; 400 for one that cannot be."""
    try:
        return (
            worklist.Filters.parse(station, item, state, age, sort),
            worklist.Cursor.decode(after) if after else None,
            worklist.Cursor.decode(before) if before else None,
        )
    except worklist.BadFilter:
        raise ConsoleError(400, "inbox_bad_filter") from None


@router.get(f"{CONSOLE}/inbox", include_in_schema=False)
def inbox_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("agent", "supervisor"))],
    station: Param = None, item: Param = None, state: Param = None, age: Param = None,
    sort: Param = None, after: Param = None, before: Param = None,
    size: Size = worklist.PAGE_SIZE,
) -> Response:
    filters, after_cursor, before_cursor = parse_inbox(
        station, item, state, age, sort, after, before
    )
    scope = viewer.station_scope()
    with database(request).read() as connection:
        catalog = worklist.newest_catalog(connection)
        found = worklist.inbox(
            connection, scope, filters, after=after_cursor, before=before_cursor, size=size,
            catalog=catalog,
        )
        stations = worklist.stations_in_scope(connection, scope)
    extra = {"size": str(size)} if size != worklist.PAGE_SIZE else {}
    return render(
        request, "inbox.html", viewer=viewer, title_key="inbox_title",
        filters=filters, found=found, stations=stations, items=catalog.items(),
        states=STATES, ages=worklist.AGES, sorts=worklist.SORTS, extra=extra,
        now=datetime.now(UTC), local_time=local_time,
        waited=lambda span: waited(viewer.language, span),
    )


# -- JSON -------------------------------------------------------------------------------


class InboxItem(BaseModel):
    """One application of the inbox (nothing personal)."""

    id: str
    reference: str
    station_code: str
    station_name: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    state: str
    created_at: datetime
    received_at: datetime


class InboxAnswer(BaseModel):
    """A page of the inbox: its applications, the count of each state under the other
    filters, the total under all of them, and the cursors of the pages around it."""

    applications: list[InboxItem]
    counts: dict[str, int]
    total: int
    next: str | None
    previous: str | None


@router.get(f"{API}/applications", tags=["console"], response_class=JSONResponse,
    response_model=InboxAnswer)
def console_inbox(
    request: Request,
    viewer: Annotated[Viewer, Depends(api("agent", "supervisor"))],
    station: Param = None, item: Param = None, state: Param = None, age: Param = None,
    sort: Param = None, after: Param = None, before: Param = None,
    size: Size = worklist.PAGE_SIZE,
) -> InboxAnswer:
    """The inbox's data: the same filters, order, counts and paging as the page."""
    filters, after_cursor, before_cursor = parse_inbox(
        station, item, state, age, sort, after, before
    )
    with database(request).read() as connection:
        found = worklist.inbox(
            connection, viewer.station_scope(), filters, after=after_cursor,
            before=before_cursor, size=size,
        )
    return InboxAnswer(
        applications=[
            InboxItem(
                id=row.id, reference=row.reference, station_code=row.station_code,
                station_name=row.station_name, item_code=row.item_code,
                item_name_zh=row.item_names[0], item_name_en=row.item_names[1],
                state=row.state, created_at=row.created_at, received_at=row.received_at,
            )
            for row in found.rows
        ],
        counts=found.counts, total=found.total, next=found.next, previous=found.previous,
    )
