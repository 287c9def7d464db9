"""Every page of tests/browser/pages.py in Chromium, in Chinese and in English (each in a
browser of its language): served with its status at its own address (no redirect to the
sign-in), in the right language, nothing refused by the Content-Security-Policy or
failing in the browser's console, no serious or critical axe-core violation; photographed
at 1920×1080 and 1366×768 into build/screenshots/console/ as ROLE-PAGE-WIDTHxHEIGHT-LANG.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from district.console.deps import LANG_COOKIE
from tests.browser import accessibility
from tests.browser.chromium_driver import BrowserFactory, Chromium
from tests.browser.console_browser import LANGUAGES, fresh_start, visit
from tests.browser.console_site import ConsoleSite, by_role
from tests.browser.pages import PAGES, SIZES, Page


def show(chromium: Chromium, site: ConsoleSite, page: Page, language: str) -> None:
    if page.role is None:
        fresh_start(chromium, site)
        chromium.set_cookie(LANG_COOKIE, language)
        chromium.open(site.url(page.path))
    else:
        visit(chromium, site, by_role(page.role), page.path, language)


def browser_errors(chromium: Chromium, page: Page) -> list[str]:
    """The console's errors of the page just shown (a refused style or script, a failed
    request), but the page's own expected error status."""
    found = []
    for message in chromium.console_messages():
        if message.get("level") != "SEVERE":
            continue
        if page.status != 200 and f"status of {page.status}" in message.get("message", ""):
            continue
        found.append(message.get("message", ""))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[page.id for page in PAGES])
def test_every_page_in_both_languages(
    browsers: BrowserFactory, sqlite_site: ConsoleSite, screenshots: Path, page: Page
) -> None:
    problems: list[str] = []
    for language in LANGUAGES:
        chromium = browsers(language)
        (width, height), *others = SIZES
        chromium.viewport(width, height)
        chromium.console_messages()  # what earlier pages left
        show(chromium, sqlite_site, page, language)
        expected = sqlite_site.url(page.path).removeprefix(sqlite_site.base)
        assert chromium.path == expected, f"{page.id}: went to {chromium.path}"
        assert chromium.navigation_status() == page.status, chromium.text()
        assert chromium.html_lang() == ("zh-CN" if language == "zh" else "en")
        stem = f"{page.id}-{{size}}-{language}.png"
        chromium.screenshot(screenshots / stem.format(size=f"{width}x{height}"))
        violations = accessibility.audit(chromium)
        if violations:
            problems.append(f"{page.id} ({language}):\n{accessibility.describe(violations)}")
        problems += [f"{page.id} ({language}): {e}" for e in browser_errors(chromium, page)]
        for width, height in others:
            chromium.viewport(width, height)
            chromium.screenshot(screenshots / stem.format(size=f"{width}x{height}"))
    assert not problems, "\n".join(problems)
