"""The console's whole point, end to end with real parts, on SQLite and on PostgreSQL: a
real kiosk (`kiosk applications new`, `kiosk sync --once`) sent applications; an agent in
Chromium finds them in the inbox, opens one, decides it through the page's form (accept;
another: ask for more, with what is missing); the kiosk's next `kiosk sync --once` brings
the decisions home, and `kiosk applications list --json` shows them. Also: a decision
made meanwhile is not overwritten, another group's application does not exist, and the
materials and the full identity open only for a reason, each an audit entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver.support.select import Select

from tests.browser import accessibility
from tests.browser.chromium_driver import Chromium
from tests.browser.console_browser import console_text, visit
from tests.browser.console_site import ACCOUNTS, ConsoleSite, by_role
from tests.personal import RESIDENT

MISSING = "请补交户口簿首页和本人页的复印件各一份。"


def decide(chromium: Chromium, state: str, reason: str = "") -> None:
    """Choose `state` in the application page's decision form, give the reason, send it."""
    chromium.find(f"#to-{state}").click()
    if reason:
        chromium.type_into("#decision-reason", reason)
    chromium.click_and_wait(chromium.find("form[action$='/decision'] button[type=submit]"))


def test_an_agent_decides_what_a_real_kiosk_synced(chromium: Chromium, site: ConsoleSite) -> None:
    east, west = site.stations["EAST01"], site.stations["WEST01"]
    to_accept, to_complete = east.application_ids[0], east.application_ids[1]

    visit(chromium, site, by_role("agent"), "/console/inbox")
    inbox = chromium.driver.page_source
    for application_id in east.application_ids:
        assert f"/console/applications/{application_id}" in inbox
    assert west.application_ids[0] not in inbox, "another group's application in the inbox"

    chromium.click_and_wait(chromium.find(f"a[href='/console/applications/{to_accept}']"))
    assert chromium.path == f"/console/applications/{to_accept}"
    shown = chromium.driver.page_source
    assert RESIDENT["name"] not in shown and RESIDENT["ssn"] not in shown
    assert "张*丰" in shown, "the resident's name is not shown masked"
    decide(chromium, "accepted")
    assert chromium.path == f"/console/applications/{to_accept}?done=accepted"
    assert chromium.text("[role=status]") == console_text(
        "zh", "application_decision_done", state=console_text("zh", "inbox_state_accepted")
    )

    chromium.open(site.url("/console/inbox"))
    chromium.click_and_wait(chromium.find(f"a[href='/console/applications/{to_complete}']"))
    decide(chromium, "needs_more", MISSING)
    assert chromium.path == f"/console/applications/{to_complete}?done=needs_more"
    assert MISSING in chromium.text()

    report = east.kiosk.sync()
    assert report["pass"]["changes"] >= 2, report  # other tests decide others of the station
    held = east.kiosk.applications()
    assert held[to_accept]["state"] == "accepted"
    assert (held[to_complete]["state"], held[to_complete]["reason"]) == ("needs_more", MISSING)
    assert west.kiosk.sync()["pass"]["changes"] == 0, "the other station heard of it"


def test_a_decision_made_meanwhile_is_not_overwritten(
    chromium: Chromium, site: ConsoleSite
) -> None:
    east = site.stations["EAST01"]
    target = east.application_ids[2]
    visit(chromium, site, by_role("agent"), f"/console/applications/{target}")
    site.server.cli("applications", "set-state", target, "rejected", "--reason", "重复申请")
    decide(chromium, "accepted")
    assert chromium.navigation_status() == 409
    assert chromium.text("[role=alert]") == console_text("zh", "application_decision_overtaken")
    listed = {row["id"]: row for row in site.server.applications()}
    assert listed[target]["state"] == "rejected"


def test_another_groups_application_does_not_exist_for_an_agent(
    chromium: Chromium, site: ConsoleSite
) -> None:
    east = site.stations["EAST01"]
    path = f"/console/applications/{east.application_ids[0]}"
    visit(chromium, site, by_role("agent"), path)
    assert chromium.navigation_status() == 200
    assert "EAST01-" in chromium.text("h1")
    west_agent = next(a for a in ACCOUNTS if a.role == "agent" and a.group == "west")
    visit(chromium, site, west_agent, path)
    assert chromium.navigation_status() == 404
    assert "EAST01" not in chromium.driver.page_source


def test_an_agent_opens_the_materials_and_the_identity_for_a_reason(
    chromium: Chromium, site: ConsoleSite, screenshots: Path
) -> None:
    east = site.stations["EAST01"]
    target = east.application_ids[3]
    agent = by_role("agent")
    chromium.viewport(1920, 1080)
    visit(chromium, site, agent, f"/console/applications/{target}")
    assert not chromium.find_all(".viewer img"), "materials shown before any reason"

    Select(chromium.find("#reason-materials")).select_by_value("review")
    chromium.click_and_wait(chromium.find("form.reveal:has(#reason-materials) button"))
    images = chromium.find_all(".viewer img")
    assert len(images) == 2, "the kiosk sent two sample pages"
    for image in images:
        assert chromium.driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        ), "a material did not load"
    chromium.find("[data-view=rotate][aria-controls=viewer-0]").click()
    turned = chromium.driver.execute_script("return getComputedStyle(arguments[0]).transform",
                                            images[0])
    assert turned not in ("", "none"), "the rotate button did nothing"
    violations = accessibility.audit(chromium)
    assert not violations, accessibility.describe(violations)
    chromium.screenshot(screenshots / "agent-application-materials-1920x1080-zh.png")

    assert RESIDENT["name"] not in chromium.driver.page_source
    Select(chromium.find("#reason-identity")).select_by_value("enquiry")
    chromium.click_and_wait(chromium.find("form.reveal:has(#reason-identity) button"))
    assert RESIDENT["name"] in chromium.text(), "the full identity was not revealed"

    entries: Any = site.server.cli("audit", "list", "--account", agent.name, "--json")
    opened = {(e["action"], e["record"]) for e in entries}
    for action in ("materials_opened", "identity_revealed"):
        assert (action, f"application:{target}") in opened, entries[-5:]
