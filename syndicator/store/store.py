"""The data layer: one `Store` over SQLAlchemy Core, one `Tx` per unit of work."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from syndicator.core.article import article_from_dict
from syndicator.core.changes import StoredState
from syndicator.core.events import event_json, event_timestamp
from syndicator.core.routing import Route
from syndicator.core.signing import new_message_id
from syndicator.core.times import db_time
from syndicator.errors import StoreError
from syndicator.models import (
    ALL_TOPIC,
    Article,
    ArticleVersion,
    ChangeKind,
    Quarantined,
    RenderedArticle,
)
from syndicator.store import schema as t
from syndicator.store.database import Checkpointer, create_db_engine, migrate, sqlite_path

__all__ = [
    "Change",
    "FeedKey",
    "FeedManifest",
    "PollRecord",
    "Store",
    "TopicRow",
    "Tx",
    "feed_key",
]

_CHUNK = 500  # bound on bind parameters per IN (...) query


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted record, ready to be written."""

    kind: ChangeKind
    version: ArticleVersion
    old_topics: tuple[str, ...]


#: What an entry's bytes in a feed depend on, besides the renderer: slug,
#: content hash (every field but `updated_at`; the HTML body is a function of
#: `body_md`) and `updated_at` as stored (`db_time` text).
FeedKey = tuple[str, str, str]


def feed_key(article: Article, digest: str) -> FeedKey:
    """The key of a stored article version, as `Store.feed_keys` reads it."""
    return (article.slug, digest, db_time(article.updated_at))


@dataclass(frozen=True, slots=True)
class FeedManifest:
    """What one written feed file was composed from, and the file as written."""

    topic: str
    fmt: str
    entries: tuple[FeedKey, ...]  # in feed order
    size: int
    sha256: str  # hex digest of the file's bytes
    fingerprint: str  # the builder's render fingerprint


@dataclass(frozen=True, slots=True)
class TopicRow:
    """A topic, its article count and the time its feed last changed."""

    name: str
    articles: int
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PollRecord:
    """The outcome of one poll, as recorded."""

    source_name: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    counts: dict[str, int]
    error: str | None


