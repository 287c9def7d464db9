"""The images a station captured during a video call, for the agent on the call.

`GET /console/calls/{call}/captures/{position}` (the URL a `CaptureArrived` names) serves
a capture's bytes to the call's own agent and to the supervisors of the station's group,
and to nobody else: any other viewer gets 404, as for a call that does not exist, so
nothing says whose calls there are. Each opening is written to the audit log (materials
opened, record `call:<id>`): the image is of a resident's card or papers. The console's
middleware adds `Cache-Control: no-store` and `nosniff` to the answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from district import audit, calls
from district.models import Call, Station

from .deps import CONSOLE, ConsoleError, Viewer, database, page

router = APIRouter(include_in_schema=False)


@router.get(f"{CONSOLE}/calls/{{call_id}}/captures/{{position}}", include_in_schema=False)
def capture(
    request: Request,
    call_id: Annotated[str, Path(max_length=36)],
    position: Annotated[int, Path(ge=1, le=10_000)],
    viewer: Annotated[Viewer, Depends(page(*calls.CALL_ROLES))],
) -> Response:
    db = database(request)
    with db.write() as connection:
        row = connection.execute(
            Call.__table__.select()
            .with_only_columns(Call.agent_id, Station.station_group)
            .join(Station, Station.id == Call.station_id)
            .where(Call.id == call_id)
        ).first()
        own = row is not None and row.agent_id == viewer.account.id
        supervises = (
            row is not None
            and viewer.role == "supervisor"
            and bool(row.station_group)
            and row.station_group == viewer.account.station_group
        )
        found = calls.read_capture(db, connection, call_id, position) if own or supervises else None
        if found is None:
            raise ConsoleError(404, "error_not_found")
        audit.append(
            db,
            connection,
            account=viewer.account.name,
            address=viewer.address,
            action=audit.MATERIALS_OPENED,
            record=f"call:{call_id}",
            detail=f"capture {position}",
        )
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"Content-Disposition": f'inline; filename="capture-{position}"'},
    )
