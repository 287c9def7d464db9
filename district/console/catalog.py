"""The console's catalog page (admins): the catalog versions published, uploading a new
one, and which stations have installed which version.

An upload gets the same checks as `district catalog import` (`catalogs.upload_catalog`,
the kiosk's own reader): a refused file publishes nothing and the page lists every
problem with its line. What a station has installed is the catalog version of its last
health report.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from district import catalogs, stations
from district.db import Database
from district.errors import Refused
from district.models import Station
from kiosk.core.catalog import CatalogProblem, CatalogRefused
from kiosk.errors import CatalogError

from .deps import API, CONSOLE, Viewer, api, check_csrf, database, page, redirect, render
from .strings import register, text

router = APIRouter()
pages = APIRouter(include_in_schema=False)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024

register(
    {
        "catalog_heading": ("事项目录", "Catalog"),
        "catalog_versions": ("已发布的版本", "Published versions"),
        "catalog_versions_caption": (
            "已发布的事项目录，最新的在前（服务站同步最新版本）",
            "The catalog versions published, newest first (stations take the newest)",
        ),
        "catalog_none": ("尚未发布任何事项目录。", "No catalog has been published yet."),
        "catalog_version": ("版本", "Version"),
        "catalog_title": ("标题", "Title"),
        "catalog_items": ("事项数", "Items"),
        "catalog_published_at": ("发布时间", "Published"),
        "catalog_stations": ("已安装的服务站数", "Stations with it"),
        "catalog_newest": ("（最新）", "(newest)"),
        "catalog_upload": ("上传新版本", "Upload a new version"),
        "catalog_upload_file": (
            "事项目录文件（TOML，最大 2 MiB）", "Catalog file (TOML, 2 MiB at most)",
        ),
        "catalog_upload_hint": (
            "检查与 district catalog import 相同；有任何问题则不发布。",
            "The same checks as district catalog import: nothing is published if "
            "anything is wrong.",
        ),
        "catalog_upload_submit": ("检查并发布", "Check and publish"),
        "catalog_published": (
            "已发布事项目录 {version}（{items} 个事项），服务站下次同步时安装。",
            "Catalog {version} was published ({items} items); stations install it at "
            "their next sync.",
        ),
        "catalog_unchanged": (
            "事项目录 {version} 已发布过，内容相同，未作更改。",
            "Catalog {version} was already published with this content: nothing changed.",
        ),
        "catalog_refused": (
            "文件未被接受，未发布任何内容。请修改以下问题后重新上传：",
            "The file was refused and nothing was published. Fix these and upload it again:",
        ),
        "catalog_line": ("第 {line} 行", "line {line}"),
        "catalog_too_large": (
            "文件超过 2 MiB，未被接受。", "The file is larger than 2 MiB and was refused.",
        ),
        "catalog_empty": ("请选择一个文件。", "Please choose a file."),
        "catalog_installed": ("服务站安装情况", "What the stations have installed"),
        "catalog_installed_caption": (
            "各版本的服务站数（按最近一次上报）",
            "Stations per version (from their last report)",
        ),
        "catalog_not_reported": ("未上报", "not reported"),
        "catalog_behind": ("未安装最新版本的服务站", "Stations behind the newest version"),
        "catalog_behind_caption": (
            "未安装 {version} 的服务站", "Stations without {version}",
        ),
        "catalog_behind_none": (
            "所有服务站都已安装最新版本。", "Every station has the newest version.",
        ),
    }
)


class CatalogVersion(BaseModel):
    version: str
    title: str
    items: int
    sha256: str
    published_at: str
    stations: int


class BehindStation(BaseModel):
    code: str
    name: str
    catalog_version: str | None


class CatalogOverview(BaseModel):
    """The versions published (newest first), how many stations report each (null: a
    station that has not said), and the stations behind the newest."""

    versions: list[CatalogVersion]
    installed: dict[str, int]
    not_reported: int
    behind: list[BehindStation]


def overview(db: Database) -> CatalogOverview:
    published = list(reversed(catalogs.list_catalogs(db)))
    with db.read() as connection:
        rows = connection.execute(
            select(Station.code, Station.name, Station.report, Station.software)
            .where(Station.revoked_at.is_(None))
            .order_by(Station.code)
        ).all()
    installed: dict[str, int] = {}
    not_reported = 0
    behind: list[BehindStation] = []
    newest = published[0]["version"] if published else None
    for row in rows:
        version = stations.read_health(row.report, row.software).catalog_version
        if version is None:
            not_reported += 1
        else:
            installed[version] = installed.get(version, 0) + 1
        if newest is not None and version != newest:
            behind.append(BehindStation(code=row.code, name=row.name, catalog_version=version))
    return CatalogOverview(
        versions=[
            CatalogVersion(**entry, stations=installed.get(entry["version"], 0))
            for entry in published
        ],
        installed=installed,
        not_reported=not_reported,
        behind=behind,
    )


def _page(
    request: Request, viewer: Viewer, *, status: int = 200, message: str = "",
    problems: list[CatalogProblem] | None = None,
) -> Response:
    return render(
        request, "catalog.html", viewer=viewer, status=status, title_key="catalog_heading",
        overview=overview(database(request)), message=message, problems=problems or [],
        max_bytes=MAX_UPLOAD_BYTES,
    )


@pages.get(f"{CONSOLE}/catalog")
def catalog_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    published: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    message = ""
    if published:
        found = [v for v in overview(database(request)).versions if v.version == published]
        if found:
            message = text(viewer.language, "catalog_published", version=found[0].version,
                                  items=found[0].items)
    return _page(request, viewer, message=message)


@pages.post(f"{CONSOLE}/catalog")
def upload(
    request: Request,
    viewer: Annotated[Viewer, Depends(page("admin"))],
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(viewer, csrf)
    if file is None or not file.filename:
        return _page(request, viewer, status=400, message=text(viewer.language, "catalog_empty"))
    raw = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        return _page(request, viewer, status=400,
                     message=text(viewer.language, "catalog_too_large"))
    source = "".join(char for char in file.filename[-80:] if char.isprintable())
    try:
        result = catalogs.upload_catalog(
            database(request), raw, source, by=viewer.account.name, address=viewer.address
        )
    except CatalogRefused as refused:
        return _page(request, viewer, status=400, problems=refused.problems,
                     message=text(viewer.language, "catalog_refused"))
    except (CatalogError, Refused) as refused:
        return _page(request, viewer, status=400, problems=[CatalogProblem(0, str(refused))],
                     message=text(viewer.language, "catalog_refused"))
    if not result["published"]:
        return _page(request, viewer, message=text(
            viewer.language, "catalog_unchanged", version=result["version"]))
    return redirect(f"{CONSOLE}/catalog?published={quote(result['version'], safe='')}")


@router.get(
    f"{API}/catalog", tags=["console"], response_class=JSONResponse, response_model=CatalogOverview
)
def catalog_json(
    request: Request, viewer: Annotated[Viewer, Depends(api("admin"))]
) -> CatalogOverview:
    """The catalog versions published, newest first, with how many stations report each,
    and the stations behind the newest."""
    return overview(database(request))


router.include_router(pages)
