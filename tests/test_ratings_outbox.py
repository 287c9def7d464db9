"""Ratings in the kiosk's store: each rating and its queue entry in one transaction, staff
comments (queued again, bounded), today's list, the `kiosk ratings` commands, and the
one-time import of the ratings.jsonl older kiosks wrote. (Against the district, with
faults and kills: tests/district/test_ratings_sync.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kiosk.cli import main
from kiosk.core.applications import Applications
from kiosk.core.catalog_store import load_catalog
from kiosk.core.ratings import RatingRefused, Ratings, import_ratings_file
from kiosk.store.db import Store
from kiosk.store.models import Rating, RatingOutboxEntry
from kiosk.sync.wire import MAX_COMMENT


def queue(store: Store) -> list[str]:
    with store.read() as session:
        return list(
            session.scalars(
                select(RatingOutboxEntry.rating_id).order_by(RatingOutboxEntry.sequence)
            )
        )


def test_a_rating_is_stored_and_queued_together(store: Store) -> None:
    ratings = Ratings(store)
    made = ratings.add(4, application_id=None, item_code="MI-001")
    assert queue(store) == [made.id]
    assert ratings.get(made.id).score == 4 and ratings.queued() == 1


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_out_of_range_stores_nothing(store: Store, score: int) -> None:
    with pytest.raises(RatingRefused):
        Ratings(store).add(score)
    assert queue(store) == []


def test_a_failed_write_leaves_neither_the_rating_nor_its_entry(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.core import ratings as module

    def broken(session: object, rating_id: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(module, "_queue", broken)
    with pytest.raises(OSError):
        Ratings(store).add(5)
    with store.read() as session:
        assert session.scalars(select(Rating)).all() == []


def test_a_comment_queues_the_rating_again_at_the_back(store: Store) -> None:
    ratings = Ratings(store)
    first, second = ratings.add(2), ratings.add(5)
    with store.write() as session:  # as the sync does once the district has them
        session.query(RatingOutboxEntry).delete()
    ratings.comment(second.id, "  排队时间长  ")
    ratings.comment(first.id, "窗口很耐心")
    assert queue(store) == [second.id, first.id]
    assert ratings.get(second.id).comment == "排队时间长"
    ratings.comment(second.id, "更正")
    assert queue(store) == [first.id, second.id]  # one entry per rating, the newest last


def test_a_comment_is_bounded_and_needs_a_rating(store: Store) -> None:
    ratings = Ratings(store)
    made = ratings.add(3)
    with pytest.raises(RatingRefused):
        ratings.comment(made.id, "长" * (MAX_COMMENT + 1))
    with pytest.raises(RatingRefused):
        ratings.comment("00000000-0000-4000-8000-000000000000", "x")
    ratings.comment(made.id, "长" * MAX_COMMENT)


def test_todays_ratings_newest_first(store: Store) -> None:
    ratings = Ratings(store)
    now = datetime.now().astimezone()
    yesterday = ratings.add(1, rated_at=now - timedelta(days=1))
    early = ratings.add(2, rated_at=now.replace(hour=0, minute=1))
    late = ratings.add(3, rated_at=now.replace(hour=23, minute=59))
    assert [v.id for v in ratings.on_day(now)] == [late.id, early.id]
    assert yesterday.id not in {v.id for v in ratings.on_day(now)}


def test_the_ratings_file_of_an_older_kiosk_is_imported_once(
    store: Store, data_dir: Path
) -> None:
    item = load_catalog(store).get("MI-001")
    application = Applications(store, "DEMO01").create(item, None)
    lines = [
        json.dumps({"at": "2026-11-30T09:00:00+00:00", "reference": application.reference,
                    "item": "MI-001", "rating": 5}),
        json.dumps({"at": "2026-11-30T10:00:00+00:00", "reference": "", "item": None,
                    "rating": 2}),
        json.dumps({"at": "2026-11-30T10:00:00+00:00", "reference": "", "item": "bad code",
                    "rating": 2}),
        "not json",
        json.dumps({"at": "2026-11-30T11:00:00+00:00", "rating": 9}),
        "",
    ]
    path = data_dir / "ratings.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert import_ratings_file(store, data_dir) == 3
    assert not path.exists() and (data_dir / "ratings.jsonl.imported").exists()
    with store.read() as session:
        rows = session.scalars(select(Rating).order_by(Rating.rated_at, Rating.item_code)).all()
        assert [(r.score, r.application_id, r.item_code) for r in rows] == [
            (5, application.id, "MI-001"), (2, None, None), (2, None, None)
        ]
        assert rows[0].rated_at == datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert len(queue(store)) == 3
    assert import_ratings_file(store, data_dir) == 0  # nothing left to import


def test_an_import_cut_short_is_finished_without_doubles(store: Store, data_dir: Path) -> None:
    path = data_dir / "ratings.jsonl"
    line = json.dumps({"at": "2026-11-30T09:00:00+00:00", "reference": "", "item": "MI-001",
                       "rating": 4})
    path.write_text(line + "\n", encoding="utf-8")
    import_ratings_file(store, data_dir)
    (data_dir / "ratings.jsonl.imported").rename(path)  # as if the rename never happened
    assert import_ratings_file(store, data_dir) == 0
    assert len(queue(store)) == 1


def test_staff_comment_from_the_command_line(store: Store, data_dir: Path) -> None:
    made = Ratings(store).add(1, item_code="MI-001")
    runner = CliRunner()
    listed = runner.invoke(main, ["ratings", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [shown] = json.loads(listed.output)
    assert (shown["id"], shown["score"], shown["queued"]) == (made.id, 1, True)
    said = runner.invoke(main, ["ratings", "comment", made.id, "老人家说字太小"])
    assert said.exit_code == 0, said.output
    assert Ratings(store).get(made.id).comment == "老人家说字太小"
    refused = runner.invoke(main, ["ratings", "comment", made.id, "x" * 201])
    assert refused.exit_code == 1
