"""One application, as an agent works on it: the item and its guide, the resident and
the form masked, every material, its history, the station and its times; revealing the
identity or opening the materials for a reason (`district.console.access`); and the
decision (`district.applications.decide`), offered only as the transitions its state
allows, made on the version the agent saw: if someone else decided meanwhile, nothing is
overwritten and the page shows what the application is now (409).

An application of a station outside the viewer's group is "not found" (404), never
"forbidden": the console does not confirm that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from district import applications
from district.applications import NEEDS_MORE, NEEDS_REASON, STATES, TRANSITIONS
from district.errors import NotFound, Overtaken, ProblemError, Refused
from district.stations import district_name

from . import access, worklist
from .deps import (
    API,
    CONSOLE,
    ConsoleError,
    Viewer,
    api,
    api_csrf,
    check_csrf,
    database,
    page,
    redirect,
    render,
)
from .inbox import local_time
from .strings import STRINGS, Language, register, text

router = APIRouter()

GROUP = ("agent", "supervisor")
ApplicationId = Annotated[str, Path(max_length=100)]
Field200 = Annotated[str, Form(max_length=200)]
MAX_REASON = 500
#: Served in the page (an <img> or an <iframe>); any other type is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "application/pdf"})

register(
    {
        "application_title": ("申请详情", "Application"),
        "application_heading": ("申请 {reference}", "Application {reference}"),
        "application_back": ("返回待办申请", "Back to the inbox"),
        "application_item": ("事项与办事指南", "Item and guide"),
        "application_item_unknown": (
            "最新目录中没有事项 {code}。", "Item {code} is not in the newest catalog."
        ),
        "application_responsible": ("实施主体", "Responsible body"),
        "application_time_limit": ("承诺时限", "Time limit"),
        "application_fee": ("收费", "Fee"),
        "application_eligibility": ("受理条件", "Who may apply"),
        "application_required": ("申请材料", "Materials required"),
        "application_optional": ("（非必需）", "(optional)"),
        "application_copies": ("（{form}，{copies} 份）", " ({form}, copies: {copies})"),
        "application_resident": ("申请人", "Resident"),
        "application_no_resident": (
            "此申请没有申请人信息。", "This application names no resident."
        ),
        "application_masked": (
            "以下信息已部分隐藏。", "Parts of these details are hidden."
        ),
        "application_revealed_until": (
            "完整信息显示至 {time}（已记录查看原因）。",
            "Shown in full until {time} (the reason was recorded).",
        ),
        "application_missing": ("卡片未提供：{fields}", "Not on the card: {fields}"),
        "application_form": ("填报内容", "Form"),
        "application_no_form": ("没有填报内容。", "Nothing was filled in."),
        "application_station": ("服务站与时间", "Station and times"),
        "application_station_name": ("服务站", "Station"),
        "application_created": ("在服务站提交（服务站时钟）", "Made at the station (its clock)"),
        "application_received": ("同步到区级", "Reached the district"),
        "application_updated": ("最后更新", "Last changed"),
        "application_version": ("版本", "Version"),
        "application_materials": ("材料", "Materials"),
        "application_no_materials": ("此申请没有材料。", "This application has no materials."),
        "application_material_kind": ("类型", "Kind"),
        "application_material_label": ("名称", "Label"),
        "application_material_type": ("格式", "Format"),
        "application_material_size": ("大小", "Size"),
        "application_materials_caption": ("材料清单", "The materials"),
        "application_materials_open_until": (
            "材料可查看至 {time}（已记录查看原因）。",
            "The materials are open until {time} (the reason was recorded).",
        ),
        "application_download": ("下载 {label}", "Download {label}"),
        "application_zoom_in": ("放大", "Zoom in"),
        "application_zoom_out": ("缩小", "Zoom out"),
        "application_rotate": ("旋转", "Rotate"),
        "application_reset": ("还原", "Reset"),
        "application_viewer": ("材料 {n}：{label}", "Material {n}: {label}"),
        "application_history": ("办理记录", "History"),
        "application_history_received": ("收到申请", "Received"),
        "application_history_decision": (
            "{account}：{from_state} → {to_state}", "{account}: {from_state} → {to_state}"
        ),
        "application_history_reason": ("原因：{reason}", "Reason: {reason}"),
        "application_access_reason": ("查看原因", "Reason"),
        "application_access_reveal_identity": ("显示完整身份信息", "Show the full identity"),
        "application_access_open_materials": ("查看材料", "Open the materials"),
        "application_access_recorded": (
            "查看会被记录在审计日志中。", "Opening them is recorded in the audit log."
        ),
        "application_access_reason_review": ("受理审核", "Reviewing the application"),
        "application_access_reason_enquiry": ("居民来电咨询", "The resident's enquiry"),
        "application_access_reason_supplement": ("补正核对", "Checking a supplement"),
        "application_access_reason_quality": ("质量抽查", "Quality check"),
        "application_access_bad_request": (
            "请选择查看内容和原因。", "Please choose what to open and a reason."
        ),
        "application_access_needed": (
            "请先在申请页面选择查看原因，再打开材料。",
            "Give a reason on the application's page before opening its materials.",
        ),
        "application_decision_heading": ("办理决定", "Decision"),
        "application_decision_choose": ("决定", "Decide"),
        "application_decision_none": (
            "此申请已办结，不能再作决定。", "This application is finished: no decision is left."
        ),
        "application_decision_to_accepted": ("受理", "Accept"),
        "application_decision_to_needs_more": ("要求补正", "Ask for more"),
        "application_decision_to_rejected": ("不予受理", "Reject"),
        "application_decision_to_ready_for_pickup": ("可以领取", "Ready for pickup"),
        "application_decision_to_completed": ("办结", "Completed"),
        "application_decision_reason": ("原因或缺少的材料", "Reason, or what is missing"),
        "application_decision_reason_hint": (
            "不予受理须写明原因；要求补正须写明缺少什么。这段文字会打印在回执上交给居民，"
            "请用居民能看懂的话。",
            "A rejection needs its reason; asking for more needs what is missing. This text "
            "is printed on a slip for the resident: use words they understand.",
        ),
        "application_decision_submit": ("提交决定", "Record the decision"),
        "application_decision_done": (
            "已记录决定：{state}。", "The decision was recorded: {state}."
        ),
        "application_decision_overtaken": (
            "在您查看期间，其他人已对此申请作出决定，您的决定未保存。以下是它现在的状态。",
            "Someone else decided this application meanwhile; yours was not saved. "
            "Here is what it is now.",
        ),
        "application_decision_not_allowed": (
            "此申请现在不能改为这个状态。", "The application cannot go to that state now."
        ),
        "application_decision_reason_needed": (
            "不予受理须写明原因。", "A rejection needs its reason."
        ),
        "application_decision_missing_needed": (
            "要求补正须写明缺少什么。", "Asking for more needs what is missing."
        ),
        "application_decision_reason_long": (
            "原因最多 500 个字。", "A reason is at most 500 characters."
        ),
        "application_field_name": ("姓名", "Name"),
        "application_field_ssn": ("社会保障号码", "Social security number"),
        "application_field_card_number": ("卡号", "Card number"),
        "application_field_sex": ("性别", "Sex"),
        "application_field_birth_date": ("出生日期", "Date of birth"),
        "application_field_ethnicity": ("民族", "Ethnicity"),
        "application_field_birthplace": ("出生地", "Birthplace"),
        "application_field_expiry_date": ("有效期至", "Valid until"),
        "application_field_code": ("医保电子凭证", "Insurance voucher"),
        "application_field_province": ("参保地", "Insured in"),
        "application_field_phone": ("联系电话", "Phone"),
        "application_field_note": ("备注", "Note"),
        "application_size_bytes": ("{n} 字节", "{n} bytes"),
        "application_size_kb": ("{n} KB", "{n} KB"),
        "application_size_mb": ("{n} MB", "{n} MB"),
    }
)


def size_text(language: Language, size: int) -> str:
    if size < 1024:
        return text(language, "application_size_bytes", n=size)
    if size < 1024 * 1024:
        return text(language, "application_size_kb", n=f"{size / 1024:.1f}")
    return text(language, "application_size_mb", n=f"{size / 1024 / 1024:.1f}")


def field_label(language: Language, key: str) -> str:
    """A form or identity field's label; a field the console has no words for by its key."""
    name = f"application_field_{key}"
    return text(language, name) if name in STRINGS else key


