"""What agents work on, as plain queries: the inbox (filtered, counted, paged) and one
application (its item from the catalog, its resident and form masked, its materials and
its history). No HTTP here: `inbox` and `application` pages and the JSON endpoints all
read through these functions, so they show the same thing.

Every query joins `Station` and adds the viewer's station scope (`Viewer.station_scope`):
an application of a station outside it does not exist for that viewer.

Paging is by keyset, not offset: a page is "the 50 after (received_at, id) X" in the
sort's order, so the thousandth page costs what the first does. The inbox's order rides
the indexes on `received_at` (none, or a group filter), `(state, received_at)` and
`(station_id, received_at)`.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, func, or_, select

from district.applications import STATES
from district.catalogs import newest_catalog_id
from district.models import Application, Blob, Catalog, Decision, Material, Station
from district.uploads import blob_context, sealed_context
from kiosk.core.catalog import Catalog as ParsedCatalog
from kiosk.core.catalog import CatalogError, ServiceItem, parse_catalog
from kiosk.core.identity import ETHNICITIES, mask_digits, mask_name, mask_ssn
from kiosk.store.crypto import Vault

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SORTS = ("newest", "oldest")
#: Age filters: "today" is received in the last day; a number is waiting more than that
#: many days.
AGES = ("today", "1", "3", "7", "30")
#: States in which an application still waits for someone at the district.
OPEN_STATES = frozenset({"submitted", "needs_more", "accepted", "ready_for_pickup"})

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_CURSOR = re.compile(r"^(\d{1,17})_([0-9a-f-]{36})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadFilter(ValueError):
    """A query parameter the inbox cannot use (an unknown state, a garbled cursor)."""


def is_application_id(value: str) -> bool:
    return bool(_UUID.match(value))


# -- the inbox --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the inbox shows: by station (code), item (code), state and age, in `sort`."""

    station: str = ""
    item: str = ""
    state: str = ""
    age: str = ""
    sort: str = "newest"

    @classmethod
    def parse(
        cls, station: str | None, item: str | None, state: str | None, age: str | None,
        sort: str | None,
    ) -> Filters:
        """The filters from query parameters ("" or missing is no filter); raises
        BadFilter for a value that cannot be one."""
        station, item = (station or "").strip(), (item or "").strip()
        for value in (station, item):
            if value and not _CODE.match(value):
                raise BadFilter("a station or item code is letters, digits and dashes")
        if state and state not in STATES:
            raise BadFilter(f"unknown state; one of {', '.join(STATES)}")
        if age and age not in AGES:
            raise BadFilter(f"unknown age; one of {', '.join(AGES)}")
        if sort and sort not in SORTS:
            raise BadFilter(f"unknown sort; one of {', '.join(SORTS)}")
        return cls(station, item, state or "", age or "", sort or "newest")

    def with_(self, **changes: str) -> Filters:
        return replace(self, **changes)

    def query(self, **extra: str) -> str:
        """These filters (and `extra`) as a query string, without the empty ones."""
        values = {
            "station": self.station, "item": self.item, "state": self.state, "age": self.age,
            "sort": "" if self.sort == "newest" else self.sort, **extra,
        }
        return urlencode({key: value for key, value in values.items() if value})


@dataclass(frozen=True)
class Cursor:
    """A place in the inbox's order: the (received_at, id) of a row."""

    received_at: datetime
    id: str

    def encode(self) -> str:
        delta = self.received_at.astimezone(UTC) - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{self.id}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        found = _CURSOR.match(value)
        if not found or not is_application_id(found.group(2)):
            raise BadFilter("the page cursor is not one this inbox made")
        try:
            at = _EPOCH + timedelta(microseconds=int(found.group(1)))
        except OverflowError:
            raise BadFilter("the page cursor is not one this inbox made") from None
        return cls(at, found.group(2))


@dataclass(frozen=True)
class InboxRow:
    id: str
    reference: str
    station_code: str
    station_name: str
    item_code: str
    item_names: tuple[str, str]  # Chinese, English; empty if not in the newest catalog
    state: str
    created_at: datetime
    received_at: datetime

    def item_name(self, language: str) -> str:
        return self.item_names[1 if language == "en" else 0] or self.item_code

    def waiting(self, now: datetime) -> timedelta | None:
        """How long it has waited since it reached the district, while it still waits."""
        return now - self.received_at if self.state in OPEN_STATES else None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    counts: dict[str, int]  # per state, under every filter but the state's
    total: int  # under every filter, the state's too
    next: str | None  # cursor of the page after, if any
    previous: str | None  # cursor of the page before, if any


