"""Console accounts: users and their roles, passwords, the TOTP second factor, sign-in
throttling and browser sessions. Everything lives in the database, so any number of
`district serve` processes serve the same console.

Roles: an **agent** decides the applications of their station group's stations; a
**supervisor** sees their group's agents and work; an **admin** manages stations, users
and catalogs; an **auditor** reads the audit log and nothing else.

- Passwords: argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), 10 to 128 characters.
  A reset makes a one-time password the user must change at their next sign-in.
- Throttling: 5 failed sign-ins of one account within 15 minutes, or 20 from one address,
  refuse further tries until the window has passed (a correct password too). An unknown
  account costs the same hash as a known one. A typed name that is no account is never
  stored: the audit log says "(no such account)", and the throttle counts its hash.
- TOTP (RFC 6238, 30 s, 6 digits, one step of drift either way): optional per account,
  required for admins when `district console admin-totp required` is set. A code is
  accepted once (the step is remembered).
- Sessions: a random token in an HttpOnly cookie, only its sha256 stored, with its own
  CSRF token. A new token at every sign-in (no fixation). A session ends on logout, after
  15 minutes without a request, 8 hours after sign-in whatever happens, and when its
  account is disabled or its password reset.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, bindparam, delete, func, select, update

from district import audit
from district.db import Database
from district.errors import NotFound, Refused
from district.models import AccessGrant, ConsoleSession, LoginAttempt, User

ROLES = ("agent", "supervisor", "admin", "auditor")
GROUP_ROLES = frozenset({"agent", "supervisor"})  # work on one station group's stations
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
GROUP_PATTERN = re.compile(r"^[\w.-]{1,60}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 128

IDLE_LIMIT = timedelta(minutes=15)
ABSOLUTE_LIMIT = timedelta(hours=8)
TOUCH_EVERY = timedelta(seconds=30)  # a session's last_seen_at is written at most this often
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20

UNKNOWN_ACCOUNT = "(no such account)"  # what the audit log says of a name that is none
ADMIN_TOTP_KEY = "admin_totp_required"  # meta: "1" when admins must have a second factor
TOTP_ISSUER = "Doorstep"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("doorstep: an account that does not exist")


@dataclass(frozen=True)
class Account:
    """A console account as the console sees it (never its secrets)."""

    id: int
    name: str
    role: str
    station_group: str
    has_totp: bool
    must_change_password: bool
    disabled: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "station_group": self.station_group,
            "totp": self.has_totp,
            "must_change_password": self.must_change_password,
            "disabled": self.disabled,
        }


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its account, its CSRF token, whether it still owes the TOTP
    code, and the sha256 of its token (what grants and logout refer to)."""

    token_sha256: str
    account: Account
    csrf_token: str
    pending: bool
    created_at: datetime


