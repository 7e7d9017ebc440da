"""Durable delivery queue over the store (the outbox's sending side).

Deliveries are created with their events (see `Tx.apply`). A worker claims due
ones with a lease (`claimed_by`, `claim_until`), sends them, and records each
attempt; a process that dies leaves claims that expire, so nothing is lost. On
PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so that several processes
never take the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, func, insert, or_, select, update

from syndicator.core.changes import db_time
from syndicator.core.retry import AttemptOutcome
from syndicator.core.routing import Route
from syndicator.store import schema as t
from syndicator.store.store import Store, new_delivery

__all__ = ["Claimed", "Outbox", "Outcome", "STATUSES"]

STATUSES = ("pending", "delivered", "failed", "dead")
_OPEN = ("pending", "failed")
_MAX_RESPONSE_CHARS = 4096


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
    ) -> list[Claimed]:
        """Take up to `limit` due deliveries of active `endpoints`."""
        if not endpoints or limit <= 0:
            return []
        d, e, ep = t.deliveries, t.events, t.endpoints
        stamp = db_time(now)
        paused = select(ep.c.name).where(ep.c.state == "paused")
        query = (
            select(d.c.id)
            .where(
                d.c.status.in_(_OPEN),
                d.c.next_attempt_at <= stamp,
                d.c.endpoint.in_(list(endpoints)),
                d.c.endpoint.not_in(paused),
                or_(d.c.claim_until.is_(None), d.c.claim_until < stamp),
            )
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=d)
        with self.store.transaction(now) as tx:
            ids = list(tx.conn.execute(query).scalars())
            if not ids:
                return []
            tx.conn.execute(
                update(d)
                .where(d.c.id.in_(ids))
                .values(claimed_by=owner, claim_until=db_time(now + lease))
            )
            rows = tx.conn.execute(
                select(
                    d.c.id, d.c.webhook_id, d.c.endpoint, d.c.attempts, d.c.created_at, e.c.payload
                )
                .join(e, e.c.event_id == d.c.event_id)
                .where(d.c.id.in_(ids))
                .order_by(d.c.next_attempt_at, d.c.id)
            ).all()
        return [
            Claimed(
                r.id,
                r.webhook_id,
                r.endpoint,
                r.attempts,
                r.payload.encode(),
                datetime.fromisoformat(r.created_at),
            )
            for r in rows
        ]

    def record(self, outcomes: Sequence[Outcome], pause_after: int, now: datetime) -> list[str]:
        """Store attempts and their effect; return endpoints that this batch paused."""
        if not outcomes:
            return []
        d = t.deliveries
        paused: list[str] = []
        with self.store.transaction(now) as tx:
            for o in outcomes:
                if o.outcome is AttemptOutcome.DELIVERED:
                    status = "delivered"
                elif o.next_attempt_at is None:
                    status = "dead"
                else:
                    status = "failed"
                tx.conn.execute(
                    update(d)
                    .where(d.c.id == o.delivery_id)
                    .values(
                        status=status,
                        attempts=d.c.attempts + 1,
                        next_attempt_at=db_time(o.next_attempt_at or o.attempted_at),
                        last_status_code=o.status_code,
                        last_error=o.error,
                        last_response=o.response_excerpt[:_MAX_RESPONSE_CHARS],
                        delivered_at=db_time(o.attempted_at) if status == "delivered" else None,
                        claimed_by=None,
                        claim_until=None,
                    )
                )
            tx.conn.execute(
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
            for o in outcomes:
                if self._endpoint_result(tx.conn, o, pause_after):
                    paused.append(o.endpoint)
        return paused

    @staticmethod
    def _endpoint_result(conn: Any, o: Outcome, pause_after: int) -> bool:
        ep = t.endpoints
        row = conn.execute(select(ep).where(ep.c.name == o.endpoint)).first()
        if row is None:
            conn.execute(insert(ep).values(name=o.endpoint, state="active", consecutive_failures=0))
            failures, state = 0, "active"
        else:
            failures, state = row.consecutive_failures, row.state
        stamp = db_time(o.attempted_at)
        if o.outcome is AttemptOutcome.DELIVERED:
            conn.execute(
                update(ep)
                .where(ep.c.name == o.endpoint)
                .values(consecutive_failures=0, last_success_at=stamp)
            )
            return False
        failures += 1
        pause = state == "active" and failures >= pause_after
        values: dict[str, Any] = {"consecutive_failures": failures, "last_failure_at": stamp}
        if pause:
            values.update(state="paused", paused_at=stamp)
        conn.execute(update(ep).where(ep.c.name == o.endpoint).values(**values))
        return pause

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
        counts = self.counts()
        return counts["pending"] + counts["failed"]

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