def transitions(state: str) -> list[str]:
    """The states a decision may move an application in `state` to, in a fixed order."""
    return [to for to in STATES if to in TRANSITIONS.get(state, ())]


def decision_problem(view: worklist.ApplicationView, state: str, reason: str) -> str | None:
    """Why this decision cannot be made on the application as it is (a text key)."""
    if state not in transitions(view.state):
        return "application_decision_not_allowed"
    if state in NEEDS_REASON and not reason.strip():
        if state == NEEDS_MORE:
            return "application_decision_missing_needed"
        return "application_decision_reason_needed"
    if len(reason.strip()) > MAX_REASON:
        return "application_decision_reason_long"
    return None


@dataclass(frozen=True)
class _Loaded:
    """An application with what its page needs besides: the viewer's live grants on it,
    the newest catalog and, for a page, the district's name its frame shows (read on one
    connection, `Database.lookup`; None for the JSON endpoints, which have no frame)."""

    view: worklist.ApplicationView
    grants: dict[str, datetime]
    catalog: worklist.CatalogView
    district: str | None


def _load(
    request: Request, viewer: Viewer, application_id: str, *, for_page: bool = True
) -> _Loaded:
    """The application if the viewer's group holds it, else 404."""
    db = database(request)
    with db.lookup() as connection:
        view = worklist.application(connection, db.vault, viewer.station_scope(), application_id)
        if view is None:
            raise ConsoleError(404, "error_not_found")
        grants = access.live_grants(connection, viewer.session.token_sha256, application_id)
        district = district_name(db, connection) if for_page else None
        return _Loaded(view, grants, worklist.newest_catalog(connection), district)


