"""Read-only figures over the outbox for the operator console.

Success rates and latency percentiles are computed in SQL over the attempts
of a bounded window (the `attempts_time` index), with window functions both
SQLite and PostgreSQL have: a percentile is the nearest rank, the smallest
duration whose rank reaches ``p * n``. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, func, select

from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import Database

__all__ = ["AttemptRow", "EndpointFigures", "LatencyBucket", "MinuteCount", "OutboxStats"]

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
        ranked = (
            select(
                d.c.endpoint,
                a.c.outcome,
                a.c.duration_ms,
                func.row_number()
                .over(partition_by=d.c.endpoint, order_by=(a.c.duration_ms, a.c.id))
                .label("rank"),
                func.count().over(partition_by=d.c.endpoint).label("n"),
            )
            .select_from(a.join(d, d.c.id == a.c.delivery_id))
            .where(a.c.attempted_at >= db_time(since))
            .subquery()
        )
        query = select(
            ranked.c.endpoint,
            func.max(ranked.c.n),
            func.sum(case((ranked.c.outcome == "delivered", 1), else_=0)),
            _percentile(ranked, 50),
            _percentile(ranked, 99),
        ).group_by(ranked.c.endpoint)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return {
            name: EndpointFigures(name, int(n), int(ok or 0), _int(p50), _int(p99))
            for name, n, ok, p50, p99 in rows
        }

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
        hour = func.substr(a.c.attempted_at, 1, _HOUR)
        ranked = (
            select(
                hour.label("hour"),
                a.c.duration_ms,
                func.row_number()
                .over(partition_by=hour, order_by=(a.c.duration_ms, a.c.id))
                # "rank" and "n", the names `_percentile` reads.
                .label("rank"),
                func.count().over(partition_by=hour).label("n"),
            )
            .where(a.c.attempted_at >= db_time(since), a.c.duration_ms.is_not(None))
            .subquery()
        )
        query = (
            select(
                ranked.c.hour,
                func.max(ranked.c.n),
                _percentile(ranked, 50),
                _percentile(ranked, 99),
            )
            .group_by(ranked.c.hour)
            .order_by(ranked.c.hour)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [LatencyBucket(h, int(n), int(p50), int(p99)) for h, n, p50, p99 in rows]

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


def _percentile(ranked: Any, percent: int) -> Any:
    """The nearest-rank percentile of a ranked subquery with `rank` and `n` columns:
    the smallest duration whose rank is at least ``percent / 100 * n``."""
    reached = cast(ranked.c.rank, Integer) * 100 >= cast(ranked.c.n, Integer) * percent
    return func.min(case((reached, ranked.c.duration_ms)))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
