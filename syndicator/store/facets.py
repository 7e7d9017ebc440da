"""Facet feeds in the store (SPEC §4b): entity slugs, spellings, facet listings.

An entity or language feed is kept exactly like a topic: its name
(``entities/nvidia``, ``lang/de``) is a row of `topics` (article count, time
and version of its last change) and its members are rows of
`article_topics`, written in the poll's transaction by the same code. So
deletion, restore, embargoes, tombstones and counts hold for facets as they do
for topics. This module adds what only entities have: the merge key → feed
name table (a slug, once given, never changes), and how often each spelling
is used, for the feed's title.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from syndicator.core.custom import CustomFeed
from syndicator.core.entities import (
    entity_key,
    entity_slug,
    lang_feed,
    language_label,
    suffixed_slug,
)
from syndicator.core.times import db_time
from syndicator.core.urls import LANG_KIND, facet_name, split_feed_name
from syndicator.store import schema as t
from syndicator.store.db import Database, chunked, parse_time

__all__ = [
    "EntityNames",
    "FacetRow",
    "Facets",
    "StoredDocument",
    "assign_entities",
    "count_spellings",
    "feed_names",
    "known_entities",
    "spelling_delta",
]


@dataclass(frozen=True, slots=True)
class FacetRow:
    """A facet feed: its name, title, article count, last change and version."""

    name: str
    label: str
    articles: int
    changed_at: datetime | None
    version: int


def feed_names(
    topics: Iterable[str],
    entities: Iterable[str],
    lang: str | None,
    names: Mapping[str, str],
    custom: Sequence[CustomFeed] = (),
) -> tuple[str, ...]:
    """Every feed an article belongs in besides `all`: its topics, then its
    entities' and language's feeds (`names`: merge key → entity feed name),
    then the custom feeds that select it."""
    out = dict.fromkeys(topics)
    keys = [entity_key(entity) for entity in entities]
    for key in keys:
        name = names.get(key)
        if name is not None:
            out.setdefault(name)
    if lang:
        out.setdefault(lang_feed(lang))
    if custom:
        chosen = tuple(t for t in out if "/" not in t)
        for feed in custom:
            if feed.matches(chosen, keys, lang):
                out.setdefault(facet_name("custom", feed.name))
    return tuple(out)


class EntityNames:
    """Merge key → entity feed name, as committed, kept by one store.

    A key's feed name never changes once given, so a name read from the
    database stays true: the poll and the build ask for the same few
    thousand keys in every chunk. Names given in a transaction join only
    once it commits (`remember` after the commit), so a rolled-back
    assignment is never taken for a stored one.
    """

    __slots__ = ("_limit", "_names")

    def __init__(self, limit: int = 200_000) -> None:
        self._names: dict[str, str] = {}
        self._limit = limit  # about 150 bytes a key

    def split(self, keys: Iterable[str]) -> tuple[dict[str, str], list[str]]:
        """(the keys' names known here, the keys to look up)."""
        found: dict[str, str] = {}
        missing: list[str] = []
        names = self._names
        for key in keys:
            name = names.get(key)
            if name is None:
                missing.append(key)
            else:
                found[key] = name
        return found, missing

    def remember(self, names: Mapping[str, str]) -> None:
        """Keep committed names (forgetting everything when over the limit)."""
        if len(self._names) + len(names) > self._limit:
            self._names = {}
        self._names.update(names)


def known_entities(
    conn: Connection,
    keys: Iterable[str],
    cache: EntityNames | None = None,
    uncommitted: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Merge key → entity feed name, for the keys already given a slug.

    With a `cache`, only the keys it does not hold are looked up, and what is
    read joins it; names the transaction gave (`uncommitted`) are answered
    from there and join the cache only once it commits.
    """
    e = t.entities
    wanted = set(keys)
    found, missing = cache.split(wanted) if cache is not None else ({}, list(wanted))
    if uncommitted:
        found.update((key, uncommitted[key]) for key in missing if key in uncommitted)
        missing = [key for key in missing if key not in uncommitted]
    read: dict[str, str] = {}
    for chunk in chunked(sorted(missing)):
        rows = conn.execute(select(e.c.key, e.c.name).where(e.c.key.in_(chunk)))
        read.update((row[0], row[1]) for row in rows)
    found.update(read)
    if cache is not None and read:
        cache.remember(read)
    return found


def assign_entities(
    conn: Connection,
    spellings: Iterable[str],
    cache: EntityNames | None = None,
    given: dict[str, str] | None = None,
) -> dict[str, str]:
    """Merge key → entity feed name for every spelling, giving new keys a slug.

    A new key takes its plain slug unless another key holds it; then the
    slug plus a hash of the key (longer if that too is taken). New names are
    added to `given` (the transaction's; remembered once it commits).
    """
    by_key: dict[str, str] = {}
    for spelling in spellings:
        by_key.setdefault(entity_key(spelling), spelling)
    found = known_entities(conn, by_key, cache, given)
    # In the order first seen, as across polls: the first name keeps the plain
    # slug whether the two came in one poll or in two.
    new = [key for key in by_key if key not in found]
    if not new:
        return found
    plain = {key: facet_name("entities", entity_slug(by_key[key])) for key in new}
    e = t.entities
    taken: set[str] = set()
    for chunk in chunked(sorted(set(plain.values()))):
        taken.update(conn.execute(select(e.c.name).where(e.c.name.in_(chunk))).scalars())
    rows = []
    for key in new:
        name = plain[key]
        length = 6
        while name in taken:
            name = facet_name("entities", suffixed_slug(by_key[key], length))
            length += 4
        taken.add(name)
        found[key] = name
        rows.append({"key": key, "name": name})
    conn.execute(insert(e), sorted(rows, key=lambda row: row["key"]))
    if given is not None:
        given.update((key, found[key]) for key in new)
    return found


def count_spellings(conn: Connection, delta: Counter[tuple[str, str]]) -> None:
    """Add `delta` to how many articles spell each entity feed's name so:
    ((feed name, spelling) → articles gained or lost)."""
    changes = {pair: n for pair, n in delta.items() if n}
    if not changes:
        return
    s = t.entity_spellings
    existing: set[tuple[str, str]] = set()
    names = sorted({name for name, _ in changes})
    for chunk in chunked(names):
        rows = conn.execute(select(s.c.name, s.c.spelling).where(s.c.name.in_(chunk)))
        existing.update((r[0], r[1]) for r in rows)
    new = [
        {"name": name, "spelling": spelling, "articles": n}
        for (name, spelling), n in sorted(changes.items())
        if (name, spelling) not in existing
    ]
    later = [
        {"b_name": name, "b_spelling": spelling, "b_delta": n}
        for (name, spelling), n in sorted(changes.items())
        if (name, spelling) in existing
    ]
    if new:
        conn.execute(insert(s), new)
    if later:
        conn.execute(
            update(s)
            .where(s.c.name == bindparam("b_name"), s.c.spelling == bindparam("b_spelling"))
            .values(articles=s.c.articles + bindparam("b_delta")),
            later,
        )


def spelling_delta(
    feeds_by_key: Mapping[str, str],
    entities: Iterable[str],
    sign: int,
    into: Counter[Any],
    *,
    known: Iterable[str] | None = None,
) -> None:
    """Count each distinct entity of one article once, with `sign` (only the
    feeds in `known`, when given: those the stored version is in)."""
    if not entities:
        return
    seen: set[str] = set()
    within = None if known is None else set(known)
    for spelling in entities:
        name = feeds_by_key.get(entity_key(spelling))
        if name is None or (within is not None and name not in within):
            continue
        if name not in seen:
            seen.add(name)
            into[(name, spelling)] += sign


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """Validators of a document rendered on demand, and what it was rendered from."""

    path: str
    sha256: str
    last_modified: datetime
    data_version: int
    fingerprint: str


class Facets:
    """Reads of facet feeds for serving and listing."""

    def __init__(self, db: Database, names: EntityNames | None = None) -> None:
        self.db = db
        self.names = names

    def get(self, name: str) -> FacetRow | None:
        """One facet feed, or None when no article ever had that entity or language."""
        rows = self._rows(name_in=[name])
        return rows[0] if rows else None

    def listing(
        self, kind: str, *, limit: int | None = None, live_only: bool = True
    ) -> list[FacetRow]:
        """Facet feeds of one kind, the most articles first (then by name)."""
        return self._rows(kind=kind, limit=limit, live_only=live_only)

    def starting(self, kind: str, initial: str) -> list[FacetRow]:
        """Live facet feeds of one kind whose slug starts with `initial` (one
        character): a range of the primary key, for the entity directory."""
        return self._rows(kind=kind, live_only=True, initial=initial)

    def initials(self, kind: str) -> dict[str, int]:
        """How many live facet feeds of one kind there are per first slug character."""
        tp = t.topics
        first = func.substr(tp.c.name, len(kind) + 2, 1)
        query = (
            select(first, func.count())
            .where(and_(tp.c.name > f"{kind}/", tp.c.name < f"{kind}0", tp.c.articles > 0))
            .group_by(first)
        )
        with self.db.read() as conn:
            return {str(c): int(n) for c, n in conn.execute(query)}

    def all_versions(self) -> dict[str, int]:
        """The current version of every facet feed, by name."""
        tp = t.topics
        with self.db.read() as conn:
            rows = conn.execute(select(tp.c.name, tp.c.version).where(tp.c.name.like("%/%")))
            return {str(r[0]): int(r[1]) for r in rows}

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        """The current version of each named feed (topics or facets) that exists."""
        tp = t.topics
        found: dict[str, int] = {}
        with self.db.read() as conn:
            for chunk in chunked(sorted(set(names))):
                rows = conn.execute(select(tp.c.name, tp.c.version).where(tp.c.name.in_(chunk)))
                found.update((r[0], int(r[1])) for r in rows)
        return found

    def _rows(
        self,
        *,
        name_in: Sequence[str] | None = None,
        kind: str | None = None,
        limit: int | None = None,
        live_only: bool = False,
        initial: str | None = None,
    ) -> list[FacetRow]:
        tp, s = t.topics, t.entity_spellings
        query = select(tp.c.name, tp.c.articles, tp.c.changed_at, tp.c.version)
        if name_in is not None:
            query = query.where(tp.c.name.in_(name_in))
        if kind is not None:
            # Names of one kind sort together: a range on the primary key.
            query = query.where(and_(tp.c.name > f"{kind}/", tp.c.name < f"{kind}0"))
            if initial is not None:
                start = f"{kind}/{initial}"
                query = query.where(
                    and_(tp.c.name >= start, tp.c.name < start[:-1] + chr(ord(initial) + 1))
                )
        if live_only:
            query = query.where(tp.c.articles > 0)
        query = query.order_by(tp.c.articles.desc(), tp.c.name)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
            labels: dict[str, str] = {}
            entity_names = [r[0] for r in rows if r[0].startswith("entities/")]
            for chunk in chunked(entity_names):
                spelled = conn.execute(
                    select(s.c.name, s.c.spelling)
                    .where(s.c.name.in_(chunk), s.c.articles > 0)
                    .order_by(s.c.name, s.c.articles.desc(), s.c.spelling)
                )
                for name, spelling in spelled:
                    labels.setdefault(name, spelling)
                if len(labels) < len(chunk):  # every article left: the last spelling used
                    rest = [n for n in chunk if n not in labels]
                    spelled = conn.execute(
                        select(s.c.name, func.max(s.c.spelling))
                        .where(s.c.name.in_(rest))
                        .group_by(s.c.name)
                    )
                    labels.update((r[0], r[1]) for r in spelled)
        return [
            FacetRow(
                name,
                labels.get(name) or _label(name),
                int(n or 0),
                parse_time(at_),
                int(version or 0),
            )
            for name, n, at_, version in rows
        ]

    def entity_feeds(self, keys: Iterable[str]) -> dict[str, str]:
        """Merge key → entity feed name, for the keys that have one."""
        with self.db.read() as conn:
            return known_entities(conn, keys, self.names)

    def tombstones(self, name: str, since: datetime) -> list[tuple[str, datetime]]:
        """Articles that left one feed at or after `since`: (slug, deleted_at),
        newest deletion first."""
        ft = t.feed_tombstones
        query = (
            select(ft.c.slug, ft.c.deleted_at)
            .where(ft.c.topic == name, ft.c.left_at >= db_time(since))
            .order_by(ft.c.deleted_at.desc(), ft.c.slug)
        )
        with self.db.read() as conn:
            return [(slug, datetime.fromisoformat(at_)) for slug, at_ in conn.execute(query)]

    def document(self, path: str) -> StoredDocument | None:
        """The validators last recorded for a document rendered on demand."""
        d = t.facet_documents
        with self.db.read() as conn:
            row = conn.execute(select(d).where(d.c.path == path)).first()
        if row is None:
            return None
        return StoredDocument(
            row.path,
            row.sha256,
            datetime.fromisoformat(row.last_modified),
            int(row.data_version),
            row.fingerprint,
        )

    def save_document(self, doc: StoredDocument) -> StoredDocument:
        """Record a rendered document's validators; return what is recorded.

        Bytes equal to those recorded keep their Last-Modified (another
        process, or an earlier render, made them first).
        """
        d = t.facet_documents
        with self.db.write() as conn:
            row = conn.execute(
                select(d.c.sha256, d.c.last_modified).where(d.c.path == doc.path)
            ).first()
            if row is not None and row.sha256 == doc.sha256:
                doc = StoredDocument(
                    doc.path,
                    doc.sha256,
                    datetime.fromisoformat(row.last_modified),
                    doc.data_version,
                    doc.fingerprint,
                )
            values = {
                "sha256": doc.sha256,
                "last_modified": db_time(doc.last_modified),
                "data_version": doc.data_version,
                "fingerprint": doc.fingerprint,
            }
            if row is None:
                conn.execute(insert(d).values(path=doc.path, **values))
            else:
                conn.execute(update(d).where(d.c.path == doc.path).values(**values))
        return doc

    def newest_version(self, kind: str) -> int:
        """The sum of one kind's versions: it moves whenever any of them changes."""
        tp = t.topics
        with self.db.read() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(tp.c.version), 0)).where(
                    and_(tp.c.name > f"{kind}/", tp.c.name < f"{kind}0")
                )
            ).scalar_one()
        return int(total)


def _label(name: str) -> str:
    """The label of a facet feed without spellings: a language's name, or the slug."""
    kind, slug = split_feed_name(name)
    return language_label(slug) if kind == LANG_KIND else slug
