"""Signing in to the real console in Chromium, on SQLite and on PostgreSQL: each role
through the form (typed, the button pressed) to its start page and out again, a wrong
password, an admin's TOTP step, the language switch."""

from __future__ import annotations

import time

import pyotp
import pytest

from district.console.deps import HOME_OF_ROLE, SESSION_COOKIE
from tests.browser import accessibility
from tests.browser.chromium_driver import Chromium
from tests.browser.console_browser import console_text, enter_totp, fresh_start, sign_in, sign_out
from tests.browser.console_site import ACCOUNTS, Account, ConsoleSite
from tests.district.browsing import PASSWORD

PLAIN = [account for account in ACCOUNTS if not account.totp]


@pytest.mark.parametrize("account", PLAIN, ids=[a.name for a in PLAIN])
def test_each_role_signs_in_and_out_through_the_form(
    chromium: Chromium, site: ConsoleSite, account: Account
) -> None:
    fresh_start(chromium, site)
    sign_in(chromium, site, account.name, PASSWORD)
    home = HOME_OF_ROLE[account.role]
    assert chromium.path == home, chromium.text()
    assert chromium.navigation_status() == 200
    assert account.name in chromium.text("header")
    token = chromium.cookie(SESSION_COOKIE)
    assert token

    sign_out(chromium)
    assert chromium.path == "/console/login"
    assert chromium.cookie(SESSION_COOKIE) is None
    # the old cookie, put back, is refused: the session ended on the server
    chromium.set_cookie(SESSION_COOKIE, token)
    chromium.open(site.url(home))
    assert chromium.path.startswith("/console/login?"), chromium.path
    assert console_text("zh", "session_ended") in chromium.text()


def test_a_wrong_password_is_told_and_signs_no_one_in(
    chromium: Chromium, site: ConsoleSite
) -> None:
    fresh_start(chromium, site)
    sign_in(chromium, site, "agent.east", "not the password at all")
    assert chromium.path == "/console/login"
    assert chromium.navigation_status() == 401
    assert chromium.text("[role=alert]") == console_text("zh", "sign_in_wrong")
    assert chromium.cookie(SESSION_COOKIE) is None
    assert chromium.find("#name").get_attribute("value") == "agent.east"


def test_an_admin_signs_in_with_a_totp_code(chromium: Chromium, site: ConsoleSite) -> None:
    fresh_start(chromium, site)
    sign_in(chromium, site, "admin.totp", PASSWORD)
    assert chromium.path == "/console/totp"
    violations = accessibility.audit(chromium)
    assert not violations, accessibility.describe(violations)
    chromium.open(site.url(HOME_OF_ROLE["admin"]))
    assert chromium.path != HOME_OF_ROLE["admin"], "a half-signed-in session reached a page"
    chromium.open(site.url("/console/totp"))

    totp = pyotp.TOTP(site.totp_secret)
    near = {totp.at(time.time() + 30 * step) for step in (-2, -1, 0, 1, 2)}
    wrong = next(code for code in ("123456", "654321", "111111") if code not in near)
    enter_totp(chromium, wrong)
    assert chromium.path == "/console/totp"
    assert chromium.text("[role=alert]") == console_text("zh", "totp_wrong")

    enter_totp(chromium, site.totp_code())
    assert chromium.path == HOME_OF_ROLE["admin"], chromium.text()
    sign_out(chromium)


def test_the_language_switch_keeps_the_page(chromium: Chromium, site: ConsoleSite) -> None:
    fresh_start(chromium, site)
    assert chromium.html_lang() == "zh-CN"
    assert chromium.text("h1") == console_text("zh", "sign_in_heading")
    chromium.click_and_wait(chromium.find("a.lang"))
    assert chromium.path == "/console/login"
    assert chromium.html_lang() == "en"
    assert chromium.text("h1") == console_text("en", "sign_in_heading")

    sign_in(chromium, site, "agent.east", PASSWORD)
    assert chromium.html_lang() == "en", "the language outlives the sign-in"
    page = chromium.path
    chromium.click_and_wait(chromium.find("a.lang"))
    assert chromium.path == page
    assert chromium.html_lang() == "zh-CN"
    sign_out(chromium)
