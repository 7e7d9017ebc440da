"""Articles and their topics: the `articles`, `article_topics` and `topics` tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from syndicator.core.article import article_from_dict
from syndicator.core.changes import UNPUBLISHED_HASH, StoredState
from syndicator.core.custom import CustomFeed
from syndicator.core.entities import entity_key
from syndicator.core.times import db_time
from syndicator.models import ALL_TOPIC, Article, ArticleVersion, ChangeKind
from syndicator.store import embargoes
from syndicator.store import schema as t
from syndicator.store.db import Bulk, Database, chunked, count_rows, parse_time
from syndicator.store.embargoes import visible
from syndicator.store.facets import (
    EntityNames,
    assign_entities,
    count_spellings,
    feed_names,
    known_entities,
    spelling_delta,
)
from syndicator.store.feeds import FeedKey
from syndicator.store.postings import Postings, key_order

__all__ = [
    "Articles",
    "Change",
    "FeedDeltas",
    "TopicRow",
    "apply_changes",
    "release_due",
    "stored_states",
    "touch_topics",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted record, ready to be written."""

    kind: ChangeKind
    version: ArticleVersion
    #: The feeds (topics and facets) the stored version is in.
    old_topics: tuple[str, ...]
    #: The slug's row exists and is deleted: this record brings it back.
    restores: bool = False
    #: The stored version's entities as spelled (none when it is deleted).
    old_entities: tuple[str, ...] = ()
    #: The stored version's `updated_at`: its membership rows are keyed by it.
    old_updated_at: datetime | None = None


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
_DELETE_ARTICLE_TOPIC = Bulk(
    delete(t.article_topics).where(
        t.article_topics.c.topic == bindparam("b_topic"),
        t.article_topics.c.updated_at == bindparam("b_at"),
        t.article_topics.c.slug == bindparam("b_slug"),
    )
)


def stored_states(
    conn: Connection,
    slugs: Sequence[str],
    custom: Sequence[CustomFeed] = (),
    deltas: FeedDeltas | None = None,
) -> dict[str, StoredState]:
    """The stored state of the given slugs that exist."""
    found: dict[str, StoredState] = {}
    live: list[tuple[str, StoredState, dict[str, Any]]] = []
    a = t.articles
    for chunk in chunked(slugs):
        rows = conn.execute(
            select(a.c.slug, a.c.updated_at, a.c.content_hash, a.c.record).where(
                a.c.slug.in_(chunk)
            )
        )
        for slug, updated_at, digest, record in rows:
            state = StoredState(datetime.fromisoformat(updated_at), digest, ())
            found[slug] = state
            if not state.deleted:
                # A deleted article is in no feed, whatever its record says.
                live.append((slug, state, orjson.loads(record)))
    names = known_entities(
        conn,
        (entity_key(e) for _, _, r in live for e in r.get("entities") or ()),
        None if deltas is None else deltas.entity_cache,
        None if deltas is None else deltas.given,
    )
    for slug, state, record in live:
        entities = tuple(record.get("entities") or ())
        feeds = feed_names(record.get("topics") or (), entities, record.get("lang"), names, custom)
        found[slug] = StoredState(state.updated_at, state.content_hash, feeds, entities)
    return found


@dataclass(slots=True)
class FeedDeltas:
    """What a transaction's writes change in the `topics` and `entity_spellings`
    rows, added up and written once when it ends: a large import touches
    thousands of entity feeds in every chunk, each row once per transaction."""

    changed: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    spellings: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Membership rows of the transaction's new articles, written sorted at the end.
    postings: Postings = field(default_factory=Postings)
    #: The store's committed entity names, and those this transaction gave.
    entity_cache: EntityNames | None = None
    given: dict[str, str] = field(default_factory=dict)

    def add(self, changed: Mapping[str, str], counts: Counter[str]) -> None:
        """Fold in one write's feed dates and article counts."""
        for name, stamp in changed.items():
            self.changed[name] = max(stamp, self.changed.get(name, ""))
        self.counts.update(counts)

    def write(self, conn: Connection) -> None:
        """Write what was added up, and start again from nothing."""
        self.postings.flush(conn)
        touch_topics(conn, self.changed, self.counts)
        count_spellings(conn, self.spellings)
        self.changed, self.counts, self.spellings = {}, Counter(), Counter()


