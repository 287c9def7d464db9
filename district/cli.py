"""The `district` command: run the district server and administer it.

Global options come before the subcommand: `district --db URL --key-file FILE station list`.
The database is `--db URL`, else DISTRICT_DB, else `sqlite:///district.sqlite3` in the
current folder (`postgresql://user@host/name` for PostgreSQL); the server key is
`--key-file`, else DISTRICT_KEY_FILE, else next to a SQLite database file (`FILE.key`).
Every command migrates the database first if it needs it.

A refused input or a broken database exits 1 with the problem (with `--json`:
`{"error": NAME, "message": ...}` on stdout); wrong usage exits 2. Nothing printed or
logged holds personal data.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from district.db import DEFAULT_URL, Database
from district.errors import DistrictError
from kiosk import __version__
from kiosk.errors import DoorstepError

log = logging.getLogger("district")


@dataclass
class Context:
    url: str
    key_file: Path | None
    _db: Database | None = field(default=None, repr=False)

    def db(self) -> Database:
        if self._db is None:
            self._db = Database.open(self.url, self.key_file)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


pass_context = click.make_pass_decorator(Context)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _fail(name: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": name, "message": message}, ensure_ascii=False))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


@contextmanager
def _reported(as_json: bool = False) -> Iterator[None]:
    """Turn a refusal into a clear message and exit status 1."""
    try:
        yield
    except DistrictError as error:
        _fail(error.name, str(error), as_json)
    except DoorstepError as error:  # the kiosk's catalog reader refusing a file
        _fail(error.name, error.staff_message, as_json)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="district", message="%(prog)s %(version)s")
@click.option(
    "--db",
    "url",
    envvar="DISTRICT_DB",
    default=DEFAULT_URL,
    show_default=True,
    help="The database URL (or $DISTRICT_DB): sqlite:///FILE or postgresql://USER@HOST/NAME.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DISTRICT_KEY_FILE",
    help="The server key sealing personal data (or $DISTRICT_KEY_FILE; default: next to a "
    "SQLite database as FILE.key, else ./district.key; made if missing).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Logging level (default: INFO for serve, WARNING for the other commands).",
)
@click.pass_context
def main(ctx: click.Context, url: str, key_file: Path | None, log_level: str | None) -> None:
    """Doorstep's district server: the sync API for stations, and its administration."""
    serving = ctx.invoked_subcommand == "serve"
    level = (log_level or ("INFO" if serving else "WARNING")).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    context = Context(url, key_file)
    ctx.obj = context
    ctx.call_on_close(context.close)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (each keeps no state of its own).",
)
@pass_context
def serve(context: Context, host: str, port: int, workers: int) -> None:
    """Run the district server (migrating the database first)."""
    import uvicorn

    from district.app import ENV_DB, ENV_KEY_FILE, create_app

    with _reported():
        if workers == 1:
            app: Any = create_app(context.url, context.key_file)
            factory = False
        else:
            context.db()  # migrate once, here, and check the key, before the workers start
            os.environ[ENV_DB] = context.url
            if context.key_file is not None:
                os.environ[ENV_KEY_FILE] = str(context.key_file)
            app, factory = "district.app:from_environment", True
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=factory,
        log_config=_log_config(logging.getLogger().getEffectiveLevel()),
        access_log=False,  # paths name applications; the district logs what matters itself
        server_header=False,
    )


