"""A supervisor on a call, with every real part: the kiosk's `CallClient` (aiortc) on a
station enrolled with a real `district serve`, the agent and a supervisor each in their
own headless Chromium on the console's call desk. The agent asks for help with the page's
button; the call shows in the supervisor's list; the supervisor joins and the kiosk sends
them a second stream (its frames checked on the supervisor's page by their stamps) while
the resident is told who watches; chat reaches all three; the supervisor's page passes
axe-core; the supervisor leaves and the call goes on; asked again, the supervisor joins
again and takes the call over: the agent's page hears it was taken over, the kiosk offers
afresh to the supervisor (who now sends their camera: the kiosk sees the test picture),
and the supervisor ends the call with nothing left open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.remote.events import CallState, ChatLine, StateChanged, SupervisorWatching
from tests.browser import accessibility
from tests.browser.chromium_driver import Chromium
from tests.browser.fake_camera import agent_camera_file, looks_like_agent, media_arguments
from tests.browser.test_browser_call import (  # noqa: F401 (the fixtures)
    GROUP,
    READ_SHOWN_JS,
    Camera,
    Events,
    Station,
    agent_browser,
    call_desk,
    district,
    open_calls,
    start_call,
    station,
    take_next,
    wait,
)
from tests.district.test_sync_e2e import DistrictServer

SUPERVISOR = "boss.li"
PASSWORD = "supervisor test password 9"


@pytest.fixture
def supervisor_browser(district: DistrictServer, tmp_path: Path) -> Iterator[Chromium]:  # noqa: F811
    district.cli(
        "user", "add", SUPERVISOR, "--role", "supervisor", "--station-group", GROUP,
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    camera = agent_camera_file(tmp_path)  # the same test picture as the agent's
    browser = Chromium(
        "zh", (*media_arguments(camera), "--autoplay-policy=no-user-gesture-required")
    )
    try:
        browser.open(f"{district.base}/console/login")
        browser.type_into("#name", SUPERVISOR)
        browser.type_into("#password", PASSWORD)
        browser.click_and_wait(browser.find("form[action$='/login'] button[type=submit]"))
        browser.open(f"{district.base}/console/call")
        wait("the supervisor's call socket", lambda: call_desk(browser, "state") == "available")
        yield browser
    finally:
        browser.quit()


def frames_flow(browser: Chromium, what: str) -> None:
    """Stamped kiosk frames on this page's video, newer and newer."""
    first = wait(what, lambda: browser.driver.execute_script(READ_SHOWN_JS))
    wait(f"{what}, newer", lambda: (browser.driver.execute_script(READ_SHOWN_JS) or 0) > first + 10)


def ask_and_join(agent: Chromium, supervisor: Chromium, call: str) -> None:
    agent.find("#ask-help").click()
    wait("the help request at the agent", lambda: call_desk(agent, "supervisor") == "asked")
    wait("the call in the supervisor's list", lambda: call in call_desk(supervisor, "help"))
    wait(
        "the join button",
        lambda: (b := supervisor.find("#help-list button.join")).is_enabled() and b,
    ).click()
    wait("the supervisor watching", lambda: call_desk(supervisor, "watching"))
    wait("the agent told", lambda: call_desk(agent, "supervisor") == "joined")


def test_a_supervisor_joins_leaves_joins_again_and_takes_the_call_over(
    district: DistrictServer,  # noqa: F811
    station: Station,  # noqa: F811
    agent_browser: Chromium,  # noqa: F811
    supervisor_browser: Chromium,
) -> None:
    agent, supervisor = agent_browser, supervisor_browser
    events, camera = Events(), Camera()
    client = start_call(station, events, camera)
    try:
        take_next(agent)
        wait("connected at the kiosk", lambda: events.state() is CallState.CONNECTED)
        call = call_desk(agent, "call")
        assert call_desk(supervisor, "help") == []

        ask_and_join(agent, supervisor, call)
        wait(
            "the resident told who watches",
            lambda: [(e.name, e.watching) for e in events.of(SupervisorWatching)]
            == [(SUPERVISOR, True)],
        )
        frames_flow(supervisor, "the kiosk's second stream on the supervisor's page")
        assert call_desk(supervisor, "call") == call
        assert supervisor.text("#call-station") == "北新街服务站"
        assert events.state() is CallState.CONNECTED  # the agent's leg untouched

        # chat reaches everyone on the call
        supervisor.type_into("#chat-input", "我是组长,我来看一下")
        supervisor.find("#chat-form button[type=submit]").click()
        wait(
            "the supervisor's line at the kiosk",
            lambda: ("我是组长,我来看一下", "supervisor")
            in [(line.text, line.sender) for line in events.of(ChatLine)],
        )
        wait(
            "the supervisor's line at the agent",
            lambda: {"sender": "supervisor", "text": "我是组长,我来看一下"}
            in call_desk(agent, "chat"),
        )
        client.send_chat("好的")
        for page in (agent, supervisor):
            wait(
                "the resident's line on both pages",
                lambda page=page: {"sender": "resident", "text": "好的"} in call_desk(page, "chat"),
            )
        violations = accessibility.audit(supervisor)
        assert not violations, accessibility.describe(violations)

        # leaving: the call goes on
        supervisor.find("#end-call").click()
        wait("the supervisor left", lambda: call_desk(supervisor, "ended") == "left")
        wait("the agent told of it", lambda: call_desk(agent, "supervisor") == "left")
        wait(
            "the kiosk's second stream closed",
            lambda: [e.watching for e in events.of(SupervisorWatching)] == [True, False],
        )
        assert call_desk(agent, "call") == call and events.state() is CallState.CONNECTED

        # asked again: joined again, and taken over
        ask_and_join(agent, supervisor, call)
        frames_flow(supervisor, "the second stream again")
        client.send_chat("还在")
        wait(
            "a line before the takeover",
            lambda: {"sender": "resident", "text": "还在"} in call_desk(supervisor, "chat"),
        )
        connected_before = len(
            [e for e in events.of(StateChanged) if e.state is CallState.CONNECTED]
        )
        supervisor.find("#take-over").click()
        wait("the agent's page: taken over", lambda: call_desk(agent, "ended") == "takeover")
        wait("the supervisor now the call's agent", lambda: not call_desk(supervisor, "watching"))
        wait(
            "connected again at the kiosk, to the supervisor",
            lambda: [
                e.agent for e in events.of(StateChanged) if e.state is CallState.CONNECTED
            ][connected_before:]
            == [SUPERVISOR]
            or None,
            seen=lambda: events.all[-6:],
        )
        assert call_desk(supervisor, "call") == call
        assert {"sender": "resident", "text": "还在"} in call_desk(supervisor, "chat")  # kept
        frames_flow(supervisor, "the kiosk's frames on the supervisor's own leg")

        def kiosk_sees_supervisor() -> bool:
            frame = client.remote_frames.latest()
            return frame is not None and looks_like_agent(frame.image)

        wait("the supervisor's camera at the kiosk", kiosk_sees_supervisor)

        end = supervisor.find("#end-call")
        end.click()
        end.click()  # the second press ends it
        wait("the kiosk's call ended", lambda: events.state() is CallState.ENDED)
        assert events.of(StateChanged)[-1].reason == "agent"
    finally:
        client.stop()
        camera.stop()
    wait("nothing open in the queue", lambda: open_calls(district) == [])
