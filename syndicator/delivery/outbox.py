"""Durable delivery queue over the store (the outbox's sending side).

Deliveries are created with their events (see `Tx.apply`). A worker claims due
ones with a lease (`claimed_by`, `claim_until`), sends them, and records each
attempt; a process that dies leaves claims that expire, so nothing is lost. On
PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so that several processes
never take the same row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from syndicator.core.retry import AttemptOutcome
from syndicator.core.routing import Route
from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.store import Store, new_delivery

__all__ = ["Claimed", "Outbox", "Outcome", "STATUSES"]

STATUSES = ("pending", "delivered", "failed", "dead")
_OPEN = ("pending", "failed")
_MAX_RESPONSE_CHARS = 4096
_CHUNK = 500  # bound on bind parameters per IN (...) query

# Built once, so SQLAlchemy compiles each once; executed with one parameter set per
# row (executemany). Bind names differ from column names, which UPDATE reserves.
_RECORD_DELIVERY = (
    update(t.deliveries)
    .where(t.deliveries.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=t.deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        last_response=bindparam("b_response"),
        delivered_at=bindparam("b_delivered"),
        claimed_by=None,
        claim_until=None,
    )
)
# NULL keeps the stored value: a batch without a success leaves last_success_at, and
# only a batch that pauses the endpoint writes state and paused_at, so a `webhooks
# resume` is never overwritten by a stale copy of the row.
_RECORD_ENDPOINT = (
    update(t.endpoints)
    .where(t.endpoints.c.name == bindparam("b_name", type_=Text))
    .values(
        consecutive_failures=bindparam("b_failures", type_=Integer),
        last_success_at=func.coalesce(
            bindparam("b_success", type_=Text), t.endpoints.c.last_success_at
        ),
        last_failure_at=func.coalesce(
            bindparam("b_failure", type_=Text), t.endpoints.c.last_failure_at
        ),
        state=func.coalesce(bindparam("b_state", type_=Text), t.endpoints.c.state),
        paused_at=func.coalesce(bindparam("b_paused_at", type_=Text), t.endpoints.c.paused_at),
    )
)


def _due(status: str, *, lock: bool) -> Select[tuple[int, str, str]]:
    # One status at a time: `status = ?` lets the deliveries_due index (status,
    # next_attempt_at, id) yield rows already in claim order, so the scan stops after
    # `limit` matches; `status IN (...)` made SQLite sort the whole due backlog on
    # every claim (≈8 ms at 10k due rows).
    d, ep = t.deliveries, t.endpoints
    now = bindparam("b_now", type_=Text)
    query = (
        select(d.c.id, d.c.endpoint, d.c.next_attempt_at)
        .where(
            d.c.status == status,
            d.c.next_attempt_at <= now,
            d.c.endpoint.in_(bindparam("b_endpoints", expanding=True)),
            d.c.endpoint.not_in(select(ep.c.name).where(ep.c.state == "paused")),
            or_(d.c.claim_until.is_(None), d.c.claim_until < now),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(bindparam("b_limit", type_=Integer))
    )
    if lock:
        # PostgreSQL: several processes claim at once; never the same row twice.
        query = query.with_for_update(skip_locked=True, of=d)
    return query


_DUE = tuple(_due(status, lock=False) for status in _OPEN)
_DUE_LOCKED = tuple(_due(status, lock=True) for status in _OPEN)
_TAKE = (
    update(t.deliveries)
    .where(t.deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(claimed_by=bindparam("b_owner"), claim_until=bindparam("b_until"))
)
_CLAIMED = (
    select(
        t.deliveries.c.id,
        t.deliveries.c.webhook_id,
        t.deliveries.c.endpoint,
        t.deliveries.c.attempts,
        t.deliveries.c.created_at,
        t.events.c.payload,
    )
    .join(t.events, t.events.c.event_id == t.deliveries.c.event_id)
    .where(t.deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(t.deliveries.c.next_attempt_at, t.deliveries.c.id)
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken by this worker, with the exact body to send."""

    id: int
    webhook_id: str
    endpoint: str
    attempts: int
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did to its delivery."""

    delivery_id: int
    endpoint: str
    attempted_at: datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    response_excerpt: str
    duration_seconds: float
    next_attempt_at: datetime | None  # None: no further attempt (delivered or dead)


@dataclass(slots=True)
class _Health:
    """An endpoint row while a batch of outcomes is applied to it."""

    state: str
    failures: int
    last_success_at: str | None = None  # None: unchanged by this batch
    last_failure_at: str | None = None
    paused_at: str | None = None  # set when this batch pauses the endpoint


def _status(o: Outcome) -> str:
    if o.outcome is AttemptOutcome.DELIVERED:
        return "delivered"
    return "dead" if o.next_attempt_at is None else "failed"


def _within_budget(
    candidates: Sequence[Row[tuple[int, str, str]]],
    limit: int,
    per_endpoint: Mapping[str, int] | None,
) -> list[int]:
    """Ids of the first `limit` candidates, skipping those over their endpoint's budget."""
    if per_endpoint is None:
        return [row.id for row in candidates[:limit]]
    room = dict(per_endpoint)
    ids: list[int] = []
    for row in candidates:
        if room.get(row.endpoint, 0) > 0:
            room[row.endpoint] -= 1
            ids.append(row.id)
            if len(ids) >= limit:
                break
    return ids