def apply_changes(
    conn: Connection,
    changes: Sequence[Change],
    now: datetime,
    custom: Sequence[CustomFeed] = (),
    deltas: FeedDeltas | None = None,
) -> tuple[set[str], dict[str, str]]:
    """Write created and updated articles and their topics.

    An article whose `published_at` is after `now` is stored but held (see
    `syndicator.store.embargoes`); an update of a held article moves its
    instant, or publishes it at once when the new instant has passed. Return
    the topics whose feeds changed, and for every article held now or until
    now, when its deliveries may go (`db_time` text, by slug).
    """
    if not changes:
        return set(), {}
    stamps = [db_time(c.version.updated_at) for c in changes]
    published = [db_time(c.version.published_at) for c in changes]
    rows = [
        {
            "b_slug": c.version.slug,
            "updated_at": stamp,
            "published_at": shown_at,
            "content_hash": c.version.digest,
            "record": c.version.record,
            "content_html": None,
        }
        for c, stamp, shown_at in zip(changes, stamps, published, strict=True)
    ]
    pending = FeedDeltas() if deltas is None else deltas
    names = assign_entities(
        conn,
        (e for c in changes for e in (*c.version.entities, *c.old_entities)),
        pending.entity_cache,
        pending.given,
    )
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
        _restore(conn, restored, names, custom)
    stamp_now = db_time(now)
    known = [c.version.slug for c in changes if c.kind is not ChangeKind.CREATED]
    was_held = embargoes.held_among(conn, known)
    holding = {
        c.version.slug: shown_at
        for c, shown_at in zip(changes, published, strict=True)
        if c.version.published_at > now
    }
    freed = {
        c.version.slug: shown_at
        for c, shown_at in zip(changes, published, strict=True)
        if c.version.slug in was_held and c.version.slug not in holding
    }
    embargoes.hold(conn, holding)
    embargoes.mark_released(conn, freed, stamp_now)
    feeds = [
        feed_names(c.version.topics, c.version.entities, c.version.lang, names, custom)
        for c in changes
    ]
    for c in changes:
        spelling_delta(names, c.old_entities, -1, pending.spellings, known=c.old_topics)
        spelling_delta(names, c.version.entities, +1, pending.spellings)
    touched = _apply_topics(conn, changes, feeds, (stamps, published), was_held, holding, pending)
    if deltas is None:
        pending.write(conn)
    # A freed article's instant has passed: its waiting deliveries go now.
    return touched, {**dict.fromkeys(freed, stamp_now), **holding}


def _restore(
    conn: Connection,
    restored: Sequence[Change],
    names: Mapping[str, str],
    custom: Sequence[CustomFeed],
) -> None:
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
        for topic in (
            ALL_TOPIC,
            *feed_names(c.version.topics, c.version.entities, c.version.lang, names, custom),
        )
    ]
    conn.execute(
        delete(ft).where(ft.c.topic == bindparam("b_topic"), ft.c.slug == bindparam("b_slug")),
        back,
    )


def release_due(conn: Connection, now: datetime) -> set[str]:
    """Publish the held articles whose instant has come; return the topics they join.

    Each topic gains the article in its count, and its feed date moves to the
    release instant (or the article's `updated_at`, if later): the feed's
    bytes change now, so its date and `Last-Modified` must too.
    """
    found = embargoes.due(conn, db_time(now))
    if not found:
        return set()
    a, at = t.articles, t.article_topics
    changed: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for chunk in chunked(sorted(found)):
        rows = conn.execute(
            select(at.c.topic, at.c.slug, a.c.updated_at)
            .join(a, a.c.slug == at.c.slug)
            .where(at.c.slug.in_(chunk))
        )
        for topic, slug, updated_at in rows:
            stamp = max(found[slug], updated_at)
            changed[topic] = max(stamp, changed.get(topic, ""))
            counts[topic] += 1
    touch_topics(conn, changed, counts)
    embargoes.mark_released(conn, found, db_time(now))
    return {ALL_TOPIC, *changed}


