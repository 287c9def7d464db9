"""The print queue in the local store: every document sent to the printer and its state.

    queued ──► printing ──► done
       ▲          │
       │          ▼
       └────── failed (with a reason; retried by the print service until it prints)

A job is written (its PDF as a blob, sealed at rest like every blob) in one local
transaction before anything is sent to a printer, so a printer fault, a crash or a power
cut never loses it. `failed` is not an end: the job stays in the queue, staff see the
reason, and it prints when the printer is back. `done` is the only end.

Jobs are printed in the order they were queued (`sequence`). Staff can reprint any job
(`reprint`), which queues a new job for the same document.

Nothing here knows how to print; `kiosk.devices.printer.service` does that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_, select

from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.store.models import Blob, PrintJob, utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    PRINTING = "printing"
    DONE = "done"
    FAILED = "failed"


ACTIVE = (JobState.QUEUED, JobState.PRINTING, JobState.FAILED)


class JobKind(StrEnum):
    RECEIPT = "receipt"
    SUPPLEMENT = "supplement"  # the supplement notice (补正通知)
    FORM = "form"
    REPORT = "report"
    TEST_PAGE = "test_page"


class PrintJobNotFound(DoorstepError):
    """No print job matches what staff asked for."""

    action = "List the jobs with `kiosk print jobs` and use a job id or a reference from it."


@dataclass(frozen=True)
class PrintJobView:
    """A print job as staff see it (no personal data: titles are kinds and references)."""

    id: str
    kind: str
    title: str
    reference: str | None
    printer: str | None
    state: JobState
    reason: str | None
    detail: str | None
    attempts: int
    reprint_of: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None
    document_sha256: str
    backend_job: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "reference": self.reference,
            "printer": self.printer,
            "state": self.state.value,
            "reason": self.reason,
            "detail": self.detail,
            "attempts": self.attempts,
            "reprint_of": self.reprint_of,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "done_at": self.done_at.isoformat() if self.done_at else None,
        }


class _Keep:
    """Marker: leave the job's backend id as it is."""


KEEP = _Keep


class PrintQueue:
    """The print jobs in one local store; every method is one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self,
        document: bytes,
        *,
        kind: JobKind | str,
        title: str,
        reference: str | None = None,
        printer: str | None = None,
        reprint_of: str | None = None,
    ) -> PrintJobView:
        """Queue a PDF for printing; it is safe on disk when this returns."""
        kind = JobKind(kind)
        sha256 = self._store.blobs.put(document)
        with self._store.write() as session:
            if session.get(Blob, sha256) is None:
                session.add(Blob(sha256=sha256, size=len(document), media_type="application/pdf"))
            last = session.scalar(select(func.max(PrintJob.sequence)))
            job = PrintJob(
                id=str(uuid.uuid4()),
                sequence=(last or 0) + 1,
                kind=kind.value,
                title=title[:120],
                reference=reference,
                document_sha256=sha256,
                printer=printer or None,
                state=JobState.QUEUED.value,
                attempts=0,
                reprint_of=reprint_of,
            )
            session.add(job)
            session.flush()
            return _view(job)

    def get(self, job_id: str) -> PrintJobView:
        with self._store.read() as session:
            job = session.get(PrintJob, job_id)
            if job is None:
                raise PrintJobNotFound(f"no print job {job_id!r}")
            return _view(job)

    def jobs(self, *, limit: int = 200, active_only: bool = False) -> list[PrintJobView]:
        """The newest jobs first (active ones only, oldest first, with `active_only`)."""
        with self._store.read() as session:
            query = select(PrintJob)
            if active_only:
                query = query.where(PrintJob.state.in_([s.value for s in ACTIVE]))
                query = query.order_by(PrintJob.sequence)
            else:
                query = query.order_by(PrintJob.sequence.desc())
            return [_view(job) for job in session.scalars(query.limit(limit))]

    def document(self, job_id: str) -> bytes:
        return self._store.blobs.get(self.get(job_id).document_sha256)

    def find(self, key: str) -> PrintJobView:
        """The job with this id, or the newest job for this reference."""
        with self._store.read() as session:
            job = session.get(PrintJob, key)
            if job is None:
                job = session.scalars(
                    select(PrintJob)
                    .where(or_(PrintJob.reference == key, PrintJob.id.startswith(key)))
                    .order_by(PrintJob.sequence.desc())
                    .limit(1)
                ).first()
            if job is None:
                raise PrintJobNotFound(f"no print job or reference {key!r}")
            return _view(job)

    def reprint(self, key: str, *, printer: str | None = None) -> PrintJobView:
        """Queue the document of a job (by id or reference) again, for staff."""
        original = self.find(key)
        return self.add(
            self._store.blobs.get(original.document_sha256),
            kind=original.kind,
            title=original.title,
            reference=original.reference,
            printer=printer or original.printer,
            reprint_of=original.id,
        )

    # -- for the print service ----------------------------------------------------------

    def mark(
        self,
        job_id: str,
        state: JobState,
        *,
        reason: str | None = None,
        detail: str | None = None,
        backend_job: str | type[_Keep] | None = KEEP,
        attempted: bool = False,
    ) -> PrintJobView:
        """Record where a job is. The print system's job id is kept unless `backend_job`
        is given (None clears it: the print system lost the job)."""
        with self._store.write() as session:
            job = session.get(PrintJob, job_id)
            if job is None:
                raise PrintJobNotFound(f"no print job {job_id!r}")
            job.state = state.value
            job.reason = reason
            job.detail = detail[:500] if detail else None
            if backend_job is not _Keep:
                job.backend_job = backend_job  # type: ignore[assignment]
            if attempted:
                job.attempts += 1
            if state is JobState.DONE:
                job.done_at = utcnow()
            session.flush()
            return _view(job)


def _view(job: PrintJob) -> PrintJobView:
    return PrintJobView(
        id=job.id,
        kind=job.kind,
        title=job.title,
        reference=job.reference,
        printer=job.printer,
        state=JobState(job.state),
        reason=job.reason,
        detail=job.detail,
        attempts=job.attempts,
        reprint_of=job.reprint_of,
        created_at=job.created_at,
        updated_at=job.updated_at,
        done_at=job.done_at,
        document_sha256=job.document_sha256,
        backend_job=job.backend_job,
    )
