"""Reader analytics: the `reader_*` tables, written by `syndicator.analytics`.

Every serving process adds what it counted since its last flush in one short
transaction of additive upserts, so several processes on one PostgreSQL add up:
requests and 304s per (day, path), one row per distinct direct reader per
(day, path) (a salted hash, never an address), and the latest subscriber figure
per (path, aggregator, its feed id). The salt of a day is shared through
`reader_salts` and deleted once the day has ended.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_

from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import Database, dialect_insert

__all__ = ["SUBSCRIBER_DAYS", "FeedUsage", "ReaderBatch", "Readers"]

#: A feed id's subscriber figure counts while its aggregator fetched it in this
#: many days (or within the asked period, when that is longer): aggregators poll
#: at least daily, so an id unseen for a week has been dropped or renamed.
SUBSCRIBER_DAYS = 7


@dataclass(frozen=True, slots=True)
class FeedUsage:
    """What readers did with one document over a period."""

    requests: int  # over the asked period
    not_modified: int  # of which 304
    subscribers: Mapping[str, int]  # latest figure per source ("feedly", "inoreader", ...)
    #: Distinct direct readers: the sum of the daily distinct counts over the
    #: period (a reader is one per day: the salt, and so the hash, changes daily).
    direct_readers: int


@dataclass(slots=True)
class ReaderBatch:
    """What one process counted for one UTC day since its last flush."""

    day: date
    #: path → [requests, not_modified]
    traffic: dict[str, list[int]] = field(default_factory=dict)
    #: (path, salted reader hash)
    visits: set[tuple[str, str]] = field(default_factory=set)
    #: (path, source, feed id) → the latest figure, with when it was seen
    subscribers: dict[tuple[str, str, str], tuple[int, datetime]] = field(default_factory=dict)

    def merge(self, other: ReaderBatch) -> None:
        """Add a later batch of the same day to this one."""
        for path, (requests, not_modified) in other.traffic.items():
            counts = self.traffic.setdefault(path, [0, 0])
            counts[0] += requests
            counts[1] += not_modified
        self.visits |= other.visits
        self.subscribers.update(other.subscribers)

    def __bool__(self) -> bool:
        return bool(self.traffic or self.visits or self.subscribers)


def _insert(conn: Connection) -> Any:
    return dialect_insert(conn.dialect.name)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _day_start(day: date) -> str:
    return db_time(datetime.combine(day, time(), UTC))


class Readers:
    """Reader analytics per document path: the only writer of the `reader_*` tables."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = _utc_now) -> None:
        self.db = db
        #: Where "today" comes from (`daily`); tests replace it.
        self.clock = clock

    def salt(self, day: date) -> bytes:
        """The salt of `day`, made now by whichever process asks first; the salts
        of earlier days are deleted in the same transaction."""
        s = t.reader_salts
        key = day.isoformat()
        with self.db.write() as conn:
            conn.execute(delete(s).where(s.c.day < key))
            conn.execute(
                _insert(conn)(s)
                .values(day=key, salt=secrets.token_hex(32))
                .on_conflict_do_nothing(index_elements=[s.c.day])
            )
            value = conn.execute(select(s.c.salt).where(s.c.day == key)).scalar_one()
        return bytes.fromhex(value)

    def record(self, batch: ReaderBatch) -> None:
        """Add a batch, in one transaction (rows in key order, so two processes
        upserting the same rows on PostgreSQL take their locks in one order)."""
        if not batch:
            return
        day = batch.day.isoformat()
        with self.db.write() as conn:
            insert = _insert(conn)
            if batch.traffic:
                tr = t.reader_traffic
                stmt = insert(tr)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[tr.c.day, tr.c.path],
                        set_={
                            "requests": tr.c.requests + stmt.excluded.requests,
                            "not_modified": tr.c.not_modified + stmt.excluded.not_modified,
                        },
                    ),
                    [
                        {"day": day, "path": path, "requests": r, "not_modified": nm}
                        for path, (r, nm) in sorted(batch.traffic.items())
                    ],
                )
            if batch.visits:
                v = t.reader_visits
                conn.execute(
                    insert(v).on_conflict_do_nothing(
                        index_elements=[v.c.day, v.c.path, v.c.reader]
                    ),
                    [{"day": day, "path": p, "reader": r} for p, r in sorted(batch.visits)],
                )
            if batch.subscribers:
                self._record_subscribers(conn, batch)

    @staticmethod
    def _record_subscribers(conn: Connection, batch: ReaderBatch) -> None:
        sub = t.reader_subscribers
        stmt = _insert(conn)(sub)
        # Latest wins: a process flushing an older figure late leaves a newer one.
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[sub.c.path, sub.c.source, sub.c.feed_id],
                set_={"subscribers": stmt.excluded.subscribers, "seen_at": stmt.excluded.seen_at},
                where=stmt.excluded.seen_at >= sub.c.seen_at,
            ),
            [
                {
                    "path": path,
                    "source": source,
                    "feed_id": feed_id,
                    "subscribers": count,
                    "seen_at": db_time(seen),
                }
                for (path, source, feed_id), (count, seen) in sorted(batch.subscribers.items())
            ],
        )

    def traffic(self, since_day: date) -> dict[str, FeedUsage]:
        """Per document path with any data: requests, 304s and distinct direct
        readers from `since_day` on (UTC days), and the subscriber figures."""
        since = since_day.isoformat()
        today = self.clock().astimezone(UTC).date()
        figures_since = _day_start(min(since_day, today - timedelta(days=SUBSCRIBER_DAYS - 1)))
        tr, v, sub = t.reader_traffic, t.reader_visits, t.reader_subscribers
        with self.db.read() as conn:
            counts = {
                r.path: (int(r.requests), int(r.not_modified))
                for r in conn.execute(
                    select(
                        tr.c.path,
                        func.sum(tr.c.requests).label("requests"),
                        func.sum(tr.c.not_modified).label("not_modified"),
                    )
                    .where(tr.c.day >= since)
                    .group_by(tr.c.path)
                )
            }
            direct: dict[str, int] = {
                path: int(n)
                for path, n in conn.execute(
                    select(v.c.path, func.count()).where(v.c.day >= since).group_by(v.c.path)
                )
            }
            subscribers: dict[str, dict[str, int]] = {}
            for path, source, total in conn.execute(
                select(sub.c.path, sub.c.source, func.sum(sub.c.subscribers))
                .where(sub.c.seen_at >= figures_since)
                .group_by(sub.c.path, sub.c.source)
                .order_by(sub.c.path, sub.c.source)
            ):
                subscribers.setdefault(path, {})[source] = int(total)
        paths = sorted(set(counts) | set(direct) | set(subscribers))
        return {
            path: FeedUsage(
                requests=counts.get(path, (0, 0))[0],
                not_modified=counts.get(path, (0, 0))[1],
                subscribers=subscribers.get(path, {}),
                direct_readers=int(direct.get(path, 0)),
            )
            for path in paths
        }

    def daily(self, path: str, days: int) -> list[tuple[date, int, int, int]]:
        """(day, requests, not_modified, direct_readers) for each of the last `days`
        UTC days up to today, oldest first; days without data are zeros."""
        if days <= 0:
            return []
        today = self.clock().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        tr, v = t.reader_traffic, t.reader_visits
        with self.db.read() as conn:
            counts = {
                r.day: (int(r.requests), int(r.not_modified))
                for r in conn.execute(
                    select(tr.c.day, tr.c.requests, tr.c.not_modified).where(
                        tr.c.path == path, tr.c.day >= first.isoformat()
                    )
                )
            }
            direct: dict[str, int] = {
                day: int(n)
                for day, n in conn.execute(
                    select(v.c.day, func.count())
                    .where(v.c.day >= first.isoformat(), v.c.path == path)
                    .group_by(v.c.day)
                )
            }
        result = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            key = day.isoformat()
            requests, not_modified = counts.get(key, (0, 0))
            result.append((day, requests, not_modified, int(direct.get(key, 0))))
        return result

    def prune(self, before: date, today: date, limit: int) -> int:
        """Delete up to `limit` rows of each kind older than `before` (traffic and
        readers of earlier days, figures not announced since), and the salts of
        days before `today`; return the most deleted of one kind (the pass is over
        when that is under `limit`)."""
        key = before.isoformat()
        v, tr, sub, s = t.reader_visits, t.reader_traffic, t.reader_subscribers, t.reader_salts
        with self.db.write() as conn:
            visits = conn.execute(
                delete(v).where(
                    tuple_(v.c.day, v.c.path, v.c.reader).in_(
                        select(v.c.day, v.c.path, v.c.reader)
                        .where(v.c.day < key)
                        .order_by(v.c.day)
                        .limit(limit)
                    )
                )
            ).rowcount
            traffic = conn.execute(
                delete(tr).where(
                    tuple_(tr.c.day, tr.c.path).in_(
                        select(tr.c.day, tr.c.path).where(tr.c.day < key).limit(limit)
                    )
                )
            ).rowcount
            figures = conn.execute(
                delete(sub).where(
                    tuple_(sub.c.path, sub.c.source, sub.c.feed_id).in_(
                        select(sub.c.path, sub.c.source, sub.c.feed_id)
                        .where(sub.c.seen_at < _day_start(before))
                        .limit(limit)
                    )
                )
            ).rowcount
            conn.execute(delete(s).where(s.c.day < today.isoformat()))
        return max(int(visits), int(traffic), int(figures))