def _show(
    request: Request, viewer: Viewer, loaded: _Loaded, *, status: int = 200,
    notice: str = "", notice_kind: str = "", chosen: str = "", reason: str = "",
) -> Response:
    view, grants = loaded.view, loaded.grants
    revealed = "identity" in grants
    return render(
        request, "application.html", viewer=viewer, title_key="application_title",
        status=status, district=loaded.district, app=view,
        item=loaded.catalog.item(view.item_code), grants=grants,
        resident=worklist.resident_fields(view.resident, reveal=revealed),
        missing=worklist.resident_missing(view.resident),
        form=worklist.form_fields(view.form, reveal=revealed),
        next_states=transitions(view.state), reasons=access.REASONS,
        notice=notice, notice_kind=notice_kind, chosen=chosen, reason=reason,
        inline_types=INLINE_TYPES, local_time=local_time,
        size_text=lambda size: size_text(viewer.language, size),
        field_label=lambda key: field_label(viewer.language, key),
    )


@router.get(f"{CONSOLE}/applications/{{application_id}}", include_in_schema=False)
def application_page(
    request: Request,
    application_id: ApplicationId,
    viewer: Annotated[Viewer, Depends(page(*GROUP))],
    done: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    loaded = _load(request, viewer, application_id)
    notice = ""
    if done in STATES:
        state = text(viewer.language, f"inbox_state_{done}")
        notice = text(viewer.language, "application_decision_done", state=state)
    return _show(request, viewer, loaded, notice=notice, notice_kind="ok")


@router.post(f"{CONSOLE}/applications/{{application_id}}/access", include_in_schema=False)
def open_access(
    request: Request,
    application_id: ApplicationId,
    viewer: Annotated[Viewer, Depends(page(*GROUP))],
    what: Field200 = "",
    reason: Field200 = "",
    csrf: Field200 = "",
) -> Response:
    check_csrf(viewer, csrf)
    db = database(request)
    with db.read() as connection:
        if not worklist.in_scope(connection, viewer.station_scope(), application_id):
            raise ConsoleError(404, "error_not_found")
    if what not in access.WHAT or reason not in access.REASONS:
        raise ConsoleError(400, "application_access_bad_request")
    access.grant(
        db, session_sha256=viewer.session.token_sha256, application_id=application_id,
        what=what, reason=reason, account=viewer.account.name, address=viewer.address,
    )
    return redirect(f"{CONSOLE}/applications/{application_id}#{what}")


@router.get(
    f"{CONSOLE}/applications/{{application_id}}/materials/{{position}}", include_in_schema=False
)
def material(
    request: Request,
    application_id: ApplicationId,
    position: Annotated[int, Path(ge=0, le=10_000)],
    viewer: Annotated[Viewer, Depends(page(*GROUP))],
) -> Response:
    """A material's bytes, for a session holding a live grant for the materials. Only the
    types a browser shows safely are served inline; the console's headers
    (`Cache-Control: no-store`, `X-Content-Type-Options: nosniff`, the CSP) come on every
    answer from its middleware."""
    db = database(request)
    with db.read() as connection:
        if not worklist.in_scope(connection, viewer.station_scope(), application_id):
            raise ConsoleError(404, "error_not_found")
        grants = access.live_grants(connection, viewer.session.token_sha256, application_id)
        if "materials" not in grants:
            raise ConsoleError(403, "application_access_needed")
        found = worklist.material_content(connection, db.vault, application_id, position)
    if found is None:
        raise ConsoleError(404, "error_not_found")
    row, content = found
    inline = row.media_type in INLINE_TYPES
    name = f"material-{row.position + 1}"
    return Response(
        content,
        media_type=row.media_type if inline else "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"'
        },
    )


