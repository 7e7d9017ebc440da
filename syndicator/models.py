"""Domain values: articles, topics, changes and quarantined records.

Everything here is immutable and free of I/O. Parsing an untrusted record into
an `Article` lives in `syndicator.core.records`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

__all__ = [
    "ALL_TOPIC",
    "DELIVERY_STATUSES",
    "Article",
    "ArticleVersion",
    "ChangeKind",
    "ChangeSet",
    "PollOutcome",
    "Published",
    "Quarantined",
    "RenderedArticle",
    "Tombstone",
]

#: The pseudo-topic whose feeds hold every article.
ALL_TOPIC = "all"

#: A webhook delivery's states (SPEC §8 `deliveries list`).
DELIVERY_STATUSES = ("pending", "delivered", "failed", "dead")


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """One validated article record (SPEC §1); datetimes are timezone-aware UTC.

    Fields in SPEC §1 order: the stored record and the webhook `data` keep it
    (`syndicator.core.article` derives both from these fields).
    """

    slug: str
    title: str
    summary: str | None = None
    body_md: str | None = None
    url: str
    canonical_source: str | None = None
    published_at: datetime
    updated_at: datetime
    lang: str | None = None
    topics: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    alternates: Mapping[str, str] = field(default_factory=dict)
    #: Unknown fields of the source record, kept as they came.
    extra: Mapping[str, Any] = field(default_factory=dict)


class ArticleVersion(NamedTuple):
    """A validated record reduced to what storing and announcing it needs.

    A plain tuple: a large poll makes these in worker processes, and tuples
    of strings cross a process boundary several times cheaper than articles.
    """

    slug: str
    updated_at: datetime
    published_at: datetime
    topics: tuple[str, ...]
    digest: str  # content hash: everything but updated_at
    record: str  # the article as stored (`core.article.article_to_dict` as JSON)
    event_data: str  # the `data` of its webhook payload, as JSON


class Tombstone(NamedTuple):
    """A validated deletion: the slug to take down and when (SPEC §3b).

    Comes from a source record flagged deleted (`deleted_at` is its
    `updated_at`) or from `articles remove` (`deleted_at` is now, with the
    operator's reason).
    """

    slug: str
    deleted_at: datetime
    reason: str | None = None

    @property
    def updated_at(self) -> datetime:
        """The version time it is classified by, like an `ArticleVersion`'s."""
        return self.deleted_at


@dataclass(frozen=True, slots=True)
class RenderedArticle:
    """An article ready for a feed: its Markdown body already rendered and sanitised."""

    article: Article
    content_html: str | None
    #: Content hash of this article version, when known: renderers may cache
    #: per-entry output under it (same digest, same slug and entities → same
    #: entry bytes).
    digest: str | None = None
    #: The article's entities as (entity slug, display label) pairs, without
    #: duplicates, in the article's order; rendered as categories. The slugs
    #: come from the store's slug map, not from the article, so they are part
    #: of an entry's cache key beside the digest.
    entities: tuple[tuple[str, str], ...] = ()


class ChangeKind(enum.StrEnum):
    """What a record did to the stored state."""

    CREATED = "article.created"
    UPDATED = "article.updated"
    DELETED = "article.deleted"
    #: A tombstone for a slug never published: kept, so no older record
    #: revives it, but announced to no one.
    BURIED = "buried"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record (or a whole file) that could not be ingested, and why."""

    source: str  # "path/to/file.jsonl:12" or a URL
    reason: str
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """A rendered document and the URL path it is served at."""

    path: str  # relative to the site root and the output folder
    body: bytes
    content_type: str
    last_modified: datetime


class PollOutcome(enum.StrEnum):
    """How a poll ended."""

    OK = "ok"
    FAILED = "failed"


@dataclass(slots=True)
class ChangeSet:
    """The counts and touched topics of one poll."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    quarantined: int = 0
    touched_topics: set[str] = field(default_factory=set)

    @property
    def changed(self) -> int:
        """Records that created, changed or deleted an article."""
        return self.created + self.updated + self.deleted

    def as_dict(self) -> dict[str, int]:
        """Counts for logs, status and metrics."""
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "ignored": self.ignored,
            "quarantined": self.quarantined,
        }
