"""Tables and migrations, shared by SQLite and PostgreSQL.

Migrations are an ordered list of DDL scripts, each applied in its own
transaction with the new version recorded in the same transaction. The
`Table` objects below describe the current schema for queries only; they are
never used to create tables, so old migrations stay what they were.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, Table, Text

__all__ = [
    "MIGRATIONS",
    "article_topics",
    "articles",
    "attempts",
    "deliveries",
    "documents",
    "endpoints",
    "dirty_feeds",
    "embargoes",
    "entities",
    "entity_spellings",
    "facet_documents",
    "feed_manifests",
    "events",
    "feed_tombstones",
    "meta",
    "polls",
    "processes",
    "published",
    "quarantine",
    "reader_salts",
    "reader_subscribers",
    "reader_traffic",
    "reader_visits",
    "sources",
    "topics",
    "websub_subscriptions",
    "websub_verifications",
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
    # Set while the article is deleted (SPEC §3b): when, and why (takedowns).
    Column("deleted_at", Text),
    Column("deleted_reason", Text),
)
# Feed membership, keyed as feeds read it (newest first); a row's
# `updated_at` is its article's, which is how a change finds its old rows.
article_topics = Table(
    "article_topics",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("updated_at", Text, primary_key=True),
    Column("slug", Text, primary_key=True),
)
topics = Table(
    "topics",
    metadata,
    Column("name", Text, primary_key=True),
    Column("changed_at", Text),
    Column("articles", Integer),  # rows in article_topics, kept with them
    Column("version", BigInteger),  # one more with every change of the feed's data
)
# Merge key → entity feed name ("entities/<slug>", SPEC §4b); a slug never changes.
entities = Table(
    "entities",
    metadata,
    Column("key", Text, primary_key=True),
    Column("name", Text),
)
entity_spellings = Table(
    "entity_spellings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("spelling", Text, primary_key=True),
    Column("articles", Integer),
)
# Validators of facet documents rendered on demand: a request can be answered
# 304 without rendering while the feed's data version and fingerprint hold.
facet_documents = Table(
    "facet_documents",
    metadata,
    Column("path", Text, primary_key=True),
    Column("sha256", Text),
    Column("last_modified", Text),
    Column("data_version", BigInteger),
    Column("fingerprint", Text),
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
    Column("deleted", Integer),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Text),
    Column("endpoint", Text),
    Column("webhook_id", Text),
    Column("type", Text),
    Column("slug", Text),
    Column("status", Text),
    Column("attempts", Integer),
    Column("next_attempt_at", Text),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("last_response", Text),
    Column("created_at", Text),
    Column("delivered_at", Text),
    Column("claimed_by", Text),
    Column("claim_until", Text),
)
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer),
    Column("attempted_at", Text),
    Column("outcome", Text),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response_excerpt", Text),
    Column("duration_ms", Integer),
)
endpoints = Table(
    "endpoints",
    metadata,
    Column("name", Text, primary_key=True),
    Column("state", Text),
    Column("consecutive_failures", Integer),
    Column("last_success_at", Text),
    Column("last_failure_at", Text),
    Column("paused_at", Text),
)

# WebSub (SPEC §6b): verified subscriptions, and requests awaiting verification of intent.
websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", Text),
    Column("callback", Text),
    Column("secret", Text),
    Column("lease_seconds", Integer),
    Column("state", Text),
    Column("expires_at", Text),
    Column("created_at", Text),
    Column("verified_at", Text),
    Column("last_push_at", Text),
    Column("last_status_code", Integer),
)
websub_verifications = Table(
    "websub_verifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", Text),
    Column("callback", Text),
    Column("mode", Text),
    Column("secret", Text),
    Column("lease_seconds", Integer),
    Column("token", Text),
    Column("requested_at", Text),
)

documents = Table(
    "documents",
    metadata,
    Column("path", Text, primary_key=True),
    Column("body", LargeBinary),
    Column("content_type", Text),
    Column("last_modified", Text),
    Column("version", BigInteger),
)

# What each written feed file was composed from, so a later build can reuse the
# bytes of its unchanged entries (see `syndicator.build.reuse`).
feed_manifests = Table(
    "feed_manifests",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("format", Text, primary_key=True),
    Column("entries", Text),
    Column("file_size", BigInteger),
    Column("file_sha256", Text),
    Column("render_fingerprint", Text),
    Column("written_at", Text),
    # The file's identity when written (inode, mtime in ns, size): a file that
    # still has it holds the bytes the manifest names, no hashing needed.
    Column("file_stamp", Text),
)

# The feeds each deleted article left, and when: Atom feeds list them as
# RFC 6721 deleted entries until `feeds.tombstone_days` have passed.
feed_tombstones = Table(
    "feed_tombstones",
    metadata,
    Column("topic", Text, primary_key=True),
    Column("slug", Text, primary_key=True),
    Column("deleted_at", Text),  # the deletion's time: the tombstone's `when`
    Column("left_at", Text),  # when the article left this feed: its window starts
)

# Articles whose `published_at` was in the future when stored: held out of
# feeds and webhooks until `publish_at`, then released (`released_at` set).
embargoes = Table(
    "embargoes",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("publish_at", Text),
    Column("released_at", Text),
)

# Freshness: every document a build wrote (topic feeds, OPML, index page), the
# SHA-256 of its bytes, when those bytes last changed (its Last-Modified) and
# the build version that last changed them, so every serving process notices a
# build made by another (`syndicator once`, another `run`) and what it changed.
published = Table(
    "published",
    metadata,
    Column("path", Text, primary_key=True),
    Column("sha256", Text),
    Column("content_type", Text),
    Column("last_modified", Text),
    Column("version", BigInteger),
)

# Freshness: each `syndicator run` process, its role and heartbeat, for `status`.
processes = Table(
    "processes",
    metadata,
    Column("identity", Text, primary_key=True),
    Column("role", Text),
    Column("started_at", Text),
    Column("heartbeat_at", Text),
    Column("stopped_at", Text),
)

# Reader analytics: requests and 304s per day and path, the distinct direct
# readers per day and path (salted hashes; the salt of a day is deleted once it
# ends), and the latest subscriber figure each aggregator announced per feed.
reader_salts = Table(
    "reader_salts", metadata, Column("day", Text, primary_key=True), Column("salt", Text)
)
reader_traffic = Table(
    "reader_traffic",
    metadata,
    Column("day", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("requests", BigInteger),
    Column("not_modified", BigInteger),
)
reader_visits = Table(
    "reader_visits",
    metadata,
    Column("day", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("reader", Text, primary_key=True),
)
reader_subscribers = Table(
    "reader_subscribers",
    metadata,
    Column("path", Text, primary_key=True),
    Column("source", Text, primary_key=True),
    Column("feed_id", Text, primary_key=True),
    Column("subscribers", BigInteger),
    Column("seen_at", Text),
)

# `{serial}` becomes the dialect's auto-incrementing primary key, `{blob}` its byte string.
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
    (
        """CREATE TABLE deliveries (
            id {serial},
            event_id TEXT NOT NULL REFERENCES events (event_id),
            endpoint TEXT NOT NULL,
            webhook_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            slug TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_status_code INTEGER,
            last_error TEXT,
            last_response TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            claimed_by TEXT,
            claim_until TEXT,
            UNIQUE (event_id, endpoint))""",
        "CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)",
        "CREATE INDEX deliveries_endpoint ON deliveries (endpoint, created_at)",
        """CREATE TABLE attempts (
            id {serial},
            delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
            attempted_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            response_excerpt TEXT,
            duration_ms INTEGER NOT NULL)""",
        "CREATE INDEX attempts_delivery ON attempts (delivery_id)",
        """CREATE TABLE endpoints (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_success_at TEXT,
            last_failure_at TEXT,
            paused_at TEXT)""",
    ),
    (
        """CREATE TABLE websub_subscriptions (
            id {serial},
            topic TEXT NOT NULL,
            callback TEXT NOT NULL,
            secret TEXT,
            lease_seconds INTEGER NOT NULL,
            state TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            verified_at TEXT NOT NULL,
            last_push_at TEXT,
            last_status_code INTEGER,
            UNIQUE (topic, callback))""",
        "CREATE INDEX websub_subscriptions_due ON websub_subscriptions (topic, state, expires_at)",
        """CREATE TABLE websub_verifications (
            id {serial},
            topic TEXT NOT NULL,
            callback TEXT NOT NULL,
            mode TEXT NOT NULL,
            secret TEXT,
            lease_seconds INTEGER,
            token TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            UNIQUE (topic, callback))""",
    ),
    (
        # Rendered documents, shared by every process of a PostgreSQL deployment.
        """CREATE TABLE documents (
            path TEXT PRIMARY KEY,
            body {blob} NOT NULL,
            content_type TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            version BIGINT NOT NULL)""",
        "CREATE INDEX documents_version ON documents (version)",
    ),
    (
        # One row per feed file: its entries' keys in feed order, as JSON
        # [[slug, content_hash, updated_at], ...], and the file as written.
        """CREATE TABLE feed_manifests (
            topic TEXT NOT NULL,
            format TEXT NOT NULL,
            entries TEXT NOT NULL,
            file_size BIGINT NOT NULL,
            file_sha256 TEXT NOT NULL,
            render_fingerprint TEXT NOT NULL,
            written_at TEXT NOT NULL,
            PRIMARY KEY (topic, format))""",
    ),
    (
        # Each topic's article count, updated in the transaction that changes
        # its article_topics rows: a build no longer counts every row.
        "ALTER TABLE topics ADD COLUMN articles INTEGER NOT NULL DEFAULT 0",
        """UPDATE topics SET articles = (
            SELECT count(*) FROM article_topics WHERE article_topics.topic = topics.name)""",
    ),
    (
        # Article deletion (SPEC §3b): a deleted article keeps its row (slug,
        # times, topics) so no older record revives it; the feeds it left
        # carry Atom tombstones for a while.
        "ALTER TABLE articles ADD COLUMN deleted_at TEXT",
        "ALTER TABLE articles ADD COLUMN deleted_reason TEXT",
        """CREATE TABLE feed_tombstones (
            topic TEXT NOT NULL,
            slug TEXT NOT NULL REFERENCES articles (slug),
            deleted_at TEXT NOT NULL,
            PRIMARY KEY (topic, slug))""",
        "CREATE INDEX feed_tombstones_time ON feed_tombstones (deleted_at)",
        # Few rows: counting the deleted ones reads this, not every article.
        "CREATE INDEX articles_deleted ON articles (deleted_at) WHERE deleted_at IS NOT NULL",
    ),
    (
        # Embargoes (freshness-embargo): one row per article held until its
        # published_at; the row stays once released (its instant dates `all`).
        """CREATE TABLE embargoes (
            slug TEXT PRIMARY KEY,
            publish_at TEXT NOT NULL,
            released_at TEXT)""",
        "CREATE INDEX embargoes_due ON embargoes (released_at, publish_at)",
    ),
    (
        # Freshness: what was published, by path, and when its bytes last
        # changed; the running processes with their heartbeats.
        """CREATE TABLE published (
            path TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            version BIGINT NOT NULL)""",
        "CREATE INDEX published_version ON published (version)",
        """CREATE TABLE processes (
            identity TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            stopped_at TEXT)""",
    ),
    (
        # Facet feeds (SPEC §4b): entity and language feeds are rows of
        # `topics` and `article_topics` under names with a "/"; entities keep
        # their slug and spellings; facet documents their validators.
        "ALTER TABLE topics ADD COLUMN version BIGINT NOT NULL DEFAULT 0",
        "CREATE TABLE entities (key TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        """CREATE TABLE entity_spellings (
            name TEXT NOT NULL,
            spelling TEXT NOT NULL,
            articles INTEGER NOT NULL,
            PRIMARY KEY (name, spelling))""",
        """CREATE TABLE facet_documents (
            path TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            data_version BIGINT NOT NULL,
            fingerprint TEXT NOT NULL)""",
        "CREATE INDEX topics_by_articles ON topics (articles DESC, name)",
    ),
    (
        # Article lifecycle: how many articles each poll deleted (status shows
        # it beside the other counts; polls before this one deleted none).
        "ALTER TABLE polls ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # Reader analytics: daily traffic and distinct direct readers per
        # document path, aggregators' subscriber figures, the day's salt.
        "CREATE TABLE reader_salts (day TEXT PRIMARY KEY, salt TEXT NOT NULL)",
        """CREATE TABLE reader_traffic (
            day TEXT NOT NULL,
            path TEXT NOT NULL,
            requests BIGINT NOT NULL,
            not_modified BIGINT NOT NULL,
            PRIMARY KEY (day, path))""",
        """CREATE TABLE reader_visits (
            day TEXT NOT NULL,
            path TEXT NOT NULL,
            reader TEXT NOT NULL,
            PRIMARY KEY (day, path, reader))""",
        """CREATE TABLE reader_subscribers (
            path TEXT NOT NULL,
            source TEXT NOT NULL,
            feed_id TEXT NOT NULL,
            subscribers BIGINT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (path, source, feed_id))""",
        "CREATE INDEX reader_subscribers_seen ON reader_subscribers (seen_at)",
    ),
    (
        # Feed membership, about a dozen rows per article with facets: one
        # B-tree on SQLite instead of a table and its key index, and no
        # foreign key to check on every insert (article rows are never
        # deleted, only emptied: SPEC §3b). Half the cost of an import's writes.
        """CREATE TABLE article_topics_keyed (
            topic TEXT NOT NULL,
            slug TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (topic, slug)){without_rowid}""",
        """INSERT INTO article_topics_keyed (topic, slug, updated_at)
            SELECT topic, slug, updated_at FROM article_topics ORDER BY topic, slug""",
        "DROP TABLE article_topics",
        "ALTER TABLE article_topics_keyed RENAME TO article_topics",
        "CREATE INDEX article_topics_recent ON article_topics (topic, updated_at DESC, slug)",
    ),
    (
        # Operator console: endpoint success rates, latency percentiles and the
        # deliveries-per-minute chart read the attempts of the last day by time.
        "CREATE INDEX attempts_time ON attempts (attempted_at)",
    ),
    (
        # Feed membership in one B-tree keyed as feeds read it, (topic,
        # updated_at DESC, slug), instead of a (topic, slug) key and an index
        # of the same rows: half the writes and the space. A change finds an
        # article's rows by its stored updated_at, which every row carries
        # (copied here from the article, so no older row can hide).
        """CREATE TABLE article_topics_by_time (
            topic TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            slug TEXT NOT NULL,
            PRIMARY KEY (topic, updated_at{desc}, slug)){without_rowid}""",
        """INSERT INTO article_topics_by_time (topic, updated_at, slug)
            SELECT at.topic, a.updated_at, at.slug
            FROM article_topics at JOIN articles a ON a.slug = at.slug
            ORDER BY at.topic, a.updated_at DESC, at.slug""",
        "DROP TABLE article_topics",
        "ALTER TABLE article_topics_by_time RENAME TO article_topics",
    ),
    (
        # A feed lists a deletion for `tombstone_days` from when the article
        # left it, not from the deletion's own time: a tombstone record dated
        # weeks ago still tells readers the entry is gone.
        "ALTER TABLE feed_tombstones ADD COLUMN left_at TEXT",
        "UPDATE feed_tombstones SET left_at = deleted_at",
        "CREATE INDEX feed_tombstones_left ON feed_tombstones (left_at)",
        # No query looks tombstones up by their deletion time any more.
        "DROP INDEX IF EXISTS feed_tombstones_time",
    ),
    (
        # A build checks a feed file it reuses entries from by its identity
        # instead of hashing the whole file (a 500-topic rebuild read and
        # hashed 600 MB for it).
        "ALTER TABLE feed_manifests ADD COLUMN file_stamp TEXT",
    ),
    (
        # Every process's first build checks each feed file against what its
        # build recorded: answered from this index, without reading through
        # the entries of every manifest (9 MB at 500 topics).
        """CREATE INDEX feed_manifests_files
            ON feed_manifests (topic, format, file_size, file_sha256, file_stamp)""",
    ),
)