def _conditions(scope: ColumnElement[bool], filters: Filters, now: datetime,
                *, with_state: bool) -> list[ColumnElement[bool]]:
    conditions = [scope]
    if filters.station:
        conditions.append(Station.code == filters.station)
    if filters.item:
        conditions.append(Application.item_code == filters.item)
    if filters.age == "today":
        conditions.append(Application.received_at >= now - timedelta(days=1))
    elif filters.age:
        conditions.append(Application.received_at <= now - timedelta(days=int(filters.age)))
    if with_state and filters.state:
        conditions.append(Application.state == filters.state)
    return conditions


def _after(cursor: Cursor, descending: bool) -> ColumnElement[bool]:
    """Rows past `cursor` in the order; the first condition alone can use an index."""
    at, key = Application.received_at, Application.id
    if descending:
        return and_(at <= cursor.received_at, or_(at < cursor.received_at, key < cursor.id))
    return and_(at >= cursor.received_at, or_(at > cursor.received_at, key > cursor.id))


def inbox_rows_query(
    scope: ColumnElement[bool], filters: Filters, now: datetime, *, after: Cursor | None = None,
    before: Cursor | None = None, size: int = PAGE_SIZE,
) -> Any:
    """The SELECT of one page (one row more than `size`, which tells if there is more)."""
    newest_first = filters.sort == "newest"
    descending = newest_first if before is None else not newest_first
    query = (
        select(
            Application.id, Application.reference, Application.item_code, Application.state,
            Application.created_at, Application.received_at,
            Station.code.label("station_code"), Station.name.label("station_name"),
        )
        .join(Station, Station.id == Application.station_id)
        .where(*_conditions(scope, filters, now, with_state=True))
    )
    cursor = before or after
    if cursor is not None:
        query = query.where(_after(cursor, descending))
    order = (
        (Application.received_at.desc(), Application.id.desc())
        if descending
        else (Application.received_at.asc(), Application.id.asc())
    )
    return query.order_by(*order).limit(size + 1)


def state_counts_query(scope: ColumnElement[bool], filters: Filters, now: datetime) -> Any:
    return (
        select(Application.state, func.count())
        .select_from(Application)
        .join(Station, Station.id == Application.station_id)
        .where(*_conditions(scope, filters, now, with_state=False))
        .group_by(Application.state)
    )


def inbox(
    connection: Connection, scope: ColumnElement[bool], filters: Filters, *,
    after: Cursor | None = None, before: Cursor | None = None, size: int = PAGE_SIZE,
    now: datetime | None = None, catalog: CatalogView | None = None,
) -> InboxPage:
    """One page of the inbox under `filters`, after (or before) a cursor; item names from
    `catalog` (the newest, looked up if not given)."""
    now = now or datetime.now(UTC)
    size = max(1, min(size, MAX_PAGE_SIZE))
    rows = connection.execute(
        inbox_rows_query(scope, filters, now, after=after, before=before, size=size)
    ).all()
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: count for state, count in connection.execute(
        state_counts_query(scope, filters, now)
    ) if state in counts})
    names = (catalog or newest_catalog(connection)).names
    page_rows = [
        InboxRow(
            id=row.id, reference=row.reference, station_code=row.station_code,
            station_name=row.station_name, item_code=row.item_code,
            item_names=names.get(row.item_code, ("", "")), state=row.state,
            created_at=row.created_at, received_at=row.received_at,
        )
        for row in rows
    ]
    first = Cursor(rows[0].received_at, rows[0].id).encode() if rows else None
    last = Cursor(rows[-1].received_at, rows[-1].id).encode() if rows else None
    if before is not None:  # came back: there is a next page; a previous one if more
        next_cursor, previous = last, first if more else None
    else:
        next_cursor, previous = (last if more else None), (first if after is not None else None)
    total = counts[filters.state] if filters.state else sum(counts.values())
    return InboxPage(page_rows, counts, total, next_cursor, previous)


def stations_in_scope(connection: Connection, scope: ColumnElement[bool]) -> list[tuple[str, str]]:
    """(code, name) of every station the viewer may see, for the station filter."""
    return [
        (row.code, row.name)
        for row in connection.execute(
            select(Station.code, Station.name).where(scope).order_by(Station.code)
        )
    ]


