"""What polling leaves behind: `sources` (watermark, cursor), `quarantine`, `polls`, `meta`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from syndicator.core.entities import ENTITY_DROPPED
from syndicator.core.times import db_time
from syndicator.models import Quarantined
from syndicator.store import schema as t
from syndicator.store.db import Database, parse_time

__all__ = [
    "PollRecord",
    "Polls",
    "add_quarantine",
    "forget_quarantine",
    "set_source",
]

_POLL_HISTORY = 1000  # polls kept for status and health
#: The `meta` key `syndicator poll` writes and the daemons watch.
_POLL_REQUEST = "poll_requested_at"


#: `meta` key: when a daemon last served a build's documents (`db_time`), so
#: `syndicator poll --wait` returns once readers can see what the poll changed.
SERVED_KEY = "served_at"


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of one poll, as recorded."""

    source_name: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    counts: dict[str, int]
    error: str | None


def set_source(conn: Connection, name: str, watermark: datetime | None, cursor: Any) -> None:
    """Record the source's watermark and cursor in the caller's transaction."""
    values = {
        "watermark": None if watermark is None else db_time(watermark),
        "cursor": orjson.dumps(cursor).decode(),
    }
    done = conn.execute(update(t.sources).where(t.sources.c.name == name).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(t.sources).values(name=name, **values))


def forget_quarantine(conn: Connection, source_name: str, origin: str, from_line: int) -> None:
    """Drop quarantine entries of `origin` at or after `from_line` (it is being re-read)."""
    q = t.quarantine
    conn.execute(
        delete(q).where(
            q.c.source_name == source_name,
            q.c.origin == origin,
            func.coalesce(q.c.line, 0) >= from_line,
        )
    )


def add_quarantine(
    conn: Connection,
    source_name: str,
    items: Sequence[tuple[str, int | None, Quarantined]],
    now: datetime,
) -> None:
    """Record rejected records: (origin, line, what)."""
    if items:
        conn.execute(
            insert(t.quarantine),
            [
                {
                    "source_name": source_name,
                    "origin": origin,
                    "line": line,
                    "slug": item.slug,
                    "reason": item.reason[:2000],
                    "seen_at": db_time(now),
                }
                for origin, line, item in items
            ],
        )


class Polls:
    """Source positions, poll history, quarantined records and the key/value table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def source_state(self, name: str) -> tuple[datetime | None, Any]:
        """The watermark and cursor of a source (None, None when never polled)."""
        with self.db.read() as conn:
            row = conn.execute(
                select(t.sources.c.watermark, t.sources.c.cursor).where(t.sources.c.name == name)
            ).first()
        if row is None:
            return None, None
        return parse_time(row.watermark), orjson.loads(row.cursor) if row.cursor else None

    def record_poll(self, poll: PollRecord) -> None:
        """Keep the outcome of a poll (for status and health)."""
        with self.db.write() as conn:
            conn.execute(
                insert(t.polls).values(
                    source_name=poll.source_name,
                    started_at=db_time(poll.started_at),
                    finished_at=db_time(poll.finished_at),
                    outcome=poll.outcome,
                    error=poll.error,
                    **{
                        k: poll.counts.get(k, 0)
                        for k in ("created", "updated", "deleted", "ignored", "quarantined")
                    },
                )
            )
            # Keep a bounded history.
            cutoff = (
                select(t.polls.c.id).order_by(t.polls.c.id.desc()).offset(_POLL_HISTORY).limit(1)
            )
            oldest = conn.execute(cutoff).scalar()
            if oldest is not None:
                conn.execute(delete(t.polls).where(t.polls.c.id <= oldest))

    def recent_polls(self, limit: int = 3) -> list[PollRecord]:
        """The latest polls, newest first."""
        p = t.polls
        with self.db.read() as conn:
            rows = conn.execute(select(p).order_by(p.c.id.desc()).limit(limit)).all()
        return [
            PollRecord(
                source_name=r.source_name,
                started_at=datetime.fromisoformat(r.started_at),
                finished_at=datetime.fromisoformat(r.finished_at),
                outcome=r.outcome,
                counts={
                    "created": r.created,
                    "updated": r.updated,
                    "deleted": r.deleted,
                    "ignored": r.ignored,
                    "quarantined": r.quarantined,
                },
                error=r.error,
            )
            for r in rows
        ]

    def quarantined(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Quarantined records: {source, slug, reason, seen_at, kind}; `kind` is
        "record" (not published) or "entity" (an entity dropped from a record
        whose article is published)."""
        q = t.quarantine
        with self.db.read() as conn:
            rows = conn.execute(
                select(q).order_by(q.c.origin, func.coalesce(q.c.line, 0), q.c.id).limit(limit)
            ).all()
        return [
            {
                "source": r.origin if r.line is None else f"{r.origin}:{r.line}",
                "slug": r.slug,
                "reason": r.reason,
                "seen_at": r.seen_at,
                "kind": "entity" if r.reason.startswith(ENTITY_DROPPED) else "record",
            }
            for r in rows
        ]

    def get_meta(self, key: str) -> str | None:
        """A value from the key/value table."""
        with self.db.read() as conn:
            return conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str, now: datetime) -> None:
        """Store a value in the key/value table."""
        with self.db.write() as conn:
            done = conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                conn.execute(insert(t.meta).values(key=key, value=value))

    def request_poll(self, now: datetime) -> None:
        """Ask the running daemon(s) to poll now (`syndicator poll`)."""
        self.set_meta(_POLL_REQUEST, db_time(now), now)

    def poll_requested(self) -> datetime | None:
        """When a poll was last asked for, if ever."""
        return parse_time(self.get_meta(_POLL_REQUEST))