def _apply_topics(
    conn: Connection,
    changes: Sequence[Change],
    feeds: Sequence[tuple[str, ...]],
    times: tuple[Sequence[str], Sequence[str]],
    was_held: set[str],
    holding: Mapping[str, str],
    deltas: FeedDeltas,
) -> set[str]:
    """Write feed membership (topics and facets, `feeds` per change; `times`:
    each change's `updated_at` and `published_at` as `db_time`); counts and
    feed dates follow what readers see.

    A held article's membership rows are written like any other's, but it
    counts in no topic and dates no feed until it is published.
    """
    touched: set[str] = set()
    removed: list[dict[str, Any]] = []
    added: list[tuple[str, str, str]] = []  # (topic, slug, updated_at), as postings
    changed_topics: dict[str, str] = {}
    counts: Counter[str] = Counter()  # article_topics rows gained (+) or lost (-)
    known = {c.version.slug for c in changes if c.kind is not ChangeKind.CREATED}
    if known:
        # A slug created earlier in this transaction may be among them.
        deltas.postings.flush(conn)
    new_rows: list[tuple[str, str, str]] = []
    # New articles shown at once, most of a large import: (feed date, feeds),
    # added up below with C-level calls rather than row by row.
    appearing: list[tuple[str, tuple[str, ...]]] = []
    for c, names, stamp, shown_at in zip(changes, feeds, *times, strict=True):
        slug = c.version.slug
        if slug not in known:
            # A new slug has no rows yet: they wait to be written in key order.
            new_rows += zip(names, repeat(slug), repeat(stamp))
            if slug not in holding:
                # Appearing now, as at a release: the feed changes at the later time.
                appearing.append((max(stamp, shown_at), names))
            continue
        old, new = set(c.old_topics), set(names)
        # Rows are keyed by time: every old row goes, every new one comes.
        if old:
            if c.old_updated_at is None:
                raise ValueError(f"change of {slug!r} lacks its stored updated_at")
            before = db_time(c.old_updated_at)
            removed += ({"b_topic": f, "b_at": before, "b_slug": slug} for f in old)
        added.extend((topic, slug, stamp) for topic in new)
        was_shown = c.kind is not ChangeKind.CREATED and slug not in was_held
        shown = slug not in holding
        for topic in old if was_shown else ():
            counts[topic] -= 1
        for topic in new if shown else ():
            counts[topic] += 1
        date = stamp if was_shown else max(stamp, shown_at)
        for topic in (old if was_shown else set()) | (new if shown else set()):
            changed_topics[topic] = max(date, changed_topics.get(topic, ""))
        if was_shown or shown:
            touched.add(ALL_TOPIC)
    if appearing:
        touched.add(ALL_TOPIC)
        counts.update(chain.from_iterable(names for _, names in appearing))
        # In date order, each feed's date ends as its latest.
        appearing.sort(key=itemgetter(0))
        latest: dict[str, str] = {}
        for date, names in appearing:
            latest.update(dict.fromkeys(names, date))
        for topic, date in latest.items():
            changed_topics[topic] = max(date, changed_topics.get(topic, ""))
    if removed:
        _DELETE_ARTICLE_TOPIC.run(conn, removed)
    if added:
        _INSERT_ARTICLE_TOPIC.run(
            conn,
            [
                {"b_topic": topic, "b_slug": slug, "b_at": stamp}
                for topic, slug, stamp in key_order(added)
            ],
        )
    deltas.postings.add(conn, new_rows)
    deltas.add(changed_topics, counts)
    touched.update(changed_topics)
    return touched


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
        {"name": n, "changed_at": changed[n], "articles": counts[n], "version": 1}
        for n in names
        if n not in existing
    ]
    # Every touched feed's version moves, even when its date does not (a
    # back-dated edit): documents rendered on demand are keyed to it.
    later = [
        {
            "b_name": n,
            "changed_at": max(changed[n], existing[n]),
            "b_delta": counts[n],
        }
        for n in names
        if n in existing
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
                version=tp.c.version + 1,
            ),
            later,
        )


#: Topic rows, not facet feeds (whose names hold a "/").
_TOPICS_ONLY = t.topics.c.name.not_like("%/%")


def _deleted_count(conn: Connection) -> int:
    """Deleted articles, by their partial index (a count of live ones read every row)."""
    a = t.articles
    query = select(func.count()).select_from(a).where(a.c.deleted_at.is_not(None))
    return int(conn.execute(query).scalar_one())


