"""Who the resident is: the identity read from a social security card, and how it is shown.

An `Identity` holds what the card gave, unmasked, in memory only. Everything a person or
a log can see goes through `masked()` / `to_display()` (张*三, 310***********1234), and
`repr()` is masked too, so an identity printed by accident leaks nothing. The unmasked
form leaves the process only as `to_wire()`, for the district.

A card may refuse some fields (a generation-3 card without a PSAM answers 6982 to the
personal records). Such an identity is *partial*: `complete` is false and `missing`
names the absent fields; the district fills them in from the card number.

The social security number is checked with the GB 11643 check digit; a number that fails
the check is never reported as the resident's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from kiosk.errors import DoorstepError

#: The fields of an identity in the order the command line and the wire list them.
FIELDS = (
    "card_number",
    "card_id",
    "region_code",
    "spec_version",
    "issue_date",
    "expiry_date",
    "ssn",
    "name",
    "sex",
    "ethnicity",
    "birthplace",
    "birth_date",
)

_SSN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_SSN_CHECK = "10X98765432"
_SSN_SHAPE = re.compile(r"\d{17}[\dX]")
_CARD_NUMBER_SHAPE = re.compile(r"[0-9A-Z]{9}")

#: Province-level region codes (GB/T 2260), the first two digits of every region code.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}  # fmt: skip

#: Ethnic groups by their GB 3304 code.
ETHNICITIES = {
    "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族", "06": "苗族",
    "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族", "11": "满族", "12": "侗族",
    "13": "瑶族", "14": "白族", "15": "土家族", "16": "哈尼族", "17": "哈萨克族", "18": "傣族",
    "19": "黎族", "20": "傈僳族", "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族",
    "25": "水族", "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族",
    "30": "土族", "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族",
    "36": "毛南族", "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族",
    "41": "塔吉克族", "42": "怒族", "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族",
    "46": "德昂族", "47": "保安族", "48": "裕固族", "49": "京族", "50": "塔塔尔族",
    "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族", "54": "门巴族", "55": "珞巴族",
    "56": "基诺族", "97": "其他", "98": "外国血统中国籍人士",
}  # fmt: skip


class Sex(StrEnum):
    """GB/T 2261.1 sex codes, by the word the wire and the command line use."""

    UNKNOWN = "unknown"
    MALE = "male"
    FEMALE = "female"
    UNSPECIFIED = "unspecified"

    @classmethod
    def from_code(cls, code: str) -> Sex:
        try:
            return {"0": cls.UNKNOWN, "1": cls.MALE, "2": cls.FEMALE, "9": cls.UNSPECIFIED}[code]
        except KeyError:
            raise ValueError("not a GB/T 2261.1 sex code") from None

    def label(self, lang: str) -> str:
        zh = {"unknown": "未知", "male": "男", "female": "女", "unspecified": "未说明"}
        return self.value if lang == "en" else zh[self.value]


class IdentityInvalid(DoorstepError):
    """A value offered as part of an identity breaks its own rules (check digit, date)."""

    resident_zh = "卡片信息无法识别，请交给工作人员查看。"
    resident_en = "The card's details could not be read. Please hand it to a member of staff."
    action = "Look at the card; if it is damaged, the resident applies for a replacement."


def ssn_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a citizen ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("the check digit needs exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _SSN_WEIGHTS, strict=True))
    return _SSN_CHECK[total % 11]


def valid_ssn(ssn: str) -> bool:
    """Whether `ssn` has the shape of a citizen ID number and its check digit holds."""
    return bool(_SSN_SHAPE.fullmatch(ssn)) and ssn_check_digit(ssn[:17]) == ssn[17]


def mask_name(name: str) -> str:
    """张三丰 → 张*丰, 张三 → 张*, 欧阳娜娜 → 欧**娜: the first and last characters stay."""
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_digits(value: str, keep_start: int, keep_end: int) -> str:
    """Keep `keep_start` leading and `keep_end` trailing characters, star the rest."""
    hidden = len(value) - keep_start - keep_end
    if hidden <= 0:
        return "*" * len(value)
    return value[:keep_start] + "*" * hidden + value[len(value) - keep_end :]


def mask_ssn(ssn: str) -> str:
    """310101195001011234 → 310***********1234."""
    return mask_digits(ssn, 3, 4)


@dataclass(frozen=True, repr=False)
class Identity:
    """What a social security card says about its holder; any field may be missing.

    `region_code` is the issuing region (the first six digits of the card identification
    code); `birthplace` is a region code too. Dates are `datetime.date`.
    """

    card_number: str | None = None
    card_id: str | None = None
    spec_version: str | None = None
    issue_date: dt.date | None = None
    expiry_date: dt.date | None = None
    ssn: str | None = None
    name: str | None = None
    sex: Sex | None = None
    ethnicity: str | None = None
    birthplace: str | None = None
    birth_date: dt.date | None = None
    #: Fields the card refused or lacks, in FIELDS order (filled in by __post_init__).
    missing: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if self.ssn is not None and not valid_ssn(self.ssn):
            raise IdentityInvalid("the social security number fails its GB 11643 check digit")
        if self.card_number is not None and not _CARD_NUMBER_SHAPE.fullmatch(self.card_number):
            raise IdentityInvalid("the card number is not nine letters and digits")
        if self.card_id is not None and not re.fullmatch(r"\d{6}[0-9A-F]{26}", self.card_id):
            raise IdentityInvalid("the card identification code is not 32 hex digits")
        if self.ethnicity is not None and self.ethnicity not in ETHNICITIES:
            raise IdentityInvalid("the ethnicity is not a GB 3304 code")
        if self.birthplace is not None and not re.fullmatch(r"\d{6}", self.birthplace):
            raise IdentityInvalid("the birthplace is not a six-digit region code")
        values = self._values()
        object.__setattr__(self, "missing", tuple(name for name in FIELDS if values[name] is None))

    @property
    def region_code(self) -> str | None:
        return self.card_id[:6] if self.card_id else None

    @property
    def generation(self) -> int | None:
        """1, 2 or 3, from the spec version ("1.00", "2.00", "3.00")."""
        if not self.spec_version:
            return None
        return int(self.spec_version[0])

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def kind(self) -> str:
        return "card"

    def expired(self, today: dt.date) -> bool:
        return self.expiry_date is not None and self.expiry_date < today

    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        values["region_code"] = self.region_code
        return {name: values[name] for name in FIELDS}

    def to_wire(self) -> dict[str, Any]:
        """The unmasked identity as JSON-ready values, for the district and `--reveal` only."""
        out: dict[str, Any] = {}
        for name, value in self._values().items():
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Sex):
                value = value.value
            out[name] = value
        out["complete"] = self.complete
        out["missing"] = list(self.missing)
        return out

    def to_display(self) -> dict[str, Any]:
        """The same keys as `to_wire`, with every personal value masked."""
        out = self.to_wire()
        maskers = {
            "card_number": lambda v: mask_digits(v, 1, 2),
            "card_id": lambda v: mask_digits(v, 6, 4),
            "ssn": mask_ssn,
            "name": mask_name,
            "birthplace": lambda v: mask_digits(v, 2, 0),
            "birth_date": lambda v: v[:4] + "-**-**",
        }
        for name, mask in maskers.items():
            if out[name] is not None:
                out[name] = mask(out[name])
        return out

    def __repr__(self) -> str:
        shown = self.to_display()
        inner = ", ".join(f"{name}={shown[name]!r}" for name in FIELDS if shown[name] is not None)
        return f"Identity({inner}, missing={list(self.missing)})"

    __str__ = __repr__
