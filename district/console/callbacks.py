"""The call-back page: the requests residents left at their group's stations when no
agent could take their call (`district.callbacks`), for the group's agents and
supervisors at /console/callbacks.

The open requests come the longest waiting first (by the kiosk's clock), each with its
station, item, preferred time and the number masked (138****5678); then the last ones
marked done, with who marked them and when. A request of a station outside the viewer's
group is never listed, and anything done to it answers 404, as for one that does not
exist.

The full number is shown only after the agent gives a reason (`REASONS`), as the
application page reveals a resident's identity (`district.console.access`): a grant for
the agent's session on that request (`access_grants`, `what` "phone", keyed on the
request's UUID, which never names an application) that lasts `access.GRANT_TIME`, and
an audit entry (identity revealed, record `callback:<id>`, the reason's code as its
detail, never the number), in one transaction.

"Done" marks the request answered, with the agent and the time, and writes an audit
entry (decision, detail `done`): the agent phoned the resident on the number. A request
someone else marked meanwhile keeps their mark, and the page says so (409). Calling the
station itself from the console (a video call the agent starts, to the station the
request came from) is a later step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from district import audit
from district import callbacks as requests
from district.errors import Overtaken
from district.models import AccessGrant
from kiosk.store.crypto import Vault

from . import access
from .deps import CONSOLE, ConsoleError, Viewer, check_csrf, database, page, redirect, render
from .inbox import local_time, waited
from .strings import register, text

router = APIRouter(include_in_schema=False)

ROLES = ("agent", "supervisor")
WHAT = "phone"  # a grant's `what` for a call-back's number
#: The reasons an agent may give to see a number in full, by code.
REASONS = ("callback", "quality")
CallbackId = Annotated[str, Path(max_length=36)]
Field200 = Annotated[str, Form(max_length=200)]

register(
    {
        "nav_callbacks": ("回电请求", "Call-backs"),
        "callbacks_title": ("回电请求", "Call-back requests"),
        "callbacks_heading": ("回电请求", "Call-back requests"),
        "callbacks_intro": (
            "居民在服务站无人接听时留下的电话，等待最久的在前。回电后请标记为已回电。",
            "Numbers residents left at a station when nobody could take their call, the "
            "longest waiting first. Mark each one done once you have called back.",
        ),
        "callbacks_caption": ("待回电（{count} 件）", "Waiting ({count})"),
        "callbacks_empty": ("没有待回电的请求。", "No call-back request is waiting."),
        "callbacks_station": ("服务站", "Station"),
        "callbacks_item": ("事项", "Item"),
        "callbacks_preferred": ("希望回电时间", "Preferred time"),
        "callbacks_requested": ("留言时间（服务站时钟）", "Left at (the station's clock)"),
        "callbacks_waiting": ("已等待", "Waiting"),
        "callbacks_phone": ("电话", "Phone"),
        "callbacks_actions": ("操作", "Actions"),
        "callbacks_preferred_today": ("今天", "Later today"),
        "callbacks_preferred_tomorrow_am": ("明天上午", "Tomorrow morning"),
        "callbacks_preferred_tomorrow_pm": ("明天下午", "Tomorrow afternoon"),
        "callbacks_reason": ("查看原因", "Reason"),
        "callbacks_reason_callback": ("回电居民", "Calling the resident back"),
        "callbacks_reason_quality": ("质量抽查", "Quality check"),
        "callbacks_reveal": ("显示完整号码", "Show the full number"),
        "callbacks_reveal_recorded": (
            "查看会被记录在审计日志中。",
            "Showing it is recorded in the audit log.",
        ),
        "callbacks_revealed_until": ("完整号码显示至 {time}。", "Shown in full until {time}."),
        "callbacks_done": ("已回电", "Done"),
        "callbacks_call_station": ("视频呼叫服务站", "Video-call the station"),
        "callbacks_call_station_label": (
            "视频呼叫服务站：{station}",
            "Video-call the station: {station}",
        ),
        "callbacks_done_label": (
            "标记 {station} 的回电请求为已回电",
            "Mark the call-back request from {station} done",
        ),
        "callbacks_done_notice": ("已标记为已回电。", "Marked done."),
        "callbacks_overtaken": (
            "在您查看期间，其他人已处理此回电请求。",
            "Someone else marked this call-back request meanwhile.",
        ),
        "callbacks_bad_reason": ("请选择查看原因。", "Please choose a reason."),
        "callbacks_recent": ("最近已回电", "Recently done"),
        "callbacks_done_by": ("回电人", "Done by"),
        "callbacks_done_at": ("回电时间", "Done at"),
        "callbacks_later": (
            "从平台直接呼叫服务站将在后续版本提供；目前请拨打居民留下的电话。",
            "Calling the station from the console comes in a later version; for now, "
            "call the number the resident left.",
        ),
    }
)


def _phones(
    connection: Connection, viewer: Viewer, vault: Vault, ids: list[str]
) -> dict[str, tuple[str, datetime]]:
    """The numbers this session may see in full now: id → (number, shown until)."""
    if not ids:
        return {}
    live = connection.execute(
        select(AccessGrant.application_id, AccessGrant.expires_at).where(
            AccessGrant.session_sha256 == viewer.session.token_sha256,
            AccessGrant.what == WHAT,
            AccessGrant.application_id.in_(ids),
            AccessGrant.expires_at > datetime.now(UTC),
        )
    ).all()
    shown = {}
    for row in live:
        number = requests.phone_of(connection, vault, row.application_id)
        if number is not None:
            shown[row.application_id] = (number, row.expires_at)
    return shown


def _page(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    notice: str = "",
    notice_kind: str = "",
) -> Response:
    db = database(request)
    scope = viewer.station_scope()
    with db.read() as connection:
        waiting = requests.waiting(connection, db.vault, scope)
        done = requests.recently_done(connection, db.vault, scope)
        phones = _phones(connection, viewer, db.vault, [row.id for row in waiting])
    return render(
        request,
        "callbacks.html",
        viewer=viewer,
        title_key="callbacks_title",
        status=status,
        waiting=waiting,
        done=done,
        phones=phones,
        reasons=REASONS,
        notice=notice,
        notice_kind=notice_kind,
        now=datetime.now(UTC),
        local_time=local_time,
        waited=lambda span: waited(viewer.language, span),
    )


def _in_scope(request: Request, viewer: Viewer, callback_id: str) -> requests.CallbackView:
    db = database(request)
    with db.read() as connection:
        found = requests.one(connection, db.vault, viewer.station_scope(), callback_id)
    if found is None:
        raise ConsoleError(404, "error_not_found")
    return found


@router.get(f"{CONSOLE}/callbacks")
def callbacks_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    done: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    notice = text(viewer.language, "callbacks_done_notice") if done == "1" else ""
    return _page(request, viewer, notice=notice, notice_kind="ok")


@router.post(f"{CONSOLE}/callbacks/{{callback_id}}/reveal")
def reveal(
    request: Request,
    callback_id: CallbackId,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    reason: Field200 = "",
    csrf: Field200 = "",
) -> Response:
    check_csrf(viewer, csrf)
    _in_scope(request, viewer, callback_id)
    if reason not in REASONS:
        raise ConsoleError(400, "callbacks_bad_reason")
    db = database(request)
    expires = datetime.now(UTC) + access.GRANT_TIME
    with db.write() as connection:
        statement = db.insert(AccessGrant).values(
            session_sha256=viewer.session.token_sha256,
            application_id=callback_id,
            what=WHAT,
            reason=reason,
            expires_at=expires,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["session_sha256", "application_id", "what"],
                set_={"reason": reason, "expires_at": expires},
            )
        )
        audit.append(
            db,
            connection,
            account=viewer.account.name,
            address=viewer.address,
            action=audit.IDENTITY_REVEALED,
            record=f"callback:{callback_id}",
            detail=reason,
        )
    return redirect(f"{CONSOLE}/callbacks#cb-{callback_id}")


@router.post(f"{CONSOLE}/callbacks/{{callback_id}}/done")
def mark_done(
    request: Request,
    callback_id: CallbackId,
    viewer: Annotated[Viewer, Depends(page(*ROLES))],
    csrf: Field200 = "",
) -> Response:
    check_csrf(viewer, csrf)
    _in_scope(request, viewer, callback_id)
    db = database(request)
    try:
        with db.write() as connection:
            requests.mark_done(connection, callback_id, user_id=viewer.account.id)
            audit.append(
                db,
                connection,
                account=viewer.account.name,
                address=viewer.address,
                action=audit.DECISION,
                record=f"callback:{callback_id}",
                detail=requests.DONE,
            )
    except Overtaken:
        return _page(
            request,
            viewer,
            status=409,
            notice_kind="error",
            notice=text(viewer.language, "callbacks_overtaken"),
        )
    return redirect(f"{CONSOLE}/callbacks?done=1")
