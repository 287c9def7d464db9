"""A real district console for the browser tests: a `district serve` process of its own,
seeded the way a district is, through the `district` command and real kiosks.

`open_site(server, root)` imports the sample catalog, starts the server, adds an account
of every role (`district user add … --password-stdin`, one admin with TOTP through
`district user totp`), adds two stations in two station groups and makes each a real
kiosk: `kiosk enroll`, `kiosk sync --once` (the catalog), `kiosk applications new` and a
call-back request, `kiosk sync --once` (they go up). The agents of group "east" see the
east station's applications and call-backs; those of the west station are another
group's records.

`KioskCommand` is the `kiosk` program on one data folder, as a station's technician runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp

from kiosk.config import Paths
from kiosk.core.callbacks import Callbacks
from kiosk.store.db import Store
from tests.district.browsing import PASSWORD
from tests.district.conftest import ITEM, SAMPLE_CATALOG
from tests.district.test_sync_e2e import DistrictServer
from tests.personal import NEVER_LOGGED, PHONE, RESIDENT

KIOSK = Path(sys.executable).with_name("kiosk")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    group: str = ""
    totp: bool = False


#: Who signs in to the seeded console (every one with PASSWORD). `by_role` picks the first
#: account of a role without TOTP: the one the page tour signs in as.
ACCOUNTS = (
    Account("agent.east", "agent", "east"),
    Account("supervisor.east", "supervisor", "east"),
    Account("admin", "admin"),
    Account("auditor", "auditor"),
    Account("agent.west", "agent", "west"),
    Account("admin.totp", "admin", totp=True),
)


@dataclass(frozen=True)
class StationPlan:
    name: str
    code: str
    group: str
    applications: int


STATIONS = (
    StationPlan("东区一号服务站", "EAST01", "east", 5),
    StationPlan("西区一号服务站", "WEST01", "west", 1),
)


class KioskCommand:
    """`kiosk --data-dir D …` as a process; answers of `--json` commands parsed."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def run(self, *args: str) -> Any:
        result = subprocess.run(
            [str(KIOSK), "--data-dir", str(self.data_dir), *args],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, f"kiosk {' '.join(args)}: {result.stderr}{result.stdout}"
        return json.loads(result.stdout) if "--json" in args else result.stdout

    def sync(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.run("sync", "--once", "--json")
        return answer

    def applications(self) -> dict[str, dict[str, Any]]:
        """`kiosk applications list --json`, by application id."""
        return {row["id"]: row for row in self.run("applications", "list", "--json")}

    def logs(self) -> str:
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.data_dir.glob("logs/*.log*"))
        )


@dataclass
class Station:
    plan: StationPlan
    station_id: str
    kiosk: KioskCommand
    application_ids: list[str] = field(default_factory=list)


@dataclass
class ConsoleSite:
    """The seeded console: its server, accounts, stations and their kiosks."""

    server: DistrictServer
    stations: dict[str, Station]  # by station code
    totp_secret: str
    sessions: dict[str, str] = field(default_factory=dict)  # account name → session cookie

    @property
    def base(self) -> str:
        return self.server.base

    def url(self, path: str) -> str:
        return f"{self.server.base}{path.format(**self.placeholders())}"

    def placeholders(self) -> dict[str, str]:
        """What a page's path may name: `{application}` (one of the east station's, left
        undecided by the tests), `{station}` (the east station's code), `{month}` (this
        month, as the reports name one)."""
        east = self.stations["EAST01"]
        return {"application": east.application_ids[-1], "station": east.plan.code,
                "month": datetime.now(UTC).strftime("%Y-%m")}

    def totp_code(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()

    def check_logs(self) -> None:
        """No error in the server's log, no personal data in any log."""
        served = self.server.log.read_text(encoding="utf-8", errors="replace")
        errors = [line for line in served.splitlines() if " ERROR " in line]
        assert not errors and "Traceback" not in served, f"district serve failed:\n{served[-3000:]}"
        logs = {"district serve": served}
        logs.update({f"kiosk {code}": s.kiosk.logs() for code, s in self.stations.items()})
        for who, text in logs.items():
            assert not [secret for secret in NEVER_LOGGED if secret in text], (
                f"{who} logged personal data"
            )


SiteFactory = Callable[[str], ConsoleSite]  # the `sites` fixture: a backend's seeded console


def by_role(role: str) -> Account:
    return next(a for a in ACCOUNTS if a.role == role and not a.totp)


def open_site(server: DistrictServer, root: Path) -> ConsoleSite:
    """Seed and start the console of `server` (whose database is fresh and migrated).
    The stations and the accounts are made side by side: each is a chain of processes."""
    server.cli("catalog", "import", str(SAMPLE_CATALOG))
    server.start()
    resident = root / "resident.json"
    resident.write_text(json.dumps(RESIDENT, ensure_ascii=False), encoding="utf-8")
    with ThreadPoolExecutor(max_workers=4) as pool:
        stations = [pool.submit(_add_station, server, plan, root, resident) for plan in STATIONS]
        secrets = [pool.submit(_add_account, server, account) for account in ACCOUNTS]
        made = {future.result().plan.code: future.result() for future in stations}
        totp_secret = next(future.result() for future in secrets if future.result())
    return ConsoleSite(server, made, totp_secret)


def _add_account(server: DistrictServer, account: Account) -> str:
    """`district user add`; the TOTP secret when the account has a second factor."""
    group = ["--station-group", account.group] if account.group else []
    server.cli("user", "add", account.name, "--role", account.role, *group,
               "--password-stdin", stdin=f"{PASSWORD}\n")
    if not account.totp:
        return ""
    uri = str(server.cli("user", "totp", account.name)).splitlines()[0]
    return str(pyotp.parse_uri(uri).secret)


def _add_station(server: DistrictServer, plan: StationPlan, root: Path, resident: Path) -> Station:
    """A station in its group, a real kiosk enrolled as it, its applications synced."""
    added: Any = server.cli("station", "add", plan.name, "--code", plan.code,
                            "--group", plan.group, "--json")
    kiosk = KioskCommand(root / f"kiosk-{plan.code}")
    kiosk.run("enroll", "--server", server.base, "--code", added["enrollment_code"])
    kiosk.sync()  # the catalog comes down
    made = kiosk.run("applications", "new", "--item", ITEM, "--resident-json", str(resident),
                     "--count", str(plan.applications), "--json")
    store = Store.open(Paths(kiosk.data_dir))  # a call-back request, as the call screen leaves one
    try:
        Callbacks(store).request(PHONE, ITEM, "城乡居民医保参保登记", "tomorrow_am")
    finally:
        store.close()
    answer = kiosk.sync()["pass"]
    assert answer["accepted"] == plan.applications and answer["callbacks"] == 1
    return Station(plan, added["station_id"], kiosk, [row["id"] for row in made])
