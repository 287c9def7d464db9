"""The small tree of named errors every layer raises.

Each error carries three texts: what the resident is told (plain words, Chinese first),
what station staff are told (what went wrong, technically enough to act on), and the
action that gets things going again. None of them may hold personal data: errors end up
in logs.
"""

from __future__ import annotations


class DoorstepError(Exception):
    """Base of every error Doorstep raises on purpose."""

    resident_zh: str = "系统暂时无法办理，请联系工作人员。"
    resident_en: str = "Something went wrong. Please ask a member of staff."
    action: str = "Ask staff to check the kiosk."

    def __init__(self, staff_message: str, *, action: str | None = None) -> None:
        super().__init__(staff_message)
        if action is not None:
            self.action = action

    @property
    def name(self) -> str:
        """A stable identifier for scripts and JSON output (the class name)."""
        return type(self).__name__

    @property
    def staff_message(self) -> str:
        return str(self)

    def resident_message(self, lang: str) -> str:
        return self.resident_en if lang == "en" else self.resident_zh


class SettingsError(DoorstepError):
    """The settings file or an environment override is not valid."""

    action = "Correct the named key in the settings file, then start the kiosk again."


class StoreError(DoorstepError):
    """The local store cannot be opened, migrated or written."""

    action = "Run `kiosk doctor` and call the technician with what it prints."


class CatalogError(DoorstepError):
    """A catalog file was refused; the catalog in use is unchanged."""

    action = "Fix the catalog file at the lines named and import it again."


class UnknownItem(DoorstepError):
    """A service item code is not in the catalog in use."""

    resident_zh = "未找到该服务事项，请重新选择。"
    resident_en = "That service could not be found. Please choose again."
    action = "Check the item code, or import the current catalog."


class IllegalTransition(DoorstepError):
    """An application was asked to move to a state it cannot reach from its current one."""

    action = "This is a program error; report it with the application reference."
