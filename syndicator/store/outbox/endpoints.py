"""Webhook endpoint health, the outbox's `endpoints` table.

Each recorded batch of attempts moves its endpoints' failure counts, and the
failure that reaches the limit pauses an endpoint until an operator resumes it.
`Outbox` is the only caller: these functions run inside its transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, Text, bindparam, func, select, update

from syndicator.core.retry import AttemptOutcome
from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import chunked, dialect_insert

if TYPE_CHECKING:
    from syndicator.store.outbox.queue import Outcome

__all__ = ["apply_outcomes", "endpoint_states", "lift_pause", "set_pause"]

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


@dataclass(slots=True)
class _Health:
    """An endpoint row while a batch of outcomes is applied to it."""

    state: str
    failures: int
    last_success_at: str | None = None  # None: unchanged by this batch
    last_failure_at: str | None = None
    paused_at: str | None = None  # set when this batch pauses the endpoint


def apply_outcomes(
    conn: Connection, dialect: str, outcomes: Sequence[Outcome], pause_after: int
) -> list[str]:
    """Apply the batch's outcomes to each endpoint's health; return those paused now."""
    health = _endpoint_health(conn, dialect, sorted({o.endpoint for o in outcomes}))
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


def _endpoint_health(conn: Connection, dialect: str, names: list[str]) -> dict[str, _Health]:
    """Current state and failure count of `names` (sorted), creating missing rows."""
    ep = t.endpoints
    postgres = dialect == "postgresql"

    def read(chunk: Sequence[str]) -> dict[str, _Health]:
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
    for chunk in chunked(names):
        health.update(read(chunk))
    missing = [name for name in names if name not in health]
    if missing:
        conn.execute(
            dialect_insert(dialect)(ep).on_conflict_do_nothing(index_elements=[ep.c.name]),
            [{"name": n, "state": "active", "consecutive_failures": 0} for n in missing],
        )
        for chunk in chunked(missing):
            health.update(read(chunk))
    return health


def endpoint_states(conn: Connection, names: Sequence[str]) -> list[dict[str, Any]]:
    """Health of each named endpoint (active with no failures when never recorded)."""
    ep = t.endpoints
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
                "paused_at": row.paused_at if row else None,
            }
        )
    return states


def lift_pause(conn: Connection, endpoint: str) -> bool:
    """Make a paused endpoint active again with a clean count; False when it was not paused."""
    ep = t.endpoints
    done = conn.execute(
        update(ep)
        .where(ep.c.name == endpoint, ep.c.state == "paused")
        .values(state="active", consecutive_failures=0, paused_at=None)
    )
    return bool(done.rowcount)


def set_pause(conn: Connection, dialect: str, endpoint: str, stamp: str) -> bool:
    """Pause an endpoint by hand (its row made if missing); False when already paused.

    The failure count is kept: it says why deliveries failed before the pause.
    """
    ep = t.endpoints
    _endpoint_health(conn, dialect, [endpoint])  # creates the row, locks it on PostgreSQL
    done = conn.execute(
        update(ep)
        .where(ep.c.name == endpoint, ep.c.state == "active")
        .values(state="paused", paused_at=stamp)
    )
    return bool(done.rowcount)
