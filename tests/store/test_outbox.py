"""The outbox's claims and batched outcome records, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from syndicator.core.retry import AttemptOutcome
from syndicator.core.times import db_time
from syndicator.store import Outbox, Outcome, Store
from syndicator.store import schema as t
from syndicator.store.outbox import new_event_id, new_event_ids
from tests.delivery.rows import T0, add_deliveries

LEASE = timedelta(seconds=60)
DELIVERED, RETRY, PERMANENT = (
    AttemptOutcome.DELIVERED,
    AttemptOutcome.RETRY,
    AttemptOutcome.PERMANENT,
)


@pytest.fixture
def make_outbox(make_database_url: Callable[[], str]) -> Any:
    """A factory of outboxes, each over its own empty, migrated database (on each backend)."""
    stores: list[Store] = []

    def make() -> Outbox:
        store = Store(make_database_url())
        store.migrate()
        stores.append(store)
        return store.outbox

    yield make
    for store in stores:
        store.close()


def outcome(
    delivery_id: int, endpoint: str, kind: AttemptOutcome, at: datetime, retry: bool = True
) -> Outcome:
    delivered = kind is DELIVERED
    return Outcome(
        delivery_id,
        endpoint,
        at,
        kind,
        204 if delivered else 500,
        None if delivered else "HTTP 500",
        "",
        0.01,
        at + timedelta(seconds=5) if (not delivered and retry) else None,
    )


def endpoint_rows(outbox: Outbox) -> dict[str, tuple[Any, ...]]:
    ep = t.endpoints
    with outbox.db.engine.connect() as conn:
        rows = conn.execute(select(ep).order_by(ep.c.name)).all()
    return {r.name: tuple(r)[1:] for r in rows}


def test_a_batch_has_the_effect_of_its_outcomes_one_by_one(make_outbox: Any) -> None:
    batched, single = make_outbox(), make_outbox()
    endpoints = ["a", "b", "c"]
    ids = add_deliveries(batched, endpoints, 20)
    assert add_deliveries(single, endpoints, 20) == ids
    endpoint_of = {i: endpoints[n % 3] for n, i in enumerate(ids)}
    rng = random.Random(7)
    # Mostly failures, so that pauses happen mid-batch and successes follow them.
    kinds = [DELIVERED if rng.random() < 0.3 else RETRY for _ in ids]
    outcomes = [
        outcome(i, endpoint_of[i], kind, T0 + timedelta(seconds=n))
        for n, (i, kind) in enumerate(zip(ids, kinds, strict=True))
    ]
    paused_batched = batched.record(outcomes, 3, T0)
    paused_single = [name for o in outcomes for name in single.record([o], 3, T0)]

    assert paused_batched == paused_single
    assert paused_batched, "the sequence should pause at least one endpoint"
    assert endpoint_rows(batched) == endpoint_rows(single)
    assert batched.listing() == [
        {**row, "webhook_id": mine["webhook_id"]}
        for row, mine in zip(single.listing(), batched.listing(), strict=True)
    ]


def test_record_updates_deliveries_and_keeps_every_attempt(make_outbox: Any) -> None:
    outbox = make_outbox()
    ids = add_deliveries(outbox, ["a"], 3)
    at = T0 + timedelta(seconds=1)
    paused = outbox.record(
        [
            outcome(ids[0], "a", DELIVERED, at),
            outcome(ids[1], "a", RETRY, at),
            outcome(ids[2], "a", PERMANENT, at, retry=False),
        ],
        50,
        at,
    )
    assert paused == []
    rows = {r["id"]: r for r in outbox.listing()}
    assert [rows[i]["status"] for i in ids] == ["delivered", "failed", "dead"]
    assert all(rows[i]["attempts"] == 1 for i in ids)
    assert rows[ids[1]]["next_attempt_at"] == db_time(at + timedelta(seconds=5))
    with outbox.db.engine.connect() as conn:
        attempts = conn.execute(select(func.count()).select_from(t.attempts)).scalar()
    assert attempts == 3
    # The failures after the success count; the success before them does not.
    assert outbox.endpoint_states(["a"])[0]["consecutive_failures"] == 2
    assert outbox.queue_depth() == 1


def test_a_pause_reached_mid_batch_is_reported_once_and_kept(make_outbox: Any) -> None:
    outbox = make_outbox()
    ids = add_deliveries(outbox, ["a", "b"], 4)
    a_ids, b_ids = ids[0::2], ids[1::2]
    at = T0 + timedelta(seconds=1)
    batch = [outcome(i, "a", RETRY, at) for i in a_ids[:3]]
    batch += [outcome(a_ids[3], "a", DELIVERED, at), outcome(b_ids[0], "b", DELIVERED, at)]
    assert outbox.record(batch, 3, at) == ["a"]
    states = {s["name"]: s for s in outbox.endpoint_states(["a", "b"])}
    # The success after the pause resets the count but does not lift the pause.
    assert (states["a"]["state"], states["a"]["consecutive_failures"]) == ("paused", 0)
    assert states["b"]["state"] == "active"
    assert outbox.record([outcome(b_ids[1], "a", RETRY, at)], 1, at) == []
    assert outbox.resume("a", at)
    assert outbox.endpoint_states(["a"])[0]["state"] == "active"


def test_claim_takes_the_oldest_due_within_each_endpoint_budget(make_outbox: Any) -> None:
    outbox = make_outbox()
    ids = add_deliveries(outbox, ["a", "b"], 10)
    first = outbox.claim("w1", T0, ["a", "b"], 10, LEASE, per_endpoint={"a": 2, "b": 3})
    assert [c.id for c in first] == [ids[0], ids[1], ids[2], ids[3], ids[5]]
    assert sorted(c.endpoint for c in first) == ["a", "a", "b", "b", "b"]
    assert first[0].body.startswith(b'{"type": "article.created"')
    # Claimed rows are not handed out again while the lease runs, then they are.
    second = outbox.claim("w2", T0, ["a", "b"], 100, LEASE)
    assert {c.id for c in second}.isdisjoint(c.id for c in first)
    assert len(second) == 20 - 5
    later = T0 + LEASE + timedelta(seconds=1)
    again = outbox.claim("w3", later, ["a"], 100, LEASE)
    assert {c.id for c in again} == set(ids[0::2])


def test_claim_takes_due_retries_and_skips_paused_endpoints(make_outbox: Any) -> None:
    outbox = make_outbox()
    ids = add_deliveries(outbox, ["a", "b"], 2)
    at = T0 + timedelta(seconds=1)
    outbox.record([outcome(ids[0], "a", RETRY, at)], 1, at)  # pauses "a"
    claimed = outbox.claim("w", at + timedelta(seconds=10), ["a", "b"], 10, LEASE)
    assert [c.id for c in claimed] == [ids[1], ids[3]]
    outbox.resume("a", at)
    # Resuming makes the failed delivery due now, in order with the pending ones.
    claimed = outbox.claim("w2", at + timedelta(seconds=1), ["a"], 10, LEASE)
    assert [c.id for c in claimed] == [ids[0], ids[2]]
    assert claimed[0].attempts == 1


def test_record_and_claim_does_not_claim_an_endpoint_it_just_paused(make_outbox: Any) -> None:
    outbox = make_outbox()
    ids = add_deliveries(outbox, ["a", "b"], 3)
    at = T0 + timedelta(seconds=1)
    with outbox.db.write() as conn:  # the first attempt of each is in flight
        conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.id.in_(ids[:2]))
            .values(claimed_by="w", claim_until=db_time(at + LEASE))
        )
    paused, claimed = outbox.record_and_claim(
        [outcome(ids[0], "a", RETRY, at), outcome(ids[1], "b", DELIVERED, at)],
        1,
        "w",
        at,
        {"a": 8, "b": 8},
        10,
        LEASE,
    )
    assert paused == ["a"]
    assert [c.endpoint for c in claimed] == ["b", "b"]
    assert outbox.record_and_claim([], 1, "w", at, {}, 10, LEASE) == ([], [])


def test_listing_filters_and_the_last_attempt(make_outbox: Any) -> None:
    outbox = make_outbox()
    old = add_deliveries(outbox, ["a", "b"], 2, at=T0)
    new = add_deliveries(outbox, ["a"], 1, at=T0 + timedelta(hours=2))[len(old) :]
    first, second = T0 + timedelta(minutes=1), T0 + timedelta(minutes=7)
    outbox.record([outcome(old[0], "a", RETRY, first)], 50, first)
    outbox.record([outcome(old[0], "a", PERMANENT, second, retry=False)], 50, second)
    rows = {r["id"]: r for r in outbox.listing()}
    assert list(rows) == sorted(old + new, reverse=True)  # newest first
    dead = rows[old[0]]
    # The newest of its two attempts; no next attempt for a dead delivery.
    assert (dead["status"], dead["attempts"]) == ("dead", 2)
    assert dead["last_attempt_at"] == db_time(second)
    assert (dead["next_attempt_at"], dead["last_error"], dead["last_status_code"]) == (
        None,
        "HTTP 500",
        500,
    )
    assert rows[new[0]]["last_attempt_at"] is None
    assert rows[new[0]]["next_attempt_at"] == rows[new[0]]["created_at"]
    assert [r["id"] for r in outbox.listing(endpoint="b")] == [old[3], old[1]]
    assert [r["id"] for r in outbox.listing(since=T0 + timedelta(hours=1))] == new
    assert [r["id"] for r in outbox.listing("dead", endpoint="a", since=T0)] == [old[0]]
    assert outbox.listing(endpoint="nobody") == []
    assert outbox.endpoint_names() == ["a", "b"]


def test_event_ids_of_a_batch_are_unique_and_in_creation_order() -> None:
    ids = new_event_ids(1000)
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"evt_[0-9a-f]{32}", event_id) for event_id in ids)
    later = new_event_id()
    assert later > ids[0] and later not in ids
    assert new_event_ids(0) == []
