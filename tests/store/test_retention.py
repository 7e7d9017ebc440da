"""Retention on SQLite and PostgreSQL: finished deliveries go, open ones never do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from syndicator.config import DatabaseSettings, RetentionSettings, Settings
from syndicator.core.retry import AttemptOutcome
from syndicator.core.times import db_time
from syndicator.retention import Pruner, _Size
from syndicator.status import collect_status, format_status
from syndicator.store import Outcome, Store
from syndicator.store import schema as t
from tests.delivery.rows import T0, add_deliveries

DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres").database()
    opened = Store(url)
    opened.migrate()
    yield opened
    opened.close()


def finish(store: Store, ids: list[int], kind: AttemptOutcome, at: datetime) -> None:
    """Record one attempt for each delivery: delivered, dead (permanent) or failed (retry)."""
    outcomes = [
        Outcome(
            i,
            endpoint,
            at,
            kind,
            204 if kind is AttemptOutcome.DELIVERED else 500,
            None if kind is AttemptOutcome.DELIVERED else "HTTP 500",
            "",
            0.01,
            at + timedelta(hours=1) if kind is AttemptOutcome.RETRY else None,
        )
        for i, endpoint in endpoints_of(store, ids).items()
    ]
    store.outbox.record(outcomes, pause_after=1000, now=at)


def endpoints_of(store: Store, ids: list[int]) -> dict[int, str]:
    d = t.deliveries
    with store.db.read() as conn:
        rows = conn.execute(select(d.c.id, d.c.endpoint).where(d.c.id.in_(ids))).all()
    return {row.id: row.endpoint for row in rows}


def statuses(store: Store) -> dict[int, str]:
    d = t.deliveries
    with store.db.read() as conn:
        return {row.id: row.status for row in conn.execute(select(d.c.id, d.c.status))}


def count(store: Store, table: Any) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def add_lonely_events(store: Store, names: list[str], at: datetime) -> None:
    """Events no endpoint wanted: they never had a delivery."""
    with store.db.write() as conn:
        conn.execute(
            insert(t.events),
            [
                {
                    "event_id": name,
                    "type": "article.created",
                    "slug": name,
                    "timestamp": db_time(at),
                    "payload": json.dumps({"type": "article.created"}),
                    "created_at": db_time(at),
                }
                for name in names
            ],
        )


def event_ids(store: Store) -> set[str]:
    with store.db.read() as conn:
        return set(conn.execute(select(t.events.c.event_id)).scalars())


def test_finished_deliveries_past_the_window_go_and_open_ones_stay(store: Store) -> None:
    now = T0 + 40 * DAY
    # Two endpoints per event, so an event can hold one finished and one open delivery.
    ids = add_deliveries(store.outbox, ["a", "b"], 6, at=T0)
    old_delivered, old_dead, old_failed = ids[0:2], ids[2:4], ids[4:6]
    old_pending = ids[6:8]
    mixed = ids[8:10]  # one delivered long ago, one still failing
    recent = ids[10:12]
    finish(store, old_delivered, AttemptOutcome.DELIVERED, T0 + DAY)
    finish(store, old_dead, AttemptOutcome.PERMANENT, T0 + DAY)
    finish(store, old_failed, AttemptOutcome.RETRY, T0 + DAY)
    finish(store, [mixed[0]], AttemptOutcome.DELIVERED, T0 + DAY)
    finish(store, [mixed[1]], AttemptOutcome.RETRY, T0 + DAY)
    finish(store, recent, AttemptOutcome.DELIVERED, now - 29 * DAY)  # inside 30 days
    add_lonely_events(store, ["lonely_old"], T0)
    add_lonely_events(store, ["lonely_new"], now - DAY)
    events_before = event_ids(store)

    report = Pruner(store, days=30, pause=0).run(now)

    left = statuses(store)
    assert sorted(left) == sorted(old_failed + old_pending + [mixed[1]] + recent)
    assert {left[i] for i in old_failed + [mixed[1]]} == {"failed"}
    assert {left[i] for i in old_pending} == {"pending"}
    assert (report.deliveries, report.attempts) == (5, 5)
    # Events 0-1 lost every delivery; 2 (failed), 3 (pending), 4 (mixed), 5 (recent) stay.
    assert events_before - event_ids(store) == {"evt_0", "evt_1", "lonely_old"}
    assert report.events == 3
    with store.db.read() as conn:
        attempts = set(conn.execute(select(t.attempts.c.delivery_id)).scalars())
    assert attempts == set(old_failed + [mixed[1]] + recent)
    # A second run finds nothing more to do.
    again = Pruner(store, days=30, pause=0).run(now)
    assert again.rows == 0


def test_a_fractional_window_and_the_last_attempt_decide(store: Store) -> None:
    ids = add_deliveries(store.outbox, ["a"], 2, at=T0)
    finish(store, [ids[0]], AttemptOutcome.DELIVERED, T0)
    finish(store, [ids[1]], AttemptOutcome.DELIVERED, T0 + timedelta(hours=5))
    # 0.25 days = 6 hours before T0 + 11 h is T0 + 5 h: only the first is older.
    report = Pruner(store, days=0.25, pause=0).run(T0 + timedelta(hours=11))
    assert report.deliveries == 1
    assert list(statuses(store)) == [ids[1]]


def test_a_re_queued_delivery_is_kept(store: Store) -> None:
    ids = add_deliveries(store.outbox, ["a"], 2, at=T0)
    finish(store, ids, AttemptOutcome.PERMANENT, T0)
    store.outbox.requeue([ids[0]], T0 + 60 * DAY)  # `deliveries retry`
    Pruner(store, days=30, pause=0).run(T0 + 60 * DAY)
    assert statuses(store) == {ids[0]: "pending"}
    assert event_ids(store) == {"evt_0"}


def test_many_small_transactions_remove_everything(store: Store) -> None:
    ids = add_deliveries(store.outbox, ["a", "b", "c"], 40, at=T0)
    finish(store, ids, AttemptOutcome.DELIVERED, T0)
    add_lonely_events(store, [f"lonely_{n}" for n in range(25)], T0)
    report = Pruner(store, days=1, batch=7, pause=0).run(T0 + 2 * DAY)
    assert (report.deliveries, report.attempts, report.events) == (120, 120, 65)
    # 120 / 7 → 18 delivery batches, 65 events / 7 → 10 event batches, at least.
    assert report.batches >= 28
    # Where the lock hold comes from, per kind: the longest of them is the longest.
    assert {"deliveries", "events"} <= set(report.longest_by_kind)
    assert max(report.longest_by_kind.values()) == report.longest_batch_seconds
    assert count(store, t.deliveries) == count(store, t.events) == count(store, t.attempts) == 0


def test_a_stopped_pruner_starts_no_further_transaction(store: Store) -> None:
    ids = add_deliveries(store.outbox, ["a"], 30, at=T0)
    finish(store, ids, AttemptOutcome.DELIVERED, T0)
    pruner = Pruner(store, days=1, batch=5, pause=0)
    pruner.stop()
    report = pruner.run(T0 + 2 * DAY)
    assert report.batches == 0
    assert count(store, t.deliveries) == 30


def test_oldest_delivery_is_the_first_kept(store: Store) -> None:
    assert store.outbox.oldest_delivery() is None
    first = add_deliveries(store.outbox, ["a"], 1, at=T0)
    add_deliveries(store.outbox, ["a"], 1, at=T0 + 5 * DAY)
    assert store.outbox.oldest_delivery() == T0
    finish(store, first, AttemptOutcome.DELIVERED, T0)
    Pruner(store, days=2, pause=0).run(T0 + 5 * DAY)
    assert store.outbox.oldest_delivery() == T0 + 5 * DAY


def test_size_is_reported(store: Store) -> None:
    size = store.size_bytes()
    assert size is not None and size > 0


def test_status_reports_the_database(store: Store) -> None:
    settings = Settings(
        database=DatabaseSettings(url=store.url), retention=RetentionSettings(days=7)
    )
    add_deliveries(store.outbox, ["a"], 1, at=T0)
    report = collect_status(settings, store)
    database = report["database"]
    assert database["backend"] == store.dialect
    assert database["size_bytes"] > 0
    assert database["oldest_delivery"] == "2026-07-01T12:00:00Z"
    assert database["retention_days"] == 7
    line = next(x for x in format_status(report).splitlines() if x.startswith("database:"))
    assert f"{store.dialect}, " in line and " MB;" in line
    assert "oldest delivery 2026-07-01T12:00:00Z (kept 7 days once finished)" in line


def test_transactions_start_small_grow_after_quick_ones_and_halve_after_slow_ones() -> None:
    size = _Size(200, target=0.025)
    assert size.now == 10  # slow start: the first transaction reads cold pages
    size.took(0.001)
    size.took(0.001)
    assert size.now == 40
    for _ in range(10):
        size.took(0.001)
    assert size.now == 200  # never above the largest
    size.took(0.1)
    size.took(0.03)
    assert size.now == 50
    for _ in range(10):
        size.took(0.2)
    assert size.now == 10  # never below the smallest
    size.took(0.02)  # between half the target and the target: unchanged
    assert size.now == 10
    assert _Size(5, target=0.025).now == 5  # a largest below the smallest wins


def test_every_run_starts_with_small_transactions_and_grows(store: Store) -> None:
    sizes: list[int] = []
    prune = store.outbox.prune_deliveries

    def recorded(before: datetime, limit: int) -> tuple[int, int]:
        sizes.append(limit)  # the size each transaction was asked to take on
        return prune(before, limit)

    store.outbox.prune_deliveries = recorded  # type: ignore[method-assign]
    # A target of an hour: every transaction is quick, so each doubles the next.
    pruner = Pruner(store, days=1, pause=0, target=3600)
    for day in (0, 10):
        ids = add_deliveries(store.outbox, ["a", "b", "c"], 40, at=T0 + day * DAY)
        finish(store, ids, AttemptOutcome.DELIVERED, T0 + day * DAY)
        sizes.clear()
        report = pruner.run(T0 + (day + 2) * DAY)
        assert report.deliveries == 120
        # 10 + 20 + 40 + 50 (fewer than asked: the end); a later run starts small again.
        assert sizes == [10, 20, 40, 80], day
