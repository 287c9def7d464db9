"""Fixtures of the console's browser tests: headless Chromium for the whole run, and
seeded consoles (tests/browser/console_site.py), each a real `district serve` process:

- ``chromium``: the browser (tests/browser/chromium_driver.py), in Chinese;
  ``browsers(language)`` gives the Chinese or the English one. A missing Chromium or
  chromedriver fails the tests, it never skips them;
- ``site``: the seeded console on SQLite and on PostgreSQL (the private cluster of
  tests/district/postgres.py), once each per run: the tests taking it run on both;
- ``sqlite_site``: the SQLite one alone (the page tour: the pages do not depend on the
  database, and it is the longest part).

At the end every server's log must hold no traceback and no log any personal data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium_driver import BrowserFactory, Chromium
from tests.browser.console_site import ConsoleSite, SiteFactory, open_site
from tests.browser.pages import SCREENSHOTS
from tests.district.conftest import BACKENDS, TEMPLATE, postgres_cluster
from tests.district.postgres import PostgresCluster
from tests.district.test_sync_e2e import DistrictServer

__all__ = ["postgres_cluster"]  # the private PostgreSQL cluster, a fixture here too

@pytest.fixture(scope="session")
def browsers() -> Iterator[BrowserFactory]:
    """The browser of a language (Chinese or English), started at its first use."""
    # every WebDriver command is a DEBUG record of selenium's and urllib3's: a failure's
    # captured log would be thousands of lines of them
    for name in ("selenium", "urllib3"):
        logging.getLogger(name).setLevel(logging.INFO)
    started: dict[str, Chromium] = {}

    def get(language: str) -> Chromium:
        if language not in started:
            started[language] = Chromium(language)
        return started[language]

    yield get
    for browser in started.values():
        browser.quit()


@pytest.fixture(scope="session")
def chromium(browsers: BrowserFactory) -> Chromium:
    """The Chinese browser, a district PC's."""
    return browsers("zh")


@pytest.fixture(scope="session")
def sites(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SiteFactory]:
    """The seeded console of a backend, made at its first use and kept for the run."""
    opened: dict[str, ConsoleSite] = {}

    def get(backend: str) -> ConsoleSite:
        if backend not in opened:
            root = tmp_path_factory.mktemp(f"console-{backend}")
            if backend == "sqlite":
                url = f"sqlite:///{root / 'district.sqlite3'}"
            else:
                cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
                url = cluster.create_database(f"browser_{uuid.uuid4().hex[:12]}",
                                              template=TEMPLATE)
            server = DistrictServer(url, root / "server.key", root / "district.log")
            try:
                opened[backend] = open_site(server, root)
            except BaseException:
                server.stop()
                raise
        return opened[backend]

    yield get
    for site in opened.values():
        site.server.stop()
    for site in opened.values():
        site.check_logs()


@pytest.fixture(scope="session", params=BACKENDS)
def site(request: pytest.FixtureRequest, sites: SiteFactory) -> ConsoleSite:
    return sites(request.param)


@pytest.fixture(scope="session")
def sqlite_site(sites: SiteFactory) -> ConsoleSite:
    return sites("sqlite")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(__file__).resolve().parents[2] / SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder
