"""The console's stations pages: every station's state and last health report for admins
(their supervisors see their own group's, read only), and the admins' station work: add
a station (its one-time enrollment code shown once, with a QR code a technician's
`kiosk setup` can scan), a new code for a replaced kiosk, revoke, rename, regroup.

Each change is `district.stations`' own operation, which writes its audit entry in the
change's transaction. The enrollment code is shown on the page that answers the form and
nowhere else: the district keeps only its sha256.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from district import stations
from district.db import Database
from district.errors import Refused
from district.models import Station
from district.stations import StationState

from .deps import (
    API,
    CONSOLE,
    ConsoleError,
    Viewer,
    api,
    check_csrf,
    database,
    page,
    redirect,
    render,
)
from .strings import register

router = APIRouter()
pages = APIRouter(include_in_schema=False)

Csrf = Annotated[str, Form(max_length=200)]
STATES: tuple[StationState, ...] = get_args(StationState)
DONE = ("renamed", "grouped", "revoked")
#: a station group to filter on, as `accounts.GROUP_PATTERN` allows them
GroupParam = Annotated[str | None, Query(max_length=60, pattern=r"^[\w.-]*$")]

register(
    {
        "stations_heading": ("服务站", "Stations"),
        "stations_caption": ("服务站及其最近一次上报的状态", "Stations and their last report"),
        "stations_read_only": (
            "您可以查看本组服务站的状态；增加或更改服务站请联系管理员。",
            "You see your group's stations; an admin adds and changes them.",
        ),
        "stations_none": ("没有符合条件的服务站。", "No station matches."),
        "stations_filter": ("筛选", "Filter"),
        "stations_filter_apply": ("筛选", "Apply"),
        "stations_all": ("全部", "all"),
        "stations_sort": ("排序", "Sort by"),
        "stations_sort_code": ("编号", "code"),
        "stations_sort_contact": (
            "最近联系（最久未联系在前）", "last contact (longest silent first)",
        ),
        "stations_count": ("共 {count} 个服务站", "{count} stations"),
        "stations_code": ("编号", "Code"),
        "stations_name": ("名称", "Name"),
        "stations_group": ("服务站分组", "Station group"),
        "stations_no_group": ("未分组", "no group"),
        "stations_state": ("状态", "State"),
        "stations_state_enrolled": ("已注册", "enrolled"),
        "stations_state_waiting": ("等待注册", "waiting to enroll"),
        "stations_state_revoked": ("已停用", "revoked"),
        "stations_contact": ("最近联系", "Last contact"),
        "stations_never": ("从未", "never"),
        "stations_queue": ("待上传", "Queue"),
        "stations_rejected": ("被拒收", "Rejected"),
        "stations_software": ("软件版本", "Software"),
        "stations_catalog": ("事项目录版本", "Catalog"),
        "stations_devices": ("设备", "Devices"),
        "stations_clock": ("服务站时钟", "Station clock"),
        "stations_unknown": ("—", "—"),
        "device_card_reader": ("读卡器", "Card reader"),
        "device_camera": ("摄像头", "Camera"),
        "device_document_camera": ("高拍仪", "Document camera"),
        "device_scanner": ("扫码枪", "Scanner"),
        "device_printer": ("打印机", "Printer"),
        "device_state": ("状态", "State"),
        "device_error": ("错误代码", "Error"),
        "device_ok": ("正常", "working"),
        "device_failing": ("故障", "failing"),
        "device_unknown": ("未知", "unknown"),
        "device_missing": ("未连接", "not connected"),
        "device_simulated": ("模拟", "simulated"),
        "stations_devices_summary": (
            "{ok}/{total} 正常", "{ok} of {total} working",
        ),
        "stations_details": ("服务站详情：{code}", "Station {code}"),
        "stations_back": ("返回服务站列表", "Back to the stations"),
        "stations_health": ("最近一次上报", "Last report"),
        "stations_no_report": ("尚未收到服务站的上报。", "The station has not reported yet."),
        "stations_add": ("新增服务站", "Add a station"),
        "stations_add_code": (
            "编号（可不填，自动编为 ST0001 等）",
            "Code (optional: ST0001 and so on when left empty)",
        ),
        "stations_add_code_hint": (
            "2 至 12 位大写字母或数字，例如 PD0101。",
            "2 to 12 capital letters or digits, such as PD0101.",
        ),
        "stations_group_hint": (
            "该组的受理员和主管处理这个服务站的申请；不填则只有管理员可见。",
            "The agents and supervisor of this group serve the station; empty: admins only.",
        ),
        "stations_add_submit": ("新增并生成注册码", "Add and make an enrollment code"),
        "stations_actions": ("管理", "Manage"),
        "stations_rename": ("更改名称", "Rename"),
        "stations_rename_submit": ("保存名称", "Save the name"),
        "stations_regroup": ("更改分组", "Change the group"),
        "stations_regroup_submit": ("保存分组", "Save the group"),
        "stations_new_code": ("重新生成注册码", "New enrollment code"),
        "stations_new_code_hint": (
            "更换或重装服务站电脑后使用：新注册码注册后，旧电脑即不能再同步。",
            "For a replaced or reinstalled kiosk: once it enrolls, the old one can no "
            "longer sync.",
        ),
        "stations_new_code_submit": ("生成新注册码", "Make a new code"),
        "stations_revoke": ("停用服务站", "Revoke the station"),
        "stations_revoke_hint": (
            "停用立即生效且不可恢复：该服务站不能再与区级平台同步。",
            "Revoking is immediate and final: the station can no longer sync.",
        ),
        "stations_revoke_submit": ("停用", "Revoke"),
        "stations_revoke_confirm": (
            "确定停用服务站 {code}？此操作不可恢复。",
            "Revoke station {code}? This cannot be undone.",
        ),
        "stations_done_renamed": ("名称已更改。", "The name was changed."),
        "stations_done_grouped": ("分组已更改。", "The group was changed."),
        "stations_done_revoked": ("服务站已停用。", "The station was revoked."),
        "stations_refused": ("未能完成：{reason}", "Not done: {reason}"),
        "stations_enroll_heading": ("服务站 {code} 的注册码", "Enrollment code for {code}"),
        "stations_enroll_once": (
            "注册码只显示这一次，请现在交给安装人员。",
            "This code is shown this once only: give it to the technician now.",
        ),
        "stations_enroll_valid": (
            "有效期 {minutes} 分钟，至 {until}（UTC）。",
            "Valid for {minutes} minutes, until {until} UTC.",
        ),
        "stations_enroll_command": (
            "在服务站电脑上运行：", "On the station's computer, run:",
        ),
        "stations_enroll_scan": (
            "或在服务站的 kiosk setup 中扫描此二维码：",
            "Or scan this QR code in the station's kiosk setup:",
        ),
        "stations_enroll_qr": (
            "注册二维码：区级平台地址和注册码 {code}",
            "Enrollment QR code: the district's address and the code {code}",
        ),
    }
)


class DeviceHealth(BaseModel):
    state: str | None
    error: str | None


class StationHealth(BaseModel):
    software: str | None
    catalog_version: str | None
    queue_depth: int | None
    rejected: int | None
    clock: str | None
    devices: dict[str, DeviceHealth]


class StationView(BaseModel):
    """A station as the console shows it (every report field null when not known)."""

    code: str
    name: str
    station_group: str
    state: StationState
    last_contact: datetime | None
    health: StationHealth


# -- reading ----------------------------------------------------------------------------


def view_of(row: Any) -> StationView:
    health = stations.read_health(row.report, row.software)
    return StationView(
        code=row.code,
        name=row.name,
        station_group=row.station_group,
        state=stations.state_of(row),
        last_contact=row.report_at,
        health=StationHealth.model_validate(health.to_json()),
    )


def visible_stations(
    db: Database, viewer: Viewer, *, group: str | None = None, state: str | None = None,
    sort: str = "code",
) -> list[StationView]:
    """The stations `viewer` may see, filtered; by code, or longest silent first."""
    query = select(Station).where(viewer.station_scope()).order_by(Station.code)
    if group is not None:
        query = query.where(Station.station_group == group)
    with db.read() as connection:
        found = [view_of(row) for row in connection.execute(query)]
    if state in STATES:
        found = [view for view in found if view.state == state]
    if sort == "contact":
        never = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda view: view.last_contact or never)
    return found


def visible_station(db: Database, viewer: Viewer, code: str) -> StationView:
    """One station `viewer` may see; any other code (or garbage) is 404."""
    if not stations.STATION_CODE.fullmatch(code):
        raise ConsoleError(404, "error_not_found")
    with db.read() as connection:
        row = connection.execute(
            select(Station).where(Station.code == code, viewer.station_scope())
        ).first()
    if row is None:
        raise ConsoleError(404, "error_not_found")
    return view_of(row)


def groups_of(db: Database, viewer: Viewer) -> list[str]:
    with db.read() as connection:
        return list(
            connection.scalars(
                select(Station.station_group)
                .where(viewer.station_scope())
                .distinct()
                .order_by(Station.station_group)
            )
        )


# -- the enrollment code ----------------------------------------------------------------


def enrollment_payload(server: str, code: str) -> str:
    """What the enrollment QR code holds: the district's address and the code."""
    return json.dumps({"district": server, "code": code}, separators=(",", ":"))


def qr_image(payload: str) -> str:
    """`payload` as a QR code, a PNG data URI (the CSP allows data: images)."""
    return segno.make(payload, error="m").png_data_uri(scale=8, border=4)


def _enrollment_page(request: Request, viewer: Viewer, issued: stations.NewCode) -> Response:
    server = str(request.base_url).rstrip("/")
    minutes = round((issued.expires_at - datetime.now(UTC)).total_seconds() / 60)
    return render(
        request,
        "stations_code.html",
        viewer=viewer,
        title_key="stations_heading",
        issued=issued,
        server=server,
        minutes=max(minutes, 1),
        until=f"{issued.expires_at:%Y-%m-%d %H:%M}",
        qr=qr_image(enrollment_payload(server, issued.enrollment_code)),
    )


# -- pages ------------------------------------------------------------------------------


@pages.get(f"{CONSOLE}/stations")
def station_list(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin", "supervisor"))],
    group: GroupParam = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    sort: Annotated[str, Query(max_length=20)] = "code",
) -> Response:
    return _list_page(request, viewer, group=group or "", state=state or "", sort=sort)


def _list_page(
    request: Request, viewer: Viewer, *, group: str = "", state: str = "", sort: str = "code",
    refused: str = "", form: dict[str, str] | None = None,
) -> Response:
    db = database(request)
    state = state if state in STATES else ""
    sort = "contact" if sort == "contact" else "code"
    return render(
        request,
        "stations.html",
        viewer=viewer,
        status=400 if refused else 200,
        title_key="stations_heading",
        stations=visible_stations(db, viewer, group=group or None, state=state, sort=sort),
        groups=groups_of(db, viewer),
        states=STATES,
        chosen_group=group,
        chosen_state=state,
        sort=sort,
        devices=stations.DEVICES,
        can_change=viewer.role == "admin",
        refused=refused,
        form=form or {"name": "", "code": "", "group": ""},
    )


