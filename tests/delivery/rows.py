"""Delivery rows for outbox and worker tests: events fanned out to endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.outbox import Outbox, new_delivery

__all__ = ["T0", "add_deliveries"]

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def add_deliveries(
    outbox: Outbox, endpoints: list[str], events: int, at: datetime = T0
) -> list[int]:
    """`events` events, each delivered to every endpoint; delivery ids in creation order."""
    stamp = db_time(at)
    with outbox.db.write() as conn:
        first = conn.execute(select(func.count()).select_from(t.events)).scalar() or 0
        names = [f"evt_{first + n}" for n in range(events)]
        conn.execute(
            insert(t.events),
            [
                {
                    "event_id": name,
                    "type": "article.created",
                    "slug": name,
                    "timestamp": stamp,
                    "payload": json.dumps({"type": "article.created", "data": {"slug": name}}),
                    "created_at": stamp,
                }
                for name in names
            ],
        )
        conn.execute(
            insert(t.deliveries),
            [
                new_delivery(name, endpoint, "article.created", name, stamp)
                for name in names
                for endpoint in endpoints
            ],
        )
        ids = conn.execute(select(t.deliveries.c.id).order_by(t.deliveries.c.id)).scalars()
        return list(ids)
