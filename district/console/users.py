"""The console's accounts page. Admins see every account (role, station group, second
factor, disabled) and add, disable, enable and reset them; a new account's one-time
password, like a reset's, is shown once on the page that answers the form, as
`district user add` prints it. Supervisors see their own group's agents and their work,
read only: decisions in the last 7 and 30 days, and the group's open applications.

The changes are `district.accounts`' own operations, which write their audit entries.
An admin cannot disable their own account (nobody would be left to enable it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from district import accounts
from district.applications import STATES, TRANSITIONS
from district.db import Database
from district.errors import NotFound, Refused
from district.models import Application, Decision, Station, User

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
#: the states an application can still leave: the group's open work
OPEN_STATES = tuple(state for state in STATES if TRANSITIONS[state])
DONE = ("disabled", "enabled")

register(
    {
        "users_heading": ("账号", "Accounts"),
        "users_caption": ("全部账号", "Every account"),
        "users_team_heading": ("本组受理员", "Your group's agents"),
        "users_team_caption": (
            "本组受理员及其近期办理情况", "Your group's agents and their recent work",
        ),
        "users_team_none": ("本组还没有受理员。", "Your group has no agents yet."),
        "users_read_only": (
            "增加或更改账号请联系管理员。", "An admin adds and changes accounts.",
        ),
        "users_name": ("账号", "Account"),
        "users_role": ("角色", "Role"),
        "users_group": ("服务站分组", "Station group"),
        "users_no_group": ("—", "—"),
        "users_totp": ("动态口令", "Second factor"),
        "users_disabled": ("状态", "Status"),
        "users_yes": ("已设置", "yes"),
        "users_no": ("未设置", "no"),
        "users_state_disabled": ("已停用", "disabled"),
        "users_state_active": ("可用", "active"),
        "users_state_must_change": ("（待改密码）", "(must change password)"),
        "users_actions": ("操作", "Actions"),
        "users_disable": ("停用", "Disable"),
        "users_disable_confirm": (
            "确定停用账号 {name}？其登录会话立即结束。",
            "Disable the account {name}? Its sessions end now.",
        ),
        "users_enable": ("启用", "Enable"),
        "users_reset": ("重置密码", "Reset password"),
        "users_reset_confirm": (
            "确定重置 {name} 的密码？其登录会话立即结束。",
            "Reset the password of {name}? Its sessions end now.",
        ),
        "users_action_label": ("{action}：{name}", "{action}: {name}"),
        "users_self": ("（您本人）", "(you)"),
        "users_self_disable": (
            "不能停用自己的账号。", "You cannot disable your own account.",
        ),
        "users_add": ("新增账号", "Add an account"),
        "users_add_name": (
            "账号（2 至 64 个字母、数字、点、横线或下划线）",
            "Account (2 to 64 letters, digits, dots, dashes or underscores)",
        ),
        "users_add_group_hint": (
            "受理员和主管必须填写；管理员和审计员不填。",
            "Needed for agents and supervisors; empty for admins and auditors.",
        ),
        "users_add_submit": ("新增账号", "Add the account"),
        "users_refused": ("未能完成：{reason}", "Not done: {reason}"),
        "users_done_disabled": ("账号已停用。", "The account was disabled."),
        "users_done_enabled": ("账号已启用。", "The account was enabled."),
        "users_password_heading": ("{name} 的一次性密码", "One-time password for {name}"),
        "users_password_added": ("账号已新增。", "The account was added."),
        "users_password_reset": ("密码已重置。", "The password was reset."),
        "users_password_once": (
            "此密码只显示这一次，请当面或通过可靠渠道交给本人；首次登录时须修改。",
            "This password is shown this once only: give it to its owner in person or "
            "another safe way; it must be changed at the first sign-in.",
        ),
        "users_back": ("返回账号列表", "Back to the accounts"),
        "users_decided_7": ("近 7 天处理数", "Decisions, 7 days"),
        "users_decided_30": ("近 30 天处理数", "Decisions, 30 days"),
        "users_open_heading": ("本组未办结的申请", "Your group's open applications"),
        "users_open_caption": ("按状态统计", "By state"),
        "users_open_state": ("状态", "State"),
        "users_open_count": ("数量", "Count"),
        "users_state_submitted": ("待受理", "submitted"),
        "users_state_needs_more": ("待补正", "needs more"),
        "users_state_accepted": ("已受理", "accepted"),
        "users_state_ready_for_pickup": ("待领取", "ready for pickup"),
    }
)


class AccountView(BaseModel):
    """An account as the admins' page shows it (never a secret)."""

    name: str
    role: str
    station_group: str
    totp: bool
    must_change_password: bool
    disabled: bool


class AgentWork(BaseModel):
    name: str
    disabled: bool
    decisions_7_days: int
    decisions_30_days: int


class TeamView(BaseModel):
    """A supervisor's group: its agents' recent decisions and its open applications."""

    station_group: str
    agents: list[AgentWork]
    open_applications: dict[str, int]


