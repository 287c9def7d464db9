"""Debian's Chromium, headless, driven through Debian's chromedriver by selenium.

The binaries are named outright (`/usr/bin/chromium`, `/usr/bin/chromedriver`), so
Selenium Manager never looks for, or downloads, a browser or a driver of its own. The
browser runs headless with a fresh profile, no first-run page, no background traffic (no
component updates, no sync, no field trials), no sandbox (the tests run as root in CI)
and no /dev/shm (a container's is small), in Chinese (as a district's PC is) or English.

`Chromium` is one browser for many pages: `viewport(width, height)` sets the exact size
of the page's viewport (what a screenshot shows), `open(url)` loads a page and waits for
it, `click_and_wait(element)` clicks a link or a form's button and waits for the next
page, and `navigation_status()` is the HTTP status of the page on screen.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGE_HINT = "install the Debian packages chromium and chromium-driver (make system-test)"
LOAD_TIMEOUT_S = 30
ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-field-trial-config",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1920,1080",
)
# The browser's own language, as its user's PC has it: a Chinese browser for the Chinese
# pages, an English one for the English pages. Its date and time fields (chromium-l10n)
# and its choice of fallback fonts (for Chinese: Droid Sans Fallback, not a Japanese
# Mincho) follow the locale of its environment.
LOCALES = {"zh": ("zh-CN", "zh_CN"), "en": ("en-US", "en_US")}


def require_chromium() -> None:
    """Fail (never skip) when the browser or its driver is missing: the console's browser
    tests are part of the suite wherever it runs."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: {PACKAGE_HINT}", pytrace=False)


class Chromium:
    """One headless Chromium, its own profile, reused for many pages."""

    def __init__(self, language: str = "zh", extra_arguments: tuple[str, ...] = ()) -> None:
        require_chromium()
        tag, locale = LOCALES[language]
        self.profile = Path(tempfile.mkdtemp(prefix="doorstep-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (
            *ARGUMENTS, *extra_arguments, f"--lang={tag}", f"--user-data-dir={self.profile}"
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        environment = {**os.environ, "LANG": f"{locale}.UTF-8", "LANGUAGE": f"{locale}:{language}"}
        service = Service(executable_path=str(CHROMEDRIVER), env=environment)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(LOAD_TIMEOUT_S)
        self.driver.set_script_timeout(LOAD_TIMEOUT_S)

    def quit(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the page ------------------------------------------------------------------------

    def viewport(self, width: int, height: int) -> None:
        """Make the page's viewport exactly `width`×`height` CSS pixels at scale 1."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def open(self, url: str) -> None:
        self.driver.get(url)
        self._loaded()

    def click_and_wait(self, element: WebElement) -> None:
        """Click a link or a form's button and wait until the next page has loaded: a new
        document has a new window, without the mark put on this one. (Asked while the
        old page goes, chromedriver may answer with an error: it is asked again.)"""
        self.driver.execute_script("window.doorstepBefore = true")
        element.click()
        WebDriverWait(
            self.driver, LOAD_TIMEOUT_S, ignored_exceptions=(WebDriverException,)
        ).until(
            lambda driver: driver.execute_script(
                "return window.doorstepBefore !== true && document.readyState === 'complete'"
            )
        )

    def type_into(self, css: str, value: str) -> None:
        field = self.driver.find_element(By.CSS_SELECTOR, css)
        field.clear()
        field.send_keys(value)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    @property
    def path(self) -> str:
        return str(self.driver.execute_script("return location.pathname + location.search"))

    def navigation_status(self) -> int:
        """The HTTP status the page on screen was served with."""
        return int(
            self.driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].responseStatus"
            )
        )

    def html_lang(self) -> str:
        return str(self.driver.execute_script("return document.documentElement.lang"))

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), path

    def console_messages(self) -> list[dict[str, Any]]:
        """The browser console's messages since the last call (CSP violations land here)."""
        return list(self.driver.get_log("browser"))

    # -- cookies (the site's, so the page must be on it) ---------------------------------

    def set_cookie(self, name: str, value: str) -> None:
        self.driver.add_cookie({"name": name, "value": value, "path": "/"})

    def cookie(self, name: str) -> str | None:
        found = self.driver.get_cookie(name)
        return None if found is None else str(found["value"])

    def clear_cookies(self) -> None:
        self.driver.delete_all_cookies()

    def _loaded(self) -> None:
        WebDriverWait(self.driver, LOAD_TIMEOUT_S).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )


BrowserFactory = Callable[[str], Chromium]  # the `browsers` fixture: a language's browser