class SignInRefused(Exception):
    """A sign-in that did not succeed; `reason` is one of: wrong, throttled, disabled,
    totp_needed, totp_wrong. The console says the same for a wrong name and password."""

    def __init__(self, reason: str, retry_after_s: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


# -- users ------------------------------------------------------------------------------


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Refused(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if password.strip() != password:
        raise Refused("a password may not begin or end with spaces")


def add_user(
    db: Database,
    name: str,
    role: str,
    password: str,
    *,
    station_group: str = "",
    by: str = audit.COMMAND_LINE,
    address: str = "",
) -> Account:
    if not NAME_PATTERN.fullmatch(name):
        raise Refused(
            "an account name is 2 to 64 letters, digits, dots, dashes or underscores"
        )
    if role not in ROLES:
        raise Refused(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    station_group = station_group.strip()
    if role in GROUP_ROLES and not station_group:
        raise Refused(f"an {role} works for one station group: give --station-group")
    if role not in GROUP_ROLES and station_group:
        raise Refused(f"an {role} works for every station: no station group")
    if station_group and not GROUP_PATTERN.fullmatch(station_group):
        raise Refused("a station group is 1 to 60 letters, digits, dots or dashes")
    check_password_rules(password)
    now = datetime.now(UTC)
    with db.write() as connection:
        if connection.scalar(select(User.id).where(User.name == name)) is not None:
            raise Refused(f"there is already an account {name!r}")
        connection.execute(
            User.__table__.insert().values(
                name=name,
                role=role,
                station_group=station_group,
                password_hash=_hasher.hash(password),
                created_at=now,
                password_changed_at=now,
                must_change_password=False,
            )
        )
        audit.append(
            db, connection, account=by, address=address, action=audit.USER_ADDED,
            record=f"user:{name}", detail=role,
        )
        return _account(_user_row(connection, name))


def disable_user(
    db: Database, name: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> Account:
    with db.write() as connection:
        row = _user_row(connection, name)
        if row.disabled_at is None:
            connection.execute(
                update(User).where(User.id == row.id).values(disabled_at=datetime.now(UTC))
            )
        _end_sessions_of(connection, row.id)
        audit.append(
            db, connection, account=by, address=address, action=audit.USER_DISABLED,
            record=f"user:{name}",
        )
        return _account(_user_row(connection, name))


def enable_user(
    db: Database, name: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> Account:
    with db.write() as connection:
        row = _user_row(connection, name)
        connection.execute(update(User).where(User.id == row.id).values(disabled_at=None))
        audit.append(
            db, connection, account=by, address=address, action=audit.USER_CHANGED,
            record=f"user:{name}", detail="enabled",
        )
        return _account(_user_row(connection, name))


def reset_password(
    db: Database, name: str, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> str:
    """A new one-time password for `name` (to be changed at the next sign-in); every
    session of the account ends."""
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    with db.write() as connection:
        row = _user_row(connection, name)
        connection.execute(
            update(User)
            .where(User.id == row.id)
            .values(
                password_hash=_hasher.hash(password),
                password_changed_at=datetime.now(UTC),
                must_change_password=True,
            )
        )
        connection.execute(delete(LoginAttempt).where(LoginAttempt.account == name))
        _end_sessions_of(connection, row.id)
        audit.append(
            db, connection, account=by, address=address, action=audit.PASSWORD_RESET,
            record=f"user:{name}",
        )
    return password


def change_password(db: Database, session: Session, current: str, new: str, address: str) -> None:
    """The signed-in user changes their own password (required after a reset)."""
    check_password_rules(new)
    if new == current:
        raise Refused("the new password must differ from the old one")
    with db.write() as connection:
        row = connection.execute(select(User).where(User.id == session.account.id)).one()
        if not _password_matches(row.password_hash, current):
            raise Refused("the current password is not right")
        connection.execute(
            update(User)
            .where(User.id == row.id)
            .values(
                password_hash=_hasher.hash(new),
                password_changed_at=datetime.now(UTC),
                must_change_password=False,
            )
        )
        connection.execute(
            delete(ConsoleSession).where(
                ConsoleSession.user_id == row.id,
                ConsoleSession.token_sha256 != session.token_sha256,
            )
        )
        audit.append(
            db, connection, account=row.name, address=address, action=audit.USER_CHANGED,
            record=f"user:{row.name}", detail="password",
        )


def set_totp(db: Database, name: str, *, by: str = audit.COMMAND_LINE) -> str:
    """Give `name` a new TOTP secret; returns its provisioning URI (for an app's QR)."""
    secret = pyotp.random_base32()
    with db.write() as connection:
        row = _user_row(connection, name)
        sealed = db.vault.seal(secret.encode("ascii"), _totp_context(row.id))
        connection.execute(
            update(User).where(User.id == row.id).values(totp_sealed=sealed, totp_last_step=0)
        )
        audit.append(
            db, connection, account=by, address="", action=audit.TOTP_SET,
            record=f"user:{name}",
        )
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


def list_users(db: Database) -> list[Account]:
    with db.read() as connection:
        return [_account(row) for row in connection.execute(select(User).order_by(User.name))]


def find_user(db: Database, name: str) -> Account:
    with db.read() as connection:
        return _account(_user_row(connection, name))


def admin_totp_required(db: Database, connection: Connection) -> bool:
    return db.meta(connection, ADMIN_TOTP_KEY) == "1"


def set_admin_totp_required(db: Database, required: bool) -> None:
    with db.write() as connection:
        db.set_meta(connection, ADMIN_TOTP_KEY, "1" if required else "0")
        audit.append(
            db, connection, account=audit.COMMAND_LINE, address="",
            action=audit.SETTINGS_CHANGED, record="console:admin_totp",
            detail="required" if required else "optional",
        )


# -- signing in -------------------------------------------------------------------------


def sign_in(db: Database, name: str, password: str, address: str) -> tuple[str, Session]:
    """Check a name and password; a new session (pending when a TOTP code is owed) and its
    token for the cookie. Raises SignInRefused; every outcome is in the audit log."""
    name = name.strip()[:64]
    now = datetime.now(UTC)
    with db.read() as connection:
        # A name no account can have (a NUL, which PostgreSQL refuses in text, among them)
        # is not looked up: it is an unknown account like any other.
        row = (
            connection.execute(select(User).where(User.name == name)).first()
            if NAME_PATTERN.fullmatch(name)
            else None
        )
        # What was typed is kept only when it names an account: a person may type their
        # ID number or password into the name field, and the audit log keeps everything.
        shown = name if row is not None else UNKNOWN_ACCOUNT
        key = name if row is not None else _typed_name_key(name)
        retry = _throttled(connection, key, address, now)
        totp_required = admin_totp_required(db, connection)
    if retry:
        audit.record(
            db, account=shown, address=address, action=audit.SIGN_IN_FAILED,
            record=f"user:{shown}", result="refused", detail="throttled",
        )
        raise SignInRefused("throttled", retry)
    matches = _password_matches(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not matches:
        with db.write() as connection:
            connection.execute(
                LoginAttempt.__table__.insert().values(account=key, address=address, at=now)
            )
            audit.append(
                db, connection, account=shown, address=address, action=audit.SIGN_IN_FAILED,
                record=f"user:{shown}", result="refused", detail="wrong",
            )
        raise SignInRefused("wrong")
    if row.disabled_at is not None:
        audit.record(
            db, account=name, address=address, action=audit.SIGN_IN_FAILED,
            record=f"user:{name}", result="refused", detail="disabled",
        )
        raise SignInRefused("disabled")
    needs_totp = row.totp_sealed is not None
    if row.role == "admin" and totp_required and not needs_totp:
        audit.record(
            db, account=name, address=address, action=audit.SIGN_IN_FAILED,
            record=f"user:{name}", result="refused", detail="totp_needed",
        )
        raise SignInRefused("totp_needed")
    with db.write() as connection:
        connection.execute(delete(LoginAttempt).where(LoginAttempt.account == name))
        token, session = _new_session(connection, row, address, pending=needs_totp)
        audit.append(
            db, connection, account=name, address=address, action=audit.SIGN_IN,
            record=f"user:{name}", detail="password" if needs_totp else "",
        )
    return token, session


def second_factor(db: Database, session: Session, code: str, address: str) -> tuple[str, Session]:
    """Check the TOTP code of a pending session: a new, full session in its place."""
    now = datetime.now(UTC)
    name = session.account.name
    with db.read() as connection:
        retry = _throttled(connection, name, address, now)
        row = connection.execute(select(User).where(User.id == session.account.id)).one()
    if retry:
        raise SignInRefused("throttled", retry)
    step = _totp_step(db, row, code.strip(), now)
    with db.write() as connection:
        if step is None:
            connection.execute(
                LoginAttempt.__table__.insert().values(account=name, address=address, at=now)
            )
            audit.append(
                db, connection, account=name, address=address, action=audit.SECOND_FACTOR,
                record=f"user:{name}", result="refused", detail="totp_wrong",
            )
        else:
            claimed = connection.execute(
                update(User)
                .where(User.id == row.id, User.totp_last_step < step)
                .values(totp_last_step=step)
            )
            if claimed.rowcount != 1:
                step = None  # the same code again: a replay
            else:
                connection.execute(delete(LoginAttempt).where(LoginAttempt.account == name))
                connection.execute(
                    delete(ConsoleSession).where(
                        ConsoleSession.token_sha256 == session.token_sha256
                    )
                )
                token, full = _new_session(connection, row, address, pending=False)
                audit.append(
                    db, connection, account=name, address=address, action=audit.SECOND_FACTOR,
                    record=f"user:{name}",
                )
                return token, full
    raise SignInRefused("totp_wrong")


# Built once: every console request checks its session with it, and building a statement
# anew costs SQLAlchemy more than PostgreSQL takes to answer it.
_SESSION = (
    select(
        ConsoleSession.user_id,
        ConsoleSession.csrf_token,
        ConsoleSession.pending,
        ConsoleSession.created_at,
        ConsoleSession.last_seen_at,
        User.name,
        User.role,
        User.station_group,
        User.totp_sealed,
        User.must_change_password,
        User.disabled_at,
    )
    .join(User, User.id == ConsoleSession.user_id)
    .where(ConsoleSession.token_sha256 == bindparam("digest"))
)


def load_session(db: Database, token: str | None) -> Session | None:
    """The live session a cookie's token names, or None (unknown, idle too long, past its
    absolute limit, its account disabled). Its last request time moves on."""
    if not token or len(token) > 100:
        return None
    digest = token_sha256(token)
    now = datetime.now(UTC)
    with db.lookup() as connection:
        row = connection.execute(_SESSION, {"digest": digest}).first()
    if row is None:
        return None
    expired = (
        now - row.last_seen_at > IDLE_LIMIT
        or now - row.created_at > ABSOLUTE_LIMIT
        or row.disabled_at is not None
    )
    if expired:
        end_session(db, digest)
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        with db.write() as connection:
            connection.execute(
                update(ConsoleSession)
                .where(ConsoleSession.token_sha256 == digest)
                .values(last_seen_at=now)
            )
    return Session(
        token_sha256=digest,
        account=Account(
            id=row.user_id,
            name=row.name,
            role=row.role,
            station_group=row.station_group,
            has_totp=row.totp_sealed is not None,
            must_change_password=bool(row.must_change_password),
            disabled=False,
        ),
        csrf_token=row.csrf_token,
        pending=bool(row.pending),
        created_at=row.created_at,
    )


def end_session(db: Database, digest: str) -> None:
    with db.write() as connection:
        connection.execute(delete(AccessGrant).where(AccessGrant.session_sha256 == digest))
        connection.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == digest))


def prune(db: Database, now: datetime | None = None) -> None:
    """Drop ended sessions, lapsed grants and day-old failures (the server's minute task)."""
    now = now or datetime.now(UTC)
    with db.write() as connection:
        connection.execute(
            delete(ConsoleSession).where(
                (ConsoleSession.last_seen_at < now - IDLE_LIMIT)
                | (ConsoleSession.created_at < now - ABSOLUTE_LIMIT)
            )
        )
        connection.execute(delete(AccessGrant).where(AccessGrant.expires_at < now))
        connection.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def totp_now(db: Database, name: str, at: float | None = None) -> str:
    """The TOTP code of `name` at `at` (tests, and a technician's check on the server)."""
    with db.read() as connection:
        row = _user_row(connection, name)
    if row.totp_sealed is None:
        raise Refused(f"{name} has no second factor")
    return pyotp.TOTP(_totp_secret(db, row)).at(at if at is not None else time.time())


# -- inside -----------------------------------------------------------------------------


def _new_session(
    connection: Connection, user: Any, address: str, *, pending: bool
) -> tuple[str, Session]:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    digest = token_sha256(token)
    connection.execute(
        ConsoleSession.__table__.insert().values(
            token_sha256=digest,
            user_id=user.id,
            csrf_token=csrf,
            pending=pending,
            address=address[:64],
            created_at=now,
            last_seen_at=now,
        )
    )
    return token, Session(digest, _account(user), csrf, pending, now)


def _end_sessions_of(connection: Connection, user_id: int) -> None:
    digests = select(ConsoleSession.token_sha256).where(ConsoleSession.user_id == user_id)
    connection.execute(delete(AccessGrant).where(AccessGrant.session_sha256.in_(digests)))
    connection.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


def _throttled(connection: Connection, name: str, address: str, now: datetime) -> int:
    """Seconds until a sign-in may be tried again, or 0."""
    since = now - THROTTLE_WINDOW
    retry = 0
    for column, value, limit in (
        (LoginAttempt.account, name, MAX_ACCOUNT_FAILURES),
        (LoginAttempt.address, address, MAX_ADDRESS_FAILURES),
    ):
        count, oldest = connection.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                column == value, LoginAttempt.at >= since
            )
        ).one()
        if count >= limit and oldest is not None:
            retry = max(retry, int((oldest + THROTTLE_WINDOW - now).total_seconds()) + 1)
    return retry


def _typed_name_key(name: str) -> str:
    """How failures under a name that is no account are counted: by its hash, never the
    text (which may be anything a person typed)."""
    return "?" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]


def _password_matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _totp_context(user_id: int) -> bytes:
    return f"users.totp:{user_id}".encode()


def _totp_secret(db: Database, row: Any) -> str:
    return db.vault.open(row.totp_sealed, _totp_context(row.id)).decode("ascii")


def _totp_step(db: Database, row: Any, code: str, now: datetime) -> int | None:
    """The time step `code` is valid for (this one or one either side), or None."""
    if row.totp_sealed is None or not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = pyotp.TOTP(_totp_secret(db, row))
    here = int(now.timestamp()) // totp.interval
    for step in (here, here - 1, here + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def _user_row(connection: Connection, name: str) -> Any:
    row = connection.execute(select(User).where(User.name == name)).first()
    if row is None:
        raise NotFound(f"no account {name!r}")
    return row


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        role=row.role,
        station_group=row.station_group,
        has_totp=row.totp_sealed is not None,
        must_change_password=bool(row.must_change_password),
        disabled=row.disabled_at is not None,
    )
