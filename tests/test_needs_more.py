"""needs_more (补正) on the kiosk: the state and its steps, the changes feed reading a state
this kiosk does not know without failing, and the supplement notice (补正通知) printed for
the resident: what is missing in the agent's words, the reference (printed and as a QR
code), the applicant masked, on A4 and on the 80 mm roll, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from reportlab.lib.units import mm

from kiosk.config import StationSettings
from kiosk.core.applications import Applications, State, apply_remote
from kiosk.core.catalog_store import load_catalog
from kiosk.documents import DocumentError, render_supplement, supplement_from_store
from kiosk.errors import IllegalTransition
from kiosk.store.db import Store
from kiosk.store.models import Application
from kiosk.sync.wire import ChangesAnswer, RemoteState
from tests.pdfcheck import assert_fonts_embedded, page_info, qr_codes, text_of, words_outside
from tests.personal import RESIDENT

MISSING = "请补交户口簿复印件一份，并带上原件核验"
STATION = StationSettings(code="ST0001", name_zh="测试街道服务站", name_en="Test Street",
                          phone="021-12345678")


def sent(store: Store) -> str:
    """An application the district has (submitted)."""
    applications = Applications(store, "ST0001")
    item = load_catalog(store).get("MI-001")
    view = applications.create(item, dict(RESIDENT))
    for state in (State.READY, State.QUEUED, State.SUBMITTED):
        applications.transition(view.id, state)
    return view.id


def test_needs_more_is_a_remote_state_with_its_reason(store: Store) -> None:
    application_id = sent(store)
    with store.write() as session:
        application = session.get(Application, application_id)
        assert apply_remote(session, application, State.NEEDS_MORE, MISSING)
        assert not apply_remote(session, application, State.NEEDS_MORE, MISSING)  # twice
    view = Applications(store, "ST0001").get(application_id)
    assert (view.state, view.reason) == (State.NEEDS_MORE, MISSING)
    with store.write() as session:
        application = session.get(Application, application_id)
        assert apply_remote(session, application, State.ACCEPTED, None)
    assert Applications(store, "ST0001").get(application_id).state is State.ACCEPTED


def test_needs_more_steps_as_the_district_allows(store: Store) -> None:
    applications = Applications(store, "ST0001")
    application_id = sent(store)
    applications.transition(application_id, State.NEEDS_MORE, reason=MISSING)
    with pytest.raises(IllegalTransition):
        applications.transition(application_id, State.COMPLETED)
    applications.transition(application_id, State.REJECTED, reason="逾期未补正")


def test_a_state_the_kiosk_does_not_know_does_not_fail_the_answer() -> None:
    answer = ChangesAnswer.model_validate_json(
        '{"changes": ['
        '{"application_id": "6b0f8a43-8d6c-4e0e-9d0c-1b2d3e4f5a6b", "state": "needs_more",'
        ' "reason": "x", "at": "2026-12-06T09:00:00Z"},'
        '{"application_id": "6b0f8a43-8d6c-4e0e-9d0c-1b2d3e4f5a6c", "state": "on_hold",'
        ' "at": "2026-12-06T09:01:00Z"}], "cursor": "e.2"}'
    )
    known, unknown = answer.changes
    assert known.state is RemoteState.NEEDS_MORE
    assert unknown.state == "on_hold" and not isinstance(unknown.state, RemoteState)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("roll", [False, True])
def test_the_supplement_notice(store: Store, tmp_path: Path, lang: str, roll: bool) -> None:
    application_id = sent(store)
    Applications(store, "ST0001").transition(application_id, State.NEEDS_MORE, reason=MISSING)
    data = supplement_from_store(
        store, application_id, STATION, now=datetime(2026, 12, 6, 10, tzinfo=UTC), lang=lang
    )
    path = tmp_path / f"supplement-{lang}-{roll}.pdf"
    path.write_bytes(render_supplement(data, roll=roll))
    shown = text_of(path).replace("\n", "")
    assert MISSING in shown
    assert data.reference in shown
    title = "补正通知" if lang == "zh" else "Supplement notice"
    assert title in (shown.replace(" ", "") if lang == "zh" else shown)
    assert RESIDENT["ssn"] not in shown and RESIDENT["name"] not in shown
    assert data.applicant_id in shown  # masked
    assert data.reference in qr_codes(path, tmp_path, dpi=200)
    assert_fonts_embedded(path)
    pages, width, _height = page_info(path)
    assert pages == 1
    if roll:
        assert width == pytest.approx(80 * mm, abs=1)
        assert words_outside(path, 4 * mm, 4 * mm) == []


def test_only_an_application_waiting_for_more_has_a_notice(store: Store) -> None:
    application_id = sent(store)
    with pytest.raises(DocumentError):
        supplement_from_store(store, application_id, STATION, now=datetime.now(UTC))
