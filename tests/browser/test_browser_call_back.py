"""An agent calls a station back, with every real part: the kiosk's `CallClient` on its
standby socket (a station enrolled with a real `district serve`) and the agent in
headless Chromium. The agent opens the call-back page and presses the button of an open
request; the call desk calls the station; the kiosk rings (`IncomingCall`), the resident
answers, frames reach the page (by their stamps) and the request is marked done by that
agent. A second request is declined at the station, a third rings out: the page says so
and both requests stay open."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from district.callbacks import phone_context
from district.models import CallbackRequest, User
from kiosk.remote import client as client_module
from kiosk.remote.events import CallRequestInfo, CallState, IncomingCall, RingEnded
from kiosk.sync.client import enrollment
from tests.browser.chromium_driver import Chromium
from tests.browser.test_browser_call import (  # noqa: F401 (the fixtures)
    AGENT,
    READ_SHOWN_JS,
    Camera,
    Events,
    Station,
    agent_browser,
    call_client,
    call_desk,
    district,
    open_calls,
    station,
    wait,
)
from tests.district.test_sync_e2e import DistrictServer


def add_callback(server: DistrictServer, at: Station) -> str:
    """An open call-back request of the station (as `POST /v1/callbacks:batch` stores it)."""
    enrolled = enrollment(at.kiosk.store)
    assert enrolled is not None
    callback_id = str(uuid.uuid4())
    db = server.database()
    with db.write() as connection:
        connection.execute(
            CallbackRequest.__table__.insert().values(
                id=callback_id,
                station_id=enrolled.station_id,
                item_code="MI-001",
                item_title="医保参保登记",
                phone_sealed=db.vault.seal(b"13800138000", phone_context(callback_id)),
                preferred="today",
                requested_at=datetime.now(UTC),
                received_at=datetime.now(UTC),
            )
        )
    return callback_id


def callback_state(server: DistrictServer, callback_id: str) -> tuple[str, str | None]:
    with server.database().read() as connection:
        row = connection.execute(
            select(CallbackRequest.state, User.name)
            .outerjoin(User, User.id == CallbackRequest.done_by)
            .where(CallbackRequest.id == callback_id)
        ).one()
    return row.state, row.name


def call_station(browser: Chromium, server: DistrictServer, callback_id: str) -> None:
    """The agent presses the request's button on the call-back page."""
    browser.open(f"{server.base}/console/callbacks")
    browser.click_and_wait(browser.find(f"a[href$='/call?callback={callback_id}']"))
    wait("the page calling the station", lambda: call_desk(browser, "ringing"))


def test_an_agent_calls_the_station_back_answered_declined_and_rung_out(
    district: DistrictServer,  # noqa: F811
    station: Station,  # noqa: F811
    agent_browser: Chromium,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "RING_S", 4.0)  # the third call rings out sooner
    browser = agent_browser
    events, camera = Events(), Camera()
    client = call_client(station, events, camera)
    answered, declined, rung_out = (add_callback(district, station) for _ in range(3))
    try:
        client.listen()
        wait("the standby socket", lambda: station.proxy.stats.connections > 0)

        call_station(browser, district, answered)
        (incoming,) = wait("the station ringing", lambda: events.of(IncomingCall))
        assert (incoming.agent, incoming.item_title, incoming.callback) == (
            AGENT,
            "医保参保登记",
            answered,
        )
        assert call_desk(browser, "call") == incoming.call
        client.answer(incoming.call, CallRequestInfo(item_code=incoming.item_code))
        wait("connected at the kiosk", lambda: events.state() is CallState.CONNECTED)
        first = wait(
            "a kiosk frame on the page", lambda: browser.driver.execute_script(READ_SHOWN_JS)
        )
        wait(
            "newer kiosk frames on the page",
            lambda: (browser.driver.execute_script(READ_SHOWN_JS) or 0) > first + 10,
        )
        assert not call_desk(browser, "ringing")
        wait("the request done", lambda: callback_state(district, answered) == ("done", AGENT))
        client.end()
        wait("the page's call ended", lambda: call_desk(browser, "ended") == "resident")

        call_station(browser, district, declined)
        wait("ringing again", lambda: len(events.of(IncomingCall)) == 2)
        client.decline(events.of(IncomingCall)[-1].call)
        wait("the page: declined", lambda: call_desk(browser, "ended") == "declined")

        call_station(browser, district, rung_out)
        wait("ringing a third time", lambda: len(events.of(IncomingCall)) == 3)
        wait("the page: no answer", lambda: call_desk(browser, "ended") == "no_answer")
        assert [ended.reason for ended in events.of(RingEnded)] == ["declined", "no_answer"]
    finally:
        client.stop()
        camera.stop()
    assert callback_state(district, declined) == ("open", None)
    assert callback_state(district, rung_out) == ("open", None)
    wait("nothing open in the queue", lambda: open_calls(district) == [])
