"""The console's figures over the outbox (rates, nearest-rank percentiles, per-minute
counts) and the manual pause, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from syndicator.core.retry import AttemptOutcome
from syndicator.store import Outbox, Outcome, Store
from tests.delivery.rows import T0, add_deliveries

LEASE = timedelta(seconds=60)


@pytest.fixture
def outbox(make_database_url: Callable[[], str]) -> Iterator[Outbox]:
    store = Store(make_database_url())
    store.migrate()
    try:
        yield store.outbox
    finally:
        store.close()


def attempt(delivery_id: int, endpoint: str, at: datetime, ms: int, ok: bool = True) -> Outcome:
    return Outcome(
        delivery_id,
        endpoint,
        at,
        AttemptOutcome.DELIVERED if ok else AttemptOutcome.RETRY,
        204 if ok else 503,
        None if ok else "HTTP 503",
        "" if ok else "busy",
        ms / 1000,
        None if ok else at + timedelta(seconds=5),
    )


def nearest_rank(values: list[int], percent: int) -> int:
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil
    return ordered[rank - 1]


def test_rates_and_percentiles_per_endpoint_and_window(outbox: Outbox) -> None:
    ids = add_deliveries(outbox, ["crm", "search"], 120)
    crm, search = ids[0::2], ids[1::2]
    rng = random.Random(7)
    durations = [rng.randint(5, 3000) for _ in crm]
    # crm: 120 attempts in the last hour, every fifth one failed.
    outcomes = [
        attempt(d, "crm", T0 - timedelta(minutes=1 + i % 50), ms, ok=i % 5 != 0)
        for i, (d, ms) in enumerate(zip(crm, durations, strict=True))
    ]
    # search: 3 attempts three hours ago (in the day, not in the hour).
    outcomes += [
        attempt(d, "search", T0 - timedelta(hours=3), 40 * (n + 1))
        for n, d in enumerate(search[:3])
    ]
    outbox.record(outcomes, pause_after=1000, now=T0)

    assert outbox.stats.recorded_endpoints() == ["crm", "search"]
    hour = outbox.stats.endpoint_figures(T0 - timedelta(hours=1))
    assert set(hour) == {"crm"}
    figures = hour["crm"]
    assert (figures.attempts, figures.delivered) == (120, 96)
    assert figures.success_rate == pytest.approx(0.8)
    assert figures.p50_ms == nearest_rank(durations, 50)
    assert figures.p99_ms == nearest_rank(durations, 99)
    day = outbox.stats.endpoint_figures(T0 - timedelta(days=1))
    assert (day["search"].attempts, day["search"].delivered) == (3, 3)
    assert (day["search"].p50_ms, day["search"].p99_ms) == (80, 120)


def test_per_minute_counts_and_latency_by_hour(outbox: Outbox) -> None:
    ids = add_deliveries(outbox, ["crm", "search"], 4)
    at = T0 - timedelta(hours=2)
    outbox.record(
        [
            attempt(ids[0], "crm", at, 100),
            attempt(ids[1], "search", at + timedelta(seconds=20), 300, ok=False),
            attempt(ids[2], "crm", at + timedelta(minutes=1), 200),
            attempt(ids[3], "search", at + timedelta(hours=1), 50),
            attempt(ids[4], "crm", T0 - timedelta(days=2), 9999),  # outside the window
        ],
        pause_after=1000,
        now=T0,
    )
    minutes = outbox.stats.per_minute(T0 - timedelta(days=1))
    assert [(m.minute, m.delivered, m.failed) for m in minutes] == [
        ("2026-07-01T10:00", 1, 1),
        ("2026-07-01T10:01", 1, 0),
        ("2026-07-01T11:00", 1, 0),
    ]
    only_search = outbox.stats.per_minute(T0 - timedelta(days=1), endpoint="search")
    assert [(m.minute, m.delivered, m.failed) for m in only_search] == [
        ("2026-07-01T10:00", 0, 1),
        ("2026-07-01T11:00", 1, 0),
    ]
    hours = outbox.stats.latency_by_hour(T0 - timedelta(days=1))
    assert [(b.hour, b.attempts, b.p50_ms, b.p99_ms) for b in hours] == [
        ("2026-07-01T10", 3, 200, 300),
        ("2026-07-01T11", 1, 50, 50),
    ]


def test_attempts_of_a_delivery_newest_first(outbox: Outbox) -> None:
    [first, *_] = add_deliveries(outbox, ["crm"], 1)
    outbox.record([attempt(first, "crm", T0, 10, ok=False)], 1000, T0)
    outbox.record([attempt(first, "crm", T0 + timedelta(seconds=5), 20)], 1000, T0)
    rows = outbox.stats.attempts_of(first)
    assert [(r.outcome, r.status_code, r.duration_ms) for r in rows] == [
        ("delivered", 204, 20),
        ("retry", 503, 10),
    ]
    assert rows[1].error == "HTTP 503" and rows[1].response_excerpt == "busy"


def test_a_manual_pause_keeps_deliveries_queued_until_resumed(outbox: Outbox) -> None:
    add_deliveries(outbox, ["crm", "search"], 2)
    assert outbox.pause("crm", T0) is True
    assert outbox.pause("crm", T0) is False  # already paused
    claimed = outbox.claim("w", T0, ["crm", "search"], 10, LEASE)
    assert {c.endpoint for c in claimed} == {"search"}
    [crm] = outbox.endpoint_states(["crm"])
    assert crm["state"] == "paused" and crm["paused_at"] is not None
    assert outbox.counts()["pending"] == 4  # nothing dropped
    assert outbox.resume("crm", T0) is True
    again = outbox.claim("w", T0 + timedelta(seconds=1), ["crm", "search"], 10, LEASE)
    assert {c.endpoint for c in again} == {"crm"}


def test_listing_pages_below_an_id(outbox: Outbox) -> None:
    ids = add_deliveries(outbox, ["crm"], 5)
    first = outbox.listing(limit=2)
    assert [r["id"] for r in first] == ids[:-3:-1]
    second = outbox.listing(limit=2, before_id=first[-1]["id"])
    assert [r["id"] for r in second] == [ids[2], ids[1]]
