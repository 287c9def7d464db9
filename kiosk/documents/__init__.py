"""Printed documents (reportlab): receipt, supplement notice, application form, day report,
and the shared CJK font.

Each document is made in two steps: its data (plain frozen values in the document's
language, `data`) is built from the application's data (`build`: from the local store, or
from plain values; `samples` for the command line, the tests and the benchmark), then
rendered to PDF bytes:

- `render_receipt(ReceiptData, roll=False)`: the acceptance receipt (受理回执), on A4 or
  on an 80 mm roll, with a QR code carrying the reference;
- `render_supplement(SupplementData, roll=False)`: the supplement notice (补正通知) for
  an application the district asked more for, printed when the resident comes back;
- `render_form(FormData)`: the application form with the captured images, for the
  district's file;
- `render_day_report(DayReportData)`: the station's end-of-day report for staff.

Every document embeds subsets of its fonts (see `fonts` for the shipped font and how a
character it lacks is handled). Nothing here imports Qt or the devices.
"""

from kiosk.documents.build import (
    Capture,
    DocumentError,
    day_report_data,
    day_report_from_store,
    device_name,
    form_data,
    form_from_store,
    receipt_data,
    receipt_from_store,
    supplement_from_store,
)
from kiosk.documents.data import (
    Attachment,
    DayReportData,
    DeviceFault,
    Entry,
    FormData,
    ItemCount,
    Lang,
    MaterialLine,
    ReceiptData,
    StateCount,
    Station,
    SupplementData,
    SyncSummary,
)
from kiosk.documents.form import render_form
from kiosk.documents.receipt import render_receipt
from kiosk.documents.report import render_day_report
from kiosk.documents.samples import sample_day_report, sample_form, sample_receipt
from kiosk.documents.supplement import render_supplement

__all__ = [
    "Attachment",
    "Capture",
    "DayReportData",
    "DeviceFault",
    "DocumentError",
    "Entry",
    "FormData",
    "ItemCount",
    "Lang",
    "MaterialLine",
    "ReceiptData",
    "StateCount",
    "Station",
    "SupplementData",
    "SyncSummary",
    "day_report_data",
    "day_report_from_store",
    "device_name",
    "form_data",
    "form_from_store",
    "receipt_data",
    "receipt_from_store",
    "render_day_report",
    "render_form",
    "render_receipt",
    "render_supplement",
    "sample_day_report",
    "sample_form",
    "sample_receipt",
    "supplement_from_store",
]
