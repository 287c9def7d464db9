"""Catalog files for tests: a small valid one, and a generator of large valid ones."""

from __future__ import annotations

VALID = """\
[catalog]
format = 1
version = "test-1"
title_zh = "测试目录"
title_en = "Test catalog"

[[item]]
code = "MI-001"
name_zh = "门急诊就医记录册申领"
name_en = "Outpatient and emergency medical record booklet"
category = "medical_insurance"
item_type = "public_service"
responsible_body_zh = "区医疗保障局"
eligibility_zh = "本区参保人员"
promised_days = 0
handling = ["on_the_spot"]

[[item.materials]]
name_zh = "社会保障卡"
name_en = "Social security card"
form = "original"

[[item.materials]]
name_zh = "居民身份证"
form = "original_and_copy"
copies = 2

[[item]]
code = "CA-001"
name_zh = "最低生活保障申请"
name_en = "Minimum living allowance application"
category = "civil_affairs"
item_type = "administrative_payment"
responsible_body_zh = "区民政局"
eligibility_zh = "家庭收入低于本市最低生活保障标准的居民"
conditions_zh = ["户籍在本区", "家庭财产符合规定"]
conditions_en = ["Household registered in the district", "Family assets within the limits"]
statutory_days = 30
promised_days = 20
handling = ["remote_assistance", "on_behalf"]
identification = ["ss_card"]
offline_ok = false
"""


def generated(count: int, version: str = "big-1", prefix: str = "GEN") -> str:
    """A valid catalog of `count` items (codes PREFIX-00001 …) for volume tests."""
    parts = [
        f'[catalog]\nformat = 1\nversion = "{version}"\ntitle_zh = "生成目录"\n'
    ]
    for number in range(1, count + 1):
        parts.append(
            f'\n[[item]]\ncode = "{prefix}-{number:05d}"\nname_zh = "生成事项{number}"\n'
            f'name_en = "Generated item {number}"\ncategory = "elderly_care"\n'
            f'responsible_body_zh = "区民政局"\neligibility_zh = "{"本区老年居民" * 20}"\n'
            f'promised_days = 5\nhandling = ["on_the_spot"]\n'
            f'[[item.materials]]\nname_zh = "社会保障卡"\nform = "original"\n'
        )
    return "".join(parts)
