"""The printer's named errors, one per reason a print job can fail.

Each reason has a stable code (`PrinterError.reason`, stored with the job and shown in
`kiosk print jobs`), words for the resident and an action for staff. None of the texts
holds personal data: a job's title is its kind and reference, never a name.
"""

from __future__ import annotations

from kiosk.errors import DoorstepError


class PrinterError(DoorstepError):
    """A print job could not be printed (yet)."""

    reason = "failed"
    resident_zh = "打印机暂时无法打印，您的申请已保存，工作人员会为您补打回执。"
    resident_en = (
        "The printer cannot print just now. Your application is saved; staff will print "
        "your receipt for you."
    )
    action = "Check the printer; the job prints by itself once the printer is back."


class PrinterOffline(PrinterError):
    """The printer is switched off, unplugged, paused or not answering."""

    reason = "offline"
    action = "Switch the printer on and check its cable; resume it if it was paused."


class OutOfPaper(PrinterError):
    """The printer has run out of paper."""

    reason = "out_of_paper"
    action = "Load paper (A4 or the 80 mm roll) into the printer."


class PaperJam(PrinterError):
    """Paper is stuck in the printer."""

    reason = "paper_jam"
    action = "Open the printer, take out the stuck paper and close it again."


class CoverOpen(PrinterError):
    """A cover or door of the printer is open."""

    reason = "cover_open"
    action = "Close the printer's cover."


class OutOfInk(PrinterError):
    """The toner, ink or thermal ribbon is used up."""

    reason = "out_of_ink"
    action = "Replace the toner or ink cartridge."


class UnknownPrinter(PrinterError):
    """The print system does not know the printer asked for."""

    reason = "unknown_printer"
    action = (
        "Check the printer's name in the settings ([printer] name) against `lpstat -p`, "
        "or add the printer to CUPS."
    )


class PrintSystemDown(PrinterError):
    """The print system itself (CUPS) is not running or not answering."""

    reason = "print_system_down"
    action = "Start CUPS (systemctl start cups) and check `lpstat -r`."


class DocumentRefused(PrinterError):
    """The print system refused or could not process the document."""

    reason = "refused"
    action = "Print a test page (`kiosk print test-page`); if it fails too, check CUPS's log."


#: Every reason code, to its error class.
REASONS: dict[str, type[PrinterError]] = {
    cls.reason: cls
    for cls in (
        PrinterError,
        PrinterOffline,
        OutOfPaper,
        PaperJam,
        CoverOpen,
        OutOfInk,
        UnknownPrinter,
        PrintSystemDown,
        DocumentRefused,
    )
}
