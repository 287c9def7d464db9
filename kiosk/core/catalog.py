"""The service catalog: the items a station handles, read from a TOML catalog file.

A catalog file has one `[catalog]` table (format, version, titles, whether it is sample
data) and one `[[item]]` table per service item, with the fields of a published service
guide (办事指南) plus the local flags a station needs (how it handles the item, which
identification it needs, whether a resident may finish it offline). A file is checked
whole before anything uses it; every problem is reported with its line, so a person can
fix the file, and nothing half-read is ever installed. See `assets/catalog/` for the
sample catalog and the README for the format.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kiosk.errors import CatalogError, UnknownItem
from kiosk.tomlfile import TomlLines, syntax_error_line

FORMAT_VERSION = 1
ITEM_CODE_PATTERN = r"^[A-Z]{2,4}-[0-9]{3,5}$"


class _Labelled(StrEnum):
    """A StrEnum whose members also carry a Chinese and an English label."""

    zh: str
    en: str

    def __new__(cls, value: str, zh: str, en: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh, member.en = zh, en
        return member

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Category(_Labelled):
    """The categories of community acceptance (社区事务受理), in the order shown."""

    MEDICAL_INSURANCE = ("medical_insurance", "医疗保障", "Medical insurance")
    SOCIAL_SECURITY = ("social_security", "社会保险", "Social security")
    ELDERLY_CARE = ("elderly_care", "养老服务", "Elderly care")
    CIVIL_AFFAIRS = ("civil_affairs", "民政救助", "Civil affairs and assistance")
    DISABILITY = ("disability", "残疾人服务", "Disability services")
    EMPLOYMENT = ("employment", "就业创业", "Employment")
    MATERNITY_FAMILY = ("maternity_family", "生育与家庭", "Maternity and family")
    RESIDENCE = ("residence", "户籍与居住证", "Household and residence permits")
    HOUSING = ("housing", "住房保障", "Housing")
    VETERANS = ("veterans", "退役军人服务", "Veterans' services")
    HEALTH = ("health", "卫生健康", "Health")
    LEGAL_SERVICES = ("legal_services", "法律服务", "Legal services")


class ItemType(StrEnum):
    """The kind of government matter, as published guides classify it."""

    PUBLIC_SERVICE = "public_service"  # 公共服务
    ADMINISTRATIVE_PAYMENT = "administrative_payment"  # 行政给付
    ADMINISTRATIVE_CONFIRMATION = "administrative_confirmation"  # 行政确认
    ADMINISTRATIVE_LICENSING = "administrative_licensing"  # 行政许可
    OTHER = "other"  # 其他行政权力


class MaterialForm(_Labelled):
    """In what form a material is handed over."""

    ORIGINAL = ("original", "原件", "original")
    COPY = ("copy", "复印件", "copy")
    ORIGINAL_AND_COPY = ("original_and_copy", "原件及复印件", "original and copy")
    ELECTRONIC = ("electronic", "电子材料", "electronic")


class Handling(_Labelled):
    """How a station handles an item (a local flag, not a national field)."""

    ON_THE_SPOT = ("on_the_spot", "现场办理", "Done here")
    REMOTE_ASSISTANCE = ("remote_assistance", "远程视频协办", "By video with a district agent")
    ON_BEHALF = ("on_behalf", "工作人员代办", "Staff apply on your behalf")


class Identification(StrEnum):
    """What a resident may identify themselves with for an item."""

    SS_CARD = "ss_card"  # 社会保障卡 / medical-insurance card, PC/SC
    NHSA_VOUCHER = "nhsa_voucher"  # 医保电子凭证 QR code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


ShortText = Annotated[str, Field(min_length=1, max_length=80)]
LongText = Annotated[str, Field(min_length=1, max_length=2000)]


class Material(_Strict):
    """One material a resident hands over (申请材料)."""

    name_zh: ShortText
    name_en: Annotated[str, Field(max_length=200)] = ""
    form: MaterialForm = MaterialForm.ORIGINAL
    copies: Annotated[int, Field(ge=1, le=20)] = 1
    required: bool = True

    def name(self, lang: str) -> str:
        return (self.name_en or self.name_zh) if lang == "en" else self.name_zh


class ServiceItem(_Strict):
    """One service item of the catalog, with the fields of its published guide."""

    code: Annotated[str, Field(pattern=ITEM_CODE_PATTERN)]
    name_zh: Annotated[str, Field(min_length=1, max_length=60)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    category: Category
    item_type: ItemType = ItemType.PUBLIC_SERVICE
    responsible_body_zh: ShortText
    responsible_body_en: Annotated[str, Field(max_length=200)] = ""
    eligibility_zh: LongText
    eligibility_en: Annotated[str, Field(max_length=2000)] = ""
    conditions_zh: list[LongText] = []
    conditions_en: list[LongText] = []
    materials: list[Material] = []
    statutory_days: Annotated[int, Field(ge=0, le=365)] | None = None
    promised_days: Annotated[int, Field(ge=0, le=365)]
    fee_yuan: Annotated[Decimal, Field(ge=0, le=100000, decimal_places=2)] = Decimal(0)
    handling: Annotated[list[Handling], Field(min_length=1)]
    # Empty: the item needs no identification (an enquiry, say).
    identification: list[Identification] = [Identification.SS_CARD, Identification.NHSA_VOUCHER]
    offline_ok: bool = True
    needs_photo: bool = False
    visits: Annotated[int, Field(ge=0, le=10)] = 0
    phone: Annotated[str, Field(pattern=r"^[0-9-]{3,20}$")] | None = None
    keywords_zh: list[ShortText] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("handling", "identification"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a value twice")
        if self.conditions_en and len(self.conditions_en) != len(self.conditions_zh):
            raise ValueError("conditions_en must match conditions_zh one for one")
        if self.statutory_days is not None and self.promised_days > self.statutory_days:
            raise ValueError("promised_days cannot exceed statutory_days")
        return self

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def responsible_body(self, lang: str) -> str:
        return (self.responsible_body_en or self.responsible_body_zh) if lang == "en" else (
            self.responsible_body_zh
        )

    def eligibility(self, lang: str) -> str:
        return (self.eligibility_en or self.eligibility_zh) if lang == "en" else (
            self.eligibility_zh
        )

    def conditions(self, lang: str) -> list[str]:
        return (self.conditions_en or self.conditions_zh) if lang == "en" else (
            self.conditions_zh
        )

    def time_limit(self, lang: str) -> str:
        """The promised time limit in words: done on the spot, or N working days."""
        if self.promised_days == 0:
            return "On the spot" if lang == "en" else "即办"
        if lang == "en":
            unit = "working day" if self.promised_days == 1 else "working days"
            return f"{self.promised_days} {unit}"
        return f"{self.promised_days}个工作日"

    def fee(self, lang: str) -> str:
        if self.fee_yuan == 0:
            return "Free" if lang == "en" else "不收费"
        return f"¥{self.fee_yuan:.2f}" if lang == "en" else f"{self.fee_yuan:.2f}元"


class CatalogHeader(_Strict):
    """The `[catalog]` table: which catalog this is."""

    format: Annotated[int, Field(ge=FORMAT_VERSION, le=FORMAT_VERSION)]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    title_zh: ShortText
    title_en: Annotated[str, Field(max_length=200)] = ""
    sample: bool = False


@dataclass(frozen=True)
class CatalogProblem:
    """One reason a catalog file was refused, at a line of that file (1-based; 0 = unknown)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class CatalogRefused(CatalogError):
    """A catalog file that cannot be installed, with every problem found in it."""

    def __init__(self, source: str, problems: Sequence[CatalogProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = "\n".join(f"  {source} {p}" for p in self.problems)
        super().__init__(f"catalog file refused ({len(self.problems)} problem(s)):\n{shown}")


@dataclass(frozen=True)
class Catalog:
    """A validated catalog: its header and its items in file order."""

    header: CatalogHeader
    items: tuple[ServiceItem, ...]
    _by_code: dict[str, ServiceItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {item.code: item for item in self.items})

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ServiceItem]:
        return iter(self.items)

    def get(self, code: str) -> ServiceItem:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownItem(f"no service item with code {code!r} in the catalog") from None

    def categories(self) -> list[Category]:
        """The categories that hold at least one item, in display order."""
        present = {item.category for item in self.items}
        return [c for c in Category if c in present]

    def in_category(self, category: Category) -> list[ServiceItem]:
        return [item for item in self.items if item.category == category]

    @cached_property
    def _search_keys(self) -> dict[str, tuple[str, ...]]:
        # pypinyin loads its dictionaries on import: only pay for it when searching.
        from pypinyin import Style, lazy_pinyin

        keys: dict[str, tuple[str, ...]] = {}
        for item in self.items:
            initials = "".join(lazy_pinyin(item.name_zh, style=Style.FIRST_LETTER)).lower()
            keys[item.code] = (
                item.code.lower(),
                item.name_zh,
                item.name_en.lower(),
                initials,
                *(k.lower() for k in item.keywords_zh),
            )
        return keys

    def prepare_search(self) -> None:
        """Build the search keys now (pinyin dictionaries take a moment to load), so the
        first search does not pay for it; the kiosk calls this off the main thread."""
        _ = self._search_keys

    def search(self, query: str) -> list[ServiceItem]:
        """Items matching every word of `query` by code, Chinese or English name, pinyin
        initials (就医记录册 ← "jyjl") or keyword, best matches first."""
        words = query.lower().split()
        if not words:
            return list(self.items)
        scored: list[tuple[int, int, ServiceItem]] = []
        for position, item in enumerate(self.items):
            keys = self._search_keys[item.code]
            score = 0
            for word in words:
                best = max((_match_score(word, key) for key in keys), default=0)
                if best == 0:
                    break
                score += best
            else:
                scored.append((-score, position, item))
        scored.sort(key=lambda entry: (entry[0], entry[1]))
        return [item for _, _, item in scored]


def _match_score(word: str, key: str) -> int:
    if key == word:
        return 3
    if key.startswith(word):
        return 2
    return 1 if word in key else 0


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    """Check a whole catalog file and return it, or raise CatalogRefused listing every
    problem with its line. Nothing is installed here; see kiosk.store.catalog_store."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = syntax_error_line(exc)
        raise CatalogRefused(source, [CatalogProblem(line, message)]) from None
    lines = TomlLines(text)
    problems: list[CatalogProblem] = []
    header: CatalogHeader | None = None
    for key in data.keys() - {"catalog", "item"}:
        problems.append(CatalogProblem(lines.locate((key,)), f"{key}: unknown table or key"))
    if "catalog" not in data:
        problems.append(CatalogProblem(0, "catalog: the [catalog] table is missing"))
    else:
        try:
            header = CatalogHeader.model_validate(data["catalog"])
        except ValidationError as exc:
            problems.extend(_problems(exc, lines, ("catalog",), "catalog"))
    raw_items = data.get("item")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append(CatalogProblem(0, "item: the file has no [[item]] tables"))
        raw_items = []

    items: list[ServiceItem] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        code = raw.get("code") if isinstance(raw, dict) else None
        label = f"item {code}" if isinstance(code, str) else f"item #{index + 1}"
        if isinstance(code, str) and code in first_seen:
            first_line = lines.locate(("item", first_seen[code], "code"))
            problems.append(
                CatalogProblem(
                    lines.locate(("item", index, "code")),
                    f"{label}: duplicate item code (first at line {first_line})",
                )
            )
        elif isinstance(code, str):
            first_seen[code] = index
        try:
            items.append(ServiceItem.model_validate(raw))
        except ValidationError as exc:
            problems.extend(_problems(exc, lines, ("item", index), label))
    if problems or header is None:
        raise CatalogRefused(source, sorted(problems, key=lambda problem: problem.line))
    return Catalog(header=header, items=tuple(items))


def _problems(
    exc: ValidationError, lines: TomlLines, base: tuple[str | int, ...], label: str
) -> list[CatalogProblem]:
    """One problem per validation error, named `label: field` (the item, the header)."""
    found = []
    for error in exc.errors(include_url=False):
        location = base + tuple(error["loc"])
        field_name = ".".join(str(part) for part in error["loc"] if isinstance(part, str))
        where = f"{label}: {field_name}" if field_name else label
        message = error["msg"]
        if error["type"] == "enum":
            message = f"unknown value {error['input']!r}; {message[0].lower()}{message[1:]}"
        elif error["type"] == "extra_forbidden":
            message = "unknown field (a typo?)"
        found.append(CatalogProblem(lines.locate(location), f"{where}: {message}"))
    return found
