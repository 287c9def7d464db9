"""One sync pass: the outbox up, the district's decisions down.

Upload, oldest first (FIFO per station):
1. take the next `batch_size` outbox entries;
2. send each of their blobs the district does not have yet, in bundles of many blobs
   (`POST /v1/blobs:bundle`, each blob checked against its sha256 there, as the single
   `PUT /v1/blobs/{sha256}` does); a blob is marked sent (`blobs.sent_at`) once the
   district has confirmed it, so a later pass never sends it again;
3. send the batch; the district applies it in one transaction and answers a verdict per
   item;
4. apply the verdicts in one local transaction: accepted → `submitted` and out of the
   outbox (if the district's decisions already moved it on, the state is left alone);
   rejected → `rejected` with the district's reason and out of the outbox, kept and shown
   to staff, so it does not hold the queue; `blob_missing` → its blobs are marked unsent
   and it stays at the head of the outbox for the next pass.

Steps 1–2 for the next batch run while the district stores the batch before it (step 3):
blobs may run ahead of their applications, which still go one batch after the other.

Every step is safe to repeat: if the kiosk dies or the line cuts anywhere, the next pass
sends the same batch again and the district, which keys applications on their permanent
id, answers `accepted` without storing anything twice.

Ratings: after the applications, the rating queue (`rating_outbox`, filled in the same
local transaction as each rating or staff comment, kiosk.core.ratings) goes up in batches
(`POST /v1/ratings:batch`); each entry the district answered for leaves the queue. The
district keys ratings on their UUID, so a batch sent again changes nothing there.
Call-back requests (`callback_outbox`, kiosk.core.callbacks) go the same way after the
ratings (`POST /v1/callbacks:batch`): each one the district answered for leaves the queue,
and one it accepted has its phone number dropped here (the district calls back; the
kiosk needs the number no more). A request is never changed once made, so sending it
again after a lost answer changes nothing at the district.

Download: the district's state changes for this station's applications, from the cursor
kept in the local store, applied with the new cursor in one local transaction (so a change
is never lost or half-applied; applying one again is harmless; a change to a state this
kiosk does not know, from a newer district, is skipped with a warning). An unknown cursor makes
the district answer "reset": the pass starts over from the beginning. Then the station's
settings (a new version, checked against the settings schema, is kept in
`district-settings.json` for the kiosk's next start) and the catalog (a new version is
installed in one transaction).

Last, the station's health report (`POST /v1/station:report`: versions, queue depth,
rejected count, the five devices' state and error code, the kiosk's clock). A report that
cannot be sent is logged; the pass still counts as a success.

The pass never logs personal data: applications are named by their id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from kiosk import __version__
from kiosk.config import Paths, SettingsError, check_district_settings, district_settings_file
from kiosk.core.applications import State, apply_remote, step
from kiosk.core.catalog import parse_catalog
from kiosk.core.catalog_store import catalog_info, install_catalog
from kiosk.errors import DoorstepError
from kiosk.store.db import Store
from kiosk.store.models import (
    Application,
    Blob,
    Callback,
    CallbackOutboxEntry,
    OutboxEntry,
    Rating,
    RatingOutboxEntry,
    SyncInfo,
)
from kiosk.store.models import sealed_context as _context
from kiosk.sync.client import DistrictClient
from kiosk.sync.errors import BadAnswer
from kiosk.sync.wire import (
    MAX_CALLBACKS,
    MAX_RATINGS,
    ApplicationWire,
    BatchAnswer,
    CallbackBatch,
    CallbackWire,
    DeviceHealth,
    ItemVerdict,
    MaterialWire,
    RatingBatch,
    RatingWire,
    RejectReason,
    RemoteState,
    StationReport,
    UploadBatch,
    Verdict,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # MAX_BATCH: fewer, larger server transactions
# Blobs go in bundles of at most this many / this many bytes, this many bundles at once.
# 1 MiB: a cut line costs at most that much to resend, and a loaded district answers each
# bundle sooner (bench/sync.py, 1,300 stations 64 at a time: p99 1.7 s with 1 MiB bundles,
# 5.2 s with 4 MiB ones, for a drain about 7 % slower).
BUNDLE_BLOBS = 64
BUNDLE_BYTES = 1024 * 1024
BUNDLE_CONCURRENCY = 4
MAX_CHANGE_PAGES = 100  # per pass: a reset loop or a runaway server cannot keep a pass going
MAX_RATING_BATCHES = 20  # per pass (10,000 ratings): the rest go next pass
MAX_CALLBACK_BATCHES = 10  # per pass (2,000 call-backs): the rest go next pass


@dataclass
class PassReport:
    """What one pass did."""

    accepted: int = 0
    rejected: int = 0
    retry: int = 0  # items sent back to the queue (their blobs were missing)
    blobs_sent: int = 0
    ratings: int = 0  # ratings the district confirmed
    callbacks: int = 0  # call-back requests the district confirmed
    changes: int = 0
    skipped: int = 0  # changes to a state this kiosk does not know (a newer district)
    resets: int = 0
    catalog: str | None = None  # the catalog version installed, if a new one came
    settings: int | None = None  # the district settings version kept, if a new one came
    rejected_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "retry": self.retry,
            "blobs_sent": self.blobs_sent,
            "ratings": self.ratings,
            "callbacks": self.callbacks,
            "changes": self.changes,
            "skipped": self.skipped,
            "resets": self.resets,
            "catalog": self.catalog,
            "settings": self.settings,
        }


@dataclass(frozen=True)
class _Batch:
    wire: UploadBatch
    last_sequence: int  # of its last outbox entry


class SyncEngine:
    def __init__(
        self,
        paths: Paths,
        store: Store,
        *,
        batch_size: int = BATCH_SIZE,
        client_options: dict[str, object] | None = None,
        health: Callable[[], list[DeviceHealth]] | None = None,
    ) -> None:
        self.paths = paths
        self.store = store
        self.batch_size = batch_size
        self._health = health
        self._client_options = client_options or {}
        self.in_flight = 0

    async def run_pass(self, *, max_batches: int | None = None) -> PassReport:
        """Upload what is queued (all of it, or `max_batches` batches), then download."""
        report = PassReport()
        async with DistrictClient(self.paths, self.store, **self._client_options) as client:
            batch = await asyncio.to_thread(self._next_batch, None)
            sent = 0 if batch is None else await self._send_blobs(client, batch.wire)
            batches = 0
            while batch is not None:
                report.blobs_sent += sent
                batches += 1
                more = max_batches is None or batches < max_batches
                answer, following, sent = await self._upload_and_prepare(client, batch, more)
                retry = self._apply_verdicts(batch.wire, answer.results, report)
                if retry:
                    break  # its blobs go again next pass; do not spin on it now
                batch = following
            await self._upload_ratings(client, report)
            await self._upload_callbacks(client, report)
            await self._download(client, report)
            await self._send_report(client)
        self._record(success=True)
        return report

    async def _upload_and_prepare(
        self, client: DistrictClient, batch: _Batch, more: bool
    ) -> tuple[BatchAnswer, _Batch | None, int]:
        """Send `batch` and, while the district stores it, read the next batch from the
        outbox and send its blobs (blobs may run ahead of their applications; the
        applications themselves go one batch after the other, in queue order)."""

        async def prepare() -> tuple[_Batch | None, int]:
            if not more:
                return None, 0
            following = await asyncio.to_thread(self._next_batch, batch.last_sequence)
            if following is None:
                return None, 0
            return following, await self._send_blobs(client, following.wire)

        self.in_flight = len(batch.wire.applications)
        try:
            # return_exceptions: both finish before a failure is raised, so nothing is
            # left running against a client that is about to close
            uploaded, prepared = await asyncio.gather(
                client.upload(batch.wire), prepare(), return_exceptions=True
            )
        finally:
            self.in_flight = 0
        if isinstance(uploaded, BaseException):
            raise uploaded
        if isinstance(prepared, BaseException):
            raise prepared
        return uploaded, *prepared

    def record_failure(self, error: Exception) -> None:
        self._record(success=False, error=error)

    # -- upload -------------------------------------------------------------------------

    def _next_batch(self, after: int | None) -> _Batch | None:
        """The next `batch_size` outbox entries (those queued after the entry `after`)."""
        vault = self.store.vault
        with self.store.read() as session:
            query = (
                select(Application, OutboxEntry.sequence)
                .join(OutboxEntry, OutboxEntry.application_id == Application.id)
                .order_by(OutboxEntry.sequence)
                .limit(self.batch_size)
                .options(selectinload(Application.materials))
            )
            if after is not None:
                query = query.where(OutboxEntry.sequence > after)
            found = session.execute(query).all()
            if not found:
                return None
            rows = [row for row, _ in found]
            blobs = {
                blob.sha256: blob
                for blob in session.scalars(
                    select(Blob).where(
                        Blob.sha256.in_({m.blob_sha256 for row in rows for m in row.materials})
                    )
                )
            }
            applications = []
            for row in rows:
                resident = form = None
                if row.resident_sealed is not None:
                    resident = vault.open_json(
                        row.resident_sealed, _context("applications", "resident_sealed", row.id)
                    )
                if row.form_sealed is not None:
                    form = vault.open_json(
                        row.form_sealed, _context("applications", "form_sealed", row.id)
                    )
                applications.append(
                    ApplicationWire(
                        id=row.id,
                        reference=row.reference,
                        item_code=row.item_code,
                        created_at=row.created_at,
                        resident=resident,
                        form=form,
                        materials=[
                            MaterialWire(
                                sha256=m.blob_sha256,
                                kind=m.kind,
                                label=m.label,
                                media_type=blobs[m.blob_sha256].media_type,
                                size=blobs[m.blob_sha256].size,
                            )
                            for m in row.materials
                        ],
                    )
                )
            return _Batch(UploadBatch(applications=applications), found[-1][1])

    async def _send_blobs(self, client: DistrictClient, batch: UploadBatch) -> int:
        """Send the batch's blobs the district has not confirmed yet, in bundles (many
        blobs a request, each checked against its hash there), a few bundles at a time;
        mark each bundle's blobs sent as soon as the district confirms it."""
        wanted = {m.sha256 for a in batch.applications for m in a.materials}
        with self.store.read() as session:
            unsent = sorted(
                session.scalars(
                    select(Blob.sha256).where(Blob.sha256.in_(wanted), Blob.sent_at.is_(None))
                )
            )
        if not unsent:
            return 0
        gate = asyncio.Semaphore(BUNDLE_CONCURRENCY)

        async def send(group: list[str]) -> int:
            async with gate:
                contents = await asyncio.to_thread(
                    lambda: [(sha, self.store.blobs.get(sha)) for sha in group]
                )
                await client.put_bundle(contents)
                await asyncio.to_thread(self._mark_sent, group)
                return len(group)

        # return_exceptions: every bundle finishes before a failure is raised, so none is
        # left running against a client that is about to close
        results = await asyncio.gather(
            *(send(group) for group in self._bundles(unsent)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    def _bundles(self, hashes: list[str]) -> list[list[str]]:
        with self.store.read() as session:
            sizes = dict(
                session.execute(select(Blob.sha256, Blob.size).where(Blob.sha256.in_(hashes))).all()
            )
        groups: list[list[str]] = []
        current: list[str] = []
        total = 0
        for sha256 in hashes:
            size = sizes.get(sha256, 0)
            if current and (len(current) >= BUNDLE_BLOBS or total + size > BUNDLE_BYTES):
                groups.append(current)
                current, total = [], 0
            current.append(sha256)
            total += size
        if current:
            groups.append(current)
        return groups

    def _mark_sent(self, hashes: list[str]) -> None:
        with self.store.write() as session:
            session.execute(
                update(Blob).where(Blob.sha256.in_(hashes)).values(sent_at=datetime.now(UTC))
            )

    def _apply_verdicts(
        self, batch: UploadBatch, results: list[ItemVerdict], report: PassReport
    ) -> int:
        """Apply a batch's verdicts in one local transaction, with a handful of statements
        for the whole batch (not a few per application: this is the kiosk's hot path)."""
        ids = [sent.id for sent in batch.applications]
        retry = 0
        settled: list[str] = []
        with self.store.write() as session:
            applications = {
                a.id: a for a in session.scalars(select(Application).where(Application.id.in_(ids)))
            }
            queued = set(
                session.scalars(
                    select(OutboxEntry.application_id).where(OutboxEntry.application_id.in_(ids))
                )
            )
            for sent, result in zip(batch.applications, results, strict=True):
                application = applications.get(sent.id)
                if application is None or sent.id not in queued:
                    continue  # deleted or already settled meanwhile
                if result.verdict is Verdict.ACCEPTED:
                    if State(application.state) is State.QUEUED:
                        step(application, State.SUBMITTED)
                    settled.append(sent.id)
                    report.accepted += 1
                elif result.reason is RejectReason.BLOB_MISSING:
                    shas = [m.sha256 for m in sent.materials]
                    session.execute(update(Blob).where(Blob.sha256.in_(shas)).values(sent_at=None))
                    retry += 1
                    report.retry += 1
                else:
                    reason = f"{result.reason.value if result.reason else 'rejected'}: " + (
                        result.message or "refused by the district"
                    )
                    if State(application.state) is State.QUEUED:
                        step(application, State.REJECTED, reason[:500])
                    settled.append(sent.id)
                    report.rejected += 1
                    report.rejected_ids.append(sent.id)
                    log.warning("application %s refused by the district: %s", sent.id, reason)
            if settled:
                session.execute(
                    delete(OutboxEntry).where(OutboxEntry.application_id.in_(settled))
                )
        return retry

    # -- ratings ------------------------------------------------------------------------

    async def _upload_ratings(self, client: DistrictClient, report: PassReport) -> None:
        """The rating queue, oldest first, in batches. An entry leaves the queue once the
        district answered for it; one queued again meanwhile (staff changed its comment)
        has a new entry, which stays for the next batch."""
        for _ in range(MAX_RATING_BATCHES):
            queued = await asyncio.to_thread(self._next_ratings)
            if not queued:
                return
            batch = RatingBatch(ratings=[wire for _, wire in queued])
            answer = await client.upload_ratings(batch)
            await asyncio.to_thread(self._settle_ratings, queued, answer.results, report)

    def _next_ratings(self) -> list[tuple[int, RatingWire]]:
        with self.store.read() as session:
            rows = session.execute(
                select(RatingOutboxEntry.sequence, Rating)
                .join(Rating, Rating.id == RatingOutboxEntry.rating_id)
                .order_by(RatingOutboxEntry.sequence)
                .limit(MAX_RATINGS)
            ).all()
            return [
                (
                    sequence,
                    RatingWire(
                        id=rating.id,
                        application_id=rating.application_id,
                        item_code=rating.item_code,
                        score=rating.score,
                        comment=rating.comment,
                        rated_at=rating.rated_at,
                    ),
                )
                for sequence, rating in rows
            ]

    def _settle_ratings(
        self,
        queued: list[tuple[int, RatingWire]],
        results: list[ItemVerdict],
        report: PassReport,
    ) -> None:
        accepted = []
        for (_, wire), result in zip(queued, results, strict=True):
            if result.verdict is Verdict.ACCEPTED:
                accepted.append(wire.id)
            else:
                # never expected (a conflict: the id is the kiosk's own UUID); kept here,
                # out of the queue, so it cannot hold the others
                log.warning("rating %s refused by the district: %s", wire.id, result.message)
        with self.store.write() as session:
            session.execute(
                delete(RatingOutboxEntry).where(
                    RatingOutboxEntry.sequence.in_([sequence for sequence, _ in queued])
                )
            )
            if accepted:
                session.execute(
                    update(Rating)
                    .where(Rating.id.in_(accepted))
                    .values(uploaded_at=datetime.now(UTC))
                )
        report.ratings += len(accepted)

    # -- call-back requests ---------------------------------------------------------------

    async def _upload_callbacks(self, client: DistrictClient, report: PassReport) -> None:
        """The call-back queue, oldest first, in batches; an entry leaves the queue once
        the district answered for it."""
        for _ in range(MAX_CALLBACK_BATCHES):
            queued = await asyncio.to_thread(self._next_callbacks)
            if not queued:
                return
            batch = CallbackBatch(callbacks=[wire for _, wire in queued])
            answer = await client.upload_callbacks(batch)
            await asyncio.to_thread(self._settle_callbacks, queued, answer.results, report)

    def _next_callbacks(self) -> list[tuple[int, CallbackWire]]:
        vault = self.store.vault
        with self.store.read() as session:
            rows = session.execute(
                select(CallbackOutboxEntry.sequence, Callback)
                .join(Callback, Callback.id == CallbackOutboxEntry.callback_id)
                .order_by(CallbackOutboxEntry.sequence)
                .limit(MAX_CALLBACKS)
            ).all()
            queued = []
            for sequence, callback in rows:
                if callback.phone_sealed is None:
                    continue  # never expected: queued without a number
                number = vault.open(
                    callback.phone_sealed, _context("callbacks", "phone_sealed", callback.id)
                )
                queued.append(
                    (
                        sequence,
                        CallbackWire(
                            id=callback.id,
                            phone=number.decode("ascii"),
                            item_code=callback.item_code,
                            item_title=callback.item_title,
                            preferred=callback.preferred,  # type: ignore[arg-type]
                            requested_at=callback.requested_at,
                        ),
                    )
                )
            return queued

    def _settle_callbacks(
        self,
        queued: list[tuple[int, CallbackWire]],
        results: list[ItemVerdict],
        report: PassReport,
    ) -> None:
        accepted = []
        for (_, wire), result in zip(queued, results, strict=True):
            if result.verdict is Verdict.ACCEPTED:
                accepted.append(wire.id)
            else:
                # never expected (the id is the kiosk's own UUID); kept, out of the queue
                log.warning("call-back %s refused by the district: %s", wire.id, result.message)
        with self.store.write() as session:
            session.execute(
                delete(CallbackOutboxEntry).where(
                    CallbackOutboxEntry.sequence.in_([sequence for sequence, _ in queued])
                )
            )
            if accepted:
                session.execute(
                    update(Callback)
                    .where(Callback.id.in_(accepted))
                    .values(uploaded_at=datetime.now(UTC), phone_sealed=None)
                )
        report.callbacks += len(accepted)

    # -- the health report -----------------------------------------------------------------

    async def _send_report(self, client: DistrictClient) -> None:
        """The station's health report, at the end of the pass. It is news, not data: one
        that cannot be made or sent is logged, and the pass stands."""
        try:
            station_report = await asyncio.to_thread(self._station_report)
            await client.report(station_report)
        except Exception as error:  # whatever went wrong, the pass stands
            log.warning("the health report was not sent: %s", type(error).__name__)

    def _station_report(self) -> StationReport:
        from kiosk.sync.service import read_status  # the service imports this module

        status = read_status(self.store)
        installed = catalog_info(self.store)
        with self.store.read() as session:
            ratings = session.scalar(select(func.count()).select_from(RatingOutboxEntry)) or 0
        return StationReport(
            software=__version__,
            catalog_version=installed.version if installed else None,
            queued=status.queued,
            rejected=status.rejected,
            ratings_queued=ratings,
            devices=self._health() if self._health is not None else [],
            clock=datetime.now(UTC),
        )

    # -- download -----------------------------------------------------------------------

    async def _download(self, client: DistrictClient, report: PassReport) -> None:
        with self.store.read() as session:
            info = session.get(SyncInfo, 1)
            cursor = info.changes_cursor if info else None
        for _ in range(MAX_CHANGE_PAGES):
            answer = await client.changes(cursor)
            if answer.reset:
                if cursor is None:
                    raise BadAnswer("the district asked to start over from the start")
                log.info("the district did not know the changes cursor: starting over")
                report.resets += 1
                cursor = None
                self._save_cursor(None)
                continue
            with self.store.write() as session:
                for change in answer.changes:
                    if not isinstance(change.state, RemoteState):
                        # a newer district's state: skip it, never hold up the feed
                        log.warning(
                            "change for application %s skipped: this kiosk does not know "
                            "the state %r", change.application_id, change.state[:32]
                        )
                        report.skipped += 1
                        continue
                    application = session.get(Application, change.application_id)
                    if application is None:
                        continue  # not (or no longer) kept on this kiosk
                    try:
                        if apply_remote(session, application, State(change.state), change.reason):
                            report.changes += 1
                    except DoorstepError as error:
                        log.warning(
                            "change for application %s not applied: %s", application.id, error
                        )
                info = session.get(SyncInfo, 1)
                if info is not None:
                    info.changes_cursor = answer.cursor
            cursor = answer.cursor
            if not answer.more:
                break
        await self._download_settings(client, report)
        installed = catalog_info(self.store)
        answer = await client.catalog(installed.version if installed else None)
        if answer is not None and (installed is None or answer.version != installed.version):
            catalog = parse_catalog(answer.catalog_toml, "the district's catalog")
            install_catalog(self.store, catalog, answer.catalog_toml.encode())
            report.catalog = catalog.header.version

    async def _download_settings(self, client: DistrictClient, report: PassReport) -> None:
        """The district's settings for this station, kept for the kiosk's next start
        (`kiosk.config` reads them as defaults under the station's own file)."""
        with self.store.read() as session:
            info = session.get(SyncInfo, 1)
            have = info.settings_version if info else None
        answer = await client.settings(have)
        if answer is None or answer.version == have:
            return
        try:
            managed = check_district_settings(answer.settings)
        except SettingsError as error:
            raise BadAnswer(f"settings version {answer.version}: {error}") from None
        path = district_settings_file(self.paths.data_dir)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(managed, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)
        with self.store.write() as session:
            info = session.get(SyncInfo, 1)
            if info is not None:
                info.settings_version = answer.version
        report.settings = answer.version

    def _save_cursor(self, cursor: str | None) -> None:
        with self.store.write() as session:
            info = session.get(SyncInfo, 1)
            if info is not None:
                info.changes_cursor = cursor

    def _record(self, *, success: bool, error: Exception | None = None) -> None:
        with self.store.write() as session:
            info = session.get(SyncInfo, 1)
            if info is None:
                return
            now = datetime.now(UTC)
            if success:
                info.last_success_at = now
            else:
                info.last_error = str(error)[:500] if error else None
                info.last_error_at = now