def new_delivery(
    event_id: str, endpoint: str, event_type: str, slug: str | None, now: str
) -> dict[str, Any]:
    """A pending delivery row; its webhook-id is fixed here for every attempt and re-send."""
    return {
        "event_id": event_id,
        "endpoint": endpoint,
        "webhook_id": new_message_id(),
        "type": event_type,
        "slug": slug,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


_EVENT_COLUMNS = ("event_id", "type", "slug", "timestamp", "payload", "created_at")
# What `new_delivery` fills in.
_DELIVERY_COLUMNS = (
    "event_id",
    "endpoint",
    "webhook_id",
    "type",
    "slug",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


class _Bulk:
    """A write run with the driver's own executemany, compiled once per dialect.

    For the rows of a big import, SQLAlchemy's per-row parameter processing
    costs more than the database's insert; these statements bind plain text.
    """

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            done = cast(SQLCompiler, self.stmt.compile(dialect=dialect))
            names = tuple(done.positiontup or ()) if done.positional else None
            compiled = self._compiled[dialect.name] = (str(done), names)
        sql, names = compiled
        if names is None:
            conn.exec_driver_sql(sql, list(rows))
        else:
            conn.exec_driver_sql(sql, [tuple(row[n] for n in names) for row in rows])


_INSERT_ARTICLE = _Bulk(
    insert(t.articles).values(
        slug=bindparam("b_slug"),
        updated_at=bindparam("updated_at"),
        published_at=bindparam("published_at"),
        content_hash=bindparam("content_hash"),
        record=bindparam("record"),
        content_html=bindparam("content_html"),
    )
)
_INSERT_ARTICLE_TOPIC = _Bulk(
    insert(t.article_topics).values(
        topic=bindparam("b_topic"), slug=bindparam("b_slug"), updated_at=bindparam("b_at")
    )
)
_INSERT_EVENT = _Bulk(
    insert(t.events).values(
        {name: bindparam(name) for name in _EVENT_COLUMNS},
    )
)
_INSERT_DELIVERY = _Bulk(
    insert(t.deliveries).values({name: bindparam(name) for name in _DELIVERY_COLUMNS})
)


def new_event_id() -> str:
    """A unique event id that sorts by creation time.

    Time first: each insert lands at the end of the unique index instead of
    at a random page, which at a million events is the difference between
    appending and rewriting index pages all over the WAL.
    """
    return f"evt_{time.time_ns():016x}{secrets.token_hex(8)}"


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Tx:
    """Writes that commit together: article state, watermark, events, quarantine."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    def states(self, slugs: Sequence[str]) -> dict[str, StoredState]:
        """The stored state of the given slugs that exist."""
        found: dict[str, StoredState] = {}
        a = t.articles
        for start in range(0, len(slugs), _CHUNK):
            chunk = slugs[start : start + _CHUNK]
            rows = self.conn.execute(
                select(a.c.slug, a.c.updated_at, a.c.content_hash, a.c.record).where(
                    a.c.slug.in_(chunk)
                )
            )
            for slug, updated_at, digest, record in rows:
                topics = tuple(orjson.loads(record).get("topics") or ())
                found[slug] = StoredState(datetime.fromisoformat(updated_at), digest, topics)
        return found

    def apply(self, changes: Sequence[Change], routes: Sequence[Route] = ()) -> set[str]:
        """Write articles, topics, events and their deliveries; return touched topics."""
        if not changes:
            return set()
        touched: set[str] = {ALL_TOPIC}
        rows = [
            {
                "b_slug": c.version.slug,
                "updated_at": db_time(c.version.updated_at),
                "published_at": db_time(c.version.published_at),
                "content_hash": c.version.digest,
                "record": c.version.record,
                "content_html": None,
            }
            for c in changes
        ]
        created = [r for r, c in zip(rows, changes, strict=True) if c.kind is ChangeKind.CREATED]
        updated = [r for r, c in zip(rows, changes, strict=True) if c.kind is ChangeKind.UPDATED]
        a = t.articles
        # In key order: neighbouring inserts touch the same index pages.
        _INSERT_ARTICLE.run(self.conn, sorted(created, key=lambda row: row["b_slug"]))
        if updated:
            self.conn.execute(update(a).where(a.c.slug == bindparam("b_slug")), updated)
        self._apply_topics(changes, touched)
        created_at = db_time(self.now)
        event_rows = [
            {
                "event_id": new_event_id(),
                "type": str(c.kind),
                "slug": c.version.slug,
                "timestamp": db_time(c.version.updated_at),
                "payload": event_json(
                    c.kind, event_timestamp(c.version.updated_at), c.version.event_data
                ),
                "created_at": created_at,
            }
            for c in changes
        ]
        _INSERT_EVENT.run(self.conn, event_rows)
        # Fan-out in the same transaction: an event and its deliveries exist together.
        delivery_rows = [
            new_delivery(row["event_id"], route.endpoint, row["type"], row["slug"], created_at)
            for row, c in zip(event_rows, changes, strict=True)
            for route in routes
            if route.matches(row["type"], c.version.topics)
        ]
        _INSERT_DELIVERY.run(self.conn, delivery_rows)
        self.mark_dirty(touched)
        return touched

    def _apply_topics(self, changes: Sequence[Change], touched: set[str]) -> None:
        at = t.article_topics
        removed: list[dict[str, Any]] = []
        upserts: list[dict[str, Any]] = []
        changed_topics: dict[str, str] = {}
        counts: Counter[str] = Counter()  # article_topics rows gained (+) or lost (-)
        known = {c.version.slug for c in changes if c.kind is not ChangeKind.CREATED}
        for c in changes:
            slug = c.version.slug
            stamp = db_time(c.version.updated_at)
            old, new = set(c.old_topics), set(c.version.topics)
            for topic in old - new:
                removed.append({"b_topic": topic, "b_slug": slug})
                counts[topic] -= 1
            for topic in new - old:
                counts[topic] += 1
            for topic in new:
                upserts.append({"b_topic": topic, "b_slug": slug, "b_at": stamp})
            for topic in old | new:
                changed_topics[topic] = max(stamp, changed_topics.get(topic, ""))
        if removed:
            self.conn.execute(
                delete(at).where(
                    at.c.topic == bindparam("b_topic"), at.c.slug == bindparam("b_slug")
                ),
                removed,
            )
        if upserts:
            # Delete-then-insert keeps one portable statement pair for both
            # dialects; a new slug has no rows to delete.
            existing = [u for u in upserts if u["b_slug"] in known]
            if existing:
                self.conn.execute(
                    delete(at).where(
                        at.c.topic == bindparam("b_topic"), at.c.slug == bindparam("b_slug")
                    ),
                    [{"b_topic": u["b_topic"], "b_slug": u["b_slug"]} for u in existing],
                )
            upserts.sort(key=lambda row: (row["b_topic"], row["b_slug"]))
            _INSERT_ARTICLE_TOPIC.run(self.conn, upserts)
        self._touch_topics(changed_topics, counts)
        touched.update(changed_topics)

    def _touch_topics(self, changed: dict[str, str], counts: Counter[str]) -> None:
        """Create or update the topics' rows: time of last change, article count.

        Each slug comes once per call (`Poller._write` splits a chunk at a
        repeated slug), and its old topics are those its stored record lists,
        so `counts` is exactly the change in each topic's article_topics rows.
        """
        if not changed:
            return
        names = sorted(changed)
        existing: dict[str, str] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            rows = self.conn.execute(
                select(t.topics.c.name, t.topics.c.changed_at).where(t.topics.c.name.in_(chunk))
            )
            existing.update((row[0], row[1]) for row in rows)
        new = [
            {"name": n, "changed_at": changed[n], "articles": counts[n]}
            for n in names
            if n not in existing
        ]
        later = [
            {
                "b_name": n,
                "changed_at": max(changed[n], existing[n]),
                "b_delta": counts[n],
            }
            for n in names
            if n in existing and (changed[n] > existing[n] or counts[n])
        ]
        if new:
            self.conn.execute(insert(t.topics), new)
        if later:
            tp = t.topics
            self.conn.execute(
                update(tp)
                .where(tp.c.name == bindparam("b_name"))
                .values(
                    changed_at=bindparam("changed_at"),
                    articles=tp.c.articles + bindparam("b_delta"),
                ),
                later,
            )

    def mark_dirty(self, topics: Iterable[str]) -> None:
        """Queue feeds for rendering; the queue survives a crash."""
        wanted = sorted(set(topics))
        if not wanted:
            return
        present = set(self.conn.execute(select(t.dirty_feeds.c.topic)).scalars())
        rows = [{"topic": topic} for topic in wanted if topic not in present]
        if rows:
            self.conn.execute(insert(t.dirty_feeds), rows)

    def set_source(self, name: str, watermark: datetime | None, cursor: Any) -> None:
        """Record the source's watermark and cursor."""
        values = {
            "watermark": None if watermark is None else db_time(watermark),
            "cursor": orjson.dumps(cursor).decode(),
        }
        done = self.conn.execute(update(t.sources).where(t.sources.c.name == name).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(t.sources).values(name=name, **values))

    def forget_quarantine(self, source_name: str, origin: str, from_line: int = 0) -> None:
        """Drop quarantine entries of `origin` at or after `from_line` (it is being re-read)."""
        q = t.quarantine
        self.conn.execute(
            delete(q).where(
                q.c.source_name == source_name,
                q.c.origin == origin,
                func.coalesce(q.c.line, 0) >= from_line,
            )
        )

    def add_quarantine(
        self, source_name: str, items: Sequence[tuple[str, int | None, Quarantined]]
    ) -> None:
        """Record rejected records: (origin, line, what)."""
        if items:
            self.conn.execute(
                insert(t.quarantine),
                [
                    {
                        "source_name": source_name,
                        "origin": origin,
                        "line": line,
                        "slug": item.slug,
                        "reason": item.reason[:2000],
                        "seen_at": db_time(self.now),
                    }
                    for origin, line, item in items
                ],
            )


class Store:
    """Durable state of one Syndicator deployment."""

    def __init__(self, url: str, *, cache_mb: int = 64) -> None:
        self.url = url
        self.engine = create_db_engine(url, cache_mb=cache_mb)
        self.dialect = self.engine.dialect.name
        path = sqlite_path(url) if self.dialect == "sqlite" else None
        self._checkpointer = None if path is None else Checkpointer(path)

    def migrate(self) -> int:
        """Bring the schema up to date."""
        try:
            return migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate database: {exc}") from exc

    def checkpoint(self) -> None:
        """Fold SQLite's WAL back into the database now (nothing for PostgreSQL)."""
        if self._checkpointer is not None:
            self._checkpointer.checkpoint(truncate=True)

    def close(self) -> None:
        """Release every connection."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self, now: datetime) -> Iterator[Tx]:
        """A write transaction; everything in it commits together or not at all."""
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield Tx(conn, now)
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {exc}") from exc
        if self._checkpointer is not None:
            self._checkpointer.poke()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    def ping(self) -> None:
        """Raise `StoreError` when the database cannot be reached."""
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")

    def source_state(self, name: str) -> tuple[datetime | None, Any]:
        """The watermark and cursor of a source (None, None when never polled)."""
        with self._read() as conn:
            row = conn.execute(
                select(t.sources.c.watermark, t.sources.c.cursor).where(t.sources.c.name == name)
            ).first()
        if row is None:
            return None, None
        return _dt(row.watermark), orjson.loads(row.cursor) if row.cursor else None

    def feed_entries(self, topic: str, limit: int) -> list[tuple[Article, str | None, str]]:
        """The newest `limit` articles of a topic: (article, cached HTML, content hash)."""
        a, at = t.articles, t.article_topics
        query = select(a.c.record, a.c.content_html, a.c.content_hash)
        if topic == ALL_TOPIC:
            query = query.order_by(a.c.updated_at.desc(), a.c.slug).limit(limit)
        else:
            query = (
                query.join(at, at.c.slug == a.c.slug)
                .where(at.c.topic == topic)
                .order_by(at.c.updated_at.desc(), at.c.slug)
                .limit(limit)
            )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [(article_from_dict(orjson.loads(r[0])), r[1], r[2]) for r in rows]

    def feed_keys(self, topic: str, limit: int) -> list[FeedKey]:
        """The keys of the entries `feed_entries` returns, in the same order;
        reads no record or HTML."""
        return self.feed_keys_many([topic], limit)[topic]

    def feed_keys_many(self, topics: Sequence[str], limit: int) -> dict[str, list[FeedKey]]:
        """`feed_keys` of several topics, read in one transaction."""
        a, at = t.articles, t.article_topics
        columns = select(a.c.slug, a.c.content_hash, a.c.updated_at)
        by_topic = (
            columns.join(at, at.c.slug == a.c.slug)
            .where(at.c.topic == bindparam("b_topic"))
            .order_by(at.c.updated_at.desc(), at.c.slug)
            .limit(limit)
        )
        newest = columns.order_by(a.c.updated_at.desc(), a.c.slug).limit(limit)
        found: dict[str, list[FeedKey]] = {}
        with self._read() as conn:
            for topic in topics:
                if topic == ALL_TOPIC:
                    rows = conn.execute(newest)
                else:
                    rows = conn.execute(by_topic, {"b_topic": topic})
                found[topic] = [(r[0], r[1], r[2]) for r in rows]
        return found

    def articles_by_slug(self, slugs: Sequence[str]) -> dict[str, tuple[Article, str | None, str]]:
        """The given articles that exist: (article, cached HTML, content hash) by slug."""
        a = t.articles
        found: dict[str, tuple[Article, str | None, str]] = {}
        with self._read() as conn:
            for start in range(0, len(slugs), _CHUNK):
                query = select(a.c.slug, a.c.record, a.c.content_html, a.c.content_hash).where(
                    a.c.slug.in_(slugs[start : start + _CHUNK])
                )
                for slug, record, html, digest in conn.execute(query):
                    found[slug] = (article_from_dict(orjson.loads(record)), html, digest)
        return found

    def manifests(self, topics: Sequence[str]) -> dict[tuple[str, str], FeedManifest]:
        """The stored manifests of these topics' feed files, by (topic, format)."""
        m = t.feed_manifests
        found: dict[tuple[str, str], FeedManifest] = {}
        with self._read() as conn:
            for start in range(0, len(topics), _CHUNK):
                query = select(
                    m.c.topic,
                    m.c.format,
                    m.c.entries,
                    m.c.file_size,
                    m.c.file_sha256,
                    m.c.render_fingerprint,
                ).where(m.c.topic.in_(topics[start : start + _CHUNK]))
                for topic, fmt, entries, size, sha, fingerprint in conn.execute(query):
                    keys = tuple((k[0], k[1], k[2]) for k in orjson.loads(entries))
                    found[(topic, fmt)] = FeedManifest(
                        topic, fmt, keys, int(size), sha, fingerprint
                    )
        return found

    def save_manifests(self, manifests: Sequence[FeedManifest], now: datetime) -> None:
        """Replace the manifests of these feed files."""
        if not manifests:
            return
        m = t.feed_manifests
        stamp = db_time(now)
        with self.transaction(now) as tx:
            tx.conn.execute(
                delete(m).where(
                    m.c.topic == bindparam("b_topic"), m.c.format == bindparam("b_fmt")
                ),
                [{"b_topic": x.topic, "b_fmt": x.fmt} for x in manifests],
            )
            tx.conn.execute(
                insert(m),
                [
                    {
                        "topic": x.topic,
                        "format": x.fmt,
                        "entries": orjson.dumps(x.entries).decode(),
                        "file_size": x.size,
                        "file_sha256": x.sha256,
                        "render_fingerprint": x.fingerprint,
                        "written_at": stamp,
                    }
                    for x in manifests
                ],
            )

    def save_html(self, rendered: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """Cache rendered bodies: (slug, content hash, html); stale versions are skipped."""
        if not rendered:
            return
        a = t.articles
        with self.transaction(now) as tx:
            tx.conn.execute(
                update(a)
                .where(a.c.slug == bindparam("b_slug"), a.c.content_hash == bindparam("b_hash"))
                .values(content_html=bindparam("b_html")),
                [{"b_slug": s, "b_hash": h, "b_html": html} for s, h, html in rendered],
            )

    def topics(self) -> list[TopicRow]:
        """Every topic ever seen (including emptied ones), with counts; plus `all`."""
        tp = t.topics
        with self._read() as conn:
            named = conn.execute(select(tp.c.name, tp.c.articles, tp.c.changed_at)).all()
            total = conn.execute(select(func.count()).select_from(t.articles)).scalar_one()
            newest = conn.execute(select(func.max(t.articles.c.updated_at))).scalar()
        rows = [TopicRow(ALL_TOPIC, total, _dt(newest))]
        rows += [TopicRow(name, int(n or 0), _dt(at_)) for name, n, at_ in sorted(named)]
        return rows

    def dirty_topics(self) -> list[str]:
        """Topics whose feeds must be rendered."""
        with self._read() as conn:
            return sorted(conn.execute(select(t.dirty_feeds.c.topic)).scalars())

    def mark_dirty(self, topics: Iterable[str], now: datetime) -> None:
        """Queue feeds for rendering."""
        with self.transaction(now) as tx:
            tx.mark_dirty(topics)

    def clear_dirty(self, topics: Iterable[str], now: datetime) -> None:
        """Remove rendered topics from the queue."""
        names = list(topics)
        if names:
            with self.transaction(now) as tx:
                tx.conn.execute(delete(t.dirty_feeds).where(t.dirty_feeds.c.topic.in_(names)))

    def save_documents(
        self, docs: Sequence[tuple[str, bytes, str, datetime]], now: datetime
    ) -> int:
        """Publish rendered documents for every process: (path, body, type, last modified)."""
        d = t.documents
        with self.transaction(now) as tx:
            current = tx.conn.execute(select(func.max(d.c.version))).scalar() or 0
            version = int(current) + 1
            changed = [
                {"b_path": path, "body": body, "content_type": ctype, "last_modified": db_time(lm)}
                for path, body, ctype, lm in docs
            ]
            if not changed:
                return version - 1
            tx.conn.execute(
                delete(d).where(d.c.path == bindparam("b_path")),
                [{"b_path": row["b_path"]} for row in changed],
            )
            tx.conn.execute(
                insert(d).values(
                    path=bindparam("b_path"),
                    body=bindparam("body"),
                    content_type=bindparam("content_type"),
                    last_modified=bindparam("last_modified"),
                    version=version,
                ),
                changed,
            )
        return version

    def load_documents(
        self, after_version: int = 0
    ) -> tuple[int, list[tuple[str, bytes, str, datetime]]]:
        """Documents published after `after_version`, and the newest version seen."""
        d = t.documents
        with self._read() as conn:
            rows = conn.execute(
                select(d.c.path, d.c.body, d.c.content_type, d.c.last_modified, d.c.version).where(
                    d.c.version > after_version
                )
            ).all()
        newest = max((int(r.version) for r in rows), default=after_version)
        docs = [
            (r.path, bytes(r.body), r.content_type, datetime.fromisoformat(r.last_modified))
            for r in rows
        ]
        return newest, docs

    def get_meta(self, key: str) -> str | None:
        """A value from the key/value table."""
        with self._read() as conn:
            return conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str, now: datetime) -> None:
        """Store a value in the key/value table."""
        with self.transaction(now) as tx:
            done = tx.conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                tx.conn.execute(insert(t.meta).values(key=key, value=value))

    def record_poll(self, poll: PollRecord) -> None:
        """Keep the outcome of a poll (for status and health)."""
        with self.transaction(poll.finished_at) as tx:
            tx.conn.execute(
                insert(t.polls).values(
                    source_name=poll.source_name,
                    started_at=db_time(poll.started_at),
                    finished_at=db_time(poll.finished_at),
                    outcome=poll.outcome,
                    error=poll.error,
                    **{
                        k: poll.counts.get(k, 0)
                        for k in ("created", "updated", "ignored", "quarantined")
                    },
                )
            )
            # Keep a bounded history.
            cutoff = select(t.polls.c.id).order_by(t.polls.c.id.desc()).offset(1000).limit(1)
            oldest = tx.conn.execute(cutoff).scalar()
            if oldest is not None:
                tx.conn.execute(delete(t.polls).where(t.polls.c.id <= oldest))

    def recent_polls(self, limit: int = 3) -> list[PollRecord]:
        """The latest polls, newest first."""
        p = t.polls
        with self._read() as conn:
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
                    "ignored": r.ignored,
                    "quarantined": r.quarantined,
                },
                error=r.error,
            )
            for r in rows
        ]

    def quarantined(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Quarantined records: {source, slug, reason, seen_at}."""
        q = t.quarantine
        with self._read() as conn:
            rows = conn.execute(
                select(q).order_by(q.c.origin, func.coalesce(q.c.line, 0), q.c.id).limit(limit)
            ).all()
        return [
            {
                "source": r.origin if r.line is None else f"{r.origin}:{r.line}",
                "slug": r.slug,
                "reason": r.reason,
                "seen_at": r.seen_at,
            }
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Row counts for status: articles, topics, events, quarantined."""
        with self._read() as conn:

            def count(table: Any) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

            return {
                "articles": count(t.articles),
                "topics": count(t.topics),
                "events": count(t.events),
                "quarantined": count(t.quarantine),
            }

    def events(self, slug: str | None = None) -> list[dict[str, Any]]:
        """Outbox events in commit order (optionally of one slug)."""
        e = t.events
        query = select(e).order_by(e.c.id)
        if slug is not None:
            query = query.where(e.c.slug == slug)
        with self._read() as conn:
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


def rendered(entries: Sequence[tuple[Article, str | None, str]]) -> list[RenderedArticle]:
    """Feed entries as `RenderedArticle`s (HTML must already be filled in)."""
    return [RenderedArticle(article, html) for article, html, _ in entries]
