"""Deleting articles (SPEC §3b), part of the articles table group.

A deletion runs in the caller's transaction (the poll's, or that of
`articles remove`): the article's topic rows go, its record is purged to
what identifies it (slug, url, topics, entities, lang, times), the feeds it
left get a tombstone row, the topic counts and dirty marks move, its
earlier events keep no content (`purge_events`), and the `article.deleted`
announcement is returned for the outbox to insert in the same transaction
(none for an embargoed article never announced to anyone).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from syndicator.core.article import deleted_data, purged_record
from syndicator.core.changes import DELETED_HASH, UNPUBLISHED_HASH
from syndicator.core.custom import CustomFeed
from syndicator.core.entities import entity_key
from syndicator.core.times import db_time, format_time
from syndicator.models import ALL_TOPIC, ChangeKind, Tombstone
from syndicator.store import embargoes
from syndicator.store import schema as t
from syndicator.store.articles import touch_topics
from syndicator.store.db import chunked
from syndicator.store.facets import count_spellings, feed_names, known_entities, spelling_delta
from syndicator.store.outbox.queue import Announcement, never_sent, purge_events

__all__ = ["Deletion", "apply_deletions"]


@dataclass(frozen=True, slots=True)
class Deletion:
    """One accepted tombstone: `DELETED` takes a live article down, `BURIED`
    records it for a slug that is not live (never published, or deleted before)."""

    kind: ChangeKind
    tombstone: Tombstone


def apply_deletions(
    conn: Connection,
    deletions: Sequence[Deletion],
    base_url: str,
    now: datetime,
    custom: Sequence[CustomFeed] = (),
) -> tuple[set[str], list[Announcement]]:
    """Write the deletions at `now`; return the feeds they touched and the
    events to announce."""
    if not deletions:
        return set(), []
    left_at = db_time(now)
    stored = _records(conn, [d.tombstone.slug for d in deletions])
    # Held articles were in no feed readers saw: taking one down changes no
    # feed's count or date, and leaves no tombstone that would betray it.
    held = embargoes.held_among(
        conn, [d.tombstone.slug for d in deletions if d.kind is ChangeKind.DELETED]
    )
    embargoes.drop(conn, held)
    # Held and never announced to anyone: the deletion is announced to no one
    # either (its `article.deleted` would tell receivers what was embargoed),
    # and a later restore is announced as created.
    unannounced = never_sent(conn, sorted(held))
    names = known_entities(
        conn, (entity_key(e) for record in stored.values() for e in record.get("entities") or ())
    )
    spellings: Counter[tuple[str, str]] = Counter()
    touched: set[str] = set()
    announcements: list[Announcement] = []
    changed: dict[str, str] = {}
    counts: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    new_rows: list[dict[str, Any]] = []
    tombstones: list[dict[str, Any]] = []
    leaving: list[str] = []  # slugs whose membership rows go
    for deletion in deletions:
        stone = deletion.tombstone
        stamp = db_time(stone.deleted_at)
        record = stored.get(stone.slug)
        if record is None:
            new_rows.append(_unpublished_row(stone))
            continue
        kept = purged_record(record, stone.deleted_at)
        if deletion.kind is not ChangeKind.DELETED:
            # Deleted already: only the version moves on, so records older
            # than this tombstone stay ignored too.
            rows.append({"b_slug": stone.slug, "updated_at": stamp, "record": _json(kept)})
            continue
        topics = tuple(kept["topics"])
        entities = tuple(kept.get("entities") or ())
        feeds = feed_names(topics, entities, kept.get("lang"), names, custom)
        spelling_delta(names, entities, -1, spellings)
        rows.append(
            {
                "b_slug": stone.slug,
                "updated_at": stamp,
                "record": _json(kept),
                "content_hash": UNPUBLISHED_HASH if stone.slug in unannounced else DELETED_HASH,
                "content_html": None,
                "deleted_at": stamp,
                "deleted_reason": stone.reason,
            }
        )
        leaving.append(stone.slug)
        if stone.slug not in held:
            for feed in feeds:
                counts[feed] -= 1
                changed[feed] = max(stamp, changed.get(feed, ""))
            tombstones += [
                {"topic": feed, "slug": stone.slug, "deleted_at": stamp, "left_at": left_at}
                for feed in (ALL_TOPIC, *feeds)
            ]
            touched.update((ALL_TOPIC, *feeds))
        if stone.slug in unannounced:
            continue
        data = deleted_data(kept, stone.deleted_at, base_url)
        announcements.append(
            Announcement(str(ChangeKind.DELETED), stone.slug, stone.deleted_at, _json(data), topics)
        )
    _write(conn, rows, new_rows, leaving, tombstones)
    # What the earlier events of the articles taken down carried goes too.
    purge_events(conn, leaving)
    touch_topics(conn, changed, counts)
    count_spellings(conn, spellings)
    return touched, announcements


def _records(conn: Connection, slugs: Sequence[str]) -> dict[str, dict[str, Any]]:
    a = t.articles
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(slugs):
        for slug, record in conn.execute(select(a.c.slug, a.c.record).where(a.c.slug.in_(chunk))):
            found[slug] = orjson.loads(record)
    return found


def _unpublished_row(stone: Tombstone) -> dict[str, Any]:
    """The row of a tombstone for a slug never seen: its time alone, so no
    older record of that slug is ever published."""
    stamp = db_time(stone.deleted_at)
    record = {
        "slug": stone.slug,
        "updated_at": format_time(stone.deleted_at),
        "topics": [],
        "entities": [],
    }
    return {
        "slug": stone.slug,
        "updated_at": stamp,
        "published_at": stamp,  # required by the table; nothing reads it
        "content_hash": UNPUBLISHED_HASH,
        "record": _json(record),
        "content_html": None,
        "deleted_at": stamp,
        "deleted_reason": stone.reason,
    }


def _write(
    conn: Connection,
    rows: list[dict[str, Any]],
    new_rows: list[dict[str, Any]],
    leaving: list[str],
    tombstones: list[dict[str, Any]],
) -> None:
    a, at, ft = t.articles, t.article_topics, t.feed_tombstones
    if new_rows:
        conn.execute(insert(a), new_rows)
    # Two shapes of update (executemany needs the same columns in every row).
    for group in (
        [r for r in rows if "deleted_at" in r],
        [r for r in rows if "deleted_at" not in r],
    ):
        if group:
            conn.execute(update(a).where(a.c.slug == bindparam("b_slug")), group)
    for chunk in chunked(sorted(set(leaving))):
        conn.execute(delete(at).where(at.c.slug.in_(chunk)))
        # A tombstone of an earlier deletion, since restored and deleted again.
        conn.execute(delete(ft).where(ft.c.slug.in_(chunk)))
    if tombstones:
        conn.execute(insert(ft), tombstones)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
