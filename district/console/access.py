"""Recorded access to an application's personal data: an agent who needs to see the full
identity, or to open the materials, gives a reason from a short list; that makes an
`AccessGrant` for their session that lasts `GRANT_TIME`, and an audit entry (the reason's
code as its detail, never the data), in one transaction. Until the grant expires the
application's page shows what was asked for; after, it is masked again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from district import audit
from district.db import Database
from district.models import AccessGrant

GRANT_TIME = timedelta(minutes=10)
#: What a grant opens, with the audit action that records it.
WHAT = {"identity": audit.IDENTITY_REVEALED, "materials": audit.MATERIALS_OPENED}
#: The reasons an agent may give, by code (their words are the `access_reason_*` texts).
REASONS = ("review", "enquiry", "supplement", "quality")


def grant(
    db: Database, *, session_sha256: str, application_id: str, what: str, reason: str,
    account: str, address: str,
) -> datetime:
    """Open `what` of an application for a session; returns when it closes again."""
    assert what in WHAT and reason in REASONS, (what, reason)
    expires = datetime.now(UTC) + GRANT_TIME
    with db.write() as connection:
        statement = db.insert(AccessGrant).values(
            session_sha256=session_sha256, application_id=application_id, what=what,
            reason=reason, expires_at=expires,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["session_sha256", "application_id", "what"],
                set_={"reason": reason, "expires_at": expires},
            )
        )
        audit.append(
            db, connection, account=account, address=address, action=WHAT[what],
            record=f"application:{application_id}", detail=reason,
        )
    return expires


# Built once (every application page asks it): see `worklist._MATERIALS`.
_LIVE_GRANTS = select(AccessGrant.what, AccessGrant.expires_at).where(
    AccessGrant.session_sha256 == bindparam("session_sha256"),
    AccessGrant.application_id == bindparam("application_id"),
    AccessGrant.expires_at > bindparam("now"),
)


def live_grants(
    connection: Connection, session_sha256: str, application_id: str
) -> dict[str, datetime]:
    """What this session may see of the application now: what → until when."""
    which = {"session_sha256": session_sha256, "application_id": application_id,
             "now": datetime.now(UTC)}
    return {row.what: row.expires_at for row in connection.execute(_LIVE_GRANTS, which)}
