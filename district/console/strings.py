"""Every text the district console shows, Chinese first and English second.

One table of key → (Chinese, English), as the kiosk's `kiosk.ui.strings`. Each area of the
console declares its own texts in its module and adds them with `register()`, which
refuses a key declared twice; templates call `t("key", name=value)`. Texts from the
catalog (item names) come from the catalog, not from here.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {}


def register(table: dict[str, tuple[str, str]]) -> None:
    """Add an area's texts (each key once across the console)."""
    twice = STRINGS.keys() & table.keys()
    if twice:
        raise ValueError(f"console texts declared twice: {sorted(twice)}")
    STRINGS.update(table)


def text(language: Language, key: str, **fields: object) -> str:
    zh, en = STRINGS[key]
    template = en if language == "en" else zh
    return template.format(**fields) if fields else template


register(
    {
        "console_title": ("区级受理平台", "District console"),
        "skip_to_content": ("跳到正文", "Skip to the content"),
        "switch_language": ("English", "中文"),
        "switch_language_label": ("Switch to English", "切换到中文"),
        "signed_in_as": ("当前账号：{name}（{role}）", "Signed in as {name} ({role})"),
        "sign_out": ("退出登录", "Sign out"),
        "nav_label": ("主导航", "Main"),
        "nav_inbox": ("待办申请", "Inbox"),
        "nav_stations": ("服务站", "Stations"),
        "nav_users": ("账号", "Accounts"),
        "nav_catalog": ("事项目录", "Catalog"),
        "nav_reports": ("统计报表", "Reports"),
        "nav_audit": ("审计日志", "Audit log"),
        "nav_password": ("修改密码", "Change password"),
        "role_agent": ("受理员", "agent"),
        "role_supervisor": ("主管", "supervisor"),
        "role_admin": ("管理员", "admin"),
        "role_auditor": ("审计员", "auditor"),
        # signing in
        "sign_in_heading": ("登录区级受理平台", "Sign in to the district console"),
        "account_name": ("账号", "Account"),
        "password": ("密码", "Password"),
        "sign_in": ("登录", "Sign in"),
        "sign_in_wrong": ("账号或密码不正确。", "The account or the password is not right."),
        "sign_in_throttled": (
            "尝试次数过多，请 {minutes} 分钟后再试。",
            "Too many tries. Please try again in {minutes} minutes.",
        ),
        "sign_in_disabled": (
            "此账号已停用，请联系管理员。",
            "This account is disabled. Please ask an admin.",
        ),
        "sign_in_totp_needed": (
            "管理员账号须先设置动态口令，请联系区级管理员。",
            "Admin accounts need a second factor first. Please ask the district's admin.",
        ),
        "session_ended": (
            "您已退出，或长时间未操作，请重新登录。",
            "You were signed out, or the session was idle too long. Please sign in again.",
        ),
        "totp_heading": ("动态口令", "Second factor"),
        "totp_code": ("验证器应用中的 6 位数字", "The 6 digits from your authenticator app"),
        "totp_wrong": ("动态口令不正确或已使用。", "That code is not right, or was used already."),
        "confirm": ("确认", "Confirm"),
        "password_heading": ("修改密码", "Change your password"),
        "password_must_change": (
            "密码已被重置，请先设置新密码。",
            "Your password was reset. Please choose a new one first.",
        ),
        "password_current": ("当前密码", "Current password"),
        "password_new": ("新密码（10 至 128 个字符）", "New password (10 to 128 characters)"),
        "password_repeat": ("再次输入新密码", "The new password again"),
        "password_mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
        "password_refused": ("新密码未被接受。", "The new password was not taken."),
        "password_changed": ("密码已修改。", "Your password was changed."),
        # errors
        "error_heading": ("出错了", "Something went wrong"),
        "error_not_found": ("没有找到这个页面或记录。", "There is no such page or record."),
        "error_forbidden": (
            "您的账号无权查看此页面。",
            "Your account may not see this page.",
        ),
        "error_csrf": (
            "页面已过期，请返回后重新提交。",
            "The page had expired. Please go back and send it again.",
        ),
        "error_bad_request": (
            "提交的内容不完整或格式不对。",
            "What was sent is incomplete or not in the right form.",
        ),
        "error_server": (
            "服务器出错，请稍后再试。",
            "The server failed. Please try again later.",
        ),
        "back_home": ("返回首页", "Back to the start"),
        "home_heading": ("欢迎，{name}", "Welcome, {name}"),
    }
)
