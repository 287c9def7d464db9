"""Applications: the state machine, ids and references, the outbox, and sealed personal data."""

from __future__ import annotations

import itertools
import multiprocessing
import uuid
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import Paths
from kiosk.core.applications import (
    DISCARDABLE,
    TRANSITIONS,
    ApplicationNotFound,
    Applications,
    State,
    check_transition,
)
from kiosk.core.catalog import parse_catalog
from kiosk.core.references import PATTERN
from kiosk.errors import IllegalTransition
from kiosk.store.db import Store
from tests.catalog_files import VALID
from tests.personal import RESIDENT

ITEM = parse_catalog(VALID).get("MI-001")

HAPPY_PATH = [State.READY, State.QUEUED, State.SUBMITTED, State.ACCEPTED, State.COMPLETED]


def test_an_application_walks_the_happy_path_with_its_history(store: Store) -> None:
    applications = Applications(store, "ST01")
    created = applications.create(ITEM, RESIDENT, today=date(2026, 11, 23))
    assert uuid.UUID(created.id).version == 4
    assert created.reference == "ST01-20261123-0001"
    assert created.state is State.DRAFT
    for target in HAPPY_PATH:
        view = applications.transition(created.id, target)
        assert view.state is target
        assert view.id == created.id and view.reference == created.reference
    with store.read() as session:
        from kiosk.store.models import Application

        history = session.get(Application, created.id).history
        assert [(h.from_state, h.to_state) for h in history] == list(
            itertools.pairwise([None, State.DRAFT, *HAPPY_PATH])
        )


@pytest.mark.parametrize(("current", "target"), list(itertools.product(State, State)))
def test_only_the_declared_transitions_are_allowed(current: State, target: State) -> None:
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_every_state_is_reachable_and_rejected_and_completed_are_final() -> None:
    reachable, frontier = {State.DRAFT}, [State.DRAFT]
    while frontier:
        for following in TRANSITIONS[frontier.pop()]:
            if following not in reachable:
                reachable.add(following)
                frontier.append(following)
    assert reachable == set(State)
    assert not TRANSITIONS[State.REJECTED] and not TRANSITIONS[State.COMPLETED]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list(State)), max_size=12))
def test_random_requests_follow_the_machine_and_an_illegal_one_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory, targets: list[State]
) -> None:
    store = Store.open(Paths(tmp_path_factory.mktemp("data")))
    try:
        applications = Applications(store, "ST01")
        application_id = applications.create(ITEM).id
        expected = State.DRAFT
        for target in targets:
            if target in TRANSITIONS[expected]:
                applications.transition(application_id, target)
                expected = target
            else:
                with pytest.raises(IllegalTransition):
                    applications.transition(application_id, target)
            assert applications.get(application_id).state is expected
        assert (application_id in applications.outbox()) == (
            expected not in {State.DRAFT, State.READY}
        )
    finally:
        store.close()


def test_queueing_enters_the_outbox_in_order(store: Store) -> None:
    applications = Applications(store, "ST01")
    ids = [applications.create(ITEM).id for _ in range(3)]
    for application_id in reversed(ids):
        applications.transition(application_id, State.READY)
        applications.transition(application_id, State.QUEUED)
    assert applications.outbox() == list(reversed(ids))


def test_references_count_per_station_and_day(store: Store) -> None:
    day, next_day = date(2026, 11, 23), date(2026, 11, 24)
    first = Applications(store, "ST01")
    other = Applications(store, "ST02")
    assert [first.create(ITEM, today=day).reference for _ in range(2)] == [
        "ST01-20261123-0001",
        "ST01-20261123-0002",
    ]
    assert other.create(ITEM, today=day).reference == "ST02-20261123-0001"
    assert first.create(ITEM, today=next_day).reference == "ST01-20261124-0001"
    # the clock went back a day: the counter carries on, nothing repeats
    assert first.create(ITEM, today=day).reference == "ST01-20261123-0003"


def _create_many(data_dir: str, count: int) -> list[str]:
    store = Store.open(Paths(Path(data_dir)))
    try:
        applications = Applications(store, "ST01")
        return [applications.create(ITEM, today=date(2026, 11, 23)).reference for _ in range(count)]
    finally:
        store.close()


def test_two_processes_never_share_a_reference(data_dir: Path) -> None:
    Store.open(Paths(data_dir)).close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        batches = pool.starmap(_create_many, [(str(data_dir), 40), (str(data_dir), 40)])
    references = [reference for batch in batches for reference in batch]
    assert len(set(references)) == 80
    assert all(PATTERN.match(reference) for reference in references)


def test_materials_are_stored_as_blobs_and_only_drafts_take_them(store: Store) -> None:
    applications = Applications(store, "ST01")
    application = applications.create(ITEM, RESIDENT)
    page = b"\x89PNG fake page" * 100
    sha = applications.add_material(application.id, page, media_type="image/png", kind="page")
    assert store.blobs.get(sha) == page
    assert applications.get(application.id).material_count == 1
    applications.transition(application.id, State.READY)
    applications.transition(application.id, State.QUEUED)
    with pytest.raises(IllegalTransition):
        applications.add_material(application.id, page, media_type="image/png", kind="page")
    with pytest.raises(IllegalTransition):
        applications.discard(application.id)
    with pytest.raises(IllegalTransition):
        applications.set_form(application.id, {"phone": "x"})


def test_a_walked_away_draft_is_discarded_entirely(store: Store) -> None:
    applications = Applications(store, "ST01")
    application = applications.create(ITEM, RESIDENT)
    applications.discard(application.id)
    with pytest.raises(ApplicationNotFound):
        applications.get(application.id)
    assert {State.DRAFT, State.READY} == DISCARDABLE


def test_personal_data_is_sealed_in_the_database(store: Store) -> None:
    applications = Applications(store, "ST01")
    application = applications.create(ITEM, RESIDENT)
    applications.set_form(application.id, {"address": "浦东新区世纪大道100号"})
    assert applications.resident(application.id) == RESIDENT
    assert applications.form(application.id) == {"address": "浦东新区世纪大道100号"}
    store.close()
    raw = b"".join(
        path.read_bytes()
        for path in store.paths.data_dir.rglob("*")
        if path.is_file() and path != store.paths.station_key
    )
    for secret in (*RESIDENT.values(), "世纪大道"):
        for encoding in ("utf-8", "utf-16-le", "gbk"):
            assert secret.encode(encoding) not in raw, (secret, encoding)