class Outbox:
    """Claims, records and lists deliveries."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def release_claims(self, now: datetime, owner: str | None = None) -> None:
        """Forget claims (all of them, or one owner's), e.g. after a restart of the only process."""
        d = t.deliveries
        query = update(d).where(d.c.claimed_by.is_not(None))
        if owner is not None:
            query = query.where(d.c.claimed_by == owner)
        with self.store.transaction(now) as tx:
            tx.conn.execute(query.values(claimed_by=None, claim_until=None))

    def claim(
        self,
        owner: str,
        now: datetime,
        endpoints: Sequence[str],
        limit: int,
        lease: timedelta,
        per_endpoint: Mapping[str, int] | None = None,
    ) -> list[Claimed]:
        """Take up to `limit` due deliveries of active `endpoints`.

        With `per_endpoint`, at most that many for each endpoint, so that one endpoint
        with a backlog cannot take the whole claim.
        """
        if not endpoints or limit <= 0:
            return []
        with self.store.transaction(now) as tx:
            return self._claim(tx.conn, owner, now, endpoints, limit, lease, per_endpoint)

    def record(self, outcomes: Sequence[Outcome], pause_after: int, now: datetime) -> list[str]:
        """Store attempts and their effect; return endpoints that this batch paused.

        One transaction, a fixed number of statements whatever the batch size: the
        delivery updates and attempt rows go as executemany, and each endpoint touched
        gets one update with the effect of all its outcomes, in batch order.
        """
        if not outcomes:
            return []
        with self.store.transaction(now) as tx:
            return self._record(tx.conn, outcomes, pause_after)

    def record_and_claim(
        self,
        outcomes: Sequence[Outcome],
        pause_after: int,
        owner: str,
        now: datetime,
        per_endpoint: Mapping[str, int],
        limit: int,
        lease: timedelta,
    ) -> tuple[list[str], list[Claimed]]:
        """`record`, then `claim` within `per_endpoint` budgets, in one transaction.

        The worker's steady state: one commit instead of two. The claim sees the
        pauses the record just made.
        """
        claiming = bool(per_endpoint) and limit > 0
        if not outcomes and not claiming:
            return [], []
        paused: list[str] = []
        claimed: list[Claimed] = []
        with self.store.transaction(now) as tx:
            if outcomes:
                paused = self._record(tx.conn, outcomes, pause_after)
            if claiming:
                claimed = self._claim(
                    tx.conn, owner, now, list(per_endpoint), limit, lease, per_endpoint
                )
        return paused, claimed

    def _claim(
        self,
        conn: Connection,
        owner: str,
        now: datetime,
        endpoints: Sequence[str],
        limit: int,
        lease: timedelta,
        per_endpoint: Mapping[str, int] | None,
    ) -> list[Claimed]:
        stamp = db_time(now)
        due = _DUE_LOCKED if self.store.dialect == "postgresql" else _DUE
        params = {"b_now": stamp, "b_endpoints": list(endpoints), "b_limit": limit}
        candidates = [row for query in due for row in conn.execute(query, params)]
        candidates.sort(key=lambda row: (row.next_attempt_at, row.id))
        ids = _within_budget(candidates, limit, per_endpoint)
        if not ids:
            return []
        conn.execute(_TAKE, {"b_ids": ids, "b_owner": owner, "b_until": db_time(now + lease)})
        return [
            Claimed(
                r.id,
                r.webhook_id,
                r.endpoint,
                r.attempts,
                r.payload.encode(),
                datetime.fromisoformat(r.created_at),
            )
            for r in conn.execute(_CLAIMED, {"b_ids": ids})
        ]

    def _record(self, conn: Connection, outcomes: Sequence[Outcome], pause_after: int) -> list[str]:
        conn.execute(
            _RECORD_DELIVERY,
            [
                {
                    "b_id": o.delivery_id,
                    "b_status": _status(o),
                    "b_next": db_time(o.next_attempt_at or o.attempted_at),
                    "b_code": o.status_code,
                    "b_error": o.error,
                    "b_response": o.response_excerpt[:_MAX_RESPONSE_CHARS],
                    "b_delivered": (
                        db_time(o.attempted_at) if o.outcome is AttemptOutcome.DELIVERED else None
                    ),
                }
                for o in outcomes
            ],
        )
        conn.execute(
            insert(t.attempts),
            [
                {
                    "delivery_id": o.delivery_id,
                    "attempted_at": db_time(o.attempted_at),
                    "outcome": str(o.outcome),
                    "status_code": o.status_code,
                    "error": o.error,
                    "response_excerpt": o.response_excerpt[:_MAX_RESPONSE_CHARS],
                    "duration_ms": int(o.duration_seconds * 1000),
                }
                for o in outcomes
            ],
        )
        return self._endpoint_results(conn, outcomes, pause_after)

    def _endpoint_results(
        self, conn: Connection, outcomes: Sequence[Outcome], pause_after: int
    ) -> list[str]:
        """Apply the batch's outcomes to each endpoint's health; return those paused now."""
        health = self._endpoint_health(conn, sorted({o.endpoint for o in outcomes}))
        paused: list[str] = []
        # Replaying the batch in order gives exactly what one update per outcome gave:
        # a success resets the count (but does not lift a pause), each failure adds
        # one, and the failure that reaches `pause_after` on an active endpoint pauses it.
        for o in outcomes:
            h = health[o.endpoint]
            stamp = db_time(o.attempted_at)
            if o.outcome is AttemptOutcome.DELIVERED:
                h.failures = 0
                h.last_success_at = stamp
                continue
            h.failures += 1
            h.last_failure_at = stamp
            if h.state == "active" and h.failures >= pause_after:
                h.state = "paused"
                h.paused_at = stamp
                paused.append(o.endpoint)
        conn.execute(
            _RECORD_ENDPOINT,
            [
                {
                    "b_name": name,
                    "b_failures": h.failures,
                    "b_success": h.last_success_at,
                    "b_failure": h.last_failure_at,
                    "b_state": None if h.paused_at is None else "paused",
                    "b_paused_at": h.paused_at,
                }
                for name, h in health.items()
            ],
        )
        return paused

    def _endpoint_health(self, conn: Connection, names: list[str]) -> dict[str, _Health]:
        """Current state and failure count of `names` (sorted), creating missing rows."""
        ep = t.endpoints
        postgres = self.store.dialect == "postgresql"

        def read(chunk: list[str]) -> dict[str, _Health]:
            query = (
                select(ep.c.name, ep.c.state, ep.c.consecutive_failures)
                .where(ep.c.name.in_(chunk))
                .order_by(ep.c.name)
            )
            if postgres:
                # Several workers may record for one endpoint at once: lock its row for
                # the read-modify-write, always in name order so two batches cannot
                # deadlock.
                query = query.with_for_update()
            return {r.name: _Health(r.state, r.consecutive_failures) for r in conn.execute(query)}

        health: dict[str, _Health] = {}
        for start in range(0, len(names), _CHUNK):
            health.update(read(names[start : start + _CHUNK]))
        missing = [name for name in names if name not in health]
        if missing:
            make_insert = pg_insert if postgres else sqlite_insert
            conn.execute(
                make_insert(ep).on_conflict_do_nothing(index_elements=[ep.c.name]),
                [{"name": n, "state": "active", "consecutive_failures": 0} for n in missing],
            )
            for start in range(0, len(missing), _CHUNK):
                health.update(read(missing[start : start + _CHUNK]))
        return health

    def next_due(self, endpoints: Sequence[str]) -> datetime | None:
        """When the earliest open delivery of an active endpoint is due."""
        d, ep = t.deliveries, t.endpoints
        paused = select(ep.c.name).where(ep.c.state == "paused")
        with self.store.engine.connect() as conn:
            value = conn.execute(
                select(func.min(d.c.next_attempt_at)).where(
                    d.c.status.in_(_OPEN),
                    d.c.endpoint.in_(list(endpoints)),
                    d.c.endpoint.not_in(paused),
                )
            ).scalar()
        return None if value is None else datetime.fromisoformat(value)

    def counts(self) -> dict[str, int]:
        """Deliveries by status (every status present, zero when none)."""
        d = t.deliveries
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(d.c.status, func.count()).group_by(d.c.status)).all()
        found = {status: int(count) for status, count in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    def queue_depth(self) -> int:
        """Deliveries still to send."""
        d = t.deliveries
        # Counts only the open part of the deliveries_due index; `counts()` would also
        # walk every delivered row, which grows without bound.
        with self.store.engine.connect() as conn:
            value = conn.execute(
                select(func.count()).select_from(d).where(d.c.status.in_(_OPEN))
            ).scalar()
        return int(value or 0)

    def endpoint_states(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """Health of each configured endpoint."""
        ep = t.endpoints
        with self.store.engine.connect() as conn:
            rows = {r.name: r for r in conn.execute(select(ep)).all()}
        states = []
        for name in names:
            row = rows.get(name)
            states.append(
                {
                    "name": name,
                    "state": row.state if row else "active",
                    "consecutive_failures": row.consecutive_failures if row else 0,
                    "last_success_at": row.last_success_at if row else None,
                    "last_failure_at": row.last_failure_at if row else None,
                }
            )
        return states

    def resume(self, endpoint: str, now: datetime) -> bool:
        """Lift an endpoint's pause; its queued deliveries become due at once."""
        ep, d = t.endpoints, t.deliveries
        with self.store.transaction(now) as tx:
            done = tx.conn.execute(
                update(ep)
                .where(ep.c.name == endpoint, ep.c.state == "paused")
                .values(state="active", consecutive_failures=0, paused_at=None)
            )
            tx.conn.execute(
                update(d)
                .where(d.c.endpoint == endpoint, d.c.status.in_(_OPEN))
                .values(next_attempt_at=db_time(now))
            )
        return bool(done.rowcount)

    def listing(
        self,
        status: str | None = None,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Deliveries, newest first, in the shape of `deliveries list --json`."""
        d = t.deliveries
        query = select(d).order_by(d.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(d.c.status == status)
        if ids is not None:
            query = query.where(d.c.id.in_(list(ids)))
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "webhook_id": r.webhook_id,
                "endpoint": r.endpoint,
                "type": r.type,
                "slug": r.slug,
                "status": r.status,
                "attempts": r.attempts,
                "last_status_code": r.last_status_code,
                "last_error": r.last_error,
                "next_attempt_at": r.next_attempt_at if r.status in _OPEN else None,
                "created_at": r.created_at,
            }
            for r in rows
        ]

    def requeue(self, ids: Sequence[int], now: datetime) -> list[int]:
        """Make deliveries due now again (same webhook-id); return the ids found."""
        d = t.deliveries
        with self.store.transaction(now) as tx:
            found = list(tx.conn.execute(select(d.c.id).where(d.c.id.in_(list(ids)))).scalars())
            if found:
                tx.conn.execute(
                    update(d)
                    .where(d.c.id.in_(found))
                    .values(
                        status="pending",
                        next_attempt_at=db_time(now),
                        claimed_by=None,
                        claim_until=None,
                    )
                )
        return sorted(found)

    def replay(self, route: Route, since: datetime, now: datetime) -> list[int]:
        """Re-send every event since `since` that the endpoint wants; return delivery ids.

        Existing deliveries are re-queued with their webhook-id; matching events
        that never had a delivery for this endpoint (it was added later) get one.
        """
        d, e = t.deliveries, t.events
        stamp = db_time(now)
        with self.store.transaction(now) as tx:
            rows = tx.conn.execute(
                select(e.c.event_id, e.c.type, e.c.slug, e.c.payload, d.c.id)
                .outerjoin(d, and_(d.c.event_id == e.c.event_id, d.c.endpoint == route.endpoint))
                .where(e.c.created_at >= db_time(since))
                .order_by(e.c.id)
            ).all()
            existing = [r.id for r in rows if r.id is not None]
            fresh = []
            for r in rows:
                if r.id is None:
                    topics = orjson.loads(r.payload).get("data", {}).get("topics", [])
                    if route.matches(r.type, topics):
                        fresh.append(
                            new_delivery(r.event_id, route.endpoint, r.type, r.slug, stamp)
                        )
            if existing:
                tx.conn.execute(
                    update(d)
                    .where(d.c.id.in_(existing))
                    .values(
                        status="pending", next_attempt_at=stamp, claimed_by=None, claim_until=None
                    )
                )
            if fresh:
                tx.conn.execute(insert(d), fresh)
            ids = list(
                tx.conn.execute(
                    select(d.c.id).where(
                        d.c.endpoint == route.endpoint,
                        d.c.status == "pending",
                        d.c.next_attempt_at == stamp,
                    )
                ).scalars()
            )
        return sorted(ids)
