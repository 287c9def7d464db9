"""The named errors of the card reader, each with words for the resident and for staff.

The resident sees `resident_message(lang)`: what to do with the card in their hand. Staff
see the exception's own message (what the reader or pcscd said) and `action`. None of
the texts holds a card's data: they end up in logs.
"""

from __future__ import annotations

from kiosk.errors import DoorstepError


class CardError(DoorstepError):
    """Base of everything that can go wrong between the reader and the card."""

    resident_zh = "读卡器暂时无法使用，请联系工作人员。"
    resident_en = "The card reader is not working right now. Please ask a member of staff."
    action = "Run `kiosk card watch` and `kiosk doctor`, then call the technician."


class PcscdNotRunning(CardError):
    """The PC/SC service (pcscd) does not answer: no reader can be seen at all."""

    action = "Start the smart-card service: `systemctl start pcscd.socket` (or run pcscd)."


class NoReader(CardError):
    """No card reader is plugged in (or none by the name asked for)."""

    resident_zh = "读卡器未连接，请联系工作人员。"
    resident_en = "The card reader is not connected. Please ask a member of staff."
    action = "Plug the card reader in; `kiosk card watch` shows it when pcscd sees it."


class ReaderUnplugged(CardError):
    """The reader went away while it was in use."""

    resident_zh = "读卡器连接中断，请稍候重试或联系工作人员。"
    resident_en = "The card reader was disconnected. Please try again or ask a member of staff."
    action = "Check the reader's USB cable; the kiosk picks it up again when it is back."


class ReaderBusy(CardError):
    """Another program holds the card in the reader."""

    resident_zh = "读卡器正忙，请稍候再试。"
    resident_en = "The card reader is busy. Please wait a moment and try again."
    action = "Close any other program that uses the card reader."


class NoCard(CardError):
    """The reader is empty."""

    resident_zh = "请将医保卡芯片朝上插入读卡器。"
    resident_en = "Please insert your medical-insurance card, chip side up."
    action = "Ask the resident to insert the card, chip first and facing up."


class CardMute(CardError):
    """A card is in the reader but does not answer: upside down, dirty or broken."""

    resident_zh = "卡片没有反应，请取出后芯片朝上重新插入。"
    resident_en = "The card does not respond. Please take it out and insert it chip side up."
    action = "Check the card is the right way round and the chip is clean; try another card."


class NotSocialSecurityCard(CardError):
    """The card answers, but it has no social security application (a bank card, say)."""

    resident_zh = "这张卡不是社会保障卡（医保卡），请插入社保卡。"
    resident_en = "This is not a social security card. Please insert your medical-insurance card."
    action = "The card has no SSSE application; ask for the social security card."


class CardRemoved(CardError):
    """The card was taken out before the reading was done."""

    resident_zh = "读卡时卡片被取出，请重新插入，读完前请不要取卡。"
    resident_en = "The card was taken out too early. Please insert it again and leave it in."
    action = "Ask the resident to leave the card in until the kiosk says it is read."


class CardUnreadable(CardError):
    """The card answered, but not as a social security card should (bad data, odd status)."""

    resident_zh = "卡片信息无法读取，请交给工作人员查看。"
    resident_en = "The card's details could not be read. Please hand it to a member of staff."
    action = "Try the card again; if it fails twice, it may be damaged: advise a replacement."


class CardExpired(CardError):
    """The card was read, but its validity has ended."""

    resident_zh = "这张社保卡已过有效期，请联系工作人员办理换卡。"
    resident_en = "This card has expired. Please ask a member of staff about a new card."
    action = "The card is past its expiry date: help the resident apply for a replacement."
