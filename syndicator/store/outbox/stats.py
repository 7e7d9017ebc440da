"""Read-only figures over the outbox for the operator console.

Success rates and latency percentiles come from one grouped query over the
attempts of a bounded window (the `attempts_time` index): the database counts
attempts per endpoint (or hour) and duration in milliseconds, and the exact
nearest-rank percentile (the smallest duration whose cumulative count reaches
``p * n``) is read from those counts. Durations are whole milliseconds under
the delivery timeout, so the answer has at most a few thousand rows per
endpoint however many attempts there were; sorting every attempt with window
functions took twice as long on SQLite. Nothing here writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import Database

__all__ = [
    "AttemptRow",
    "EndpointFigures",
    "LatencyBucket",
    "MinuteCount",
    "OutboxStats",
    "nearest_rank",
]

#: Characters of a stored time that name its minute (``2026-07-01T12:34``) and hour.
_MINUTE = 16
_HOUR = 13


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    """One endpoint's attempts in a window: how many, how many delivered, latency."""

    endpoint: str
    attempts: int
    delivered: int
    p50_ms: int | None
    p99_ms: int | None

    @property
    def success_rate(self) -> float | None:
        """Delivered attempts over all attempts (None when there was none)."""
        return self.delivered / self.attempts if self.attempts else None


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """Attempts that started in one minute (``YYYY-MM-DDTHH:MM``, UTC), by result."""

    minute: str
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    """Latency percentiles of the attempts made in one hour (``YYYY-MM-DDTHH``, UTC)."""

    hour: str
    attempts: int
    p50_ms: int
    p99_ms: int


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One recorded attempt of a delivery."""

    attempted_at: str
    outcome: str
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    duration_ms: int | None


def _delivered() -> Any:
    return func.sum(case((t.attempts.c.outcome == "delivered", 1), else_=0))


class OutboxStats:
    """Figures for the console, on either backend."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def endpoint_figures(self, since: datetime) -> dict[str, EndpointFigures]:
        """Per endpoint: attempts since `since`, delivered ones, p50 and p99 durations."""
        a, d = t.attempts, t.deliveries
        query = (
            select(d.c.endpoint, a.c.duration_ms, func.count(), _delivered())
            .select_from(a.join(d, d.c.id == a.c.delivery_id))
            .where(a.c.attempted_at >= db_time(since))
            .group_by(d.c.endpoint, a.c.duration_ms)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        grouped: dict[str, list[tuple[int | None, int, int]]] = {}
        for endpoint, ms, n, ok in rows:
            grouped.setdefault(endpoint, []).append((_int(ms), int(n), int(ok or 0)))
        figures = {}
        for endpoint, counts in grouped.items():
            timed = Counter({ms: n for ms, n, _ in counts if ms is not None})
            figures[endpoint] = EndpointFigures(
                endpoint,
                sum(n for _, n, _ in counts),
                sum(ok for _, _, ok in counts),
                nearest_rank(timed, 50),
                nearest_rank(timed, 99),
            )
        return figures

    def per_minute(self, since: datetime, endpoint: str | None = None) -> list[MinuteCount]:
        """Attempts per minute since `since`, delivered and not, oldest first."""
        a, d = t.attempts, t.deliveries
        minute = func.substr(a.c.attempted_at, 1, _MINUTE).label("minute")
        query = (
            select(minute, _delivered(), func.count())
            .where(a.c.attempted_at >= db_time(since))
            .group_by(minute)
            .order_by(minute)
        )
        if endpoint is not None:
            query = query.select_from(a.join(d, d.c.id == a.c.delivery_id)).where(
                d.c.endpoint == endpoint
            )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [MinuteCount(m, int(ok or 0), int(n) - int(ok or 0)) for m, ok, n in rows]

    def latency_by_hour(self, since: datetime) -> list[LatencyBucket]:
        """p50 and p99 attempt durations per hour since `since`, oldest first."""
        a = t.attempts
        hour = func.substr(a.c.attempted_at, 1, _HOUR).label("hour")
        query = (
            select(hour, a.c.duration_ms, func.count())
            .where(a.c.attempted_at >= db_time(since), a.c.duration_ms.is_not(None))
            .group_by(hour, a.c.duration_ms)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        hours: dict[str, Counter[int]] = {}
        for name, ms, n in rows:
            hours.setdefault(name, Counter())[int(ms)] += int(n)
        buckets = []
        for name in sorted(hours):
            counts = hours[name]
            p50, p99 = nearest_rank(counts, 50), nearest_rank(counts, 99)
            assert p50 is not None and p99 is not None  # a kept hour has attempts
            buckets.append(LatencyBucket(name, counts.total(), p50, p99))
        return buckets

    def recorded_endpoints(self) -> list[str]:
        """Every endpoint with a health row (one attempt made it), sorted.

        The small `endpoints` table, where `Outbox.endpoint_names` reads every
        delivery: the console asks on each page.
        """
        ep = t.endpoints
        with self.db.read() as conn:
            return list(conn.execute(select(ep.c.name).order_by(ep.c.name)).scalars())

    def attempts_of(self, delivery_id: int, limit: int = 100) -> list[AttemptRow]:
        """The latest `limit` attempts of one delivery, newest first."""
        a = t.attempts
        query = (
            select(
                a.c.attempted_at,
                a.c.outcome,
                a.c.status_code,
                a.c.error,
                a.c.response_excerpt,
                a.c.duration_ms,
            )
            .where(a.c.delivery_id == delivery_id)
            .order_by(a.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [AttemptRow(*row) for row in conn.execute(query).all()]


def nearest_rank(counts: Counter[int], percent: int) -> int | None:
    """The nearest-rank percentile of values given as value → how many times:
    the smallest value whose cumulative count reaches ``percent / 100 * n``."""
    total = counts.total()
    if total == 0:
        return None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen * 100 >= total * percent:
            return value
    return None  # pragma: no cover  (the loop always reaches the total)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
