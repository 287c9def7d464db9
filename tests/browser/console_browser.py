"""Chromium on the seeded console as a person uses it: the sign-in form typed into and
submitted, the language chosen, a page of the console opened as one account.

`sign_in(chromium, site, name, password)` goes through the real form and leaves the
browser on whatever page answered (the next step, a role's start page, or the form again
with its message). `visit(chromium, site, account, path, language)` opens a page as
`account`: its first visit signs in through the form, later ones put the session cookie it
got back (sessions live in the database; the cookie is all a browser has).
"""

from __future__ import annotations

import importlib
import pkgutil

import district.console
from district.console.deps import LANG_COOKIE, SESSION_COOKIE
from district.console.strings import text
from tests.browser.chromium_driver import Chromium
from tests.browser.console_site import Account, ConsoleSite
from tests.district.browsing import PASSWORD

LOGIN = "/console/login"
LANGUAGES = ("zh", "en")


def console_text(language: str, key: str, **fields: object) -> str:
    """A text as the console's pages show it. Each area registers its texts when its
    module is imported (as the app does): every module of the console is imported first."""
    for module in pkgutil.iter_modules(district.console.__path__):
        importlib.import_module(f"district.console.{module.name}")
    return text(language, key, **fields)  # type: ignore[arg-type]


def sign_in(chromium: Chromium, site: ConsoleSite, name: str, password: str) -> None:
    """Type `name` and `password` into the sign-in form and press its button."""
    chromium.open(site.url(LOGIN))
    chromium.type_into("#name", name)
    chromium.type_into("#password", password)
    chromium.click_and_wait(chromium.find("form[action$='/login'] button[type=submit]"))


def enter_totp(chromium: Chromium, code: str) -> None:
    chromium.type_into("#code", code)
    chromium.click_and_wait(chromium.find("form[action$='/totp'] button[type=submit]"))


def sign_out(chromium: Chromium) -> None:
    chromium.click_and_wait(chromium.find("form[action$='/logout'] button[type=submit]"))


def fresh_start(chromium: Chromium, site: ConsoleSite) -> None:
    """On `site`'s sign-in page with no cookie at all (both servers of a run share the
    host 127.0.0.1, so their cookies would meet)."""
    chromium.open(site.url(LOGIN))
    chromium.clear_cookies()


def visit(
    chromium: Chromium, site: ConsoleSite, account: Account, path: str, language: str = "zh"
) -> None:
    """Open `path` on `site` as `account` (no TOTP), in `language`."""
    assert not account.totp, "visit() signs in without a second factor"
    fresh_start(chromium, site)
    token = site.sessions.get(account.name)
    if token is None:
        sign_in(chromium, site, account.name, PASSWORD)
        token = chromium.cookie(SESSION_COOKIE)
        assert token, f"{account.name} could not sign in: {chromium.text()}"
        site.sessions[account.name] = token
    else:
        chromium.set_cookie(SESSION_COOKIE, token)
    chromium.set_cookie(LANG_COOKIE, language)
    chromium.open(site.url(path))
