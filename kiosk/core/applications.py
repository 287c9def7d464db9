"""Applications: what a resident asks the district for, and the states it goes through.

    draft ──► ready ──► queued ──► submitted ──► accepted ──► ready_for_pickup ──► completed
      │         │         │            │            │  └─────────────────────────────▲
      ▼         ▼         └────────────┴────────────┴──► rejected
   (discarded while a draft or ready: the resident walked away)
    submitted ──► needs_more (补正) ──► accepted or rejected

- draft: being filled in at the kiosk; ready: everything the item needs is there;
- queued: committed to the local outbox (in the same transaction as the state change),
  so it survives a power cut and will be uploaded;
- submitted: the district has it; accepted / rejected: an agent decided (or, rejected
  straight from queued: the district refused it at intake, e.g. an item it does not
  offer); needs_more (补正): the agent asks for more, the reason says what is missing in
  words for the resident (the kiosk prints it on a supplement slip when they come back),
  and decides again once it is brought; ready_for_pickup: the result waits at the
  station; completed: done.

The district's decisions come back through sync as states to set (`apply_remote`), not
steps to take: they are applied in the district's order, so the last one wins, and
applying one twice changes nothing.

Only the transitions above exist; any other raises IllegalTransition. An application's
id is a UUID made here that never changes; its reference (kiosk.core.references) is what
the receipt shows. Resident identity and form data are sealed with the station key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from kiosk.core.catalog import ServiceItem
from kiosk.core.references import next_reference

# The states and the view live in kiosk.core.states (no database imports: the interface
# uses them); they are part of this module's interface too.
from kiosk.core.states import (
    DISCARDABLE,
    REMOTE_STATES,
    SENT,
    TRANSITIONS,
    ApplicationView,
    State,
)
from kiosk.errors import DoorstepError, IllegalTransition
from kiosk.store.db import Store
from kiosk.store.models import Application, Blob, Material, OutboxEntry, StateChange
from kiosk.store.models import sealed_context as _context

__all__ = [
    "DISCARDABLE",
    "REMOTE_STATES",
    "SENT",
    "TRANSITIONS",
    "ApplicationNotFound",
    "ApplicationView",
    "Applications",
    "State",
    "apply_remote",
    "check_transition",
    "step",
]


def apply_remote(
    session: Session, application: Application, target: State, reason: str | None
) -> bool:
    """Set a state the district decided (inside the caller's transaction); True if it
    changed anything. Only applications that left the kiosk take remote states."""
    if target not in REMOTE_STATES:
        raise IllegalTransition(f"the district cannot set an application to {target}")
    current = State(application.state)
    if current not in SENT:
        raise IllegalTransition(f"a {current} application has not been sent to the district")
    if current is target and application.reason == reason:
        return False
    _set_state(application, current, target, reason)
    return True


class ApplicationNotFound(DoorstepError):
    """No application with that id in the local store."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"an application cannot go from {current} to {target}")


def step(application: Application, target: State, reason: str | None = None) -> None:
    """Move `application` to `target` and record it (inside the caller's transaction);
    IllegalTransition if the state machine has no such step."""
    current = State(application.state)
    check_transition(current, target)
    _set_state(application, current, target, reason)


def _set_state(
    application: Application, current: State, target: State, reason: str | None
) -> None:
    """Set the state and add the step to the history, inside the caller's transaction."""
    application.state = target.value
    application.reason = reason
    change = StateChange(from_state=current.value, to_state=target.value, reason=reason)
    session = object_session(application)
    if session is None:
        application.history.append(change)
    else:
        # Linked from the change's side, which does not load the history to add to it
        # (a query per application: the sync pass steps hundreds at a time).
        change.application = application
        session.add(change)


class Applications:
    """The operations on applications, each one local transaction."""

    def __init__(self, store: Store, station_code: str) -> None:
        self._store = store
        self._station = station_code

    def create(
        self,
        item: ServiceItem,
        resident: Mapping[str, Any] | None = None,
        *,
        today: date | None = None,
    ) -> ApplicationView:
        """A new draft application for `item`, with a fresh UUID and reference."""
        with self._store.write() as session:
            reference = next_reference(session, self._station, today or date.today())
            application = self._new(item, reference, resident, State.DRAFT)
            session.add(application)
            session.flush()
            return _view(application)

    def queue_many(
        self,
        item: ServiceItem,
        resident: Mapping[str, Any] | None,
        count: int,
        materials: Callable[[str, int], list[tuple[str, bytes]]],
        *,
        media_type: str = "image/png",
        kind: str = "page",
        today: date | None = None,
    ) -> list[ApplicationView]:
        """Create `count` applications straight into the outbox, each with the materials
        `materials(reference, n)` gives as (label, content): for staff, demos and tests.
        The blobs go to disk with one flush, then all rows in one transaction."""
        day = today or date.today()
        made: list[ApplicationView] = []
        with self._store.write() as session:
            references = [next_reference(session, self._station, day) for _ in range(count)]
            contents = [materials(reference, n) for n, reference in enumerate(references)]
            hashes = self._store.blobs.put_many([c for pairs in contents for _, c in pairs])
            known = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(hashes))))
            position = 0
            for reference, pairs in zip(references, contents, strict=True):
                application = self._new(item, reference, resident, State.QUEUED)
                for label, content in pairs:
                    sha256 = hashes[position]
                    position += 1
                    if sha256 not in known:
                        known.add(sha256)
                        session.add(Blob(sha256=sha256, size=len(content), media_type=media_type))
                    application.materials.append(
                        Material(blob_sha256=sha256, kind=kind, label=label)
                    )
                session.add(application)
                session.add(OutboxEntry(application_id=application.id))
                session.flush()
                made.append(_view(application))
        return made

    def set_form(self, application_id: str, form: Mapping[str, Any]) -> None:
        with self._store.write() as session:
            application = _get(session, application_id)
            if State(application.state) not in DISCARDABLE:
                raise IllegalTransition(f"a {application.state} application cannot be edited")
            application.form_sealed = self._seal("form_sealed", application_id, dict(form))

    def add_material(
        self, application_id: str, content: bytes, *, media_type: str, kind: str, label: str = ""
    ) -> str:
        """Store a captured material durably, then attach it; returns its sha256."""
        sha256 = self._store.blobs.put(content)
        with self._store.write() as session:
            application = _get(session, application_id)
            if State(application.state) not in DISCARDABLE:
                raise IllegalTransition(f"a {application.state} application cannot take materials")
            if session.get(Blob, sha256) is None:
                session.add(Blob(sha256=sha256, size=len(content), media_type=media_type))
            application.materials.append(Material(blob_sha256=sha256, kind=kind, label=label))
        return sha256

    def transition(
        self, application_id: str, target: State, *, reason: str | None = None
    ) -> ApplicationView:
        """Move an application to `target`; queueing also enters it in the outbox."""
        with self._store.write() as session:
            application = _get(session, application_id)
            step(application, target, reason)
            if target is State.QUEUED:
                session.add(OutboxEntry(application_id=application.id))
            session.flush()
            return _view(application)

    def discard(self, application_id: str) -> None:
        """Delete an application that never left the kiosk (the resident walked away)."""
        with self._store.write() as session:
            application = _get(session, application_id)
            if State(application.state) not in DISCARDABLE:
                raise IllegalTransition(f"a {application.state} application cannot be discarded")
            session.delete(application)

    def get(self, application_id: str) -> ApplicationView:
        with self._store.read() as session:
            return _view(_get(session, application_id))

    def views(self, *, limit: int | None = None) -> list[ApplicationView]:
        """Every application, oldest first (or the first `limit`)."""
        with self._store.read() as session:
            query = select(Application).order_by(Application.created_at, Application.reference)
            if limit is not None:
                query = query.limit(limit)
            return [_view(a) for a in session.scalars(query)]

    def resident(self, application_id: str) -> dict[str, Any] | None:
        """The resident's identity, unsealed: only for the district and the receipt."""
        return self._unseal("resident_sealed", application_id)

    def form(self, application_id: str) -> dict[str, Any] | None:
        return self._unseal("form_sealed", application_id)

    def for_resident(self, *, ssn: str | None, card_number: str | None) -> list[ApplicationView]:
        """The applications (newest first) whose resident has this ID number or card
        number: what "my applications" shows. Drafts are left out. Each resident is
        unsealed to compare (no index on personal data is kept); a station holds a few
        thousand applications at most before its retention period clears them."""
        if not ssn and not card_number:
            return []
        vault = self._store.vault
        found = []
        with self._store.read() as session:
            rows = session.execute(
                select(Application)
                .where(Application.resident_sealed.is_not(None))
                .where(Application.state.not_in([s.value for s in DISCARDABLE]))
                .order_by(Application.created_at.desc(), Application.reference.desc())
            ).scalars()
            for row in rows:
                resident = vault.open_json(
                    row.resident_sealed, _context("applications", "resident_sealed", row.id)
                )
                if not isinstance(resident, dict):
                    continue
                if (ssn and resident.get("ssn") == ssn) or (
                    card_number and resident.get("card_number") == card_number
                ):
                    found.append(_view(row))
        return found

    def outbox(self) -> list[str]:
        """The ids of queued applications, oldest first."""
        with self._store.read() as session:
            return list(
                session.scalars(select(OutboxEntry.application_id).order_by(OutboxEntry.sequence))
            )

    def _new(
        self,
        item: ServiceItem,
        reference: str,
        resident: Mapping[str, Any] | None,
        state: State,
    ) -> Application:
        """A new application row (a fresh UUID), its first history step in `state`."""
        application_id = str(uuid.uuid4())
        application = Application(
            id=application_id,
            reference=reference,
            station_code=self._station,
            item_code=item.code,
            item_name_zh=item.name_zh,
            item_name_en=item.name_en,
            state=state.value,
            resident_sealed=self._seal("resident_sealed", application_id, resident),
        )
        application.history.append(StateChange(from_state=None, to_state=state))
        return application

    def _unseal(self, column: str, application_id: str) -> Any:
        with self._store.read() as session:
            sealed = getattr(_get(session, application_id), column)
        if sealed is None:
            return None
        return self._store.vault.open_json(sealed, _context("applications", column, application_id))

    def _seal(self, column: str, application_id: str, value: Any) -> bytes | None:
        if value is None:
            return None
        return self._store.vault.seal_json(value, _context("applications", column, application_id))


def _get(session: Session, application_id: str) -> Application:
    application = session.get(Application, application_id)
    if application is None:
        raise ApplicationNotFound(f"no application {application_id!r} in the local store")
    return application


def _view(application: Application) -> ApplicationView:
    return ApplicationView(
        id=application.id,
        reference=application.reference,
        item_code=application.item_code,
        item_name_zh=application.item_name_zh,
        item_name_en=application.item_name_en,
        state=State(application.state),
        reason=application.reason,
        material_count=len(application.materials),
    )
