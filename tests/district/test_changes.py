"""Agents' decisions and the changes stations download by cursor: transitions, paging,
each station seeing only its own, and 'start over' for a cursor the server does not know."""

from __future__ import annotations

import pytest

from district.applications import list_applications, reset_cursors, set_state
from district.db import Database
from district.errors import NotFound, Refused
from tests.district.conftest import Kiosk, MakeStation, snapshot


@pytest.fixture
def uploaded(kiosk: Kiosk, catalog: object) -> list[str]:
    applications = [kiosk.application(number=n) for n in range(1, 6)]
    answer = kiosk.upload(*applications)
    assert answer.status_code == 200
    return [a["id"] for a in applications]


def changes(kiosk: Kiosk, **params: object) -> dict:
    answer = kiosk.request("GET", "/v1/changes", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_no_changes_yet(kiosk: Kiosk, uploaded: list[str]) -> None:
    first = changes(kiosk)
    assert first["changes"] == [] and not first["more"] and not first["reset"]
    assert changes(kiosk, cursor=first["cursor"])["cursor"] == first["cursor"]


def test_decisions_reach_the_station_in_order_and_by_pages(
    db: Database, kiosk: Kiosk, uploaded: list[str]
) -> None:
    set_state(db, uploaded[0], "accepted")
    set_state(db, uploaded[1], "rejected", "材料不全 / papers missing")
    set_state(db, uploaded[0], "ready_for_pickup")
    set_state(db, uploaded[2], "accepted")
    set_state(db, uploaded[0], "completed")
    page = changes(kiosk, limit=2)
    assert page["more"] is True
    seen = page["changes"]
    while page["more"]:
        page = changes(kiosk, cursor=page["cursor"], limit=2)
        seen += page["changes"]
    assert [(c["application_id"], c["state"]) for c in seen] == [
        (uploaded[0], "accepted"),
        (uploaded[1], "rejected"),
        (uploaded[0], "ready_for_pickup"),
        (uploaded[2], "accepted"),
        (uploaded[0], "completed"),
    ]
    assert seen[1]["reason"] == "材料不全 / papers missing"
    assert changes(kiosk, cursor=page["cursor"])["changes"] == []
    set_state(db, uploaded[3], "rejected", "duplicate")
    later = changes(kiosk, cursor=page["cursor"])
    assert [(c["application_id"], c["state"]) for c in later["changes"]] == [
        (uploaded[3], "rejected")
    ]
    states = {row["id"]: row["state"] for row in list_applications(db)}
    assert states[uploaded[0]] == "completed"
    assert states[uploaded[4]] == "submitted"


def test_a_station_sees_only_its_own_changes(
    db: Database, make_station: MakeStation, catalog: object
) -> None:
    one, two = make_station("One"), make_station("Two")
    a, b = one.application(), two.application()
    assert one.upload(a).status_code == 200 and two.upload(b).status_code == 200
    set_state(db, a["id"], "accepted")
    set_state(db, b["id"], "accepted")
    assert [c["application_id"] for c in changes(one)["changes"]] == [a["id"]]
    assert [c["application_id"] for c in changes(two)["changes"]] == [b["id"]]


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "00000000-0000-0000-0000-000000000000.1", "x.y", ".", "1", "-1", "é" * 50],
)
def test_an_unknown_cursor_gets_start_over(
    db: Database, kiosk: Kiosk, uploaded: list[str], cursor: str
) -> None:
    set_state(db, uploaded[0], "accepted")
    answer = changes(kiosk, cursor=cursor)
    assert answer == {"changes": [], "cursor": None, "more": False, "reset": True}
    assert len(changes(kiosk)["changes"]) == 1  # starting over works


def test_a_cursor_past_the_newest_change_gets_start_over(
    db: Database, kiosk: Kiosk, uploaded: list[str]
) -> None:
    set_state(db, uploaded[0], "accepted")
    cursor = changes(kiosk)["cursor"]
    epoch, _, seq = cursor.rpartition(".")
    assert changes(kiosk, cursor=f"{epoch}.{int(seq) + 100}")["reset"] is True


def test_cursors_reset_after_a_restore(db: Database, kiosk: Kiosk, uploaded: list[str]) -> None:
    set_state(db, uploaded[0], "accepted")
    cursor = changes(kiosk)["cursor"]
    reset_cursors(db)
    assert changes(kiosk, cursor=cursor)["reset"] is True


@pytest.mark.parametrize("limit", [0, -1, 1001, "many"])
def test_a_bad_limit_is_refused(db: Database, kiosk: Kiosk, limit: object) -> None:
    before = snapshot(db)
    answer = kiosk.request("GET", "/v1/changes", params={"limit": limit})
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed"
    assert snapshot(db) == before


ALLOWED = {
    ("submitted", "accepted"),
    ("submitted", "rejected"),
    ("accepted", "ready_for_pickup"),
    ("accepted", "completed"),
    ("accepted", "rejected"),
    ("ready_for_pickup", "completed"),
}
PATHS = {  # how to reach each state from submitted
    "submitted": [],
    "accepted": ["accepted"],
    "ready_for_pickup": ["accepted", "ready_for_pickup"],
    "completed": ["accepted", "completed"],
    "rejected": ["rejected"],
}


@pytest.mark.parametrize("start", list(PATHS))
def test_only_the_allowed_transitions_happen(
    db: Database, kiosk: Kiosk, catalog: object, start: str
) -> None:
    for target in ("accepted", "ready_for_pickup", "completed", "rejected"):
        application = kiosk.application()
        assert kiosk.upload(application).status_code == 200
        for step in PATHS[start]:
            set_state(db, application["id"], step, "why")
        before = snapshot(db)
        if (start, target) in ALLOWED:
            set_state(db, application["id"], target, "why")
        else:
            with pytest.raises(Refused):
                set_state(db, application["id"], target, "why")
            assert snapshot(db) == before


def test_a_rejection_needs_a_reason(db: Database, uploaded: list[str]) -> None:
    with pytest.raises(Refused):
        set_state(db, uploaded[0], "rejected")
    with pytest.raises(Refused):
        set_state(db, uploaded[0], "rejected", "   ")
    with pytest.raises(Refused):
        set_state(db, uploaded[0], "submitted")
    with pytest.raises(NotFound):
        set_state(db, "00000000-0000-0000-0000-000000000000", "accepted")
