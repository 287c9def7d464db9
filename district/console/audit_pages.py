"""The audit log for auditors (every other role gets 403): the page /console/audit and the
same entries as JSON at /console/api/audit.

Entries are shown newest first, fifty to a page, paged by entry number (`before`: the
entries numbered below it), filtered by account (exactly), action, record (the id's
beginning: `application:` is every application), and a time range in the server's
local time (`since` inclusive, `until` exclusive).

The chain's state heads the page: `district.audit.verify` walks the whole chain, so it
runs on every visit while the log is small (`AUTO_VERIFY`) and, beyond that, when the
auditor presses the button (`verify=1`). Nothing about it is cached between requests:
every answer is the chain as it is now.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from district import audit
from district.models import AuditCheckpoint, AuditEntry

from .deps import API, CONSOLE, ConsoleError, Viewer, api, database, page, render
from .inbox import local_time
from .strings import STRINGS, Language, register, text

router = APIRouter()

PAGE_SIZE = 50
AUTO_VERIFY = 20_000  # entries; beyond this the chain is verified when asked

Parameter = Annotated[str | None, Query(max_length=80)]

#: The actions the log records, in the order the filter offers them.
ACTIONS = (
    audit.SIGN_IN, audit.SIGN_IN_FAILED, audit.SECOND_FACTOR, audit.SIGN_OUT,
    audit.IDENTITY_REVEALED, audit.MATERIALS_OPENED, audit.DECISION,
    audit.USER_ADDED, audit.USER_CHANGED, audit.USER_DISABLED, audit.PASSWORD_RESET,
    audit.TOTP_SET, audit.STATION_ADDED, audit.STATION_CHANGED, audit.STATION_REVOKED,
    audit.STATION_CODE, audit.CATALOG_PUBLISHED, audit.SETTINGS_CHANGED,
)

register(
    {
        "audit_title": ("审计日志", "Audit log"),
        "audit_chain": ("日志链状态", "The chain"),
        "audit_intact": (
            "完整：共 {count} 条记录，逐条核对无误。",
            "Intact: all {count} entries check out.",
        ),
        "audit_broken": (
            "已被改动：第 {seq} 条记录（{what}）。请立即报告。",
            "Broken at entry {seq} ({what}). Report it at once.",
        ),
        "audit_empty": ("日志中还没有记录。", "The log has no entries yet."),
        "audit_not_verified": (
            "共 {count} 条记录，日志较大，按需核对。",
            "{count} entries: the log is large, so it is verified when you ask.",
        ),
        "audit_verify": ("核对整条日志链", "Verify the whole chain"),
        "audit_checkpoint": (
            "最近的检查点：第 {seq} 条，{at}",
            "Newest checkpoint: entry {seq}, {at}",
        ),
        "audit_no_checkpoint": ("还没有检查点。", "No checkpoint yet."),
        "audit_filters": ("筛选", "Filter"),
        "audit_account": ("账号", "Account"),
        "audit_action": ("操作", "Action"),
        "audit_any_action": ("全部操作", "Every action"),
        "audit_record": ("记录（开头部分即可）", "Record (its beginning will do)"),
        "audit_record_column": ("记录", "Record"),
        "audit_since": ("起始时间", "From"),
        "audit_until": ("截止时间（不含）", "Until (not including)"),
        "audit_apply": ("筛选", "Filter"),
        "audit_clear": ("清除筛选", "Clear the filter"),
        "audit_entries": ("审计记录（最新在前）", "Entries, newest first"),
        "audit_seq": ("序号", "No."),
        "audit_time": ("时间", "Time"),
        "audit_address": ("地址", "Address"),
        "audit_result": ("结果", "Result"),
        "audit_detail": ("详情", "Detail"),
        "audit_none": ("没有符合条件的记录。", "No entry matches."),
        "audit_older": ("更早的记录", "Older entries"),
        "audit_newest": ("最新的记录", "Newest entries"),
        "audit_bad_filter": (
            "筛选条件不正确：时间写作 2026-11-24T09:30，账号、操作和记录不含特殊字符。",
            "The filter is not right: a time is written 2026-11-24T09:30; accounts, actions "
            "and records hold no unusual characters.",
        ),
        "audit_result_ok": ("成功", "ok"),
        "audit_result_refused": ("被拒绝", "refused"),
        "audit_result_failed": ("失败", "failed"),
        "audit_action_sign_in": ("登录", "sign-in"),
        "audit_action_sign_in_failed": ("登录失败", "failed sign-in"),
        "audit_action_second_factor": ("动态口令", "second factor"),
        "audit_action_sign_out": ("退出登录", "sign-out"),
        "audit_action_identity_revealed": ("查看完整身份", "identity revealed"),
        "audit_action_materials_opened": ("打开材料", "materials opened"),
        "audit_action_decision": ("作出决定", "decision"),
        "audit_action_user_added": ("新增账号", "account added"),
        "audit_action_user_changed": ("修改账号", "account changed"),
        "audit_action_user_disabled": ("停用账号", "account disabled"),
        "audit_action_password_reset": ("重置密码", "password reset"),
        "audit_action_totp_set": ("设置动态口令", "second factor set"),
        "audit_action_station_added": ("新增服务站", "station added"),
        "audit_action_station_changed": ("修改服务站", "station changed"),
        "audit_action_station_revoked": ("吊销服务站", "station revoked"),
        "audit_action_station_code": ("服务站注册码", "station enrollment code"),
        "audit_action_catalog_published": ("发布事项目录", "catalog published"),
        "audit_action_settings_changed": ("修改设置", "settings changed"),
        "audit_action_call_joined": ("组长加入通话", "supervisor joined a call"),
        "audit_action_call_taken_over": ("组长接管通话", "supervisor took a call over"),
    }
)

_TOKEN = re.compile(r"^[A-Za-z0-9_.:@()\- ]{1,80}$")
_ACTION = re.compile(r"^[a-z_]{1,40}$")
_NUMBER = re.compile(r"^[0-9]{1,18}$")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$")


@dataclass(frozen=True)
class Filters:
    """The audit log's filters, checked."""

    account: str | None = None
    action: str | None = None
    record: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None

    def query(self, **changes: Any) -> str:
        """The filters as a query string (the times in local time, as they were typed)."""
        fields: dict[str, Any] = {**asdict(self), **changes}
        for name in ("since", "until"):
            if isinstance(fields.get(name), datetime):
                fields[name] = local_input(fields[name])
        return urlencode({k: v for k, v in fields.items() if v is not None})