# -- the catalog's item names and guides ----------------------------------------------


@dataclass(frozen=True)
class CatalogView:
    """A published catalog as the console reads it: parsed, with its items' names."""

    version: str
    catalog: ParsedCatalog | None  # None: the stored file no longer parses
    names: dict[str, tuple[str, str]]  # item code → (Chinese name, English name)

    def item(self, code: str) -> ServiceItem | None:
        if self.catalog is None or code not in self.names:
            return None
        return self.catalog.get(code)

    def items(self) -> list[ServiceItem]:
        return list(self.catalog) if self.catalog is not None else []


NO_CATALOG = CatalogView("", None, {})


@dataclass
class _CatalogCache:
    """The newest published catalog, parsed once per version."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    view: CatalogView = NO_CATALOG


_CACHE = _CatalogCache()


def newest_catalog(connection: Connection) -> CatalogView:
    """The newest published catalog (parsed once per version), or NO_CATALOG."""
    newest = newest_catalog_id(connection)
    if newest is None:
        return NO_CATALOG
    catalog_id, version = newest
    with _CACHE.lock:
        if _CACHE.view.version == version:
            return _CACHE.view
    toml = connection.scalar(select(Catalog.toml).where(Catalog.id == catalog_id)) or ""
    try:
        parsed: ParsedCatalog | None = parse_catalog(toml, f"catalog {version}")
    except CatalogError:
        parsed = None  # published through the same checks; a damaged row shows codes only
    names = {item.code: (item.name_zh, item.name_en) for item in parsed or ()}
    view = CatalogView(version, parsed, names)
    with _CACHE.lock:
        _CACHE.view = view
    return view


# -- one application -------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialRow:
    position: int
    kind: str
    label: str
    media_type: str
    size: int


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    account: str  # "" for the receipt
    from_state: str
    to_state: str
    reason: str | None


@dataclass(frozen=True)
class ApplicationView:
    """One application as the console shows it. `resident` and `form` are unsealed and
    unmasked: pass them through `masked_resident` / `masked_form` unless the viewer holds
    a grant for the identity."""

    id: str
    reference: str
    station_code: str
    station_name: str
    item_code: str
    state: str
    reason: str | None
    version: int
    created_at: datetime
    received_at: datetime
    updated_at: datetime
    resident: dict[str, Any] | None = field(repr=False)
    form: dict[str, Any] | None = field(repr=False)
    materials: list[MaterialRow]
    history: list[HistoryRow]


# An application's queries, built once: every application page runs them, and a statement
# built anew each time costs SQLAlchemy more than PostgreSQL takes to answer it (it is
# constructed, its cache key computed and its result columns matched again).


@functools.lru_cache(maxsize=1024)
def _application_query(scope: ColumnElement[bool]) -> Select[Any]:
    """The application's row and station, in `scope`: built once per scope object (the
    console's scopes are one object per role and group, `Viewer.station_scope`; any other
    scope is a cache miss, built as before). Keyed by the object itself: a live object's
    hash is its own, so a lookup never compares two conditions with `==`."""
    return (
        select(
            Application.id, Application.reference, Application.item_code, Application.state,
            Application.reason, Application.version, Application.created_at,
            Application.received_at, Application.updated_at, Application.resident_sealed,
            Application.form_sealed, Station.code.label("station_code"),
            Station.name.label("station_name"),
        )
        .join(Station, Station.id == Application.station_id)
        .where(Application.id == bindparam("application_id"), scope)
    )


_MATERIALS = (
    select(Material.position, Material.kind, Material.label, Material.media_type,
           Material.size)
    .where(Material.application_id == bindparam("application_id"))
    .order_by(Material.position)
)
_HISTORY = (
    select(Decision.at, Decision.account, Decision.from_state, Decision.to_state,
           Decision.reason)
    .where(Decision.application_id == bindparam("application_id"))
    .order_by(Decision.id)
)


def application(
    connection: Connection, vault: Vault, scope: ColumnElement[bool], application_id: str
) -> ApplicationView | None:
    """The application `application_id` if the viewer's scope holds its station."""
    if not is_application_id(application_id):
        return None
    which = {"application_id": application_id}
    row = connection.execute(_application_query(scope), which).first()
    if row is None:
        return None

    def unseal(column: str, sealed: bytes | None) -> dict[str, Any] | None:
        if sealed is None:
            return None
        value = vault.open_json(sealed, sealed_context(column, application_id))
        return value if isinstance(value, dict) else None

    materials = [
        MaterialRow(m.position, m.kind, m.label, m.media_type, m.size)
        for m in connection.execute(_MATERIALS, which)
    ]
    history = [HistoryRow(row.received_at, "", "", "submitted", None)] + [
        HistoryRow(d.at, d.account, d.from_state, d.to_state, d.reason)
        for d in connection.execute(_HISTORY, which)
    ]
    return ApplicationView(
        id=row.id, reference=row.reference, station_code=row.station_code,
        station_name=row.station_name, item_code=row.item_code, state=row.state,
        reason=row.reason, version=row.version, created_at=row.created_at,
        received_at=row.received_at, updated_at=row.updated_at,
        resident=unseal("resident", row.resident_sealed),
        form=unseal("form", row.form_sealed), materials=materials, history=history,
    )