class Articles:
    """Reads of stored articles for the build, and the cache of their rendered HTML."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def feed_entries(self, topic: str, limit: int) -> list[tuple[Article, str | None, str]]:
        """The newest `limit` articles of a topic: (article, cached HTML, content hash)."""
        a, at = t.articles, t.article_topics
        query = select(a.c.record, a.c.content_html, a.c.content_hash).where(visible(a.c.slug))
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
        columns = select(a.c.slug, a.c.content_hash, a.c.updated_at).where(visible(a.c.slug))
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
        """Every topic ever seen (including emptied ones), with counts; plus `all`.

        Counts and dates are those of the published articles: a held one is
        neither counted nor dates a feed (see `syndicator.store.embargoes`); a
        deleted one is not counted, but its deletion dates the `all` feed.
        """
        tp, a, e = t.topics, t.articles, t.embargoes
        with self.db.read() as conn:
            named = conn.execute(
                select(tp.c.name, tp.c.articles, tp.c.changed_at).where(_TOPICS_ONLY)
            ).all()
            live = count_rows(conn, a) - _deleted_count(conn)
            held = conn.execute(
                select(func.count())
                .select_from(e.join(a, a.c.slug == e.c.slug))
                .where(e.c.released_at.is_(None), a.c.deleted_at.is_(None))
            ).scalar_one()
            total = int(live) - int(held)
            # The newest published version, by the articles_updated index; a
            # tombstone for a slug never published changes nothing.
            newest = conn.execute(
                select(a.c.updated_at)
                .where(visible(a.c.slug), a.c.content_hash != UNPUBLISHED_HASH)
                .order_by(a.c.updated_at.desc(), a.c.slug)
                .limit(1)
            ).scalar()
            released = embargoes.released_newest(conn)
        if released is not None and (newest is None or released > newest):
            newest = released
        rows = [TopicRow(ALL_TOPIC, total, parse_time(newest))]
        rows += [TopicRow(name, int(n or 0), parse_time(at_)) for name, n, at_ in sorted(named)]
        return rows

    def counts(self) -> dict[str, int]:
        """Row counts for status: articles and topics."""
        a = t.articles
        with self.db.read() as conn:
            deleted = _deleted_count(conn)
            return {
                "articles": count_rows(conn, a) - int(deleted),
                "deleted": int(deleted),
                "topics": int(
                    conn.execute(
                        select(func.count()).select_from(t.topics).where(_TOPICS_ONLY)
                    ).scalar_one()
                ),
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

    def tombstones(self, since: datetime, limit: int) -> dict[str, list[tuple[str, datetime]]]:
        """Per topic, the newest `limit` articles that left its feed at or after
        `since`: (slug, deleted_at), newest deletion first."""
        ft = t.feed_tombstones
        # A feed lists no more deletions than entries: a bulk takedown of thousands
        # would otherwise swell every feed it touched by as many elements.
        rank = (
            func.row_number()
            .over(partition_by=ft.c.topic, order_by=(ft.c.deleted_at.desc(), ft.c.slug))
            .label("rank")
        )
        recent = (
            select(ft.c.topic, ft.c.slug, ft.c.deleted_at, rank)
            .where(ft.c.left_at >= db_time(since))
            .subquery()
        )
        query = (
            select(recent.c.topic, recent.c.slug, recent.c.deleted_at)
            .where(recent.c.rank <= limit)
            .order_by(recent.c.topic, recent.c.deleted_at.desc(), recent.c.slug)
        )
        found: dict[str, list[tuple[str, datetime]]] = {}
        with self.db.read() as conn:
            for topic, slug, deleted_at in conn.execute(query):
                found.setdefault(topic, []).append((slug, datetime.fromisoformat(deleted_at)))
        return found

    def expired_tombstones(self, before: datetime) -> set[str]:
        """Topics whose feeds still list a tombstone that left them before `before`."""
        ft = t.feed_tombstones
        query = select(ft.c.topic).where(ft.c.left_at < db_time(before)).distinct()
        with self.db.read() as conn:
            return set(conn.execute(query).scalars())

    def drop_tombstones(self, before: datetime) -> None:
        """Forget tombstones older than `before` once their feeds were rendered without them."""
        ft, tp = t.feed_tombstones, t.topics
        with self.db.write() as conn:
            old = ft.c.left_at < db_time(before)
            names = sorted(set(conn.execute(select(ft.c.topic).where(old)).scalars()))
            conn.execute(delete(ft).where(old))
            # Documents rendered on demand are keyed to the version: they listed these.
            for chunk in chunked(names):
                conn.execute(
                    update(tp).where(tp.c.name.in_(chunk)).values(version=tp.c.version + 1)
                )
