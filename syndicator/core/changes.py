"""Change detection (SPEC §3): what an incoming record does to the stored article."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from syndicator.core.urls import FEED_FORMATS, feed_url
from syndicator.models import Article, ArticleVersion, ChangeKind

__all__ = [
    "StoredState",
    "article_version",
    "article_from_dict",
    "article_to_dict",
    "classify",
    "content_hash",
    "content_version",
    "db_time",
    "event_data",
    "event_json",
    "event_payload",
    "event_timestamp",
    "format_time",
]


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store knows of an article, enough to classify a new version."""

    updated_at: datetime
    content_hash: str
    topics: tuple[str, ...]


# An article's two times are formatted several times each while it is stored
# and announced; equal instants always give the same UTC text, so a small
# cache is exact.
@functools.lru_cache(maxsize=4096)
def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; fractions only when present. Sorts as text."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


@functools.lru_cache(maxsize=4096)
def db_time(value: datetime) -> str:
    """Fixed-width UTC text (always microseconds), so stored times sort as text."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return f"{text}Z"


def article_to_dict(article: Article) -> dict[str, Any]:
    """The article as a JSON-ready mapping (SPEC §1 field names, unknown fields kept)."""
    data: dict[str, Any] = dict(article.extra)
    data.update(
        slug=article.slug,
        title=article.title,
        summary=article.summary,
        body_md=article.body_md,
        url=article.url,
        canonical_source=article.canonical_source,
        published_at=format_time(article.published_at),
        updated_at=format_time(article.updated_at),
        lang=article.lang,
        topics=list(article.topics),
        entities=list(article.entities),
        alternates=dict(article.alternates),
    )
    return data


_KNOWN = frozenset(
    (
        "slug title summary body_md url canonical_source published_at updated_at lang "
        "topics entities alternates"
    ).split()
)


def article_from_dict(data: Mapping[str, Any]) -> Article:
    """Rebuild an article stored with `article_to_dict` (trusted input)."""
    return Article(
        slug=data["slug"],
        title=data["title"],
        url=data["url"],
        published_at=datetime.fromisoformat(data["published_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        summary=data.get("summary"),
        body_md=data.get("body_md"),
        canonical_source=data.get("canonical_source"),
        lang=data.get("lang"),
        topics=tuple(data.get("topics") or ()),
        entities=tuple(data.get("entities") or ()),
        alternates=dict(data.get("alternates") or {}),
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def content_hash(article: Article) -> str:
    """Hash of everything but `updated_at`: a newer timestamp alone is no change."""
    return _hash_content(article_to_dict(article))


def content_version(article: Article) -> tuple[str, str]:
    """The content hash and the record as stored (`article_to_dict` as JSON), in one pass."""
    data = article_to_dict(article)
    return _hash_content(data), orjson.dumps(data).decode()


def _hash_content(data: dict[str, Any]) -> str:
    blob = orjson.dumps(
        {k: v for k, v in data.items() if k != "updated_at"}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


@functools.lru_cache(maxsize=4096)
def _topic_feeds(base_url: str, topic: str) -> dict[str, str]:
    # Shared between payloads, which are serialized at once and never changed.
    return {fmt: feed_url(base_url, topic, fmt) for fmt in FEED_FORMATS}


def classify(
    stored: StoredState | None, article: Article | ArticleVersion, digest: str
) -> ChangeKind:
    """New slug → created; later and different → updated; anything else → ignored."""
    if stored is None:
        return ChangeKind.CREATED
    if article.updated_at <= stored.updated_at or digest == stored.content_hash:
        return ChangeKind.IGNORED
    return ChangeKind.UPDATED


def event_payload(kind: ChangeKind, article: Article, base_url: str) -> dict[str, Any]:
    """The webhook body of an article event (SPEC §6)."""
    return {
        "type": str(kind),
        "timestamp": event_timestamp(article.updated_at),
        "data": event_data(article, base_url),
    }


def event_timestamp(updated_at: datetime) -> str:
    """An event's `timestamp`: the article's `updated_at` to the second."""
    return format_time(updated_at.replace(microsecond=0))


def event_data(article: Article, base_url: str) -> dict[str, Any]:
    """The `data` object of an article event."""
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "url": article.url,
        "canonical_source": article.canonical_source,
        "published_at": format_time(article.published_at),
        "updated_at": format_time(article.updated_at),
        "lang": article.lang,
        "topics": list(article.topics),
        "entities": list(article.entities),
        "feeds": {topic: _topic_feeds(base_url, topic) for topic in article.topics},
    }


def event_json(kind: ChangeKind, timestamp: str, data_json: str) -> str:
    """`event_payload` serialized, from its `data` already in JSON: the same
    bytes as ``orjson.dumps(event_payload(...))`` (the tests check)."""
    return f'{{"type":"{kind}","timestamp":"{timestamp}","data":{data_json}}}'


def article_version(article: Article, base_url: str) -> ArticleVersion:
    """Everything storing and announcing `article` needs, computed once."""
    digest, record = content_version(article)
    return ArticleVersion(
        article.slug,
        article.updated_at,
        article.published_at,
        article.topics,
        digest,
        record,
        orjson.dumps(event_data(article, base_url)).decode(),
    )