def in_scope(connection: Connection, scope: ColumnElement[bool], application_id: str) -> bool:
    """Whether the application exists for this viewer (its station is in their scope)."""
    if not is_application_id(application_id):
        return False
    return connection.scalar(
        select(Application.id)
        .join(Station, Station.id == Application.station_id)
        .where(Application.id == application_id, scope)
    ) is not None


def material_content(
    connection: Connection, vault: Vault, application_id: str, position: int
) -> tuple[MaterialRow, bytes] | None:
    """A material of an application and its bytes, unsealed (check the scope first)."""
    row = connection.execute(
        select(Material.position, Material.kind, Material.label, Material.media_type,
               Material.size, Material.sha256, Blob.sealed)
        .join(Blob, Blob.sha256 == Material.sha256)
        .where(Material.application_id == application_id, Material.position == position)
    ).first()
    if row is None:
        return None
    content = vault.open(row.sealed, blob_context(row.sha256))
    return MaterialRow(row.position, row.kind, row.label, row.media_type, row.size), content


# -- masking ------------------------------------------------------------------------------

#: The resident's fields the console shows, in order, as the kiosk sends them
#: (`kiosk.core.identity.Identity.to_wire`, `kiosk.core.voucher.Voucher.to_wire`).
RESIDENT_FIELDS = (
    "name", "ssn", "card_number", "sex", "birth_date", "ethnicity", "birthplace",
    "expiry_date", "code", "province",
)
#: How each personal field is masked, as the kiosk's `to_display` masks it.
_RESIDENT_MASKS = {
    "name": mask_name,
    "ssn": mask_ssn,
    "card_number": lambda v: mask_digits(v, 1, 2),
    "birth_date": lambda v: v[:4] + "-**-**",
    "birthplace": lambda v: mask_digits(v, 2, 0),
    "code": lambda v: mask_digits(v, 3, 4),  # an insurance voucher's code
}
_DIGIT_RUN = re.compile(r"\d{6,}")
_FORM_MASKS = {"phone": lambda v: mask_digits(v, 3, 4), "name": mask_name, "ssn": mask_ssn}


def resident_fields(resident: dict[str, Any] | None, *, reveal: bool) -> list[tuple[str, str]]:
    """(field, value) of the resident, masked unless `reveal`."""
    if not resident:
        return []
    shown = []
    for name in RESIDENT_FIELDS:
        value = resident.get(name)
        if value is None or value == "":
            continue
        value = str(value)
        if name == "ethnicity":
            value = ETHNICITIES.get(value, value)
        elif not reveal and name in _RESIDENT_MASKS:
            value = _RESIDENT_MASKS[name](value)
        shown.append((name, value))
    return shown


def resident_missing(resident: dict[str, Any] | None) -> list[str]:
    """Fields the card did not give (the district fills them in from the card number)."""
    missing = (resident or {}).get("missing")
    return [str(name) for name in missing] if isinstance(missing, list) else []


def form_fields(form: dict[str, Any] | None, *, reveal: bool) -> list[tuple[str, str]]:
    """(key, value) of the form, masked unless `reveal`: phone numbers, names and ID
    numbers by their field, and any run of six or more digits in other text."""
    shown = []
    for key, raw in (form or {}).items():
        value = raw if isinstance(raw, str) else str(raw)
        if not reveal:
            mask = _FORM_MASKS.get(key)
            value = mask(value) if mask else _DIGIT_RUN.sub(
                lambda run: mask_digits(run.group(0), 3, 4), value
            )
        shown.append((str(key), value))
    return shown
