"""Rendered feeds: the `dirty_feeds` queue, `feed_manifests`, what was `published` and
the shared `documents`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from syndicator.core.times import db_time, next_modified
from syndicator.models import Article
from syndicator.store import schema as t
from syndicator.store.db import Database, chunked

__all__ = [
    "FeedKey",
    "FeedManifest",
    "Feeds",
    "PublishedState",
    "WrittenDocument",
    "feed_key",
    "mark_dirty",
]

#: Serialises builds' `published` versions on PostgreSQL (SQLite writers are serial anyway).
_PUBLISH_LOCK_KEY = 7_210_003

#: What an entry's bytes in a feed depend on, besides the renderer: slug,
#: content hash (every field but `updated_at`; the HTML body is a function of
#: `body_md`) and `updated_at` as stored (`db_time` text).
FeedKey = tuple[str, str, str]


def feed_key(article: Article, digest: str) -> FeedKey:
    """The key of a stored article version, as `Articles.feed_keys` reads it."""
    return (article.slug, digest, db_time(article.updated_at))


@dataclass(frozen=True, slots=True)
class FeedManifest:
    """What one written feed file was composed from, and the file as written."""

    topic: str
    fmt: str
    entries: tuple[FeedKey, ...]  # in feed order
    size: int
    sha256: str  # hex digest of the file's bytes
    fingerprint: str  # the pipeline's render fingerprint
    #: The file's identity once written (`OutputDir.stamp`); None: unknown.
    stamp: str | None = None


@dataclass(frozen=True, slots=True)
class WrittenDocument:
    """A document a build just wrote: where, the SHA-256 (hex) of its bytes, its type."""

    path: str
    sha256: str
    content_type: str


@dataclass(frozen=True, slots=True)
class PublishedState:
    """What the store knows of one published document; its bytes are in the output folder."""

    path: str
    sha256: str
    content_type: str
    #: When the bytes last changed (whole seconds): the document's Last-Modified.
    last_modified: datetime
    #: The build version that last changed them; versions only grow.
    version: int


def mark_dirty(conn: Connection, topics: Iterable[str]) -> None:
    """Queue feeds for rendering in the caller's transaction; the queue survives a crash."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    # Only the wanted names are looked up: during a large import the queue
    # holds thousands of entity feeds, read again for every chunk otherwise.
    d = t.dirty_feeds
    present: set[str] = set()
    for chunk in chunked(wanted):
        present.update(conn.execute(select(d.c.topic).where(d.c.topic.in_(chunk))).scalars())
    rows = [{"topic": topic} for topic in wanted if topic not in present]
    if rows:
        conn.execute(insert(t.dirty_feeds), rows)


