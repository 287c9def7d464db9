"""The named errors of the cameras, each with words for the resident and for staff."""

from __future__ import annotations

from kiosk.errors import DoorstepError


class CameraError(DoorstepError):
    """Base of everything that can go wrong with a camera or the document camera."""

    resident_zh = "摄像头暂时无法使用，请联系工作人员。"
    resident_en = "The camera is not working right now. Please ask a member of staff."
    action = "Run `kiosk camera list` and `kiosk doctor`, then call the technician."


class CameraUnavailable(CameraError):
    """The camera cannot be opened: not plugged in, held by another program, or no such file."""

    action = "Plug the camera in (or fix its device setting); the kiosk opens it when it is back."


class CameraLost(CameraError):
    """The camera stopped giving frames while it was open."""

    resident_zh = "摄像头连接中断，正在重新连接，请稍候。"
    resident_en = "The camera was disconnected. Reconnecting, please wait."
    action = "Check the camera's USB cable; the kiosk reopens it by itself when it is back."


class NoFrame(CameraError):
    """No frame arrived in the time allowed."""

    resident_zh = "摄像头没有画面，请稍候再试或联系工作人员。"
    resident_en = "The camera shows no picture. Please try again or ask a member of staff."
