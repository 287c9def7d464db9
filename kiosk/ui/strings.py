"""Every text the kiosk window shows, in Chinese first and English second.

One explicit table, `STRINGS`, of key → (Chinese, English). Texts may hold `{name}`
fields that `text()` fills in. Texts from the catalog (item names, category labels) come
from `kiosk.core.catalog`, not from here.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    "window_title": ("家门口服务站", "Community service station"),
    "switch_language": ("English", "中文"),
    "home": ("首页", "Home"),
    "back": ("← 返回", "← Back"),
    "welcome": ("您好，欢迎！", "Welcome!"),
    "welcome_body": (
        "在这里查看办事指南，办理社区事务。",
        "Find service guides and apply for community services here.",
    ),
    "touch_to_begin": ("请触摸屏幕开始", "Touch the screen to begin"),
    "start": ("开始办事", "Start"),
    "catalog_heading": ("请选择要办理的事项", "Choose a service"),
    "search_placeholder": (
        "输入事项名称或拼音首字母，如 jyjl",
        "Type a service name or pinyin initials, e.g. jyjl",
    ),
    "clear": ("清除", "Clear"),
    "loading": ("正在载入服务事项，请稍候……", "Loading the services, please wait…"),
    "catalog_unavailable": (
        "暂时无法显示服务事项，请联系工作人员。",
        "The services cannot be shown right now. Please ask a member of staff.",
    ),
    "try_again": ("再试一次", "Try again"),
    "category_count": ("共 {count} 项", "Services: {count}"),
    "category_heading": ("{category}（共 {count} 项）", "{category} ({count})"),
    "search_heading": ("查找“{query}”：共 {count} 项", 'Results for "{query}": {count}'),
    "no_results": (
        "没有找到相关事项。请换个说法，或询问工作人员。",
        "No matching service. Please try other words, or ask a member of staff.",
    ),
    "row_detail": (
        "承诺时限：{time_limit}　·　{handling}",
        "Time limit: {time_limit} · {handling}",
    ),
    "list_separator": ("、", ", "),
    "item_code": ("{category}　·　事项编码 {code}", "{category} · Item code {code}"),
    "section_eligibility": ("谁可以申请", "Who may apply"),
    "section_conditions": ("办理条件", "Conditions"),
    "section_materials": ("需要带的材料", "Materials to bring"),
    "section_time_limit": ("承诺办结时限", "Promised time limit"),
    "section_fee": ("收费", "Fee"),
    "section_handling": ("在本站怎么办", "How it is handled here"),
    "section_responsible": ("负责部门", "Responsible body"),
    "section_phone": ("咨询电话", "Enquiry phone"),
    "no_materials": ("不需要带材料。", "No materials are needed."),
    "material_line": (
        "{number}. {name}（{form}，{copies} 份，{required}）",
        "{number}. {name} ({form}, copies: {copies}, {required})",
    ),
    "material_required": ("必须提供", "required"),
    "material_optional": ("可选", "optional"),
    "condition_line": ("{number}. {condition}", "{number}. {condition}"),
    "station_phone": ("{phone}（本站电话）", "{phone} (this station)"),
    # -- the resident's visit (identify, materials, review, receipt, rating)
    # -- on-screen keyboard
    # -- capture (document camera and photo)
    # -- staff mode
    # -- kiosk behaviour (idle, offline, speech)
}


def text(key: str, lang: Language | str, **fields: object) -> str:
    """The text for `key` in `lang` ("en" for English, anything else Chinese), filled in."""
    zh, en = STRINGS[key]
    chosen = en if lang == "en" else zh
    return chosen.format(**fields) if fields else chosen