def local_input(moment: datetime | None) -> str:
    """A time as a `datetime-local` input shows it: the server's local time."""
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def label(language: Language, kind: str, value: str) -> str:
    """The name of an action or a result (`kind`), or the value itself if it has none."""
    key = f"audit_{kind}_{value}"
    return text(language, key) if key in STRINGS else value


def local_seconds(at: str) -> str:
    """An entry's time (as `audit.entries` gives it) in local time, to the second."""
    return datetime.fromisoformat(at).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def read_filters(
    account: str | None, action: str | None, record: str | None, since: str | None,
    until: str | None, before: str | None,
) -> Filters:
    def token(value: str | None, pattern: re.Pattern[str]) -> str | None:
        if not value:
            return None
        if pattern.match(value) is None:
            raise ConsoleError(400, "audit_bad_filter")
        return value

    def moment(value: str | None) -> datetime | None:
        if not value:
            return None
        if _TIME.match(value) is None:
            raise ConsoleError(400, "audit_bad_filter")
        try:
            return datetime.fromisoformat(value).astimezone()  # the server's local time
        except (ValueError, OverflowError):
            raise ConsoleError(400, "audit_bad_filter") from None

    number = None
    if before:
        if _NUMBER.match(before) is None:
            raise ConsoleError(400, "audit_bad_filter")
        number = int(before)
    return Filters(
        account=token(account, _TOKEN), action=token(action, _ACTION),
        record=token(record, _TOKEN), since=moment(since), until=moment(until), before=number,
    )


def _found(request: Request, filters: Filters) -> list[dict[str, Any]]:
    return audit.entries(
        database(request), since=filters.since, until=filters.until, account=filters.account,
        action=filters.action, record=filters.record, before=filters.before,
        newest_first=True, limit=PAGE_SIZE + 1,
    )


def _chain(request: Request, asked: bool) -> dict[str, Any]:
    """The chain's state now: its length, the newest checkpoint, and, when verified, the
    first problem (None: intact)."""
    db = database(request)
    with db.read() as connection:
        count = connection.scalar(select(func.count()).select_from(AuditEntry)) or 0
        newest = connection.execute(
            select(AuditCheckpoint.seq, AuditCheckpoint.at)
            .order_by(AuditCheckpoint.id.desc())
            .limit(1)
        ).first()
    verified = asked or count <= AUTO_VERIFY
    return {
        "count": count,
        "verified": verified,
        "problem": audit.verify(db) if verified else None,
        "checkpoint": newest,
    }


Action = Annotated[str | None, Query(max_length=40)]
Time = Annotated[str | None, Query(max_length=25)]
Before = Annotated[str | None, Query(max_length=20)]


@router.get(f"{CONSOLE}/audit", include_in_schema=False)
def audit_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("auditor"))],
    account: Parameter = None,
    action: Action = None,
    record: Parameter = None,
    since: Time = None,
    until: Time = None,
    before: Before = None,
    verify: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    filters = read_filters(account, action, record, since, until, before)
    found = _found(request, filters)
    rows = found[:PAGE_SIZE]
    older = filters.query(before=rows[-1]["seq"]) if len(found) > PAGE_SIZE else None
    return render(
        request, "audit.html", viewer=viewer, title_key="audit_title",
        filters=filters, rows=rows, older=older,
        newest=filters.query(before=None) if filters.before else None,
        chain=_chain(request, bool(verify)), actions=ACTIONS, local_time=local_time,
        local_seconds=local_seconds, local_input=local_input,
        label=lambda kind, value: label(viewer.language, kind, value),
        verify_query=filters.query(verify=1),
    )


class AuditEntryOut(BaseModel):
    """One audit entry (no personal data: records are ids)."""

    seq: int
    at: datetime
    account: str
    address: str
    action: str
    record: str
    result: str
    detail: str
    hash: str


class AuditAnswer(BaseModel):
    """A page of entries, newest first; `older` is the `before` of the next page."""

    entries: list[AuditEntryOut]
    older: int | None


@router.get(f"{API}/audit", tags=["console"], response_class=JSONResponse,
            response_model=AuditAnswer)
def console_audit(
    request: Request,
    viewer: Annotated[Viewer, Depends(api("auditor"))],
    account: Parameter = None,
    action: Action = None,
    record: Parameter = None,
    since: Time = None,
    until: Time = None,
    before: Before = None,
) -> AuditAnswer:
    """The audit log for auditors, newest first, with the page's filters and paging
    (`since` and `until` in the server's local time, as on the page)."""
    filters = read_filters(account, action, record, since, until, before)
    found = _found(request, filters)
    rows = found[:PAGE_SIZE]
    return AuditAnswer(
        entries=[AuditEntryOut(**row) for row in rows],
        older=rows[-1]["seq"] if len(found) > PAGE_SIZE else None,
    )