@router.post(f"{CONSOLE}/applications/{{application_id}}/decision", include_in_schema=False)
def decide_page(
    request: Request,
    application_id: ApplicationId,
    viewer: Annotated[Viewer, Depends(page(*GROUP))],
    state: Field200 = "",
    version: Annotated[int | None, Form(ge=0, le=2**31 - 1)] = None,
    csrf: Field200 = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(viewer, csrf)
    loaded = _load(request, viewer, application_id)
    if version is None:
        raise ConsoleError(400, "error_bad_request")
    overtaken = text(viewer.language, "application_decision_overtaken")
    if loaded.view.version != version:
        return _show(request, viewer, loaded, status=409, notice=overtaken, notice_kind="error")
    problem = decision_problem(loaded.view, state, reason)
    if problem is not None:
        return _show(request, viewer, loaded, status=400, notice=text(viewer.language, problem),
                     notice_kind="error", chosen=state, reason=reason)
    try:
        applications.decide(
            database(request), application_id, state, reason, account=viewer.account.name,
            address=viewer.address, expected_version=version,
        )
    except Overtaken:
        return _show(request, viewer, _load(request, viewer, application_id), status=409,
                     notice=overtaken, notice_kind="error")
    except NotFound:
        raise ConsoleError(404, "error_not_found") from None
    except Refused as refused:
        return _show(request, viewer, loaded, status=400, notice=str(refused),
                     notice_kind="error", chosen=state, reason=reason)
    return redirect(f"{CONSOLE}/applications/{application_id}?done={state}")


# -- JSON -------------------------------------------------------------------------------


class MaterialInfo(BaseModel):
    position: int
    kind: str
    label: str
    media_type: str
    size: int


class HistoryEntry(BaseModel):
    """The receipt (account "") or a decision."""

    at: datetime
    account: str
    from_state: str
    to_state: str
    reason: str | None


class ApplicationAnswer(BaseModel):
    """One application, the resident and the form masked."""

    id: str
    reference: str
    station_code: str
    station_name: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    state: str
    reason: str | None
    version: int
    created_at: datetime
    received_at: datetime
    updated_at: datetime
    resident: dict[str, str]
    resident_missing: list[str]
    form: dict[str, str]
    materials: list[MaterialInfo]
    history: list[HistoryEntry]
    transitions: list[str]


class DecisionBody(BaseModel):
    """A decision, made on the version of the application the agent saw."""

    model_config = ConfigDict(extra="forbid")

    state: Annotated[str, Field(max_length=30)]
    reason: Annotated[str | None, Field(max_length=2000)] = None
    version: Annotated[int, Field(ge=0, le=2**31 - 1)]


class DecisionAnswer(BaseModel):
    id: str
    state: str
    reason: str | None
    version: int


def _answer(loaded: _Loaded) -> ApplicationAnswer:
    view = loaded.view
    names = loaded.catalog.names.get(view.item_code, ("", ""))
    return ApplicationAnswer(
        id=view.id, reference=view.reference, station_code=view.station_code,
        station_name=view.station_name, item_code=view.item_code, item_name_zh=names[0],
        item_name_en=names[1], state=view.state, reason=view.reason, version=view.version,
        created_at=view.created_at, received_at=view.received_at, updated_at=view.updated_at,
        resident=dict(worklist.resident_fields(view.resident, reveal=False)),
        resident_missing=worklist.resident_missing(view.resident),
        form=dict(worklist.form_fields(view.form, reveal=False)),
        materials=[MaterialInfo(**vars(m)) for m in view.materials],
        history=[HistoryEntry(**vars(h)) for h in view.history],
        transitions=transitions(view.state),
    )


@router.get(
    f"{API}/applications/{{application_id}}", tags=["console"], response_class=JSONResponse,
    response_model=ApplicationAnswer
)
def console_application(
    request: Request,
    application_id: ApplicationId,
    viewer: Annotated[Viewer, Depends(api(*GROUP))],
) -> ApplicationAnswer:
    """One application of the viewer's group, its resident and form masked."""
    return _answer(_load(request, viewer, application_id, for_page=False))


@router.post(
    f"{API}/applications/{{application_id}}/decisions", tags=["console"],
    response_class=JSONResponse, response_model=DecisionAnswer,
)
def console_decide(
    request: Request,
    application_id: ApplicationId,
    body: DecisionBody,
    viewer: Annotated[Viewer, Depends(api(*GROUP))],
) -> DecisionAnswer:
    """Decide an application (X-CSRF-Token). 409 `conflict` if someone else decided it
    since `version`; 400 for a transition its state does not allow or a missing reason."""
    api_csrf(request, viewer)
    view = _load(request, viewer, application_id, for_page=False).view
    if view.version != body.version:
        raise ConsoleError(409, "application_decision_overtaken", "conflict")
    problem = decision_problem(view, body.state, body.reason or "")
    if problem is not None:
        raise ConsoleError(400, problem)
    try:
        done = applications.decide(
            database(request), application_id, body.state, body.reason,
            account=viewer.account.name, address=viewer.address, expected_version=body.version,
        )
    except Overtaken:
        raise ConsoleError(409, "application_decision_overtaken", "conflict") from None
    except NotFound:
        raise ConsoleError(404, "error_not_found") from None
    except Refused as refused:
        raise ProblemError(400, "malformed", str(refused)) from None
    return DecisionAnswer(
        id=application_id, state=done["state"], reason=done["reason"], version=done["version"]
    )
