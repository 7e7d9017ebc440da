"""Facet membership made for many articles at once: a database written before
facet feeds existed (`index_facets`, at migration), and the custom feeds
whenever their filters change (`index_custom`, when the store is opened).
The poll keeps both up to date afterwards, article by article."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from syndicator.core.custom import CustomFeed
from syndicator.core.entities import entity_key
from syndicator.core.times import EPOCH, db_time
from syndicator.core.urls import facet_name
from syndicator.store import schema as t
from syndicator.store.articles import _DELETE_ARTICLE_TOPIC, _INSERT_ARTICLE_TOPIC, touch_topics
from syndicator.store.facets import assign_entities, count_spellings, feed_names, spelling_delta
from syndicator.store.feeds import mark_dirty

__all__ = ["index_custom", "index_facets"]

#: Articles read per query.
_BATCH = 2000


def _live_records(conn: Connection) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every live article, a batch at a time: (slug, updated_at text, record)."""
    a = t.articles
    after = ""
    while True:
        rows = conn.execute(
            select(a.c.slug, a.c.updated_at, a.c.record)
            .where(a.c.deleted_at.is_(None), a.c.slug > after)
            .order_by(a.c.slug)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [(slug, stamp, orjson.loads(record)) for slug, stamp, record in rows]


def index_facets(conn: Connection) -> int:
    """Put every live article in its entity and language feeds (a database
    written before facet feeds existed); return how many articles were read."""
    seen = 0
    for records in _live_records(conn):
        seen += len(records)
        names = assign_entities(conn, (e for _, _, r in records for e in r.get("entities") or ()))
        members: list[dict[str, Any]] = []
        changed: dict[str, str] = {}
        counts: Counter[str] = Counter()
        spellings: Counter[tuple[str, str]] = Counter()
        for slug, stamp, record in records:
            entities = record.get("entities") or ()
            facets = feed_names((), entities, record.get("lang"), names)
            spelling_delta(names, entities, +1, spellings)
            for feed in facets:
                members.append({"b_topic": feed, "b_slug": slug, "b_at": stamp})
                counts[feed] += 1
                changed[feed] = max(stamp, changed.get(feed, ""))
        if members:
            _DELETE_ARTICLE_TOPIC.run(conn, members)
            _INSERT_ARTICLE_TOPIC.run(conn, members)
        touch_topics(conn, changed, counts)
        count_spellings(conn, spellings)
    return seen


def index_custom(conn: Connection, custom: Sequence[CustomFeed]) -> bool:
    """Make the membership of the custom feeds again when their filters changed
    since it was made (a new, edited or removed `[[feeds.custom]]`); return
    whether it was. Every custom feed's version moves, so documents rendered
    from the old membership are not served again."""
    fingerprint = hashlib.sha256(
        orjson.dumps(
            sorted(
                [c.name, sorted(c.topics), sorted(c.entity_keys), list(c.langs)]
                + [sorted(c.exclude_topics)]
                for c in custom
            )
        )
    ).hexdigest()
    m, tp, at = t.meta, t.topics, t.article_topics
    if conn.dialect.name == "postgresql":
        # Processes starting together: one makes it, the others then find it made.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7210001)")
    stored = conn.execute(select(m.c.value).where(m.c.key == _CUSTOM_FEEDS)).scalar()
    if stored == fingerprint:
        return False
    ours = and_(at.c.topic > "custom/", at.c.topic < "custom0")
    conn.execute(delete(at).where(ours))
    counts: Counter[str] = Counter()
    newest: dict[str, str] = {}
    for records in _live_records(conn) if custom else ():
        members: list[dict[str, Any]] = []
        for slug, stamp, data in records:
            keys = [entity_key(e) for e in data.get("entities") or ()]
            for feed in custom:
                if feed.matches(data.get("topics") or (), keys, data.get("lang")):
                    name = facet_name("custom", feed.name)
                    members.append({"b_topic": name, "b_slug": slug, "b_at": stamp})
                    counts[name] += 1
                    newest[name] = max(stamp, newest.get(name, ""))
        if members:
            _INSERT_ARTICLE_TOPIC.run(conn, members)
    known = set(
        conn.execute(
            select(tp.c.name).where(and_(tp.c.name > "custom/", tp.c.name < "custom0"))
        ).scalars()
    )
    names = {facet_name("custom", c.name) for c in custom}
    # A feed no article matches yet is dated from the epoch until one does,
    # never from the clock (SPEC §4: dates from the data).
    empty = db_time(EPOCH)
    new = [
        {"name": n, "changed_at": newest.get(n, empty), "articles": counts[n], "version": 1}
        for n in sorted(names - known)
    ]
    if new:
        conn.execute(insert(tp), new)
    for name in sorted(known):
        conn.execute(
            update(tp)
            .where(tp.c.name == name)
            .values(
                articles=counts[name],
                version=tp.c.version + 1,
                changed_at=func.coalesce(newest.get(name), tp.c.changed_at),
            )
        )
    # Their documents, the index and the OPML are rendered again at the next build.
    mark_dirty(conn, names | known)
    conn.execute(delete(m).where(m.c.key == _CUSTOM_FEEDS))
    conn.execute(insert(m).values(key=_CUSTOM_FEEDS, value=fingerprint))
    return True


#: `meta` key of the filters the stored custom feed membership was made with.
_CUSTOM_FEEDS = "custom_feeds"
