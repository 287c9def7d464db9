"""The call desk: the console page where an agent (or a supervisor) takes the residents'
video calls from their stations.

The page is server-rendered like every console page; `static/call.js` does the rest in
the browser, with nothing but the browser's own WebRTC and WebSocket:

- it opens the agent's signaling socket (`kiosk.remote.protocol.AGENT_PATH`, served by
  `district.signaling`; the console session cookie signs it in) and shows the agent's
  state (available, on a break with a reason, after-call work) and their group's queue,
  oldest first, each call with its station, item and wait; "take the next call" or take
  a chosen one;
- on a call it answers the station's offer (the kiosk always offers; the page answers
  once its own ICE gathering is done, with the ICE servers the district minted for the
  call), shows the resident's video large and the agent's own small, with microphone and
  camera switches and "end call" one tap away; a new offer for the same call (the kiosk's
  answer to a lost path) replaces the peer connection without the agent doing anything;
- the call's quality as one of five words, from `getStats()` every second: round-trip
  time, packet loss, frames per second and freezes (`quality()` below documents the
  thresholds, and call.js applies the same table);
- capture requests (the card to the lens, a page under the document camera, a photo)
  with the words the resident hears, and every image that arrives (the visit's materials
  when the call starts, then each capture) shown large and zoomable;
- a large-text chat with canned phrases, for stations without audio and residents who
  hear badly;
- the application the call is about, when the station has sent it: a link to its page,
  where the agent decides it as in the inbox (the decision reaches the kiosk during the
  call).

The texts the script shows come from the console's string table, handed to the page as a
JSON in a data attribute (the Content-Security-Policy allows no inline script, and the
console's templates hold no script element but their script files).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kiosk.remote import protocol

from .deps import CONSOLE, Viewer, page, render
from .strings import register, text

router = APIRouter(include_in_schema=False)
ROLES = ("agent", "supervisor")

#: The five words of a call's quality, best first, and the worst figure each allows:
#: (round-trip ms, loss %, frames per second at least, freezes in the last 10 s at most).
QUALITY = (
    ("call_quality_1", 150, 1.0, 24, 0),
    ("call_quality_2", 300, 3.0, 18, 0),
    ("call_quality_3", 500, 6.0, 12, 1),
    ("call_quality_4", 1000, 12.0, 5, 3),
    ("call_quality_5", None, None, None, None),
)


def quality(rtt_ms: float, loss_pct: float, fps: float, freezes: int) -> str:
    """The key of the word for a call's figures (call.js has the same table)."""
    for key, rtt, loss, min_fps, max_freezes in QUALITY:
        if rtt is None:
            return key
        if rtt_ms <= rtt and loss_pct <= loss and fps >= min_fps and freezes <= max_freezes:
            return key
    return QUALITY[-1][0]


