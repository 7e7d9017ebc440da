"""Rendered feeds: the `dirty_feeds` queue, `feed_manifests` and published `documents`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select

from syndicator.core.times import db_time
from syndicator.models import Article
from syndicator.store import schema as t
from syndicator.store.db import Database, chunked

__all__ = ["FeedKey", "FeedManifest", "Feeds", "feed_key", "mark_dirty"]

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


def mark_dirty(conn: Connection, topics: Iterable[str]) -> None:
    """Queue feeds for rendering in the caller's transaction; the queue survives a crash."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    present = set(conn.execute(select(t.dirty_feeds.c.topic)).scalars())
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
                ).where(m.c.topic.in_(chunk))
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
        with self.db.write() as conn:
            conn.execute(
                delete(m).where(
                    m.c.topic == bindparam("b_topic"), m.c.format == bindparam("b_fmt")
                ),
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
                    }
                    for x in manifests
                ],
            )

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
