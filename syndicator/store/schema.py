"""Tables and migrations, shared by SQLite and PostgreSQL.

Migrations are an ordered list of DDL scripts, each applied in its own
transaction with the new version recorded in the same transaction. The
`Table` objects below describe the current schema for queries only; they are
never used to create tables, so old migrations stay what they were.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

__all__ = [
    "MIGRATIONS",
    "article_topics",
    "articles",
    "dirty_feeds",
    "events",
    "meta",
    "polls",
    "quarantine",
    "sources",
    "topics",
]

metadata = MetaData()

meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text))
sources = Table(
    "sources",
    metadata,
    Column("name", Text, primary_key=True),
    Column("watermark", Text),
    Column("cursor", Text),
)
articles = Table(
    "articles",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("updated_at", Text),
    Column("published_at", Text),
    Column("content_hash", Text),
    Column("record", Text),
    Column("content_html", Text),
)
article_topics = Table(
    "article_topics",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("slug", Text, primary_key=True),
    Column("updated_at", Text),
)
topics = Table(
    "topics",
    metadata,
    Column("name", Text, primary_key=True),
    Column("changed_at", Text),
)
dirty_feeds = Table("dirty_feeds", metadata, Column("topic", Text, primary_key=True))
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Text),
    Column("type", Text),
    Column("slug", Text),
    Column("timestamp", Text),
    Column("payload", Text),
    Column("created_at", Text),
)
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_name", Text),
    Column("origin", Text),
    Column("line", Integer),
    Column("slug", Text),
    Column("reason", Text),
    Column("seen_at", Text),
)
polls = Table(
    "polls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_name", Text),
    Column("started_at", Text),
    Column("finished_at", Text),
    Column("outcome", Text),
    Column("created", Integer),
    Column("updated", Integer),
    Column("ignored", Integer),
    Column("quarantined", Integer),
    Column("error", Text),
)

# `{serial}` becomes the dialect's auto-incrementing primary key.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE sources (name TEXT PRIMARY KEY, watermark TEXT, cursor TEXT)",
        """CREATE TABLE articles (
            slug TEXT PRIMARY KEY,
            updated_at TEXT NOT NULL,
            published_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL,
            content_html TEXT)""",
        "CREATE INDEX articles_updated ON articles (updated_at DESC, slug)",
        """CREATE TABLE article_topics (
            topic TEXT NOT NULL,
            slug TEXT NOT NULL REFERENCES articles (slug),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (topic, slug))""",
        "CREATE INDEX article_topics_recent ON article_topics (topic, updated_at DESC, slug)",
        "CREATE TABLE topics (name TEXT PRIMARY KEY, changed_at TEXT NOT NULL)",
        "CREATE TABLE dirty_feeds (topic TEXT PRIMARY KEY)",
        """CREATE TABLE events (
            id {serial},
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            slug TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX events_slug ON events (slug)",
        """CREATE TABLE quarantine (
            id {serial},
            source_name TEXT NOT NULL,
            origin TEXT NOT NULL,
            line INTEGER,
            slug TEXT,
            reason TEXT NOT NULL,
            seen_at TEXT NOT NULL)""",
        "CREATE INDEX quarantine_origin ON quarantine (source_name, origin, line)",
        """CREATE TABLE polls (
            id {serial},
            source_name TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            ignored INTEGER NOT NULL,
            quarantined INTEGER NOT NULL,
            error TEXT)""",
    ),
)
