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
    "my_applications": ("查询我的申请", "My applications"),
    "identify_heading": ("请出示您的身份", "Please show who you are"),
    "identify_card": (
        "① 将医保卡（社保卡）芯片朝上插入读卡器",
        "① Insert your medical-insurance card, chip side up",
    ),
    "identify_voucher": (
        "② 或用扫码枪扫描手机上的医保电子凭证",
        "② Or scan the insurance voucher on your phone with the scanner",
    ),
    "identify_camera": (
        "③ 或把卡片正面放在摄像头前",
        "③ Or hold the front of your card up to the camera",
    ),
    "identify_reading": ("正在读卡，请不要取出卡片……", "Reading the card. Please leave it in…"),
    "identify_done": ("您好，{name}", "Hello, {name}"),
    "identify_voucher_done": ("已识别医保电子凭证 {code}", "Voucher {code} recognised"),
    "identify_photo_done": (
        "已拍下卡片正面，工作人员会核对您的身份。",
        "The front of your card has been photographed; staff will check who you are.",
    ),
    "identify_voucher_bad": (
        "这个二维码不是医保电子凭证，请打开医保电子凭证后重新扫描。",
        "This code is not a medical-insurance voucher. Please open the voucher and scan again.",
    ),
    "identify_continue": ("下一步：选择事项", "Next: choose a service"),
    "demo_heading": ("演示（模拟设备）：", "Demo (simulated devices): insert or scan"),
    "demo_insert_card": ("插入示例卡", "Sample card"),
    "demo_insert_bad": ("插入银行卡", "Bank card"),
    "demo_scan_voucher": ("扫描示例凭证", "Sample voucher"),
    "apply_here": ("在本机申请", "Apply here"),
    "review_heading": ("请核对后提交", "Please check, then send"),
    "review_item": ("办理事项：{item}", "Service: {item}"),
    "review_applicant": ("申请人：{name}　证件号：{id}", "Applicant: {name}  ID: {id}"),
    "review_applicant_photo": (
        "申请人：凭卡片照片核对",
        "Applicant: to be checked from the card photo",
    ),
    "review_pages": ("材料：已拍摄 {count} 页", "Materials: {count} page(s) photographed"),
    "review_photo": ("照片：已拍摄", "Photo: taken"),
    "review_no_photo": ("照片：不需要", "Photo: not needed"),
    "review_time_limit": ("承诺时限：{limit}", "Time limit: {limit}"),
    "review_offline": (
        "本站暂时离线：提交后申请会保存在本机，联网后自动发送，不会丢失。",
        "This station is offline: your application is kept here and sent automatically "
        "when the line is back. Nothing is lost.",
    ),
    "review_submit": ("确认提交", "Send the application"),
    "review_change": ("返回修改", "Go back and change"),
    "submitting": ("正在提交，请稍候……", "Sending, please wait…"),
    "submit_failed": (
        "提交没有成功，您的材料还在。请再试一次，或请工作人员帮助。",
        "The application could not be saved. Your materials are still here. Please try "
        "again, or ask a member of staff.",
    ),
    "done_heading": ("申请已提交", "Your application has been sent"),
    "done_reference": ("申请编号：{reference}", "Reference: {reference}"),
    "done_receipt": (
        "回执正在打印，请在下方出纸口取回执。",
        "Your receipt is printing below. Please take it.",
    ),
    "done_no_receipt": (
        "回执暂时无法打印，请凭申请编号找工作人员补打。",
        "The receipt cannot be printed right now. Please ask staff to reprint it with "
        "your reference.",
    ),
    "done_next": ("接下来：", "What happens next:"),
    "rating_heading": ("您对这次办事满意吗？请点一下", "How was your visit? Tap one"),
    "rating_1": ("很不满意", "Very poor"),
    "rating_2": ("不满意", "Poor"),
    "rating_3": ("一般", "OK"),
    "rating_4": ("满意", "Good"),
    "rating_5": ("非常满意", "Very good"),
    "rating_thanks": ("谢谢您的评价！", "Thank you!"),
    "finish": ("完成，请取走卡片", "Finish (take your card)"),
    "mine_heading": ("我的申请", "My applications"),
    "mine_insert": (
        "请插入医保卡，查看您在本站提交过的申请。",
        "Insert your medical-insurance card to see the applications you made here.",
    ),
    "mine_none": (
        "没有找到您在本站的申请。",
        "No applications of yours were found at this station.",
    ),
    "mine_row": ("{reference}　·　{state}", "{reference} · {state}"),
    "mine_opened": ("{reference}：{state}", "{reference}: {state}"),
    "mine_print_slip": ("打印补正通知", "Print the slip"),
    "mine_slip_printing": (
        "补正通知正在打印，请取走，带上材料再来办理。",
        "The slip is printing: take it, and come back with what it asks for.",
    ),
    "mine_slip_failed": (
        "补正通知暂时打印不了，请找工作人员帮忙。",
        "The slip cannot be printed now. Please ask a member of staff.",
    ),
    "mine_synced": (
        "以上状态为最近一次同步时的情况。",
        "States as of the last sync with the district.",
    ),
    "state_draft": ("未提交", "Not sent"),
    "state_ready": ("未提交", "Not sent"),
    "state_queued": ("已保存，等待发送", "Saved, waiting to be sent"),
    "state_submitted": ("已送达，等待受理", "Received, waiting to be handled"),
    "state_accepted": ("已受理，正在办理", "Accepted, being handled"),
    "state_ready_for_pickup": ("已办好，请来本站领取", "Ready: collect it at this station"),
    "state_completed": ("已办结", "Completed"),
    "state_rejected": ("未通过：{reason}", "Not accepted: {reason}"),
    "state_needs_more": ("需要补正：{reason}", "More is needed: {reason}"),
    # -- on-screen keyboard
    "kb_backspace": ("删除", "Delete"),
    "kb_clear": ("清除", "Clear"),
    "kb_space": ("空格", "Space"),
    "kb_show": ("键盘", "Keyboard"),
    "kb_hide": ("收起键盘", "Hide keyboard"),
    # -- capture (document camera and photo)
    "cap_place_heading": (
        "请把材料平放在高拍仪下面",
        "Put the page flat under the document camera",
    ),
    "cap_hold_heading": ("请不要移动", "Hold still"),
    "cap_next_heading": (
        "请拿走这一页，放上下一页",
        "Take this page away and put the next one down",
    ),
    "cap_again_heading": (
        "请把这一页挪一挪，重新放平",
        "Move the page a little and lay it flat again",
    ),
    "cap_working_heading": ("正在拍摄，请稍候……", "Taking the picture, please wait…"),
    "cap_check_heading": ("已拍好，请看看是否清楚", "Page captured: check it"),
    "cap_kept_heading": ("这一页已收好", "This page is kept"),
    "cap_place_detail": (
        "放好后请把手拿开，机器会自动拍下。一直拍不下来时，请按“{take_now}”。",
        'Take your hand away: the page is taken by itself. If it is not, press "{take_now}".',
    ),
    "cap_check_detail": (
        "字看得清，就按“{use}”；看不清，就按“{retake}”。",
        'If you can read it, press "{use}". If not, press "{retake}".',
    ),
    "cap_kept_more_detail": (
        "这份材料还有别的页，请按“{more}”；没有了，请按“{next}”。",
        'If it has more pages, press "{more}". If not, press "{next}".',
    ),
    "cap_kept_detail": ("请按“{next}”。", 'Press "{next}".'),
    "cap_material_progress": (
        "第 {number} 份材料（共 {count} 份）：{label}",
        "Material {number} of {count}: {label}",
    ),
    "cap_page_progress": ("第 {number} 页（共 {count} 页）", "Page {number} of {count}"),
    "cap_line_waiting": ("{number}. {label}：还没拍", "{number}. {label}: not yet"),
    "cap_line_now": ("{number}. {label}：正在拍", "{number}. {label}: taking now"),
    "cap_line_now_taken": (
        "{number}. {label}：正在拍，已拍 {pages} 页",
        "{number}. {label}: taking now (pages taken: {pages})",
    ),
    "cap_line_taken": (
        "{number}. {label}：已拍 {pages} 页",
        "{number}. {label}: pages taken: {pages}",
    ),
    "cap_take_now": ("直接拍下", "Take it now"),
    "cap_use_page": ("用这一页", "Use this page"),
    "cap_retake": ("重拍", "Retake"),
    "cap_more_pages": ("这份材料还有一页", "Another page of it"),
    "cap_next_material": ("下一份材料", "Next material"),
    "cap_next_page": ("下一页", "Next page"),
    "cap_done": ("完成", "Done"),
    "cap_photo_progress": ("办理这项事务需要您的照片", "This service needs a photo of you"),
    "cap_photo_heading": ("请看着摄像头", "Look at the camera"),
    "cap_photo_detail": (
        "请站在屏幕正前方，看着摄像头，然后按“{take}”。",
        'Stand in front of the screen, look at the camera, then press "{take}".',
    ),
    "cap_take_photo": ("拍照", "Take photo"),
    "cap_checking_heading": ("正在检查照片，请稍候……", "Checking the photo, please wait…"),
    "cap_photo_check_heading": ("请看看这张照片", "Check the photo"),
    "cap_photo_check_detail": (
        "满意就按“{use}”；不满意就按“{retake}”。",
        'If you are happy with it, press "{use}". If not, press "{retake}".',
    ),
    "cap_use_photo": ("用这张照片", "Use this photo"),
    "cap_waiting": ("正在打开摄像头，请稍候……", "Starting the camera, please wait…"),
    "cap_no_picture": ("没有画面", "No picture"),
    "cap_document_camera_down": (
        "高拍仪暂时没有画面。请稍等一下；如果一直没有画面，请联系工作人员。",
        "The document camera shows no picture just now. Please wait a moment; "
        "if it stays blank, ask a member of staff.",
    ),
    "cap_camera_down": (
        "摄像头暂时没有画面。请稍等一下；如果一直没有画面，请联系工作人员。",
        "The camera shows no picture just now. Please wait a moment; "
        "if it stays blank, ask a member of staff.",
    ),
    "cap_capture_failed": (
        "这一页没有拍好，请再拍一次。",
        "This page could not be taken. Please try again.",
    ),
    "cap_photo_failed": (
        "照片没有拍好，请再拍一次。",
        "The photo could not be taken. Please try again.",
    ),
    # -- staff mode
    "staff_crashed": (
        "程序上次意外停止（{count} 次：{when}），报告已保存，请告知技术人员。",
        "The kiosk stopped unexpectedly ({count}: {when}); the reports are kept for the "
        "technician.",
    ),
    "staff_crashes_seen": ("知道了", "Noted"),
    "staff_pin_heading": ("工作人员登录", "Staff sign-in"),
    "staff_pin_instruction": (
        "请输入工作人员密码，然后按“确定”。",
        "Type the staff PIN, then press OK.",
    ),
    "staff_pin_typed": ("已输入 {count} 位", "Digits typed: {count}"),
    "staff_pin_clear": ("清除", "Clear"),
    "staff_pin_delete": ("退格", "Delete"),
    "staff_pin_ok": ("确定", "OK"),
    "staff_pin_cancel": ("← 取消", "← Cancel"),
    "staff_pin_checking": ("正在核对……", "Checking…"),
    "staff_pin_tries_left": ("还可以试 {tries} 次。", "Tries left: {tries}."),
    "staff_pin_wrong": (
        "密码不对。还可以再试 {tries} 次，再错就会锁定一段时间。",
        "Wrong PIN. Tries left: {tries}; then staff sign-in locks for a while.",
    ),
    "staff_pin_locked": (
        "密码连续输错的次数太多，已锁定。请在 {time}后再试。",
        "Too many wrong PINs: staff sign-in is locked. Try again in {time}.",
    ),
    "staff_pin_no_pin": (
        "本机还没有设置工作人员密码，无法进入工作人员模式。"
        "请技术人员用 kiosk staff set-pin 设置密码。",
        "No staff PIN is set on this kiosk, so staff mode cannot be entered. "
        "Ask the technician to set a PIN with kiosk staff set-pin.",
    ),
    "staff_pin_failed": ("暂时无法核对密码：{problem}", "The PIN cannot be checked now: {problem}"),
    "staff_minutes_seconds": ("{minutes} 分 {seconds} 秒", "{minutes} min {seconds} s"),
    "staff_minutes": ("{minutes} 分钟", "{minutes} min"),
    "staff_seconds": ("{seconds} 秒", "{seconds} s"),
    "staff_heading": ("工作人员模式", "Staff mode"),
    "staff_assisted": ("协助居民办理", "Assist a resident"),
    "staff_exit": ("退出工作人员模式", "Exit staff mode"),
    "staff_section_queue": ("上传队列", "Upload queue"),
    "staff_section_rejected": ("补正和退回", "Needs more, rejected"),
    "staff_section_devices": ("设备状态", "Devices"),
    "staff_section_prints": ("打印任务", "Print jobs"),
    "staff_section_report": ("当日报表", "Day report"),
    "staff_section_settings": ("本站设置", "Settings"),
    "staff_tile_queue": ("排队上传和同步情况", "What waits for upload; the sync"),
    "staff_tile_queue_count": ("排队待上传 {count} 份", "Queued for upload: {count}"),
    "staff_tile_rejected": (
        "要补正的（可打印补正通知）和退回的申请", "What needs more (print the slip); rejected"
    ),
    "staff_tile_rejected_count": ("被退回 {count} 份", "Rejected: {count}"),
    "staff_tile_devices": ("五件套的状态和自检", "The five devices; self-tests"),
    "staff_tile_prints": ("打印过的单据，可以重新打印", "What was printed; reprint it"),
    "staff_tile_report": ("今天的统计，打印当日报表", "Today's figures; print the report"),
    "staff_tile_settings": ("语言、大字、语音、等待时间", "Language, text, speech, idle"),
    "staff_refresh": ("刷新", "Refresh"),
    "staff_loading": ("正在读取……", "Loading…"),
    "staff_load_failed": ("读取失败：{problem}", "Could not be read: {problem}"),
    "staff_sync_now": ("立即同步", "Sync now"),
    "staff_sync_requested": (
        "已请求同步，稍后请按“刷新”查看。",
        "Sync requested; press Refresh in a moment to see it.",
    ),
    "staff_online_label": ("与区中心的连接", "Connection to the district"),
    "staff_online_yes": ("在线", "Online"),
    "staff_online_no": ("离线（连不上区中心）", "Offline (the district cannot be reached)"),
    "staff_online_unknown": ("还没有尝试连接", "Not tried yet"),
    "staff_not_enrolled": (
        "本站还没有在区中心登记，申请会一直留在队列中。",
        "This station is not enrolled with the district: applications stay queued.",
    ),
    "staff_queued_label": ("排队待上传", "Queued for upload"),
    "staff_in_flight_label": ("正在上传", "Uploading now"),
    "staff_rejected_label": ("被退回", "Rejected"),
    "staff_last_success_label": ("上次成功上传", "Last successful upload"),
    "staff_last_error_label": ("上次出错", "Last error"),
    "staff_field": ("{label}：{value}", "{label}: {value}"),
    "staff_never": ("从未", "Never"),
    "staff_none": ("无", "None"),
    "staff_count": ("{count} 份", "{count}"),
    "staff_error_at": ("{time}　{error}", "{time}: {error}"),
    "staff_queued_heading": ("排队中的申请（{count} 份）", "Queued applications ({count})"),
    "staff_no_queued": ("没有排队待上传的申请。", "No application is waiting to be uploaded."),
    "staff_more": ("……另有 {count} 份没有列出", "… and {count} more"),
    "staff_application_line": ("{reference}　·　{item}", "{reference} · {item}"),
    "staff_rejected_heading": ("被退回的申请（{count} 份）", "Rejected applications ({count})"),
    "staff_no_rejected": ("没有被退回的申请。", "No application has been rejected."),
    "staff_reason": ("退回原因：{reason}", "Reason: {reason}"),
    "staff_needs_more_heading": (
        "需要补正的申请（{count} 份）", "Applications that need more ({count})"
    ),
    "staff_missing": ("需要补正：{missing}", "Missing: {missing}"),
    "staff_slip_queued": ("补正通知已排队打印：{reference}", "Slip queued to print: {reference}"),
    "staff_job_supplement": ("补正通知", "Supplement slip"),
    "staff_no_reason": ("区中心没有说明原因", "the district gave no reason"),
    "staff_device_card_reader": ("读卡器", "Card reader"),
    "staff_device_camera": ("摄像头", "Camera"),
    "staff_device_document_camera": ("高拍仪", "Document camera"),
    "staff_device_scanner": ("扫描枪", "Scanner gun"),
    "staff_device_printer": ("打印机", "Printer"),
    "staff_check": ("检查", "Check"),
    "staff_self_test": ("自检", "Self-test"),
    "staff_device_ok": ("✔ 正常：{text}", "✔ OK: {text}"),
    "staff_device_problem": ("✖ 有问题：{text}", "✖ Problem: {text}"),
    "staff_checking": ("正在检查……", "Checking…"),
    "staff_testing": ("正在自检，请稍候……", "Self-test running, please wait…"),
    "staff_testing_scanner": (
        "请现在用扫描枪扫任意一个码（例如打印测试页上的二维码）。",
        "Scan any code with the scanner gun now (the QR code on the printer test page "
        "will do).",
    ),
    "staff_testing_printer": ("正在打印测试页，请稍候……", "Printing a test page, please wait…"),
    "staff_test_ok": ("✔ 自检通过：{text}", "✔ Self-test passed: {text}"),
    "staff_test_failed": ("✖ 自检没有通过：{text}", "✖ Self-test failed: {text}"),
    "staff_no_jobs": ("还没有打印任务。", "No print jobs yet."),
    "staff_reprint": ("重新打印", "Reprint"),
    "staff_job_title": ("{kind}　{reference}", "{kind} {reference}"),
    "staff_job_receipt": ("回执", "Receipt"),
    "staff_job_form": ("申请表", "Application form"),
    "staff_job_report": ("当日报表", "Day report"),
    "staff_job_test_page": ("测试页", "Test page"),
    "staff_job_detail": ("{time}　·　{state}", "{time} · {state}"),
    "staff_job_queued": ("排队等待打印", "Waiting to print"),
    "staff_job_printing": ("正在打印", "Printing"),
    "staff_job_done": ("已打印", "Printed"),
    "staff_job_failed": (
        "没有打印出来：{reason}（打印机恢复后会自动打印）",
        "Not printed: {reason} (prints once the printer is back)",
    ),
    "staff_reprinted": ("已重新排队打印：{title}", "Queued to print again: {title}"),
    "staff_report_today": (
        "今天（{day}）共受理 {count} 份申请。",
        "Today ({day}): {count} applications.",
    ),
    "staff_report_state_line": ("{state}：{count} 份", "{state}: {count}"),
    "staff_report_sync": (
        "待上传 {waiting} 份；被退回（累计）{rejected} 份。",
        "Waiting for upload: {waiting}; rejected (all time): {rejected}.",
    ),
    "staff_print_report": ("打印当日报表", "Print today's report"),
    "staff_report_queued": ("当日报表已送去打印。", "Today's report has been sent to the printer."),
    "staff_setting_language": ("居民界面的默认语言", "Residents' default language"),
    "staff_language_zh": ("中文", "中文"),
    "staff_language_en": ("English", "English"),
    "staff_setting_large_text": ("大字模式", "Large text"),
    "staff_setting_speech": ("语音提示", "Spoken prompts"),
    "staff_on": ("开", "On"),
    "staff_off": ("关", "Off"),
    "staff_chosen": ("✔ {label}", "✔ {label}"),
    "staff_setting_idle_warning": ("无人操作多久后提醒", "Warn after no touch for"),
    "staff_setting_idle_timeout": (
        "提醒后多久清除并回到首页",
        "Then clear the screen and go home after",
    ),
    "staff_less": ("－{step} 秒", "−{step} s"),
    "staff_more_seconds": ("＋{step} 秒", "+{step} s"),
    "staff_save_settings": ("保存设置", "Save settings"),
    "staff_quit": ("关闭自助机程序", "Close the kiosk program"),
    "staff_quit_confirm": ("再点一次，确认关闭", "Tap again to close it"),
    "staff_settings_saved": ("设置已保存。", "Settings saved."),
    "staff_settings_unsaved": ("有更改还没有保存。", "There are unsaved changes."),
    "staff_settings_saving": ("正在保存……", "Saving…"),
    "staff_setting_fixed": (
        "技术人员已在设置文件里固定了这一项，这里的更改不会生效。",
        "The technician fixed this in the settings file: a change here has no effect.",
    ),
    "staff_settings_failed": ("设置没有保存：{problem}", "Settings not saved: {problem}"),
    # -- kiosk behaviour (idle, offline, speech)
    "offline_banner": ("本站暂时离线 · 可照常办理", "Offline: you can still apply"),
    "idle_heading": ("您还在吗？", "Are you still there?"),
    "idle_body": (
        "{seconds} 秒后将清除本次办理的信息，回到首页。",
        "In {seconds} seconds this visit will be cleared and the start screen shown.",
    ),
    "idle_continue": ("我还在，继续办理", "I'm here, continue"),
    "mute": ("关闭语音", "Sound off"),
    "unmute": ("打开语音", "Sound on"),
    "say_welcome": ("您好，请触摸屏幕开始办事。", "Welcome. Touch the screen to begin."),
    "say_identify": ("请将医保卡芯片朝上插入读卡器。", "Please insert your card, chip side up."),
}


def text(key: str, lang: Language | str, **fields: object) -> str:
    """The text for `key` in `lang` ("en" for English, anything else Chinese), filled in."""
    zh, en = STRINGS[key]
    chosen = en if lang == "en" else zh
    return chosen.format(**fields) if fields else chosen
