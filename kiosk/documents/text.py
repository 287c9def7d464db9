"""The fixed words of the documents, in Chinese and English.

`t(key, lang, **values)` gives one; a missing key is a program error (KeyError), found by
the tests that render every document in both languages.
"""

from __future__ import annotations

from datetime import date, datetime

from kiosk.documents.data import Lang

_TEXT: dict[str, tuple[str, str]] = {
    # shared
    "reference": ("受理编号", "Reference"),
    "station": ("受理网点", "Station"),
    "item": ("办理事项", "Service"),
    "item_code": ("事项编码", "Item code"),
    "responsible_body": ("承办部门", "Handled by"),
    "no": ("序号", "No."),
    "material_name": ("材料名称", "Material"),
    "material_form": ("材料形式", "Form"),
    "count": ("数量", "Count"),
    "none": ("无", "None"),
    "page_of": ("第 {page} 页 / 共 {pages} 页", "Page {page} of {pages}"),
    "date": ("日期", "Date"),
    # receipt
    "receipt_title": ("受理回执", "Acceptance receipt"),
    "applicant": ("申请人", "Applicant"),
    "applicant_id": ("证件号码", "ID number"),
    "accepted_at": ("受理时间", "Accepted"),
    "time_limit": ("承诺时限", "Time limit"),
    "materials_received": ("已收材料", "Materials received"),
    "next_steps": ("后续事项", "What happens next"),
    "follow": ("查询办理进度", "Follow your application"),
    "follow_text": (
        "扫描二维码，或凭受理编号到本服务站、致电查询办理进度。",
        "Scan the code, or quote the reference at this station or by phone, "
        "to follow your application.",
    ),
    "station_phone": ("服务站电话", "Station phone"),
    "enquiry_phone": ("咨询电话", "Enquiries"),
    "accepted_by": ("受理人（签名）", "Accepted by (signature)"),
    "stamp": ("服务站（盖章）", "Station stamp"),
    "keep_receipt": ("请妥善保管本回执", "Please keep this receipt"),
    "printed_by_kiosk": (
        "本回执由家门口服务站自助终端打印",
        "Printed by the station's self-service kiosk",
    ),
    # supplement notice
    "supplement_title": ("补正通知", "Supplement notice"),
    "supplement_intro": (
        "您的申请需要补正。请按下面的说明准备材料，带上本通知和本人有效身份证件，到本服务站办理。",
        "Your application needs more before it can go on. Please prepare what is asked "
        "below and bring it, with this notice and your identity document, to this station.",
    ),
    "supplement_missing": ("需要补正的内容", "What is missing"),
    "supplement_keep": ("请带上本通知", "Please bring this notice"),
    "supplement_printed": (
        "本通知由家门口服务站自助终端打印",
        "Printed by the station's self-service kiosk",
    ),
    # form
    "form_title": ("申请表", "Application form"),
    "form_subtitle": ("（区受理中心存档）", "(for the district's file)"),
    "application_section": ("申请信息", "Application"),
    "application_id": ("申请标识", "Application id"),
    "category": ("事项类别", "Category"),
    "created_at": ("申请时间", "Applied"),
    "state": ("当前状态", "State"),
    "printed_at": ("打印时间", "Printed"),
    "applicant_section": ("申请人信息", "Applicant"),
    "details_section": ("填报信息", "Details given"),
    "materials_section": ("申请材料", "Materials"),
    "images_section": ("材料影像", "Captured images"),
    "no_images": ("本申请无材料影像。", "This application has no captured images."),
    "image_unreadable": (
        "（此材料不是可显示的图像：{media_type}，{size} 字节，sha256 {sha256}）",
        "(this material is not an image that can be shown: {media_type}, {size} bytes, "
        "sha256 {sha256})",
    ),
    "declaration": (
        "申请人承诺：以上信息及所提交的材料真实、有效，如有虚假，愿承担相应的法律责任。",
        "I declare that the information above and the materials handed over are true and "
        "valid, and accept the legal consequences of any false statement.",
    ),
    "applicant_signature": ("申请人（签名）", "Applicant (signature)"),
    "not_read": ("—", "—"),
    # day report
    "report_title": ("服务站日报", "Station day report"),
    "internal": ("内部资料 · 仅供工作人员使用", "Internal · for station staff only"),
    "day": ("统计日期", "Day"),
    "generated_at": ("生成时间", "Generated"),
    "total": ("申请总数", "Applications"),
    "by_state": ("按状态统计", "By state"),
    "by_item": ("按事项统计", "By service"),
    "sync": ("数据同步", "Upload to the district"),
    "waiting": ("待上传申请", "Waiting for upload"),
    "oldest_waiting": ("最早一件待上传自", "Oldest waiting since"),
    "last_success": ("最近一次上传成功", "Last successful upload"),
    "rejected": ("被退回待处理", "Rejected, awaiting staff"),
    "never": ("无记录", "No record"),
    "faults": ("设备故障", "Device faults"),
    "no_faults": ("今日无设备故障。", "No device faults today."),
    "time": ("时间", "Time"),
    "device": ("设备", "Device"),
    "problem": ("问题", "Problem"),
    "share": ("占比", "Share"),
    "no_applications": ("今日无申请。", "No applications today."),
    # what the builders say
    "state.draft": ("填写中", "Draft"),
    "state.ready": ("待提交", "Ready"),
    "state.queued": ("待上传", "Queued for upload"),
    "state.submitted": ("已提交区受理中心", "Submitted"),
    "state.needs_more": ("需补正材料", "More needed"),
    "state.accepted": ("区里已受理", "Accepted"),
    "state.rejected": ("已退回", "Rejected"),
    "state.ready_for_pickup": ("待领取", "Ready for collection"),
    "state.completed": ("已办结", "Completed"),
    "kind.page": ("材料页", "Page"),
    "kind.card": ("证件", "Card"),
    "kind.photo": ("照片", "Photo"),
    "kind.other": ("材料影像", "Image"),
    "form.image": ("影像", "image"),
    "device.card_reader": ("读卡器", "Card reader"),
    "device.camera": ("摄像头", "Camera"),
    "device.document_camera": ("高拍仪", "Document camera"),
    "device.scanner": ("扫描枪", "Scanner gun"),
    "device.printer": ("打印机", "Printer"),
    "id.name": ("姓名", "Name"),
    "id.sex": ("性别", "Sex"),
    "id.ssn": ("公民身份号码", "Citizen ID number"),
    "id.birth_date": ("出生日期", "Date of birth"),
    "id.ethnicity": ("民族", "Ethnicity"),
    "id.card_number": ("社会保障卡号", "Social security card number"),
    "id.voucher": ("医保电子凭证", "Medical insurance e-voucher"),
    "id.province": ("参保地", "Insured in"),
    "id.none": ("未识别身份", "Not identified"),
    "id.partial": ("部分信息未能读取，待区受理中心核实", "Partly read; the district will check"),
    "step.on_the_spot": (
        "本事项为即办件，工作人员当场为您办理；如需补充材料，将当场告知。",
        "This service is done on the spot; staff will tell you now if anything is missing.",
    ),
    "step.forwarded": (
        "您的申请已受理，将转交{body}审核办理，承诺在{limit}内办结（自受理之日起计算）。",
        "Your application has been accepted and goes to {body}, which promises to finish "
        "it within {limit} of today.",
    ),
    "step.supplement": (
        "如需补充或更正材料，工作人员将与您联系，请保持电话畅通。",
        "If anything needs to be added or corrected, staff will contact you by phone.",
    ),
    "step.follow": (
        "可凭受理编号扫描二维码、到本服务站或致电 {phone} 查询办理进度。",
        "You can follow your application with its reference: scan the code, ask at this "
        "station or call {phone}.",
    ),
    "step.collect": (
        "领取办理结果时，请携带本回执和本人有效身份证件。",
        "Bring this receipt and your identity document when you collect the result.",
    ),
}


def t(key: str, lang: Lang, **values: object) -> str:
    """The text for `key` in `lang`, with `values` filled in."""
    zh, en = _TEXT[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def with_code(name: str, code: str) -> str:
    """A name followed by its code: 社会保障卡新申领 (SS-001). Half-width brackets after a
    space in both languages, so a line never breaks between the bracket and the code."""
    return f"{name} ({code})"


def state_label(state: str, lang: Lang) -> str:
    """An application state by its name in `lang` (a state this module does not know yet
    by its value, rather than failing the document)."""
    key = f"state.{state}"
    return t(key, lang) if key in _TEXT else state


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local(moment: datetime) -> datetime:
    """An aware time in the station's local time zone; a naive one as it is."""
    return moment.astimezone() if moment.tzinfo is not None else moment


def format_date(day: date, lang: Lang) -> str:
    if lang == "en":
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def format_datetime(moment: datetime, lang: Lang) -> str:
    moment = local(moment)
    return f"{format_date(moment.date(), lang)} {moment:%H:%M}"
