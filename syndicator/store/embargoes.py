"""Embargoes: articles stored with a future `published_at`, held out of feeds until then.

A held article is stored as any other (its row, topics and events commit in
the poll's transaction), and an `embargoes` row names the instant it goes
out. Feed queries leave out articles with an unreleased row (`visible`); the
release (`release_due`, run before a build) sets `released_at` in the same
transaction that marks the article's feeds dirty, so what a feed holds always
follows from the store alone, never from the clock of whoever renders it.
Released rows are kept: the latest release instant dates the `all` feed.

These functions are the only writers of the `embargoes` table; the articles
table group calls them in its transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from syndicator.store import schema as t
from syndicator.store.db import Database, chunked, parse_time

__all__ = [
    "Embargoes",
    "Held",
    "due",
    "held_among",
    "hold",
    "mark_released",
    "released_newest",
    "visible",
]


@dataclass(frozen=True, slots=True)
class Held:
    """An article held back, and when it goes out."""

    slug: str
    publish_at: datetime
    topics: tuple[str, ...]


def visible(slug: ColumnElement[str]) -> ColumnElement[bool]:
    """True for an article no unreleased embargo holds (a primary-key probe per row)."""
    e = t.embargoes
    return ~exists().where(e.c.slug == slug, e.c.released_at.is_(None))


def held_among(conn: Connection, slugs: Sequence[str]) -> set[str]:
    """The given slugs that are held now."""
    e = t.embargoes
    found: set[str] = set()
    for chunk in chunked(slugs):
        found.update(
            conn.execute(
                select(e.c.slug).where(e.c.slug.in_(chunk), e.c.released_at.is_(None))
            ).scalars()
        )
    return found


def hold(conn: Connection, until: Mapping[str, str]) -> None:
    """Hold these articles until the given instants (`db_time` text), replacing any row."""
    if not until:
        return
    e = t.embargoes
    slugs = sorted(until)
    for chunk in chunked(slugs):
        conn.execute(delete(e).where(e.c.slug.in_(chunk)))
    conn.execute(
        insert(e), [{"slug": s, "publish_at": until[s], "released_at": None} for s in slugs]
    )


def drop(conn: Connection, slugs: Iterable[str]) -> None:
    """Forget the holds of these articles (taken down before their instant)."""
    e = t.embargoes
    for chunk in chunked(sorted(set(slugs))):
        conn.execute(delete(e).where(e.c.slug.in_(chunk), e.c.released_at.is_(None)))


def mark_released(conn: Connection, instants: Mapping[str, str], now: str) -> None:
    """Record these held articles as out, at their (possibly moved) instants."""
    if not instants:
        return
    e = t.embargoes
    conn.execute(
        update(e)
        .where(e.c.slug == bindparam("b_slug"))
        .values(publish_at=bindparam("b_at"), released_at=now),
        [{"b_slug": s, "b_at": at} for s, at in sorted(instants.items())],
    )


def due(conn: Connection, now: str) -> dict[str, str]:
    """Held articles whose instant has come: publish_at text by slug."""
    e = t.embargoes
    rows = conn.execute(
        select(e.c.slug, e.c.publish_at).where(e.c.released_at.is_(None), e.c.publish_at <= now)
    )
    return {str(slug): str(at) for slug, at in rows}


def released_newest(conn: Connection) -> str | None:
    """The latest instant an embargo ended at (`db_time` text), if any did."""
    e = t.embargoes
    value = conn.execute(
        select(func.max(e.c.publish_at)).where(e.c.released_at.is_not(None))
    ).scalar()
    return None if value is None else str(value)


class Embargoes:
    """What is held back and when it goes out (for the scheduler and `status`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def next_release(self) -> datetime | None:
        """The earliest instant a held article goes out, or None when nothing is held."""
        e = t.embargoes
        with self.db.read() as conn:
            value = conn.execute(
                select(func.min(e.c.publish_at)).where(e.c.released_at.is_(None))
            ).scalar()
        return parse_time(value)

    def held(self) -> list[Held]:
        """Every held article, earliest first."""
        e, a = t.embargoes, t.articles
        query = (
            select(e.c.slug, e.c.publish_at, a.c.record)
            .join(a, a.c.slug == e.c.slug)
            .where(e.c.released_at.is_(None))
            .order_by(e.c.publish_at, e.c.slug)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            Held(slug, datetime.fromisoformat(at), tuple(orjson.loads(record).get("topics") or ()))
            for slug, at, record in rows
        ]
