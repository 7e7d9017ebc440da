"""Pruning the outbox: finished deliveries, their attempts, and events nobody needs.

A delivery is finished when it is `delivered` or `dead`; its age is the time of
its last attempt, which `record` keeps in `next_attempt_at` once no attempt is
due (so the `deliveries_due (status, next_attempt_at)` index finds the old ones
without a scan). `pending` and `failed` deliveries are never selected, and the
selected rows cannot change before they are deleted (SQLite's write lock is
held from the start; on PostgreSQL they are locked ``FOR UPDATE``), so a
delivery re-queued by `deliveries retry` meanwhile waits and is kept.

An event goes when it is older than the window and no delivery refers to it
any longer (an event no endpoint wanted never had one). Events are walked in
id order, which is commit order, from a cursor the caller keeps, so the old
events still held by open deliveries are looked at once per pass, not once per
batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, exists, select

from syndicator.store import schema as t

__all__ = ["CLOSED", "EventsPruned", "oldest_delivery", "prune_deliveries", "prune_events"]

CLOSED = ("delivered", "dead")  # statuses no attempt will follow


@dataclass(frozen=True, slots=True)
class EventsPruned:
    """One batch of the events pass: what went, where the walk stands, whether it ended."""

    deleted: int
    last_id: int
    finished: bool


def prune_deliveries(conn: Connection, dialect: str, cutoff: str, limit: int) -> tuple[int, int]:
    """Delete up to `limit` finished deliveries last attempted before `cutoff`, with
    their attempts; return (deliveries, attempts) deleted."""
    d, a = t.deliveries, t.attempts
    ids: list[int] = []
    for status in CLOSED:
        # One status at a time, so the index yields the rows in order and stops.
        query = (
            select(d.c.id)
            .where(d.c.status == status, d.c.next_attempt_at < cutoff)
            .order_by(d.c.next_attempt_at)
            .limit(limit - len(ids))
        )
        if dialect == "postgresql":
            # Locked for the rest of the transaction: a concurrent re-queue waits
            # for the delete instead of re-queueing a row about to vanish.
            query = query.with_for_update(skip_locked=True)
        ids += conn.execute(query).scalars()
        if len(ids) >= limit:
            break
    if not ids:
        return 0, 0
    # By id alone: the rows cannot have changed since the select (SQLite's write
    # lock, PostgreSQL's row locks), and repeating the status and time condition
    # made SQLite walk every old row of the index in each transaction.
    attempts = conn.execute(delete(a).where(a.c.delivery_id.in_(ids))).rowcount
    deliveries = conn.execute(delete(d).where(d.c.id.in_(ids))).rowcount
    return int(deliveries), int(attempts)


def prune_events(conn: Connection, cutoff: str, after_id: int, limit: int) -> EventsPruned:
    """Look at up to `limit` events after `after_id`; delete those created before
    `cutoff` that no delivery refers to. The pass ends at the first event of the
    window (events are created in id order) or at the end of the table."""
    e, d = t.events, t.deliveries
    referenced = exists().where(d.c.event_id == e.c.event_id)
    rows: Sequence[tuple[int, str, bool]] = [
        (row.id, row.created_at, bool(row.kept))
        for row in conn.execute(
            select(e.c.id, e.c.created_at, referenced.label("kept"))
            .where(e.c.id > after_id)
            .order_by(e.c.id)
            .limit(limit)
        )
    ]
    doomed: list[int] = []
    last_id = after_id
    for event_id, created_at, kept in rows:
        if created_at >= cutoff:
            return EventsPruned(_delete_events(conn, doomed, cutoff), last_id, True)
        last_id = event_id
        if not kept:
            doomed.append(event_id)
    deleted = _delete_events(conn, doomed, cutoff)
    return EventsPruned(deleted, last_id, len(rows) < limit)


def _delete_events(conn: Connection, ids: list[int], cutoff: str) -> int:
    if not ids:
        return 0
    e, d = t.events, t.deliveries
    # The conditions again: a replay may have given one of them a delivery since.
    done = conn.execute(
        delete(e).where(
            e.c.id.in_(ids),
            e.c.created_at < cutoff,
            ~exists().where(d.c.event_id == e.c.event_id),
        )
    )
    return int(done.rowcount)


def oldest_delivery(conn: Connection) -> str | None:
    """When the oldest kept delivery was created (deliveries are created in id order)."""
    d = t.deliveries
    value: str | None = conn.execute(select(d.c.created_at).order_by(d.c.id).limit(1)).scalar()
    return value