register(
    {
        "nav_calls": ("视频坐席", "Video calls"),
        "calls_title": ("视频坐席", "Video calls"),
        "call_state_label": ("我的状态", "My state"),
        "call_state_available": ("空闲，可接听", "Available"),
        "call_state_busy": ("通话中", "On a call"),
        "call_state_break": ("小休", "On a break"),
        "call_state_after_call": ("话后处理", "After-call work"),
        "call_state_offline": ("未连接", "Offline"),
        "call_set_available": ("设为空闲", "Set available"),
        "call_set_break": ("小休", "Take a break"),
        "call_set_after_call": ("话后处理", "After-call work"),
        "call_break_reason": ("小休原因", "Reason for the break"),
        "call_break_meal": ("用餐", "Meal"),
        "call_break_rest": ("休息", "Rest"),
        "call_break_meeting": ("会议", "Meeting"),
        "call_break_training": ("培训", "Training"),
        "call_queue": ("等待中的来电", "Waiting calls"),
        "call_queue_empty": ("暂无等待的来电。", "No call is waiting."),
        "call_take_next": ("接听下一个", "Take the next call"),
        "call_take": ("接听", "Take"),
        "call_waited": ("已等待 {seconds} 秒", "waiting {seconds} s"),
        "call_for_me": ("我的技能", "my skills"),
        "call_heading": ("当前通话", "Current call"),
        "call_none": ("当前没有通话。", "No call now."),
        "call_station": ("服务站", "Station"),
        "call_item": ("办理事项", "Item"),
        "call_identity": ("居民", "Resident"),
        "call_identity_unknown": ("尚未识别", "not identified yet"),
        "call_application": ("申请", "Application"),
        "call_application_open": ("打开申请并办理", "Open the application to decide it"),
        "call_application_none": ("尚未提交申请", "no application yet"),
        "call_resident_video": ("居民画面", "The resident's video"),
        "call_own_video": ("我的画面", "My video"),
        "call_mute": ("关闭麦克风", "Mute"),
        "call_unmute": ("打开麦克风", "Unmute"),
        "call_camera_off": ("关闭摄像头", "Camera off"),
        "call_camera_on": ("打开摄像头", "Camera on"),
        "call_end": ("结束通话", "End call"),
        "call_end_confirm": ("再按一次结束通话", "Press again to end the call"),
        "call_quality": ("通话质量", "Call quality"),
        "call_quality_1": ("很好", "excellent"),
        "call_quality_2": ("良好", "good"),
        "call_quality_3": ("一般", "fair"),
        "call_quality_4": ("较差", "poor"),
        "call_quality_5": ("很差", "bad"),
        "call_quality_unknown": ("—", "—"),
        "call_status_connecting": ("正在接通视频…", "Connecting the video…"),
        "call_status_connected": ("视频已接通", "Video connected"),
        "call_status_reconnecting": ("网络中断，正在重新连接…", "The line dropped; reconnecting…"),
        "call_status_ended": ("通话已结束（{reason}）", "The call ended ({reason})"),
        "call_status_offline": (
            "与区级服务器的连接中断，正在重试…",
            "Lost the connection to the district server; retrying…",
        ),
        "call_status_no_camera": (
            "未找到摄像头或麦克风：居民只能看到文字。",
            "No camera or microphone found: the resident sees your text only.",
        ),
        "call_end_resident": ("居民挂断", "the resident hung up"),
        "call_end_agent": ("您挂断", "you hung up"),
        "call_end_gone": ("对方掉线", "the other side went away"),
        "call_end_media": ("视频无法恢复", "the video could not be restored"),
        "call_end_unavailable": ("无人接听", "nobody could take it"),
        "call_end_replaced": ("服务站发起了新的通话", "the station started another call"),
        "call_end_server": ("服务器关闭", "the server shut down"),
        "call_capture": ("请居民拍摄", "Ask the resident for a picture"),
        "call_capture_card": ("拍医保卡", "The card"),
        "call_capture_page": ("拍材料", "A page"),
        "call_capture_photo": ("拍照片", "A photo"),
        "call_capture_words": ("居民听到的提示", "What the resident hears"),
        "call_capture_words_card": (
            "请出示医保卡，对准镜头，保持不动。",
            "Please hold your card up to the camera and keep it still.",
        ),
        "call_capture_words_page": (
            "请把材料放在高拍仪下面，保持不动。",
            "Please put the page under the document camera and keep it still.",
        ),
        "call_capture_words_photo": (
            "请看着镜头，保持不动，马上为您拍照。",
            "Please look at the camera and keep still for your photo.",
        ),
        "call_capture_sent": ("已请居民拍摄，请稍候。", "Asked the resident; please wait."),
        "call_materials": ("材料与拍摄", "Materials and pictures"),
        "call_materials_none": ("还没有材料。", "No material yet."),
        "call_material_open": ("查看大图", "Open large"),
        "call_chat": ("文字交流", "Text chat"),
        "call_chat_input": ("输入要发给居民的文字", "Type a line for the resident"),
        "call_chat_send": ("发送", "Send"),
        "call_chat_canned": ("常用语", "Phrases"),
        "call_chat_you": ("我", "me"),
        "call_chat_resident": ("居民", "resident"),
        "call_chat_supervisor": ("组长", "supervisor"),
        "call_canned_1": (
            "您好，我是区级受理员，请问需要办理什么？",
            "Hello, I am the district agent. How can I help?",
        ),
        "call_canned_2": ("请稍等，我正在为您查看。", "Please wait a moment, I am checking."),
        "call_canned_3": (
            "请把材料放在高拍仪下面。",
            "Please put the page under the document camera.",
        ),
        "call_canned_4": ("已经为您办好了，请取走回执。", "It is done; please take your receipt."),
        "call_canned_5": (
            "还缺少材料，请按回执上的说明补充。",
            "Something is missing; the receipt says what to bring.",
        ),
        "call_error": ("出错了：{message}", "Something went wrong: {message}"),
        "call_chat_agent": ("坐席", "agent"),
        "call_help": ("请组长协助", "Ask a supervisor"),
        "call_supervisor": ("组长", "Supervisor"),
        "call_supervisor_none": ("—", "—"),
        "call_supervisor_asked": ("已请组长协助，请稍候", "asked; waiting for a supervisor"),
        "call_supervisor_joined": ("{name} 已加入", "{name} joined"),
        "call_supervisor_left": ("组长已离开", "the supervisor left"),
        "call_help_queue": ("请求协助的通话", "Calls asking for help"),
        "call_help_empty": ("暂无请求协助的通话。", "No call is asking for help."),
        "call_help_row": ("坐席 {agent} · 已等待 {seconds} 秒", "agent {agent} · {seconds} s ago"),
        "call_join": ("加入", "Join"),
        "call_watching": (
            "您正在旁听此通话（坐席：{agent}），居民看得到有组长加入。",
            "You are watching this call (agent: {agent}); the resident sees that you joined.",
        ),
        "call_take_over": ("接管通话", "Take the call over"),
        "call_leave": ("离开通话", "Leave the call"),
        "call_end_takeover": ("组长已接管通话", "your supervisor took the call over"),
        "call_end_left": ("您已离开，通话继续", "you left; the call goes on"),
        "call_end_declined": ("居民没有接听", "the resident did not take it"),
        "call_end_no_answer": ("服务站无人接听", "nobody answered at the station"),
        "call_end_busy": ("服务站正在服务其他居民", "the station is serving someone"),
        "call_status_ringing": (
            "正在呼叫服务站，等待居民接听…",
            "Calling the station; waiting for the resident to answer…",
        ),
    }
)