class Feeds:
    """The render queue, the manifests of written feed files and published documents."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def dirty_topics(self) -> list[str]:
        """Topics whose feeds must be rendered."""
        with self.db.read() as conn:
            return sorted(conn.execute(select(t.dirty_feeds.c.topic)).scalars())

    def mark_dirty(self, topics: Iterable[str], now: datetime) -> None:
        """Queue feeds for rendering."""
        with self.db.write() as conn:
            mark_dirty(conn, topics)

    def clear_dirty(self, topics: Iterable[str], now: datetime) -> None:
        """Remove rendered topics from the queue."""
        names = list(topics)
        if names:
            with self.db.write() as conn:
                conn.execute(delete(t.dirty_feeds).where(t.dirty_feeds.c.topic.in_(names)))

    def manifests(self, topics: Sequence[str]) -> dict[tuple[str, str], FeedManifest]:
        """The stored manifests of these topics' feed files, by (topic, format)."""
        m = t.feed_manifests
        found: dict[tuple[str, str], FeedManifest] = {}
        with self.db.read() as conn:
            for chunk in chunked(topics):
                query = select(
                    m.c.topic,
                    m.c.format,
                    m.c.entries,
                    m.c.file_size,
                    m.c.file_sha256,
                    m.c.render_fingerprint,
                    m.c.file_stamp,
                ).where(m.c.topic.in_(chunk))
                for topic, fmt, entries, size, sha, fingerprint, stamp in conn.execute(query):
                    keys = tuple((k[0], k[1], k[2]) for k in orjson.loads(entries))
                    found[(topic, fmt)] = FeedManifest(
                        topic, fmt, keys, int(size), sha, fingerprint, stamp
                    )
        return found

    def written_files(self) -> dict[tuple[str, str], tuple[int, str, str | None]]:
        """Every feed file as its build recorded it, by (topic, format): size,
        SHA-256 and stamp (what `manifests` holds, without the entries)."""
        m = t.feed_manifests
        with self.db.read() as conn:
            rows = conn.execute(
                select(m.c.topic, m.c.format, m.c.file_size, m.c.file_sha256, m.c.file_stamp)
            )
            return {(r[0], r[1]): (int(r[2]), r[3], r[4]) for r in rows}

    def restamp(self, files: Sequence[tuple[str, str, str, str]]) -> None:
        """Record the stamps of files found to hold the bytes their manifests
        name ((topic, format, SHA-256, stamp): a copied or restored folder),
        so the next process trusts them without reading them."""
        if not files:
            return
        m = t.feed_manifests
        with self.db.write() as conn:
            conn.execute(
                update(m)
                .where(
                    m.c.topic == bindparam("b_topic"),
                    m.c.format == bindparam("b_format"),
                    m.c.file_sha256 == bindparam("b_sha256"),
                )
                .values(file_stamp=bindparam("b_stamp")),
                [
                    {"b_topic": topic, "b_format": fmt, "b_sha256": digest, "b_stamp": stamp}
                    for topic, fmt, digest, stamp in files
                ],
            )

    def save_manifests(self, manifests: Sequence[FeedManifest], now: datetime) -> None:
        """Replace the manifests of these feed files."""
        if manifests:
            with self.db.write() as conn:
                _save_manifests(conn, manifests, now)

    def save_written(
        self,
        manifests: Sequence[FeedManifest],
        documents: Sequence[WrittenDocument],
        now: datetime,
    ) -> dict[str, datetime]:
        """Record files a build just wrote, in one transaction: the feeds' manifests and
        each document's state; return each document's Last-Modified by path.

        A document whose bytes are unchanged keeps its time. Changed bytes get
        the build's time, at least a second past the previous one: HTTP dates
        have whole seconds, and If-Modified-Since must never take new bytes
        for the old ones.
        """
        if not (manifests or documents):
            return {}
        with self.db.write() as conn:
            if manifests:
                _save_manifests(conn, manifests, now)
            return _record_published(conn, documents, now) if documents else {}

    def published_version(self) -> int:
        """The newest build version that changed a published document (0: none yet)."""
        with self.db.read() as conn:
            return int(conn.execute(select(func.max(t.published.c.version))).scalar() or 0)

    def published_since(self, version: int = 0) -> list[PublishedState]:
        """Documents whose bytes changed after build `version` (all of them for 0)."""
        p = t.published
        with self.db.read() as conn:
            rows = conn.execute(
                select(p.c.path, p.c.sha256, p.c.content_type, p.c.last_modified, p.c.version)
                .where(p.c.version > version)
                .order_by(p.c.version)
            ).all()
        return [
            PublishedState(
                r.path, r.sha256, r.content_type, datetime.fromisoformat(r.last_modified), r.version
            )
            for r in rows
        ]

    def recorded_digest(self, path: str) -> str | None:
        """The SHA-256 of the bytes the last build recorded for `path`, if any."""
        p = t.published
        with self.db.read() as conn:
            found = conn.execute(select(p.c.sha256).where(p.c.path == path)).scalar()
        return None if found is None else str(found)

    def save_documents(
        self, docs: Sequence[tuple[str, bytes, str, datetime]], now: datetime
    ) -> int:
        """Publish rendered documents for every process: (path, body, type, last modified)."""
        d = t.documents
        with self.db.write() as conn:
            current = conn.execute(select(func.max(d.c.version))).scalar() or 0
            version = int(current) + 1
            changed = [
                {"b_path": path, "body": body, "content_type": ctype, "last_modified": db_time(lm)}
                for path, body, ctype, lm in docs
            ]
            if not changed:
                return version - 1
            conn.execute(
                delete(d).where(d.c.path == bindparam("b_path")),
                [{"b_path": row["b_path"]} for row in changed],
            )
            conn.execute(
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

    def document(self, path: str) -> tuple[bytes, str, datetime] | None:
        """One shared document's body, type and Last-Modified, or None."""
        d = t.documents
        with self.db.read() as conn:
            row = conn.execute(
                select(d.c.body, d.c.content_type, d.c.last_modified).where(d.c.path == path)
            ).first()
        if row is None:
            return None
        return bytes(row.body), row.content_type, datetime.fromisoformat(row.last_modified)

    def load_documents(
        self, after_version: int = 0
    ) -> tuple[int, list[tuple[str, bytes, str, datetime]]]:
        """Documents published after `after_version`, and the newest version seen."""
        d = t.documents
        with self.db.read() as conn:
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


def _save_manifests(conn: Connection, manifests: Sequence[FeedManifest], now: datetime) -> None:
    m = t.feed_manifests
    stamp = db_time(now)
    conn.execute(
        delete(m).where(m.c.topic == bindparam("b_topic"), m.c.format == bindparam("b_fmt")),
        [{"b_topic": x.topic, "b_fmt": x.fmt} for x in manifests],
    )
    conn.execute(
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
                "file_stamp": x.stamp,
            }
            for x in manifests
        ],
    )


def _record_published(
    conn: Connection, documents: Sequence[WrittenDocument], now: datetime
) -> dict[str, datetime]:
    """Record the state of written documents; their Last-Modified by path."""
    p = t.published
    if conn.dialect.name == "postgresql":
        # Versions must commit in the order they are taken, or a reader that
        # saw a later one would skip an earlier one committed after it.
        conn.execute(select(func.pg_advisory_xact_lock(_PUBLISH_LOCK_KEY)))
    latest = {doc.path: doc for doc in documents}  # the last version given wins
    known: dict[str, tuple[str, datetime]] = {}
    for chunk in chunked(list(latest)):
        query = select(p.c.path, p.c.sha256, p.c.last_modified).where(p.c.path.in_(chunk))
        for path, digest, stamp in conn.execute(query):
            known[path] = (digest, datetime.fromisoformat(stamp))
    result: dict[str, datetime] = {}
    changed: list[WrittenDocument] = []
    for path, doc in latest.items():
        previous = known.get(path)
        if previous is not None and previous[0] == doc.sha256:
            result[path] = previous[1]
            continue
        result[path] = next_modified(None if previous is None else previous[1], now)
        changed.append(doc)
    if not changed:
        return result
    version = int(conn.execute(select(func.max(p.c.version))).scalar() or 0) + 1
    for chunk in chunked([doc.path for doc in changed]):
        conn.execute(delete(p).where(p.c.path.in_(chunk)))
    conn.execute(
        insert(p),
        [
            {
                "path": doc.path,
                "sha256": doc.sha256,
                "content_type": doc.content_type,
                "last_modified": db_time(result[doc.path]),
                "version": version,
            }
            for doc in changed
        ],
    )
    return result
