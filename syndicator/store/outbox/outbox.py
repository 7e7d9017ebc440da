"""`Outbox`: the one object callers use for events, deliveries and endpoint health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, func, insert, select, update

from syndicator.core.routing import Route, Subject
from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import Database, count_rows, parse_time
from syndicator.store.outbox import queue, retention
from syndicator.store.outbox.endpoints import endpoint_states, lift_pause, set_pause
from syndicator.store.outbox.queue import OPEN, STATUSES, Claimed, Outcome, new_delivery
from syndicator.store.outbox.retention import EventsPruned
from syndicator.store.outbox.stats import OutboxStats

__all__ = ["Outbox"]


class Outbox:
    """Claims, records and lists deliveries; lists events; keeps endpoint health."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: Read-only figures (rates, latency, per-minute counts) for the console.
        self.stats = OutboxStats(db)

    # -- the worker's side -----------------------------------------------------------

    def release_claims(self, now: datetime, owner: str | None = None) -> None:
        """Forget claims (all of them, or one owner's), e.g. after a restart of the only process."""
        d = t.deliveries
        query = update(d).where(d.c.claimed_by.is_not(None))
        if owner is not None:
            query = query.where(d.c.claimed_by == owner)
        with self.db.write() as conn:
            conn.execute(query.values(claimed_by=None, claim_until=None))

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
        with self.db.write() as conn:
            return queue.claim(
                conn, self.db.dialect, owner, now, endpoints, limit, lease, per_endpoint
            )

    def record(self, outcomes: Sequence[Outcome], pause_after: int, now: datetime) -> list[str]:
        """Store attempts and their effect; return endpoints that this batch paused.

        One transaction, a fixed number of statements whatever the batch size: the
        delivery updates and attempt rows go as executemany, and each endpoint touched
        gets one update with the effect of all its outcomes, in batch order.
        """
        if not outcomes:
            return []
        with self.db.write() as conn:
            return queue.record(conn, self.db.dialect, outcomes, pause_after)

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
        with self.db.write() as conn:
            if outcomes:
                paused = queue.record(conn, self.db.dialect, outcomes, pause_after)
            if claiming:
                claimed = queue.claim(
                    conn,
                    self.db.dialect,
                    owner,
                    now,
                    list(per_endpoint),
                    limit,
                    lease,
                    per_endpoint,
                )
        return paused, claimed

    def next_due(self, endpoints: Sequence[str]) -> datetime | None:
        """When the earliest open delivery of an active endpoint is due."""
        d, ep = t.deliveries, t.endpoints
        paused = select(ep.c.name).where(ep.c.state == "paused")
        with self.db.read() as conn:
            value = conn.execute(
                select(func.min(d.c.next_attempt_at)).where(
                    d.c.status.in_(OPEN),
                    d.c.endpoint.in_(list(endpoints)),
                    d.c.endpoint.not_in(paused),
                )
            ).scalar()
        return parse_time(value)

    def queue_depth(self) -> int:
        """Deliveries still to send."""
        d = t.deliveries
        # Counts only the open part of the deliveries_due index; `counts()` would also
        # walk every delivered row, which grows without bound.
        with self.db.read() as conn:
            value = conn.execute(
                select(func.count()).select_from(d).where(d.c.status.in_(OPEN))
            ).scalar()
        return int(value or 0)

    # -- retention (see `retention`) ----------------------------------------------------

    def prune_deliveries(self, before: datetime, limit: int) -> tuple[int, int]:
        """Delete up to `limit` delivered or dead deliveries last attempted before
        `before`, with their attempts, in one transaction; return both counts."""
        with self.db.write() as conn:
            return retention.prune_deliveries(conn, self.db.dialect, db_time(before), limit)

    def prune_events(self, before: datetime, after_id: int, limit: int) -> EventsPruned:
        """Delete, among `limit` events after `after_id`, those created before `before`
        that no delivery refers to, in one transaction."""
        with self.db.write() as conn:
            return retention.prune_events(conn, db_time(before), after_id, limit)

    def oldest_delivery(self) -> datetime | None:
        """When the oldest delivery still kept was created (None when there is none)."""
        with self.db.read() as conn:
            return parse_time(retention.oldest_delivery(conn))

    # -- status and operators ----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Deliveries by status (every status present, zero when none)."""
        d = t.deliveries
        with self.db.read() as conn:
            rows = conn.execute(select(d.c.status, func.count()).group_by(d.c.status)).all()
        found = {status: int(count) for status, count in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    def endpoint_states(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """Health of each configured endpoint."""
        with self.db.read() as conn:
            return endpoint_states(conn, names)

    def pause(self, endpoint: str, now: datetime) -> bool:
        """Pause an endpoint by hand: its deliveries stay queued until `resume`;
        False when it was paused already."""
        with self.db.write() as conn:
            return set_pause(conn, self.db.dialect, endpoint, db_time(now))

    def resume(self, endpoint: str, now: datetime) -> bool:
        """Lift an endpoint's pause; its queued deliveries become due at once."""
        d = t.deliveries
        with self.db.write() as conn:
            lifted = lift_pause(conn, endpoint)
            conn.execute(
                update(d)
                .where(d.c.endpoint == endpoint, d.c.status.in_(OPEN))
                .values(next_attempt_at=db_time(now))
            )
        return lifted

    def listing(
        self,
        status: str | None = None,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
        *,
        endpoint: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Deliveries, newest first, in the shape of `deliveries list --json`.

        Filters: a status, an endpoint, created at or after `since`, these ids,
        ids below `before_id` (the next page of a listing).
        Times are stored text (`db_time`); `next_attempt_at` only while another
        attempt is to come.
        """
        d, a = t.deliveries, t.attempts
        # One indexed lookup per listed row (attempts_delivery), not a join of every attempt.
        last_attempt = (
            select(func.max(a.c.attempted_at))
            .where(a.c.delivery_id == d.c.id)
            .scalar_subquery()
            .label("last_attempt_at")
        )
        query = select(d, last_attempt).order_by(d.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(d.c.status == status)
        if endpoint is not None:
            query = query.where(d.c.endpoint == endpoint)
        if since is not None:
            query = query.where(d.c.created_at >= db_time(since))
        if ids is not None:
            query = query.where(d.c.id.in_(list(ids)))
        if before_id is not None:
            query = query.where(d.c.id < before_id)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "webhook_id": r.webhook_id,
                "event_id": r.event_id,
                "endpoint": r.endpoint,
                "type": r.type,
                "slug": r.slug,
                "status": r.status,
                "attempts": r.attempts,
                "last_status_code": r.last_status_code,
                "last_error": r.last_error,
                "created_at": r.created_at,
                "last_attempt_at": r.last_attempt_at,
                "next_attempt_at": r.next_attempt_at if r.status in OPEN else None,
                "delivered_at": r.delivered_at,
            }
            for r in rows
        ]

    def endpoint_names(self) -> list[str]:
        """Every endpoint that has deliveries, sorted (configured or not, any longer)."""
        d = t.deliveries
        with self.db.read() as conn:
            return list(
                conn.execute(select(d.c.endpoint).distinct().order_by(d.c.endpoint)).scalars()
            )

    def requeue(self, ids: Sequence[int], now: datetime) -> list[int]:
        """Make deliveries due now again (same webhook-id); return the ids found.
        Those of a deleted article's earlier events (`purged`) are not found:
        their content is gone and must not be sent again."""
        d = t.deliveries
        with self.db.write() as conn:
            found = [
                delivery
                for delivery, payload in conn.execute(
                    select(d.c.id, t.events.c.payload)
                    .join(t.events, t.events.c.event_id == d.c.event_id)
                    .where(d.c.id.in_(list(ids)))
                )
                if not queue.is_purged(payload)
            ]
            if found:
                conn.execute(
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

    def purged(self, ids: Sequence[int]) -> list[int]:
        """Those of these deliveries whose event's content was purged (its
        article deleted): never sent again."""
        d, e = t.deliveries, t.events
        with self.db.read() as conn:
            rows = conn.execute(
                select(d.c.id, e.c.payload)
                .join(e, e.c.event_id == d.c.event_id)
                .where(d.c.id.in_(list(ids)))
            )
            return sorted(delivery for delivery, payload in rows if queue.is_purged(payload))

    def replay(self, route: Route, since: datetime, now: datetime) -> list[int]:
        """Re-send every event since `since` that the endpoint wants; return delivery ids.

        Existing deliveries are re-queued with their webhook-id; matching events
        that never had a delivery for this endpoint (it was added later) get one.
        Events of deleted articles from before their deletion keep no content
        (SPEC §3b) and are not sent again.
        """
        d, e = t.deliveries, t.events
        stamp = db_time(now)
        with self.db.write() as conn:
            rows = conn.execute(
                select(e.c.event_id, e.c.type, e.c.slug, e.c.payload, d.c.id)
                .outerjoin(d, and_(d.c.event_id == e.c.event_id, d.c.endpoint == route.endpoint))
                .where(e.c.created_at >= db_time(since))
                .order_by(e.c.id)
            ).all()
            rows = [r for r in rows if not queue.is_purged(r.payload)]
            existing = [r.id for r in rows if r.id is not None]
            missing = [r for r in rows if r.id is None]
            data = [orjson.loads(r.payload).get("data", {}) for r in missing]
            slugs = queue.assigned_slugs(conn, data) if route.entities else None
            fresh = []
            for r, one in zip(missing, data, strict=True):
                if route.matches(r.type, Subject.from_data(one, slugs)):
                    fresh.append(new_delivery(r.event_id, route.endpoint, r.type, r.slug, stamp))
            if existing:
                conn.execute(
                    update(d)
                    .where(d.c.id.in_(existing))
                    .values(
                        status="pending", next_attempt_at=stamp, claimed_by=None, claim_until=None
                    )
                )
            if fresh:
                conn.execute(insert(d), fresh)
            ids = list(
                conn.execute(
                    select(d.c.id).where(
                        d.c.endpoint == route.endpoint,
                        d.c.status == "pending",
                        d.c.next_attempt_at == stamp,
                    )
                ).scalars()
            )
        return sorted(ids)

    def events(self, slug: str | None = None) -> list[dict[str, Any]]:
        """Outbox events in commit order (optionally of one slug)."""
        e = t.events
        query = select(e).order_by(e.c.id)
        if slug is not None:
            query = query.where(e.c.slug == slug)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "event_id": r.event_id,
                "type": r.type,
                "slug": r.slug,
                "timestamp": r.timestamp,
                "payload": orjson.loads(r.payload),
            }
            for r in rows
        ]

    def event_count(self) -> int:
        """How many events the outbox holds."""
        with self.db.read() as conn:
            return count_rows(conn, t.events)

    def deliveries_of(self, slug: str) -> dict[str, list[dict[str, Any]]]:
        """The deliveries of one article's events, by event id (for `articles show`)."""
        d = t.deliveries
        query = select(d).where(d.c.slug == slug).order_by(d.c.id)
        found: dict[str, list[dict[str, Any]]] = {}
        with self.db.read() as conn:
            for r in conn.execute(query):
                found.setdefault(r.event_id, []).append(
                    {
                        "id": r.id,
                        "webhook_id": r.webhook_id,
                        "endpoint": r.endpoint,
                        "status": r.status,
                        "attempts": r.attempts,
                        "last_status_code": r.last_status_code,
                    }
                )
        return found