def _log_config(level: int) -> dict[str, Any]:
    """Logging for uvicorn's processes (worker processes start with none of ours)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": logging.getLevelName(level), "handlers": ["stderr"]},
        "loggers": {"alembic": {"level": "WARNING"}},
    }


@main.command()
@pass_context
def migrate(context: Context) -> None:
    """Create or upgrade the database to this version's schema, and stop."""
    from district.db import head_revision

    with _reported():
        context.db()
    click.echo(f"database at schema {head_revision()}")


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this file (district/openapi.json is the copy kept in the repository).",
)
def openapi(out: Path | None) -> None:
    """Print the OpenAPI document of the server's API (no database needed)."""
    from district.app import openapi_document

    text = json.dumps(openapi_document(), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@main.command()
@click.argument("name", required=False)
@pass_context
def name(context: Context, name: str | None) -> None:
    """Show the district's name (what enrolled stations are told), or set it to NAME."""
    from district.stations import district_name, set_district_name

    with _reported():
        db = context.db()
        if name is not None:
            set_district_name(db, name)
        with db.read() as connection:
            click.echo(district_name(db, connection))


# -- stations ---------------------------------------------------------------------------


@main.group()
def station() -> None:
    """Stations: add (with an enrollment code), list, new code, revoke, rename, group,
    settings."""


@station.command("add")
@click.argument("name")
@click.option("--code", help="The station code used in references (default: ST0001, …).")
@click.option("--group", default="", help="The station group whose agents serve it.")
@click.option(
    "--expires-minutes", default=30, show_default=True, type=int,
    help="How long the enrollment code stays valid.",
)
@json_option
@pass_context
def station_add(
    context: Context, name: str, code: str | None, group: str, expires_minutes: int,
    as_json: bool,
) -> None:
    """Add a station NAME and print its id and one-time enrollment code."""
    from district.stations import add_station

    with _reported(as_json):
        added = add_station(
            context.db(), name, code=code, station_group=group, expires_minutes=expires_minutes
        )
    if as_json:
        _echo_json(added.to_json())
    else:
        click.echo(f"station {added.station_code} ({added.station_name}): id {added.station_id}")
        click.echo(f"enrollment code: {added.enrollment_code}")
        click.echo(f"valid until {added.expires_at:%Y-%m-%d %H:%M} UTC; on the kiosk run:")
        click.echo(f"  kiosk enroll --server URL --code {added.enrollment_code}")


@station.command("code")
@click.argument("station_ref", metavar="ID")
@click.option("--expires-minutes", default=30, show_default=True, type=int)
@json_option
@pass_context
def station_code(context: Context, station_ref: str, expires_minutes: int, as_json: bool) -> None:
    """A new enrollment code for station ID (its id or code), e.g. for a replaced kiosk:
    enrolling with it replaces the station's key."""
    from district.stations import new_code

    with _reported(as_json):
        issued = new_code(context.db(), station_ref, expires_minutes=expires_minutes)
    if as_json:
        _echo_json(issued.to_json())
    else:
        click.echo(f"enrollment code for {issued.station_code}: {issued.enrollment_code}")
        click.echo(f"valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC")


@station.command("list")
@json_option
@pass_context
def station_list(context: Context, as_json: bool) -> None:
    """List the stations."""
    from district.stations import list_stations

    with _reported(as_json):
        found = list_stations(context.db())
    if as_json:
        _echo_json(found)
        return
    for row in found:
        click.echo(f"{row['station_code']:<12} {row['station_id']}  {row['state']:<8}  "
                   f"{row['station_name']}")


@station.command("revoke")
@click.argument("station_ref", metavar="ID")
@json_option
@pass_context
def station_revoke(context: Context, station_ref: str, as_json: bool) -> None:
    """Shut station ID (its id or code) out, from its very next request."""
    from district.stations import revoke

    with _reported(as_json):
        revoked = revoke(context.db(), station_ref)
    if as_json:
        _echo_json(revoked)
    else:
        click.echo(f"station {revoked['station_code']} revoked")


@station.command("rename")
@click.argument("station_ref", metavar="ID")
@click.argument("name")
@json_option
@pass_context
def station_rename(context: Context, station_ref: str, name: str, as_json: bool) -> None:
    """Give station ID (its id or code) the name NAME."""
    from district.stations import rename

    with _reported(as_json):
        renamed = rename(context.db(), station_ref, name)
    if as_json:
        _echo_json(renamed)
    else:
        click.echo(f"station {renamed['station_code']} is now {renamed['station_name']}")


@station.command("group")
@click.argument("station_ref", metavar="ID")
@click.argument("group")
@json_option
@pass_context
def station_group(context: Context, station_ref: str, group: str, as_json: bool) -> None:
    """Put station ID (its id or code) in station GROUP, whose agents serve it ("" for
    none: only admins see it)."""
    from district.stations import set_group

    with _reported(as_json):
        moved = set_group(context.db(), station_ref, group)
    if as_json:
        _echo_json(moved)
    else:
        click.echo(f"station {moved['station_code']} is in group {moved['station_group'] or '-'}")


@station.command("settings")
@click.argument("station_ref", metavar="ID")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_context
def station_settings(context: Context, station_ref: str, file: Path) -> None:
    """Publish FILE.json (an object of settings tables) for station ID only."""
    from district.catalogs import publish_settings, read_settings_file

    with _reported():
        published = publish_settings(context.db(), read_settings_file(file), station_ref)
    click.echo(f"settings version {published['version']} published for station {station_ref}")


@main.group()
def settings() -> None:
    """Settings documents for every station."""


@settings.command("publish")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_context
def settings_publish(context: Context, file: Path) -> None:
    """Publish FILE.json (an object of settings tables) for every station."""
    from district.catalogs import publish_settings, read_settings_file

    with _reported():
        published = publish_settings(context.db(), read_settings_file(file))
    click.echo(f"settings version {published['version']} published for every station")


# -- catalog ----------------------------------------------------------------------------


@main.group()
def catalog() -> None:
    """The service catalog the district publishes to every station."""


@catalog.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_context
def catalog_import(context: Context, file: Path, as_json: bool) -> None:
    """Check FILE (the kiosk's catalog format) whole and publish it as a new version."""
    from district.catalogs import import_catalog

    with _reported(as_json):
        published = import_catalog(context.db(), file)
    if as_json:
        _echo_json(published)
    elif published["published"]:
        click.echo(f"published catalog {published['version']}: {published['items']} items")
    else:
        click.echo(f"catalog {published['version']} was already published; nothing changed")


@catalog.command("list")
@json_option
@pass_context
def catalog_list(context: Context, as_json: bool) -> None:
    """The catalog versions published, oldest first (the last one is what stations get)."""
    from district.catalogs import list_catalogs

    with _reported(as_json):
        found = list_catalogs(context.db())
    if as_json:
        _echo_json(found)
        return
    for row in found:
        click.echo(f"{row['version']:<20} {row['items']:>4} items  {row['published_at']}")


# -- applications -----------------------------------------------------------------------


@main.group("applications")
def applications_group() -> None:
    """Applications the stations sent, and agents' decisions on them."""


@applications_group.command("list")
@click.option("--station", "station_ref", metavar="ID", help="Only this station's (id or code).")
@click.option("--state", help="Only applications in this state.")
@json_option
@pass_context
def applications_list(
    context: Context, station_ref: str | None, state: str | None, as_json: bool
) -> None:
    """List applications (no personal data: ids, references, items, states, blob hashes)."""
    from district.applications import list_applications

    with _reported(as_json):
        found = list_applications(context.db(), station_ref, state)
    if as_json:
        _echo_json(found)
        return
    for row in found:
        click.echo(f"{row['reference']:<24} {row['item_code']:<10} {row['state']:<17} {row['id']}")


@applications_group.command("set-state")
@click.argument("application_id", metavar="ID")
@click.argument(
    "state",
    type=click.Choice(["accepted", "needs_more", "ready_for_pickup", "completed", "rejected"]),
)
@click.option(
    "--reason",
    help="What the station shows: needed for rejected, and for needs_more (what is missing).",
)
@json_option
@pass_context
def applications_set_state(
    context: Context, application_id: str, state: str, reason: str | None, as_json: bool
) -> None:
    """Move application ID to STATE, as an agent's decision does; its station hears of it
    at its next sync."""
    from district.applications import set_state

    with _reported(as_json):
        changed = set_state(context.db(), application_id, state, reason)
    if as_json:
        _echo_json(changed)
    else:
        click.echo(f"application {application_id} is now {state}")


# -- console accounts -------------------------------------------------------------------


@main.group()
def user() -> None:
    """Console accounts: agents, supervisors, admins, auditors."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["agent", "supervisor", "admin", "auditor"])
)
@click.option("--station-group", default="", help="The stations an agent or supervisor serves.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
@json_option
@pass_context
def user_add(
    context: Context, name: str, role: str, station_group: str, password_stdin: bool,
    as_json: bool,
) -> None:
    """Add the account NAME. Without --password-stdin a one-time password is made and
    printed, to be changed at the first sign-in."""
    from district.accounts import add_user, reset_password

    with _reported(as_json):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            added = add_user(context.db(), name, role, password, station_group=station_group)
            one_time = None
        else:
            import secrets

            added = add_user(
                context.db(), name, role, secrets.token_urlsafe(24), station_group=station_group
            )
            one_time = reset_password(context.db(), name)
    if as_json:
        _echo_json({**added.to_json(), **({"one_time_password": one_time} if one_time else {})})
        return
    group = f", station group {added.station_group}" if added.station_group else ""
    click.echo(f"account {added.name} added: {added.role}{group}")
    if one_time:
        click.echo(f"one-time password (to be changed at the first sign-in): {one_time}")


@user.command("disable")
@click.argument("name")
@json_option
@pass_context
def user_disable(context: Context, name: str, as_json: bool) -> None:
    """Disable the account NAME: it cannot sign in, and its sessions end now."""
    from district.accounts import disable_user

    with _reported(as_json):
        account = disable_user(context.db(), name)
    if as_json:
        _echo_json(account.to_json())
    else:
        click.echo(f"account {name} disabled")


@user.command("enable")
@click.argument("name")
@pass_context
def user_enable(context: Context, name: str) -> None:
    """Enable the disabled account NAME again."""
    from district.accounts import enable_user

    with _reported():
        enable_user(context.db(), name)
    click.echo(f"account {name} enabled")


@user.command("list")
@json_option
@pass_context
def user_list(context: Context, as_json: bool) -> None:
    """The accounts (names, roles, groups; never a secret)."""
    from district.accounts import list_users
    from district.calls import all_skills

    with _reported(as_json):
        found = list_users(context.db())
        skills = all_skills(context.db())
    if as_json:
        _echo_json(
            [{**account.to_json(), "skills": skills.get(account.id, [])} for account in found]
        )
        return
    for account in found:
        state = "disabled" if account.disabled else "totp" if account.has_totp else ""
        click.echo(f"{account.name:<24} {account.role:<11} {account.station_group:<16} {state}")


@user.command("skills")
@click.argument("name")
@click.option(
    "--set",
    "categories",
    multiple=True,
    metavar="CATEGORY",
    help="A catalog category routed to this agent first (repeat for more).",
)
@click.option("--clear", is_flag=True, help="Route nothing to this agent first.")
@json_option
@pass_context
def user_skills(
    context: Context, name: str, categories: tuple[str, ...], clear: bool, as_json: bool
) -> None:
    """Show, or with --set / --clear change, the catalog categories whose calls go to the
    agent or supervisor NAME first (the rest of their group's calls come after)."""
    from district.calls import agent_skills, set_agent_skills

    with _reported(as_json):
        if categories or clear:
            skills = set_agent_skills(context.db(), name, [] if clear else list(categories))
        else:
            skills = agent_skills(context.db(), name)
    if as_json:
        _echo_json({"name": name, "skills": skills})
    else:
        shown = ", ".join(skills) if skills else "(none: any call of the group)"
        click.echo(f"{name}: {shown}")


@user.command("reset-password")
@click.argument("name")
@json_option
@pass_context
def user_reset_password(context: Context, name: str, as_json: bool) -> None:
    """A new one-time password for NAME, to be changed at the next sign-in; the
    account's sessions end."""
    from district.accounts import reset_password

    with _reported(as_json):
        password = reset_password(context.db(), name)
    if as_json:
        _echo_json({"name": name, "one_time_password": password})
    else:
        click.echo(f"one-time password for {name}: {password}")


@user.command("totp")
@click.argument("name")
@pass_context
def user_totp(context: Context, name: str) -> None:
    """Give NAME a (new) TOTP second factor: prints the provisioning URI and its QR code
    for an authenticator app. From now on NAME signs in with a code too."""
    import io

    import segno

    from district.accounts import set_totp

    with _reported():
        uri = set_totp(context.db(), name)
    click.echo(uri)
    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    click.echo(out.getvalue(), nl=False)


@main.group("console")
def console_group() -> None:
    """Console-wide settings."""


@console_group.command("admin-totp")
@click.argument("mode", type=click.Choice(["required", "optional"]))
@pass_context
def console_admin_totp(context: Context, mode: str) -> None:
    """Whether admins must sign in with a TOTP second factor."""
    from district.accounts import set_admin_totp_required

    with _reported():
        set_admin_totp_required(context.db(), mode == "required")
    click.echo(f"a second factor is {mode} for admins")


# -- audit ------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.option(
    "--checkpoints",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DISTRICT_AUDIT_CHECKPOINTS",
    help="The file of checkpoints kept outside the database (or $DISTRICT_AUDIT_CHECKPOINTS).",
)
@pass_context
def audit_verify(context: Context, checkpoints: Path | None) -> None:
    """Exit 0 if the whole audit log is intact; 1, naming the first entry changed,
    removed or moved, if not."""
    from district.audit import verify

    with _reported():
        problem = verify(context.db(), checkpoints)
    if problem is not None:
        click.echo(f"audit log broken: {problem}", err=True)
        sys.exit(1)
    click.echo("audit log intact")


@audit_group.command("checkpoint")
@click.option(
    "--checkpoints", type=click.Path(dir_okay=False, path_type=Path),
    envvar="DISTRICT_AUDIT_CHECKPOINTS",
)
@pass_context
def audit_checkpoint(context: Context, checkpoints: Path | None) -> None:
    """Record the chain's head now (the server also does every minute)."""
    from district.audit import checkpoint

    with _reported():
        head = checkpoint(context.db(), checkpoints)
    click.echo("nothing new to checkpoint" if head is None else f"checkpoint at entry {head[0]}")


@audit_group.command("list")
@click.option("--since", type=click.DateTime(), help="Entries at or after this time (UTC).")
@click.option("--account", help="Only this account's entries.")
@json_option
@pass_context
def audit_list(
    context: Context, since: datetime | None, account: str | None, as_json: bool
) -> None:
    """The audit entries, oldest first."""
    from district.audit import entries

    when = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    with _reported(as_json):
        found = entries(context.db(), since=when, account=account)
    if as_json:
        _echo_json(found)
        return
    for row in found:
        click.echo(
            f"{row['seq']:>6} {row['at']} {row['account']:<20} {row['action']:<18} "
            f"{row['record']:<40} {row['result']} {row['detail']}"
        )


@main.group()
def cursors() -> None:
    """The stations' change cursors."""


@cursors.command("reset")
@pass_context
def cursors_reset(context: Context) -> None:
    """Make every station download its changes from the start (after restoring the
    database from a backup, so no station skips a change it never saw)."""
    from district.applications import reset_cursors

    with _reported():
        epoch = reset_cursors(context.db())
    click.echo(f"new epoch {epoch}: every station starts over at its next sync")


if __name__ == "__main__":
    main()
