"""Articles and their topics: the `articles`, `article_topics` and `topics` tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from syndicator.core.article import article_from_dict
from syndicator.core.changes import UNPUBLISHED_HASH, StoredState
from syndicator.core.times import db_time
from syndicator.models import ALL_TOPIC, Article, ArticleVersion, ChangeKind
from syndicator.store import schema as t
from syndicator.store.db import Bulk, Database, chunked, count_rows, parse_time
from syndicator.store.feeds import FeedKey

__all__ = ["Articles", "Change", "TopicRow", "apply_changes", "stored_states", "touch_topics"]


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted record, ready to be written."""

    kind: ChangeKind
    version: ArticleVersion
    old_topics: tuple[str, ...]
    #: The slug's row exists and is deleted: this record brings it back.
    restores: bool = False


@dataclass(frozen=True, slots=True)
class TopicRow:
    """A topic, its article count and the time its feed last changed."""

    name: str
    articles: int
    changed_at: datetime | None


_INSERT_ARTICLE = Bulk(
    insert(t.articles).values(
        slug=bindparam("b_slug"),
        updated_at=bindparam("updated_at"),
        published_at=bindparam("published_at"),
        content_hash=bindparam("content_hash"),
        record=bindparam("record"),
        content_html=bindparam("content_html"),
    )
)
_INSERT_ARTICLE_TOPIC = Bulk(
    insert(t.article_topics).values(
        topic=bindparam("b_topic"), slug=bindparam("b_slug"), updated_at=bindparam("b_at")
    )
)


def stored_states(conn: Connection, slugs: Sequence[str]) -> dict[str, StoredState]:
    """The stored state of the given slugs that exist."""
    found: dict[str, StoredState] = {}
    a = t.articles
    for chunk in chunked(slugs):
        rows = conn.execute(
            select(a.c.slug, a.c.updated_at, a.c.content_hash, a.c.record).where(
                a.c.slug.in_(chunk)
            )
        )
        for slug, updated_at, digest, record in rows:
            state = StoredState(datetime.fromisoformat(updated_at), digest, ())
            if not state.deleted:
                # A deleted article is in no topic feed, whatever its record says.
                topics = tuple(orjson.loads(record).get("topics") or ())
                state = StoredState(state.updated_at, digest, topics)
            found[slug] = state
    return found


def apply_changes(conn: Connection, changes: Sequence[Change]) -> set[str]:
    """Write created and updated articles and their topics; return the touched topics."""
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
    pairs = list(zip(rows, changes, strict=True))
    created = [r for r, c in pairs if c.kind is ChangeKind.CREATED and not c.restores]
    updated = [r for r, c in pairs if c.kind is ChangeKind.UPDATED or c.restores]
    a = t.articles
    # In key order: neighbouring inserts touch the same index pages.
    _INSERT_ARTICLE.run(conn, sorted(created, key=lambda row: row["b_slug"]))
    if updated:
        conn.execute(update(a).where(a.c.slug == bindparam("b_slug")), updated)
    restored = [c for c in changes if c.restores]
    if restored:
        _restore(conn, restored)
    _apply_topics(conn, changes, touched)
    return touched


def _restore(conn: Connection, restored: Sequence[Change]) -> None:
    """Clear the deletion of restored articles, and their tombstones in the
    feeds they are back in (those they left stay listed as deleted)."""
    a, ft = t.articles, t.feed_tombstones
    slugs = [{"b_slug": c.version.slug} for c in restored]
    conn.execute(
        update(a)
        .where(a.c.slug == bindparam("b_slug"))
        .values(deleted_at=None, deleted_reason=None),
        slugs,
    )
    back = [
        {"b_topic": topic, "b_slug": c.version.slug}
        for c in restored
        for topic in (ALL_TOPIC, *c.version.topics)
    ]
    conn.execute(
        delete(ft).where(ft.c.topic == bindparam("b_topic"), ft.c.slug == bindparam("b_slug")),
        back,
    )


def _apply_topics(conn: Connection, changes: Sequence[Change], touched: set[str]) -> None:
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
        conn.execute(
            delete(at).where(at.c.topic == bindparam("b_topic"), at.c.slug == bindparam("b_slug")),
            removed,
        )
    if upserts:
        # Delete-then-insert keeps one portable statement pair for both
        # dialects; a new slug has no rows to delete.
        existing = [u for u in upserts if u["b_slug"] in known]
        if existing:
            conn.execute(
                delete(at).where(
                    at.c.topic == bindparam("b_topic"), at.c.slug == bindparam("b_slug")
                ),
                [{"b_topic": u["b_topic"], "b_slug": u["b_slug"]} for u in existing],
            )
        upserts.sort(key=lambda row: (row["b_topic"], row["b_slug"]))
        _INSERT_ARTICLE_TOPIC.run(conn, upserts)
    touch_topics(conn, changed_topics, counts)
    touched.update(changed_topics)