def team_of(db: Database, viewer: Viewer) -> TeamView:
    """The agents of the supervisor's group, their decisions, the group's open work."""
    group = viewer.account.station_group
    now = datetime.now(UTC)
    with db.read() as connection:
        agents = connection.execute(
            select(User.name, User.disabled_at)
            .where(User.role == "agent", User.station_group == group)
            .order_by(User.name)
        ).all()
        names = [agent.name for agent in agents]
        counts: dict[int, dict[str, int]] = {}
        for days in (7, 30):
            counts[days] = dict(
                connection.execute(
                    select(Decision.account, func.count())
                    .where(Decision.account.in_(names), Decision.at >= now - timedelta(days=days))
                    .group_by(Decision.account)
                ).all()
            )
        open_counts = dict(
            connection.execute(
                select(Application.state, func.count())
                .join(Station, Station.id == Application.station_id)
                .where(viewer.station_scope(), Application.state.in_(OPEN_STATES))
                .group_by(Application.state)
            ).all()
        )
    return TeamView(
        station_group=group,
        agents=[
            AgentWork(
                name=agent.name,
                disabled=agent.disabled_at is not None,
                decisions_7_days=counts[7].get(agent.name, 0),
                decisions_30_days=counts[30].get(agent.name, 0),
            )
            for agent in agents
        ],
        open_applications={state: open_counts.get(state, 0) for state in OPEN_STATES},
    )


def all_accounts(db: Database) -> list[AccountView]:
    return [AccountView.model_validate(account.to_json()) for account in accounts.list_users(db)]


# -- pages ------------------------------------------------------------------------------


@pages.get(f"{CONSOLE}/users")
def user_list(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin", "supervisor"))],
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _list_page(request, viewer, done=done if done in DONE else "")


def _list_page(
    request: Request, viewer: Viewer, *, done: str = "", refused: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    db = database(request)
    if viewer.role == "supervisor":
        return render(request, "users_team.html", viewer=viewer, title_key="users_heading",
                      team=team_of(db, viewer))
    return render(
        request,
        "users.html",
        viewer=viewer,
        status=400 if refused else 200,
        title_key="users_heading",
        accounts=all_accounts(db),
        roles=accounts.ROLES,
        done=done,
        refused=refused,
        form=form or {"name": "", "role": "agent", "group": ""},
    )


def _password_page(
    request: Request, viewer: Viewer, name: str, password: str, *, added: bool
) -> Response:
    return render(request, "users_password.html", viewer=viewer, title_key="users_heading",
                  name=name, password=password, added=added)


@pages.post(f"{CONSOLE}/users")
def add_user(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    group: Annotated[str, Form(max_length=100)] = "",
    csrf: Csrf = "",
) -> Response:
    """As `district user add NAME` without --password-stdin: a one-time password."""
    check_csrf(viewer, csrf)
    db = database(request)
    by = {"by": viewer.account.name, "address": viewer.address}
    try:
        accounts.add_user(db, name, role, secrets.token_urlsafe(24), station_group=group, **by)
    except Refused as refused:
        form = {"name": name, "role": role, "group": group}
        return _list_page(request, viewer, refused=str(refused), form=form)
    password = accounts.reset_password(db, name, **by)
    return _password_page(request, viewer, name, password, added=True)


def _account_action(
    request: Request, viewer: Viewer, name: str, csrf: str,
    action: Callable[[Database, str], Any],
) -> Any:
    """Run `action(db, name)` on an existing account; 404 for any other name."""
    check_csrf(viewer, csrf)
    if not accounts.NAME_PATTERN.fullmatch(name):
        raise ConsoleError(404, "error_not_found")
    try:
        return action(database(request), name)
    except NotFound:
        raise ConsoleError(404, "error_not_found") from None


@pages.post(f"{CONSOLE}/users/{{name}}/disable")
def disable_user(
    request: Request, name: str, viewer: Annotated[Viewer, Depends(page("admin"))],
    csrf: Csrf = "",
) -> Response:
    def disable(db: Database, who: str) -> accounts.Account:
        if who == viewer.account.name:
            raise ConsoleError(400, "users_self_disable")
        return accounts.disable_user(db, who, by=viewer.account.name, address=viewer.address)

    _account_action(request, viewer, name, csrf, disable)
    return redirect(f"{CONSOLE}/users?done=disabled")


@pages.post(f"{CONSOLE}/users/{{name}}/enable")
def enable_user(
    request: Request, name: str, viewer: Annotated[Viewer, Depends(page("admin"))],
    csrf: Csrf = "",
) -> Response:
    _account_action(request, viewer, name, csrf, lambda db, who: accounts.enable_user(
        db, who, by=viewer.account.name, address=viewer.address))
    return redirect(f"{CONSOLE}/users?done=enabled")


@pages.post(f"{CONSOLE}/users/{{name}}/reset-password")
def reset_password(
    request: Request, name: str, viewer: Annotated[Viewer, Depends(page("admin"))],
    csrf: Csrf = "",
) -> Response:
    password = _account_action(request, viewer, name, csrf, lambda db, who: (
        accounts.reset_password(db, who, by=viewer.account.name, address=viewer.address)))
    return _password_page(request, viewer, name, password, added=False)


# -- JSON -------------------------------------------------------------------------------


@router.get(
    f"{API}/users", tags=["console"], response_class=JSONResponse, response_model=list[AccountView]
)
def user_list_json(
    request: Request, viewer: Annotated[Viewer, Depends(api("admin"))]
) -> list[AccountView]:
    """Every account: role, station group, second factor, disabled (never a secret)."""
    return all_accounts(database(request))


@router.get(
    f"{API}/team", tags=["console"], response_class=JSONResponse, response_model=TeamView
)
def team_json(
    request: Request, viewer: Annotated[Viewer, Depends(api("supervisor"))]
) -> TeamView:
    """The supervisor's group: its agents' decisions in the last 7 and 30 days, and its
    open applications by state."""
    return team_of(database(request), viewer)


router.include_router(pages)