@pages.get(f"{CONSOLE}/stations/{{code}}")
def station_page(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(page("admin", "supervisor"))],
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _station_page(request, viewer, visible_station(database(request), viewer, code),
                         done=done if done in DONE else "")


def _station_page(
    request: Request, viewer: Viewer, station: StationView, *, done: str = "", refused: str = "",
) -> Response:
    return render(
        request,
        "stations_one.html",
        viewer=viewer,
        status=400 if refused else 200,
        title_key="stations_heading",
        station=station,
        devices=stations.DEVICES,
        can_change=viewer.role == "admin" and station.state != "revoked",
        done=done,
        refused=refused,
    )


@pages.post(f"{CONSOLE}/stations")
def add_station(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    name: Annotated[str, Form(max_length=200)],
    code: Annotated[str, Form(max_length=40)] = "",
    group: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(viewer, csrf)
    db = database(request)
    try:
        added = stations.add_station(
            db, name, code=code.strip() or None, station_group=group,
            by=viewer.account.name, address=viewer.address,
        )
    except Refused as refused:
        form = {"name": name, "code": code, "group": group}
        return _list_page(request, viewer, refused=str(refused), form=form)
    return _enrollment_page(request, viewer, added)


def _change(
    request: Request, viewer: Viewer, code: str, csrf: str, done: str,
    change: Callable[[Database, str], Any],
) -> Response:
    """Run `change(db, code)` on a station the admin sees, then show the station."""
    check_csrf(viewer, csrf)
    db = database(request)
    station = visible_station(db, viewer, code)
    try:
        result = change(db, station.code)
    except Refused as refused:
        return _station_page(request, viewer, station, refused=str(refused))
    if isinstance(result, stations.NewCode):
        return _enrollment_page(request, viewer, result)
    return redirect(f"{CONSOLE}/stations/{station.code}?done={done}")


@pages.post(f"{CONSOLE}/stations/{{code}}/rename")
def rename_station(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    name: Annotated[str, Form(max_length=200)],
    csrf: Csrf = "",
) -> Response:
    return _change(request, viewer, code, csrf, "renamed", lambda db, station: stations.rename(
        db, station, name, by=viewer.account.name, address=viewer.address))


@pages.post(f"{CONSOLE}/stations/{{code}}/group")
def regroup_station(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    group: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    return _change(request, viewer, code, csrf, "grouped", lambda db, station: stations.set_group(
        db, station, group, by=viewer.account.name, address=viewer.address))


@pages.post(f"{CONSOLE}/stations/{{code}}/code")
def new_station_code(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    csrf: Csrf = "",
) -> Response:
    return _change(request, viewer, code, csrf, "", lambda db, station: stations.new_code(
        db, station, by=viewer.account.name, address=viewer.address))


@pages.post(f"{CONSOLE}/stations/{{code}}/revoke")
def revoke_station(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    csrf: Csrf = "",
) -> Response:
    return _change(request, viewer, code, csrf, "revoked", lambda db, station: stations.revoke(
        db, station, by=viewer.account.name, address=viewer.address))


# -- JSON -------------------------------------------------------------------------------


@router.get(
    f"{API}/stations", tags=["console"], response_class=JSONResponse,
    response_model=list[StationView],
)
def station_list_json(
    request: Request,
    viewer: Annotated[Viewer, Depends(api("admin", "supervisor"))],
    group: GroupParam = None,
    state: Annotated[StationState | None, Query()] = None,
    sort: Annotated[Literal["code", "contact"], Query()] = "code",
) -> list[StationView]:
    """The stations the viewer may see (a supervisor: their group's), with their last
    health report; filtered by group and state, sorted by code or longest silent first."""
    return visible_stations(database(request), viewer, group=group or None, state=state,
                            sort=sort)


@router.get(
    f"{API}/stations/{{code}}", tags=["console"], response_class=JSONResponse,
    response_model=StationView,
)
def station_json(
    request: Request,
    code: str,
    viewer: Annotated[Viewer, Depends(api("admin", "supervisor"))],
) -> StationView:
    """One station the viewer may see; 404 for any other."""
    return visible_station(database(request), viewer, code)


router.include_router(pages)