def touch_topics(conn: Connection, changed: dict[str, str], counts: Counter[str]) -> None:
    """Create or update the topics' rows: time of last change, article count.

    Each slug comes once per call (`Pipeline._write` splits a chunk at a
    repeated slug), and its old topics are those its stored record lists,
    so `counts` is exactly the change in each topic's article_topics rows.
    """
    if not changed:
        return
    names = sorted(changed)
    existing: dict[str, str] = {}
    for chunk in chunked(names):
        rows = conn.execute(
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
        conn.execute(insert(t.topics), new)
    if later:
        tp = t.topics
        conn.execute(
            update(tp)
            .where(tp.c.name == bindparam("b_name"))
            .values(
                changed_at=bindparam("changed_at"),
                articles=tp.c.articles + bindparam("b_delta"),
            ),
            later,
        )


class Articles:
    """Reads of stored articles for the build, and the cache of their rendered HTML."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def feed_entries(self, topic: str, limit: int) -> list[tuple[Article, str | None, str]]:
        """The newest `limit` articles of a topic: (article, cached HTML, content hash)."""
        a, at = t.articles, t.article_topics
        query = select(a.c.record, a.c.content_html, a.c.content_hash)
        if topic == ALL_TOPIC:
            query = (
                query.where(a.c.deleted_at.is_(None))
                .order_by(a.c.updated_at.desc(), a.c.slug)
                .limit(limit)
            )
        else:
            query = (
                query.join(at, at.c.slug == a.c.slug)
                .where(at.c.topic == topic)
                .order_by(at.c.updated_at.desc(), at.c.slug)
                .limit(limit)
            )
        with self.db.read() as conn:
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
        newest = (
            columns.where(a.c.deleted_at.is_(None))
            .order_by(a.c.updated_at.desc(), a.c.slug)
            .limit(limit)
        )
        found: dict[str, list[FeedKey]] = {}
        with self.db.read() as conn:
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
        with self.db.read() as conn:
            for chunk in chunked(slugs):
                query = select(a.c.slug, a.c.record, a.c.content_html, a.c.content_hash).where(
                    a.c.slug.in_(chunk)
                )
                for slug, record, html, digest in conn.execute(query):
                    found[slug] = (article_from_dict(orjson.loads(record)), html, digest)
        return found

    def save_html(self, rendered: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """Cache rendered bodies: (slug, content hash, html); stale versions are skipped."""
        if not rendered:
            return
        a = t.articles
        with self.db.write() as conn:
            conn.execute(
                update(a)
                .where(a.c.slug == bindparam("b_slug"), a.c.content_hash == bindparam("b_hash"))
                .values(content_html=bindparam("b_html")),
                [{"b_slug": s, "b_hash": h, "b_html": html} for s, h, html in rendered],
            )

    def topics(self) -> list[TopicRow]:
        """Every topic ever seen (including emptied ones), with counts; plus `all`."""
        tp, a = t.topics, t.articles
        with self.db.read() as conn:
            named = conn.execute(select(tp.c.name, tp.c.articles, tp.c.changed_at)).all()
            total = conn.execute(
                select(func.count()).select_from(a).where(a.c.deleted_at.is_(None))
            ).scalar_one()
            # A deletion changes the `all` feed at its time; a tombstone for a
            # slug never published changes nothing.
            newest = conn.execute(
                select(func.max(a.c.updated_at)).where(a.c.content_hash != UNPUBLISHED_HASH)
            ).scalar()
        rows = [TopicRow(ALL_TOPIC, total, parse_time(newest))]
        rows += [TopicRow(name, int(n or 0), parse_time(at_)) for name, n, at_ in sorted(named)]
        return rows

    def counts(self) -> dict[str, int]:
        """Row counts for status: articles and topics."""
        a = t.articles
        with self.db.read() as conn:
            deleted = conn.execute(
                select(func.count()).select_from(a).where(a.c.deleted_at.is_not(None))
            ).scalar_one()
            return {
                "articles": count_rows(conn, a) - int(deleted),
                "deleted": int(deleted),
                "topics": count_rows(conn, t.topics),
            }

    def describe(self, slug: str) -> dict[str, Any] | None:
        """What is stored of one article (for `articles show`); None when unknown."""
        a, at, ft = t.articles, t.article_topics, t.feed_tombstones
        with self.db.read() as conn:
            row = conn.execute(select(a).where(a.c.slug == slug)).first()
            if row is None:
                return None
            topics = list(conn.execute(select(at.c.topic).where(at.c.slug == slug)).scalars())
            left = conn.execute(
                select(ft.c.topic, ft.c.deleted_at).where(ft.c.slug == slug).order_by(ft.c.topic)
            ).all()
        record = orjson.loads(row.record)
        live = row.deleted_at is None
        return {
            "record": record,
            "content_hash": row.content_hash,
            "deleted_at": parse_time(row.deleted_at),
            "deleted_reason": row.deleted_reason,
            "in_feeds": ([ALL_TOPIC] if live else []) + sorted(topics),
            "tombstones": [(topic, datetime.fromisoformat(at_)) for topic, at_ in left],
        }

    def tombstones(self, since: datetime) -> dict[str, list[tuple[str, datetime]]]:
        """Per topic, the articles deleted from its feed at or after `since`:
        (slug, deleted_at), newest first."""
        ft = t.feed_tombstones
        query = (
            select(ft.c.topic, ft.c.slug, ft.c.deleted_at)
            .where(ft.c.deleted_at >= db_time(since))
            .order_by(ft.c.topic, ft.c.deleted_at.desc(), ft.c.slug)
        )
        found: dict[str, list[tuple[str, datetime]]] = {}
        with self.db.read() as conn:
            for topic, slug, deleted_at in conn.execute(query):
                found.setdefault(topic, []).append((slug, datetime.fromisoformat(deleted_at)))
        return found

    def expired_tombstones(self, before: datetime) -> set[str]:
        """Topics whose feeds still list a tombstone older than `before`."""
        ft = t.feed_tombstones
        query = select(ft.c.topic).where(ft.c.deleted_at < db_time(before)).distinct()
        with self.db.read() as conn:
            return set(conn.execute(query).scalars())

    def drop_tombstones(self, before: datetime) -> None:
        """Forget tombstones older than `before` once their feeds were rendered without them."""
        ft = t.feed_tombstones
        with self.db.write() as conn:
            conn.execute(delete(ft).where(ft.c.deleted_at < db_time(before)))
