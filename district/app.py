"""The district's HTTP API (FastAPI): enrollment, uploads and downloads for stations.

`create_app(db_url, key_file)` opens (and migrates) the database and returns the app;
`district serve` runs it under uvicorn. The process keeps no state of its own: all of it
is in the database, so more processes behind a load balancer serve more stations.

Each signed request is one thread-pool call and one database transaction: the station
and its signature are checked, the nonce spent and the work done together, so a refused
request changes nothing (see `district.auth`). Bodies are read by the handlers
themselves, up to their limit (413 beyond, before reading any further), and parsed with
pydantic straight from the bytes; the OpenAPI document still describes every body
(`_body` below) and is kept in the repository as `district/openapi.json`.

Every refusal is an RFC 9457 problem document with a `code` from `kiosk.sync.wire.Problem`;
an unexpected failure is a 500 `server_error` whose log names the exception's type and
where it happened, never its message or the request (they can hold personal data).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from district import (
    accounts,
    applications,
    audit,
    callbacks,
    catalogs,
    console,
    signaling,
    station_reports,
    stations,
    uploads,
)
from district.auth import prune_nonces, read_headers, verify
from district.db import POOL_SIZE, Database
from district.errors import ProblemError
from kiosk import __version__
from kiosk.sync.wire import (
    API,
    MAX_BLOB_BYTES,
    MAX_BODY_BYTES,
    MAX_BUNDLE_BYTES,
    MAX_CHANGES,
    MAX_REPORT_BYTES,
    BatchAnswer,
    BlobCheck,
    BlobCheckAnswer,
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
)

log = logging.getLogger(__name__)

T = TypeVar("T")
PRUNE_EVERY_S = 60.0
ENV_DB = "DISTRICT_DB"
ENV_KEY_FILE = "DISTRICT_KEY_FILE"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
PROBLEM_MEDIA_TYPE = "application/problem+json"
SIGNATURE_SCHEMES = ("station", "timestamp", "nonce", "signature")


# -- the app ----------------------------------------------------------------------------


class Health(BaseModel):
    status: str
    version: str


def create_app(db_url: str, key_file: Path | None = None) -> FastAPI:
    """The district app on the database at `db_url` (migrated first)."""
    return make_app(Database.open(db_url, key_file))


def from_environment() -> FastAPI:
    """The app for uvicorn's `--factory` (several worker processes): the database and key
    file from DISTRICT_DB and DISTRICT_KEY_FILE. The parent has already migrated."""
    key_file = os.environ.get(ENV_KEY_FILE)
    return create_app(os.environ[ENV_DB], Path(key_file) if key_file else None)


def make_app(db: Database | None) -> FastAPI:
    """The app with its routes; `db` None gives an app only good for its OpenAPI document."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # as many threads for the database work as connections in the pool
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        task = asyncio.create_task(_prune_forever(db)) if db is not None else None
        if db is not None:
            await signaling.start(app, db)
        try:
            yield
        finally:
            await signaling.stop(app)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if db is not None:
                db.close()

    app = FastAPI(
        title="Doorstep district",
        summary="The sync API between Doorstep kiosks and their district.",
        description=(
            "See `kiosk/sync/wire.py` for the protocol: signing, verdicts, cursors. Every "
            "operation but enrollment, health and this document needs the station's "
            "signature headers."
        ),
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=Response,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.db = db
    app.add_middleware(_ServerErrors)
    app.add_exception_handler(ProblemError, _problem_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    _routes(app)
    signaling.mount(app)
    console.mount(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, made without a database (what `district openapi` prints)."""
    return make_app(None).openapi()


# -- routes -----------------------------------------------------------------------------


Sha256Param = Annotated[str, PathParam(pattern=SHA256_PATTERN, description="the blob's sha256")]


def _routes(app: FastAPI) -> None:
    @app.get(
        f"{API}/health",
        tags=["service"],
        summary="Whether the server is up and reaches its database",
        responses={200: _model_doc(Health, "up"), 500: _problem_doc("down")},
    )
    async def health(request: Request) -> Response:
        db = _db(request)
        await run_in_threadpool(_ping, db)
        return _json(Health(status="ok", version=__version__))

    @app.post(
        f"{API}/enroll",
        tags=["enrollment"],
        summary="Register a station's public key with its one-time enrollment code",
        openapi_extra=_body(EnrollRequest),
        responses={
            200: _model_doc(EnrollAnswer, "enrolled (also for a repeat with the same key)"),
            403: _problem_doc("bad_code, code_used, code_expired or revoked"),
            413: _problem_doc("body too large"),
            422: _problem_doc("malformed body"),
        },
    )
    async def enroll(request: Request) -> Response:
        body = await _read_body(request, MAX_BODY_BYTES)
        db = _db(request)
        answer = await run_in_threadpool(stations.enroll, db, body)
        return _json(answer)

    @app.head(
        f"{API}/blobs/{{sha256}}",
        tags=["upload"],
        summary="Whether the district has a blob",
        responses=_signed_docs(
            {200: {"description": "the district has it"}, 404: {"description": "it does not"}}
        ),
        openapi_extra=_SECURITY,
    )
    async def head_blob(request: Request, sha256: Sha256Param) -> Response:
        found = await _signed(
            request, 0, lambda connection, _station, _body, _digest: uploads.has_blob(
                connection, sha256
            )
        )
        return Response(status_code=200 if found else 404)

    @app.put(
        f"{API}/blobs/{{sha256}}",
        tags=["upload"],
        summary="Store a blob by its sha256 (idempotent)",
        openapi_extra={
            **_SECURITY,
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            },
        },
        responses=_signed_docs(
            {
                200: {"description": "the district had it already"},
                201: {"description": "stored"},
                413: _problem_doc("over MAX_BLOB_BYTES"),
                422: _problem_doc("hash_mismatch, or a malformed sha256"),
            }
        ),
    )
    async def put_blob(request: Request, sha256: Sha256Param) -> Response:
        db = _db(request)
        created = await _signed(
            request,
            MAX_BLOB_BYTES,
            lambda connection, _station, body, digest: uploads.put_blob(
                db, connection, sha256, body, digest
            ),
        )
        return Response(status_code=201 if created else 200)

    @app.post(
        f"{API}/blobs:check",
        tags=["upload"],
        summary="Which of these blobs the district lacks",
        openapi_extra={**_SECURITY, **_body(BlobCheck)},
        responses=_signed_docs(
            {
                200: _model_doc(BlobCheckAnswer, "the missing ones, in the order asked"),
                413: _problem_doc("body too large"),
                422: _problem_doc("malformed body"),
            }
        ),
    )
    async def check_blobs(request: Request) -> Response:
        answer = await _signed(
            request,
            MAX_BODY_BYTES,
            lambda connection, _station, body, _digest: uploads.check_blobs(connection, body),
        )
        return _json(answer)

    @app.post(
        f"{API}/blobs:bundle",
        tags=["upload"],
        summary="Store many blobs at once (all or nothing)",
        description="Frames `<sha256 hex> <size decimal>\\n<size bytes>`, one after another.",
        openapi_extra={
            **_SECURITY,
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            },
        },
        responses=_signed_docs(
            {
                200: _model_doc(BundleAnswer, "stored, or there already"),
                413: _problem_doc("over MAX_BUNDLE_BYTES"),
                422: _problem_doc("malformed frames, or hash_mismatch (nothing stored)"),
            }
        ),
    )
    async def put_bundle(request: Request) -> Response:
        db = _db(request)
        answer = await _signed(
            request,
            MAX_BUNDLE_BYTES,
            lambda connection, _station, body, _digest: uploads.put_bundle(db, connection, body),
        )
        return _json(answer)

    @app.post(
        f"{API}/applications:batch",
        tags=["upload"],
        summary="Upload a batch of applications (one transaction, a verdict per item)",
        openapi_extra={**_SECURITY, **_body(UploadBatch)},
        responses=_signed_docs(
            {
                200: _model_doc(BatchAnswer, "one verdict per item, in order"),
                413: _problem_doc("body too large"),
                422: _problem_doc("not a batch at all"),
            }
        ),
    )
    async def upload_batch(request: Request) -> Response:
        db = _db(request)
        answer = await _signed(
            request,
            MAX_BODY_BYTES,
            lambda connection, station, body, _digest: uploads.upload_batch(
                db, connection, station, body
            ),
        )
        return _json(answer)

    @app.post(
        f"{API}/ratings:batch",
        tags=["upload"],
        summary="Upload a batch of ratings (one transaction, a verdict per item)",
        openapi_extra={**_SECURITY, **_body(RatingBatch)},
        responses=_signed_docs(
            {
                200: _model_doc(BatchAnswer, "one verdict per rating, in order"),
                413: _problem_doc("body too large"),
                422: _problem_doc("not a batch of readable ratings"),
            }
        ),
    )
    async def upload_ratings(request: Request) -> Response:
        answer = await _signed(
            request,
            MAX_BODY_BYTES,
            lambda connection, station, body, _digest: station_reports.upload_ratings(
                connection, station, body
            ),
        )
        return _json(answer)

    @app.post(
        f"{API}/callbacks:batch",
        tags=["upload"],
        summary="Upload a batch of call-back requests (one transaction, a verdict per item)",
        openapi_extra={**_SECURITY, **_body(CallbackBatch)},
        responses=_signed_docs(
            {
                200: _model_doc(BatchAnswer, "one verdict per call-back request, in order"),
                413: _problem_doc("body too large"),
                422: _problem_doc("not a batch of readable call-back requests"),
            }
        ),
    )
    async def upload_callbacks(request: Request) -> Response:
        db = _db(request)
        answer = await _signed(
            request,
            MAX_BODY_BYTES,
            lambda connection, station, body, _digest: callbacks.upload_callbacks(
                db, connection, station, body
            ),
        )
        return _json(answer)

    @app.post(
        f"{API}/station:report",
        tags=["upload"],
        summary="The station's health report (kept as its newest, with its last contact)",
        openapi_extra={**_SECURITY, **_body(StationReport)},
        responses=_signed_docs(
            {
                204: {"description": "kept"},
                413: _problem_doc("over MAX_REPORT_BYTES"),
                422: _problem_doc("not a report"),
            }
        ),
    )
    async def station_report(request: Request) -> Response:
        await _signed(
            request,
            MAX_REPORT_BYTES,
            lambda connection, station, body, _digest: station_reports.store_report(
                connection, station, body
            ),
        )
        return Response(status_code=204)

    @app.get(
        f"{API}/catalog",
        tags=["download"],
        summary="The newest catalog, unless the station has it",
        openapi_extra=_SECURITY,
        responses=_signed_docs(
            {
                200: _model_doc(CatalogAnswer, "a newer catalog"),
                204: {"description": "the station has the newest (or there is none)"},
            }
        ),
    )
    async def catalog(
        request: Request,
        have: Annotated[str | None, Query(max_length=64, description="the version held")] = None,
    ) -> Response:
        answer = await _signed(
            request, 0, lambda connection, _station, _body, _digest: catalogs.catalog_for(
                connection, have
            )
        )
        return Response(status_code=204) if answer is None else _json(answer)

    @app.get(
        f"{API}/settings",
        tags=["download"],
        summary="The station's settings, unless it has their version",
        openapi_extra=_SECURITY,
        responses=_signed_docs(
            {
                200: _model_doc(SettingsAnswer, "the station's settings"),
                204: {"description": "the station has this version"},
            }
        ),
    )
    async def settings(
        request: Request,
        have: Annotated[int | None, Query(ge=0, le=2**62, description="the version held")] = None,
    ) -> Response:
        answer = await _signed(
            request, 0, lambda connection, station, _body, _digest: catalogs.settings_for(
                connection, station
            )
        )
        return Response(status_code=204) if answer.version == have else _json(answer)

    @app.get(
        f"{API}/changes",
        tags=["download"],
        summary="State changes of this station's applications after a cursor",
        openapi_extra=_SECURITY,
        responses=_signed_docs({200: _model_doc(ChangesAnswer, "changes, or reset")}),
    )
    async def changes(
        request: Request,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = applications.DEFAULT_CHANGES,
    ) -> Response:
        db = _db(request)
        answer = await _signed(
            request,
            0,
            lambda connection, station, _body, _digest: applications.changes_for(
                db, connection, station, cursor, limit
            ),
        )
        return _json(answer)


# -- signed requests --------------------------------------------------------------------


Work = Callable[[Connection, str, bytes, str], T]


async def _signed(request: Request, limit: int, work: Work[T]) -> T:
    """Check the headers, read the body (up to `limit`), then in one transaction check
    the station and signature, spend the nonce and do `work(connection, station_id, body,
    body_sha256)`."""
    signed = read_headers(request.headers)
    body = await _read_body(request, limit)
    db = _db(request)
    target = _target(request)
    method = request.method

    def run() -> T:
        digest = hashlib.sha256(body).hexdigest()
        for attempt in range(3):
            try:
                with db.write() as connection:
                    station = verify(db, connection, signed, method, target, digest)
                    return work(connection, station, body, digest)
            except IntegrityError:
                # Another request inserted the same application or blob at the same moment
                # (a kiosk's retry racing its first try): run again, it will see them.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    return await run_in_threadpool(run)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "too_large", f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(413, "too_large", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _target(request: Request) -> str:
    """The request target as the station sent it: raw path and query."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _db(request: Request) -> Database:
    db: Database | None = request.app.state.db
    if db is None:
        raise ProblemError(500, "server_error", "this app has no database")
    return db


def _ping(db: Database) -> None:
    try:
        with db.read() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.error("health: the database does not answer (%s)", type(exc).__name__)
        raise ProblemError(500, "server_error", "the database does not answer") from None


async def _prune_forever(db: Database | None) -> None:
    """Every minute: spent nonces, ended console sessions and lapsed grants go; the audit
    chain's head is checkpointed."""
    assert db is not None
    while True:
        for task in (prune_nonces, accounts.prune, audit.checkpoint):
            try:
                await run_in_threadpool(task, db)
            except Exception as exc:  # the next round tries again
                log.warning("%s failed: %s", task.__name__, type(exc).__name__)
        await asyncio.sleep(PRUNE_EVERY_S)


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


# -- errors -----------------------------------------------------------------------------


def _problem_response(error: ProblemError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        error.document(), status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


async def _problem_handler(_request: Request, error: ProblemError) -> Response:
    return _problem_response(error)


async def _validation_handler(request: Request, error: RequestValidationError) -> Response:
    if console.is_page(request.url.path):
        return await console.error_page(request, 400, "error_bad_request")
    problems = []
    for item in error.errors()[:10]:
        where = ".".join(str(part) for part in item.get("loc", ())) or "request"
        problems.append(f"{where}: {item.get('type', 'invalid')}")
    detail = "the request's parameters are not what the API says: " + "; ".join(problems)
    return _problem_response(ProblemError(422, "malformed", detail))


async def _http_handler(request: Request, error: StarletteHTTPException) -> Response:
    if console.is_page(request.url.path) and error.status_code in (400, 403, 404, 405):
        key = "error_not_found" if error.status_code in (404, 405) else "error_bad_request"
        return await console.error_page(request, error.status_code, key)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(error.status_code, "malformed" if error.status_code < 500 else "server_error")
    detail = str(error.detail) if error.status_code != 404 else "no such resource"
    return _problem_response(ProblemError(error.status_code, code, detail), error.headers)


class _ServerErrors:
    """Any exception nothing else handled: a 500 problem, and a log line that names its
    type and where it was raised, but not its message (which may quote personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
            log.error(
                "internal error on %s %s: %s\n%s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
                where,
            )
            if started:
                raise
            response = _problem_response(
                ProblemError(500, "server_error", "the district server failed; try again later")
            )
            await response(scope, receive, send)


# -- OpenAPI ----------------------------------------------------------------------------

_SECURITY: dict[str, Any] = {"security": [{scheme: [] for scheme in SIGNATURE_SCHEMES}]}
_EXTRA_MODELS: tuple[type[BaseModel], ...] = (
    EnrollRequest,
    BlobCheck,
    UploadBatch,
    RatingBatch,
    CallbackBatch,
    StationReport,
    Problem,
)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _model_doc(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        },
        "model": model,
    }


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _signed_docs(responses: dict[int, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    return {
        401: _problem_doc("unsigned, bad_signature, stale or replayed"),
        403: _problem_doc("unknown_station or revoked"),
        422: _problem_doc("malformed path or query parameters"),
        **responses,
    }


def _console_responses(document: dict[str, Any]) -> None:
    """Every console JSON endpoint may answer 400 (a value it cannot use), 401 (no
    session), 403 (the role may not, or no CSRF token), 422 (malformed); one naming a
    record 404; one changing state 409."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/console/api/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _problem_doc("a value the district cannot use"))
            responses.setdefault("401", _problem_doc("no live console session"))
            responses.setdefault("403", _problem_doc("forbidden for this role, or csrf"))
            responses["422"] = _problem_doc("malformed parameters or body")
            if "{" in path:
                responses.setdefault("404", _problem_doc("no such record for this viewer"))
            if method in ("post", "put", "patch", "delete"):
                responses.setdefault("409", _problem_doc("conflict: changed meanwhile"))
            operation.setdefault("security", [{"console_session": []}])


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    _, definitions = models_json_schema(
        [(model, "validation") for model in _EXTRA_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    # FastAPI's own 422 schemas are never answered: every error is a Problem.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            answer = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in str(answer):
                operation["responses"]["422"] = _problem_doc("malformed path or query parameters")
    _console_responses(document)
    components["securitySchemes"] = {
        "station": {"type": "apiKey", "in": "header", "name": "X-Doorstep-Station"},
        "timestamp": {"type": "apiKey", "in": "header", "name": "X-Doorstep-Timestamp"},
        "nonce": {"type": "apiKey", "in": "header", "name": "X-Doorstep-Nonce"},
        "signature": {"type": "apiKey", "in": "header", "name": "X-Doorstep-Signature"},
        "console_session": {"type": "apiKey", "in": "cookie", "name": "doorstep_session"},
    }
    app.openapi_schema = document
    return document
