"""Talking to the district: enrollment, and the signed client every later request uses.

`DistrictClient` is an httpx.AsyncClient for the network thread. Every request is signed
by the station key (an httpx Auth flow adds the headers of kiosk.sync.wire), and every
answer is checked against the wire models before anything uses it: a server that answers
nonsense gets `BadAnswer`, not a crash or a corrupted store.

Errors are named for staff (kiosk.sync.errors): the network or the district being away
(`DistrictUnreachable`, retried), the district failing (`DistrictFailing`, 5xx, retried),
and what retrying cannot fix (`StationRevoked`, `NotEnrolled`, `RequestRefused`).
Retrying is the caller's: `transient(error)` says which errors a retry may cure.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from kiosk.config import Paths
from kiosk.store.db import Store
from kiosk.store.models import SyncInfo
from kiosk.sync.errors import (
    BadAnswer,
    DistrictFailing,
    DistrictUnreachable,
    EnrollmentRefused,
    NotEnrolled,
    RequestRefused,
    StationRevoked,
    SyncError,
)
from kiosk.sync.keys import StationKey
from kiosk.sync.wire import (
    API,
    BatchAnswer,
    BundleAnswer,
    CallbackBatch,
    CatalogAnswer,
    ChangesAnswer,
    EnrollAnswer,
    EnrollRequest,
    Problem,
    RatingBatch,
    SettingsAnswer,
    StationReport,
    UploadBatch,
    bundle_frames,
)

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
Model = TypeVar("Model", bound=BaseModel)


def transient(error: Exception) -> bool:
    """Whether trying the same request again later may succeed."""
    return isinstance(error, (DistrictUnreachable, DistrictFailing))


class _StationAuth(httpx.Auth):
    requires_request_body = True

    def __init__(self, key: StationKey, station_id: str) -> None:
        self._key = key
        self._station_id = station_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode("ascii")
        request.headers.update(
            self._key.sign_request(self._station_id, request.method, path, request.content)
        )
        yield request


class Enrollment(BaseModel):
    """What the kiosk knows of its enrollment (from the local store)."""

    server_url: str
    station_id: str
    station_code: str
    station_name: str
    district_name: str
    enrolled_at: datetime


def enrollment(store: Store) -> Enrollment | None:
    with store.read() as session:
        info = session.get(SyncInfo, 1)
        if info is None or not info.station_id or not info.server_url:
            return None
        return Enrollment(
            server_url=info.server_url,
            station_id=info.station_id,
            station_code=info.station_code or "",
            station_name=info.station_name or "",
            district_name=info.district_name or "",
            enrolled_at=info.enrolled_at or datetime.now(UTC),
        )


def enroll(paths: Paths, store: Store, server_url: str, code: str) -> EnrollAnswer:
    """Enroll this station: make (or reuse) its key pair, register the public key with the
    code, and keep the district's answer. Safe to repeat after a lost answer."""
    key = StationKey.load_or_create(paths)
    request = EnrollRequest(code=code.strip(), public_key=key.public_key(), software="doorstep")
    url = server_url.rstrip("/") + f"{API}/enroll"
    try:
        with httpx.Client(timeout=TIMEOUT) as http:
            response = http.post(url, content=request.model_dump_json().encode(),
                                 headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        raise DistrictUnreachable(f"cannot reach the district at {server_url}: {exc}") from None
    if response.status_code in (400, 403, 404, 409, 422):
        problem = _problem(response)
        raise EnrollmentRefused(f"the district refused the enrollment: {problem}")
    answer = _parse(response, EnrollAnswer)
    with store.write() as session:
        info = session.get(SyncInfo, 1)
        if info is None:
            info = SyncInfo(id=1)
            session.add(info)
        if info.station_id and info.station_id != answer.station_id:
            info.changes_cursor = None  # another district, or a new identity: start over
        info.server_url = server_url.rstrip("/")
        info.station_id = answer.station_id
        info.station_code = answer.station_code
        info.station_name = answer.station_name
        info.district_name = answer.district_name
        info.enrolled_at = answer.enrolled_at
    return answer


class DistrictClient:
    """The signed client of an enrolled station. Use as an async context manager."""

    def __init__(
        self,
        paths: Paths,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        found = enrollment(store)
        if found is None:
            raise NotEnrolled("this station is not enrolled with a district")
        self.enrollment = found
        self._http = httpx.AsyncClient(
            base_url=found.server_url,
            auth=_StationAuth(StationKey.load(paths), found.station_id),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "doorstep-kiosk"},
        )

    async def __aenter__(self) -> DistrictClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def has_blob(self, sha256: str) -> bool:
        response = await self._send("HEAD", f"{API}/blobs/{sha256}", ok=(200, 404))
        return response.status_code == 200

    async def put_blob(self, sha256: str, content: bytes) -> None:
        await self._send(
            "PUT",
            f"{API}/blobs/{sha256}",
            content=content,
            headers={"Content-Type": "application/octet-stream"},
            ok=(200, 201),
        )

    async def put_bundle(self, blobs: list[tuple[str, bytes]]) -> BundleAnswer:
        """Many blobs in one request (each checked against its hash by the district)."""
        response = await self._send(
            "POST",
            f"{API}/blobs:bundle",
            content=bundle_frames(blobs),
            headers={"Content-Type": "application/octet-stream"},
        )
        answer = _parse(response, BundleAnswer)
        if set(answer.stored) | set(answer.present) != {sha256 for sha256, _ in blobs}:
            raise BadAnswer("the district's answer to a blob bundle does not name its blobs")
        return answer

    async def upload(self, batch: UploadBatch) -> BatchAnswer:
        response = await self._send(
            "POST",
            f"{API}/applications:batch",
            content=batch.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = _parse(response, BatchAnswer)
        sent = [application.id for application in batch.applications]
        if [result.id for result in answer.results] != sent:
            raise BadAnswer("the district's verdicts do not match the batch item for item")
        return answer

    async def upload_ratings(self, batch: RatingBatch) -> BatchAnswer:
        response = await self._send(
            "POST",
            f"{API}/ratings:batch",
            content=batch.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = _parse(response, BatchAnswer)
        if [result.id for result in answer.results] != [r.id for r in batch.ratings]:
            raise BadAnswer("the district's verdicts do not match the ratings item for item")
        return answer

    async def upload_callbacks(self, batch: CallbackBatch) -> BatchAnswer:
        response = await self._send(
            "POST",
            f"{API}/callbacks:batch",
            content=batch.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = _parse(response, BatchAnswer)
        if [result.id for result in answer.results] != [c.id for c in batch.callbacks]:
            raise BadAnswer("the district's verdicts do not match the call-backs item for item")
        return answer

    async def report(self, report: StationReport) -> None:
        await self._send(
            "POST",
            f"{API}/station:report",
            content=report.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
            ok=(204,),
        )

    async def changes(self, cursor: str | None, limit: int = 500) -> ChangesAnswer:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._send("GET", f"{API}/changes", params=params)
        return _parse(response, ChangesAnswer)

    async def catalog(self, have: str | None) -> CatalogAnswer | None:
        params = {"have": have} if have else {}
        response = await self._send("GET", f"{API}/catalog", params=params, ok=(200, 204))
        return None if response.status_code == 204 else _parse(response, CatalogAnswer)

    async def settings(self, have: int | None) -> SettingsAnswer | None:
        params = {"have": have} if have is not None else {}
        response = await self._send("GET", f"{API}/settings", params=params, ok=(200, 204))
        return None if response.status_code == 204 else _parse(response, SettingsAnswer)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        **options: Any,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise DistrictUnreachable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code in ok:
            return response
        problem = _problem(response)
        if response.status_code >= 500:
            raise DistrictFailing(f"{method} {path}: {problem}")
        if response.status_code == 403 and problem.code in ("revoked", "unknown_station"):
            raise StationRevoked(f"the district shut this station out: {problem.detail}")
        if response.status_code == 401 and problem.code == "stale":
            raise RequestRefused(
                f"the district refused the request's time: {problem.detail}",
                action="Set the kiosk's clock right (it must be within 5 minutes of the "
                "district's), then sync again.",
            )
        raise RequestRefused(f"{method} {path}: {problem}")


def _problem(response: httpx.Response) -> Problem:
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        text = response.text[:200].replace("\n", " ")
        return Problem.model_construct(
            title=response.reason_phrase or "error",
            status=response.status_code,
            detail=text,
            code="server_error" if response.status_code >= 500 else "malformed",
        )


def _parse(response: httpx.Response, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(response.content)
    except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        count = exc.error_count() if isinstance(exc, ValidationError) else 1
        raise BadAnswer(
            f"the district's answer to {response.request.method} {response.request.url.path} "
            f"is not what the protocol says ({count} problem(s))"
        ) from None


__all__ = ["DistrictClient", "Enrollment", "SyncError", "enroll", "enrollment", "transient"]
