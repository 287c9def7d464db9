"""Call-back requests: when no agent can take a resident's call (the station is offline,
or nobody serves it now), the resident leaves a phone number typed on the keypad, the
item they wanted help with and when they would like to be called; an agent of the
district sees it in the console and calls back.

`Callbacks.request` checks the number (`kiosk.core.phone`), seals it with the station key
(like an application's resident) and queues the request for the district
(`callback_outbox`) in the same local transaction, so a request the kiosk has taken is
uploaded even after a power cut; the sync engine sends the queue in batches
(kiosk.sync.engine) and the district keys each request on its UUID, so none is kept
twice. Once the district has confirmed a request the kiosk drops its number: it is the
district that calls back.

The number is personal data: it is never logged, and shown only masked
(`CallbackView.phone_masked`: 138****1234). Every operation is one local transaction and
may block: the window calls them on a worker thread.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal, get_args

from sqlalchemy import func, select

from kiosk.core import phone as phones
from kiosk.core.catalog import ITEM_CODE_PATTERN
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.store.models import Callback, CallbackOutboxEntry
from kiosk.store.models import sealed_context as _context
from kiosk.sync.wire import MAX_ITEM_TITLE

Preferred = Literal["today", "tomorrow_am", "tomorrow_pm"]
PREFERRED: tuple[Preferred, ...] = get_args(Preferred)


class CallbackRefused(DoorstepError):
    """A call-back request the kiosk cannot take (the number is not one, the item or the
    preferred time is not known). The resident's text says what to correct; the staff
    message never holds the number."""

    action = "Type the number again: an 11-digit mobile, or a landline with its area code."


class PhoneRefused(CallbackRefused):
    """The typed number is not a phone number: `reason` is `empty`, `characters` or
    `shape`, and the resident's text says which."""

    _TEXTS: ClassVar[dict[str, tuple[str, str]]] = {
        "empty": ("请输入电话号码。", "Please type a phone number."),
        "characters": (
            "电话号码只能包含数字。",
            "A phone number is digits only.",
        ),
        "shape": (
            "号码不正确：请输入 11 位手机号码，或带区号的固定电话（如 010-12345678）。",
            "That is not a phone number: type an 11-digit mobile number, or a landline "
            "with its area code (such as 010-12345678).",
        ),
    }

    def __init__(self, reason: str) -> None:
        super().__init__(f"the typed phone number was refused ({reason})")
        self.reason = reason
        self.resident_zh, self.resident_en = self._TEXTS[reason]

    @property
    def message_zh(self) -> str:
        return self.resident_zh

    @property
    def message_en(self) -> str:
        return self.resident_en


@dataclass(frozen=True)
class CallbackView:
    """A call-back request as the kiosk shows it: the number masked ("" once the
    district has it and the kiosk dropped it)."""

    id: str
    item_code: str
    item_title: str
    phone_masked: str
    preferred: Preferred
    requested_at: datetime
    uploaded: bool
    queued: bool


def check_phone(typed: str) -> str:
    """The typed number as digits only; raises PhoneRefused."""
    try:
        return phones.normalize(typed)
    except phones.PhoneProblem as problem:
        raise PhoneRefused(problem.reason) from None


class Callbacks:
    """The operations on call-back requests, each one local transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def request(
        self,
        phone: str,
        item_code: str,
        item_title: str,
        preferred: Preferred,
        *,
        requested_at: datetime | None = None,
    ) -> str:
        """Keep a resident's call-back request (the number sealed) and queue it for the
        district, together; its id."""
        number = check_phone(phone)
        if not re.fullmatch(ITEM_CODE_PATTERN, item_code):
            raise CallbackRefused(f"a call-back names an item code, not {item_code[:20]!r}")
        if preferred not in PREFERRED:
            raise CallbackRefused(f"a preferred time is one of {PREFERRED}, not {preferred!r}")
        callback_id = str(uuid.uuid4())
        with self._store.write() as session:
            session.add(
                Callback(
                    id=callback_id,
                    item_code=item_code,
                    item_title=item_title.strip()[:MAX_ITEM_TITLE],
                    phone_sealed=self._store.vault.seal(
                        number.encode("ascii"), _context("callbacks", "phone_sealed", callback_id)
                    ),
                    preferred=preferred,
                    requested_at=requested_at or datetime.now(UTC),
                )
            )
            session.flush()
            session.add(CallbackOutboxEntry(callback_id=callback_id))
        return callback_id

    def get(self, callback_id: str) -> CallbackView:
        with self._store.read() as session:
            row = session.get(Callback, callback_id)
            if row is None:
                raise CallbackRefused(f"no call-back {callback_id!r} on this kiosk")
            queued = session.scalar(
                select(func.count()).where(CallbackOutboxEntry.callback_id == callback_id)
            )
            return self._view(row, queued=bool(queued))

    def queued(self) -> int:
        """How many call-back requests wait to be uploaded."""
        with self._store.read() as session:
            return session.scalar(select(func.count()).select_from(CallbackOutboxEntry)) or 0

    def _view(self, row: Callback, *, queued: bool) -> CallbackView:
        masked = ""
        if row.phone_sealed is not None:
            number = self._store.vault.open(
                row.phone_sealed, _context("callbacks", "phone_sealed", row.id)
            )
            masked = phones.mask(number.decode("ascii"))
        return CallbackView(
            id=row.id,
            item_code=row.item_code,
            item_title=row.item_title,
            phone_masked=masked,
            preferred=row.preferred,  # type: ignore[arg-type]
            requested_at=row.requested_at,
            uploaded=row.uploaded_at is not None,
            queued=queued,
        )