#: The texts call.js shows (keys of the table above), handed to the page.
SCRIPT_TEXTS = tuple(
    key
    for key in (
        "call_state_available",
        "call_state_busy",
        "call_state_break",
        "call_state_after_call",
        "call_state_offline",
        "call_queue_empty",
        "call_take",
        "call_waited",
        "call_for_me",
        "call_identity_unknown",
        "call_application_none",
        "call_application_open",
        "call_mute",
        "call_unmute",
        "call_camera_off",
        "call_camera_on",
        "call_quality_1",
        "call_quality_2",
        "call_quality_3",
        "call_quality_4",
        "call_quality_5",
        "call_quality_unknown",
        "call_status_connecting",
        "call_status_connected",
        "call_status_reconnecting",
        "call_status_ended",
        "call_status_offline",
        "call_status_no_camera",
        "call_end_resident",
        "call_end_agent",
        "call_end_gone",
        "call_end_media",
        "call_end_unavailable",
        "call_end_replaced",
        "call_end_server",
        "call_capture_sent",
        "call_materials_none",
        "call_material_open",
        "call_chat_you",
        "call_chat_resident",
        "call_chat_supervisor",
        "call_error",
        "call_capture_card",
        "call_capture_page",
        "call_capture_photo",
        "call_end",
        "call_end_confirm",
        "call_chat_agent",
        "call_supervisor_none",
        "call_supervisor_asked",
        "call_supervisor_joined",
        "call_supervisor_left",
        "call_help_empty",
        "call_help_row",
        "call_join",
        "call_watching",
        "call_leave",
        "call_end_takeover",
        "call_end_left",
        "call_end_declined",
        "call_end_no_answer",
        "call_end_busy",
        "call_status_ringing",
    )
)

CANNED = ("call_canned_1", "call_canned_2", "call_canned_3", "call_canned_4", "call_canned_5")
CAPTURE_KINDS = ("card", "page", "photo")
BREAK_REASONS = ("call_break_meal", "call_break_rest", "call_break_meeting", "call_break_training")


@router.get(f"{CONSOLE}/call", include_in_schema=False)
def call_page(request: Request, viewer: Annotated[Viewer, Depends(page(*ROLES))]) -> Response:
    language = viewer.language
    texts = {key: text(language, key) for key in SCRIPT_TEXTS}
    config = {
        "socket": protocol.AGENT_PATH,
        "ping_s": protocol.PING_S,
        "silent_s": protocol.SILENT_S,
        "console": CONSOLE,
        "quality": [list(row) for row in QUALITY],
        "words": {kind: text(language, f"call_capture_words_{kind}") for kind in CAPTURE_KINDS},
        "texts": texts,
        "role": viewer.role,
    }
    return render(
        request,
        "call.html",
        viewer=viewer,
        title_key="calls_title",
        config=json.dumps(config, ensure_ascii=False),  # an attribute, escaped by Jinja
        canned=CANNED,
        capture_kinds=CAPTURE_KINDS,
        break_reasons=BREAK_REASONS,
    )
